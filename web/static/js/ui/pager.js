/**
 * Cursor pagination for the API's `{items, next}` lists: "Previous" goes
 * back through the cursors already seen, "Next" follows `next`.
 */

import { el } from './dom.js';

export class Pager {
  /** `load(after)` loads the page after cursor `after` (null: the first page). */
  constructor(load, label = 'Pages') {
    this.load = load;
    this.cursors = [null];
    this.next = null;
    this.prevButton = el('button', { type: 'button', className: 'button secondary small pager-prev', text: '← Previous', onClick: () => this.go(-1) });
    this.nextButton = el('button', { type: 'button', className: 'button secondary small pager-next', text: 'Next →', onClick: () => this.go(1) });
    this.status = el('span', { className: 'pager-status muted', 'aria-live': 'polite' });
    this.element = el('nav', { className: 'pager', 'aria-label': label }, this.prevButton, this.status, this.nextButton);
    this.update();
  }

  /** The cursor of the page shown now. */
  get current() {
    return this.cursors[this.cursors.length - 1];
  }

  /** Records the `next` cursor of the page just shown. */
  loaded(next) {
    this.next = typeof next === 'string' && next ? next : null;
    this.update();
  }

  /** Back to the first page (e.g. after filters change). */
  reset() {
    this.cursors = [null];
    this.next = null;
    this.update();
  }

  update() {
    const page = this.cursors.length;
    this.prevButton.disabled = page <= 1;
    this.nextButton.disabled = !this.next;
    this.status.textContent = `Page ${page}`;
    this.element.hidden = page <= 1 && !this.next;
  }

  async go(delta) {
    if (delta > 0 && this.next) this.cursors.push(this.next);
    else if (delta < 0 && this.cursors.length > 1) this.cursors.pop();
    else return;
    this.next = null;
    this.update();
    await this.load(this.current);
  }
}
