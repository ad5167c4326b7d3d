/**
 * The viewer's Share panel, for the session's owner where the workspace's
 * policy allows share links: create a link (view only or with control, an
 * expiry, optionally only for members of some of the owner's groups), copy
 * it, and for each link its state, Revoke, and handing control over or
 * taking it back. Everything goes through the API
 * (`/api/v1/sessions/{id}/shares`); the gateway enforces it.
 */

import { api, describeError } from './api.js';

const $ = (id) => document.getElementById(id);

function fmtTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export class SharePanel {
  /** `sessionId`: the owner's session; `toast(message)`: tells the user. */
  constructor({ sessionId, toast, layoutChanged }) {
    this.sessionId = sessionId;
    this.toast = toast;
    this.layoutChanged = layoutChanged;
    this.panel = $('share-panel');
    this.button = $('share-toggle');
    this.note = $('share-note');
    this.list = $('share-links');
    this.controlAllowed = false;
    this.button.addEventListener('click', () => this.toggle());
    $('share-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.create();
    });
  }

  /** Shows the Share button when new links may be created. */
  async start() {
    try {
      const page = await api.listShares(this.sessionId);
      this.apply(page);
      this.button.hidden = !page.allowed && !(page.items || []).length;
      const me = await api.me();
      const groups = Array.isArray(me.groups) ? me.groups : [];
      const box = $('share-groups');
      for (const g of groups) {
        const label = document.createElement('label');
        label.className = 'check';
        const input = document.createElement('input');
        input.type = 'checkbox';
        input.name = 'group';
        input.value = g.id;
        label.append(input, ` ${g.name}`);
        box.append(label);
      }
      box.hidden = groups.length === 0;
    } catch {
      // No Share button: the list could not be read.
    }
  }

  toggle() {
    const open = this.panel.hidden;
    this.panel.hidden = !open;
    this.button.setAttribute('aria-pressed', String(open));
    if (open) this.refresh();
    this.layoutChanged();
  }

  async refresh() {
    try {
      this.apply(await api.listShares(this.sessionId));
    } catch (err) {
      this.note.textContent = `Could not list the links: ${describeError(err)}`;
    }
  }

  apply(page) {
    this.controlAllowed = Boolean(page.control_allowed);
    const control = $('share-control');
    control.disabled = !this.controlAllowed;
    if (!this.controlAllowed) control.checked = false;
    control.parentElement.title = this.controlAllowed ? '' : 'The workspace\'s policy allows view-only links only';
    $('share-create').disabled = !page.allowed;
    this.render(Array.isArray(page.items) ? page.items : []);
  }

  async create() {
    const groups = [...document.querySelectorAll('#share-groups input[name=group]:checked')].map((i) => i.value);
    const body = {
      control: $('share-control').checked,
      expires_in_secs: Number($('share-expiry').value),
    };
    if (groups.length) body.groups = groups;
    try {
      const link = await api.createShare(this.sessionId, body);
      this.note.textContent = 'Link created: copy it and send it to whoever should watch.';
      await this.copy(link.url);
      await this.refresh();
    } catch (err) {
      this.note.textContent = `Could not create a link: ${describeError(err)}`;
    }
  }

  async copy(url) {
    try {
      await navigator.clipboard.writeText(url);
      this.toast('Share link copied.');
    } catch {
      // No clipboard permission: the address is shown to copy by hand.
    }
  }

  render(items) {
    this.list.replaceChildren(...items.map((l) => this.row(l)));
  }

  row(l) {
    const li = document.createElement('li');
    li.className = 'share-link';
    li.dataset.state = l.state;
    li.dataset.link = l.link;
    const what = document.createElement('div');
    const who = l.groups ? 'members of some groups' : 'anyone with the link';
    what.textContent = `${l.control ? 'With control' : 'View only'} · ${who} · ${l.state}`
      + (l.state === 'active' ? ` until ${fmtTime(l.expires_at)}` : '');
    const url = document.createElement('input');
    url.type = 'text';
    url.readOnly = true;
    url.value = l.url;
    url.className = 'share-url';
    url.setAttribute('aria-label', 'Share link');
    li.append(what, url);
    if (l.state !== 'active') return li;
    const actions = document.createElement('div');
    actions.className = 'actions';
    const button = (text, cls, onClick) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = `button small ${cls}`;
      b.textContent = text;
      b.addEventListener('click', async () => {
        b.disabled = true;
        try {
          await onClick();
        } catch (err) {
          this.note.textContent = describeError(err);
        }
        await this.refresh();
      });
      actions.append(b);
    };
    button('Copy', 'secondary share-copy', () => this.copy(l.url));
    if (l.control) {
      button('Take control back', 'secondary share-take', () => api.shareControl(this.sessionId, l.link, false));
    } else if (this.controlAllowed) {
      button('Give control', 'secondary share-give', () => api.shareControl(this.sessionId, l.link, true));
    }
    button('Revoke', 'danger share-revoke', async () => {
      await api.revokeShare(this.sessionId, l.link);
      this.toast('Link revoked: its viewers were disconnected.');
    });
    li.append(actions);
    return li;
  }
}
