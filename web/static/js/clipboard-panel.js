/**
 * The viewer's clipboard panel: shows what the remote copied, sends local
 * text to the remote, and reads the local clipboard on Ctrl/Cmd+V in the
 * canvas. Follows the policy bits of the gateway's HELLO for the UI; the
 * gateway enforces the policy whatever the viewer does.
 */

import { POLICY_CLIPBOARD_UP, POLICY_CLIPBOARD_DOWN } from './wire.js';

const utf8 = new TextEncoder();

export class ClipboardPanel {
  /**
   * @param {object} opts
   * @param {(text: string) => boolean} opts.send sends CLIPBOARD; false if not connected
   * @param {(message: string) => void} opts.toast transient message for the user
   */
  constructor({ send, toast }) {
    this.send = send;
    this.toast = toast;
    this.policy = null;
    this.maxBytes = 1 << 20;
    this.panel = document.getElementById('clipboard-panel');
    this.toggleButton = document.getElementById('clipboard-toggle');
    this.remote = document.getElementById('clipboard-remote');
    this.remoteNote = document.getElementById('clipboard-remote-note');
    this.local = document.getElementById('clipboard-local');
    this.sendButton = document.getElementById('clipboard-send');
    this.localNote = document.getElementById('clipboard-local-note');
    this.toggleButton.addEventListener('click', () => this.toggle());
    this.sendButton.addEventListener('click', () => this.sendLocal());
    this.local.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        this.sendLocal();
      }
    });
    this.setConnected(false);
  }

  get upAllowed() {
    return this.policy !== null && (this.policy & POLICY_CLIPBOARD_UP) !== 0;
  }

  get downAllowed() {
    return this.policy !== null && (this.policy & POLICY_CLIPBOARD_DOWN) !== 0;
  }

  toggle(open = this.panel.hidden) {
    this.panel.hidden = !open;
    this.toggleButton.setAttribute('aria-pressed', String(open));
    if (open) (this.upAllowed ? this.local : this.remote).focus();
    this.panel.dispatchEvent(new Event('toggle'));
  }

  /** The gateway's HELLO arrived: apply its policy and limit. */
  setPolicy(policy, maxBytes) {
    this.policy = policy;
    this.maxBytes = maxBytes;
    this.remoteNote.textContent = this.downAllowed ? '' : 'Copy from remote is disabled by policy';
    if (!this.downAllowed) this.remote.value = '';
    this.remote.placeholder = this.downAllowed
      ? 'Text copied on the remote desktop appears here'
      : 'Copy from remote is disabled by policy';
    this.local.disabled = !this.upAllowed;
    this.localNote.textContent = this.upAllowed ? '' : 'Sending text to the remote is disabled by policy';
    this.setConnected(true);
  }

  setConnected(connected) {
    this.sendButton.disabled = !connected || !this.upAllowed;
    if (!connected && this.policy === null) this.localNote.textContent = 'Available once connected';
  }

  /** The remote clipboard changed. */
  showRemote(text) {
    this.remote.value = text;
    if (document.hasFocus() && navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).catch(() => {});
    }
  }

  checkSize(text) {
    const bytes = utf8.encode(text).length;
    if (bytes > this.maxBytes) {
      return `The text is too large for the clipboard (${bytes} bytes; the limit is ${this.maxBytes}).`;
    }
    return '';
  }

  sendLocal() {
    const text = this.local.value;
    if (!this.upAllowed) return;
    const tooLarge = this.checkSize(text);
    if (tooLarge) {
      this.localNote.textContent = tooLarge;
      return;
    }
    if (this.send(text)) {
      this.localNote.textContent = `Sent ${[...text].length} characters to the remote clipboard.`;
    } else {
      this.localNote.textContent = 'Not connected: the text was not sent.';
    }
  }

  /**
   * Ctrl/Cmd+V in the canvas: reads the local clipboard (where the browser
   * allows it) and sends it before the key. Returns a promise, or null when
   * there is nothing to do.
   */
  pasteFromLocal() {
    if (!this.upAllowed || !navigator.clipboard || !navigator.clipboard.readText) return null;
    return navigator.clipboard.readText().then((text) => {
      if (!text) return;
      const tooLarge = this.checkSize(text);
      if (tooLarge) this.toast(tooLarge);
      else this.send(text);
    }, () => {});
  }
}
