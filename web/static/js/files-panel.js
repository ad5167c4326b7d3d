/**
 * The viewer's Files panel (docs/protocol.md §2.3): browse the remote
 * directories, download files with progress (saved through a Blob link),
 * upload files chosen with the picker or dropped on the panel, with progress
 * and cancel. The panel and its toolbar button stay hidden until the gateway
 * says FILES (the session can transfer files and the policy allows a
 * direction). The gateway enforces the policy and the size limits; this
 * panel only shows what it is told, and sends upload data only after the
 * gateway has accepted the upload.
 *
 * For tests, `status` (exposed as `window.orielViewer.files`) mirrors the
 * panel: { available, upload, download, uploadMaxBytes, downloadMaxBytes,
 * path, entries, message, transfers: [{ id, direction, name, size, bytes,
 * state: 'running'|'done'|'error', code, message }] }.
 */

import {
  FILE_WINDOW, MAX_FILE_CHUNK, FileErrorCode,
  encodeFileList, encodeFileDownload, encodeFileUpload, encodeFileData, encodeFileEnd,
  encodeFileCancel, encodeFileAck,
} from './wire.js';

const STYLESHEET = '/css/files.css';

/** `n` bytes for people. */
export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return `${v >= 10 ? Math.round(v) : Math.round(v * 10) / 10} ${units[u]}`;
}

/** The parent of an absolute path ('/' stays '/'). */
export function parentPath(path) {
  const trimmed = path.replace(/\/+$/, '');
  const at = trimmed.lastIndexOf('/');
  return at <= 0 ? '/' : trimmed.slice(0, at);
}

/** `name` inside directory `dir`. */
export function joinPath(dir, name) {
  return dir.endsWith('/') ? `${dir}${name}` : `${dir}/${name}`;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k in node) node[k] = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

function limitText(limit) {
  return limit > 0 ? `up to ${formatBytes(limit)}` : 'no size limit';
}

export class FilesPanel {
  /**
   * @param {object} opts
   * @param {(bytes: Uint8Array) => boolean} opts.send sends a message on the stream; false if not connected
   * @param {(message: string) => void} opts.toast transient message for the user
   * @param {() => void} [opts.layoutChanged] the panel opened or closed
   */
  constructor({ send, toast, layoutChanged }) {
    this.sendBytes = send;
    this.toast = toast;
    this.layoutChanged = layoutChanged || (() => {});
    this.nextId = 1;
    this.listings = new Map();
    this.transfers = new Map();
    this.status = {
      available: false, upload: false, download: false, uploadMaxBytes: 0, downloadMaxBytes: 0,
      path: '', entries: [], message: '', transfers: [],
    };
    if (!document.querySelector(`link[href="${STYLESHEET}"]`)) {
      document.head.append(el('link', { rel: 'stylesheet', href: STYLESHEET }));
    }
    this.build();
  }

  build() {
    this.toggleButton = el('button', {
      type: 'button', id: 'files-toggle', className: 'button secondary', hidden: true,
      textContent: 'Files', title: 'Upload and download files',
    });
    this.toggleButton.setAttribute('aria-pressed', 'false');
    this.toggleButton.setAttribute('aria-controls', 'files-panel');
    this.toggleButton.addEventListener('click', () => this.toggle());
    const toolbar = document.querySelector('.viewer-bar .toolbar');
    if (toolbar) toolbar.prepend(this.toggleButton);

    this.pathNode = el('code', { id: 'files-path', className: 'files-path' });
    this.upButton = el('button', { type: 'button', id: 'files-up', className: 'button secondary', textContent: 'Up', title: 'Parent directory' });
    this.refreshButton = el('button', { type: 'button', id: 'files-refresh', className: 'button secondary', textContent: 'Refresh' });
    this.uploadButton = el('button', { type: 'button', id: 'files-upload', className: 'button primary', textContent: 'Upload…' });
    this.input = el('input', { type: 'file', id: 'files-input', multiple: true, hidden: true });
    this.policyNote = el('p', { id: 'files-policy', className: 'note' });
    this.messageNode = el('p', { id: 'files-message', className: 'files-message', role: 'status' });
    this.messageNode.setAttribute('aria-live', 'polite');
    this.list = el('ul', { id: 'files-list', className: 'files-list' });
    this.transferList = el('ul', { id: 'files-transfers', className: 'files-transfers' });
    this.transferTitle = el('h3', { textContent: 'Transfers', hidden: true });
    this.panel = el('aside', { id: 'files-panel', className: 'files-panel', hidden: true },
      el('h2', { id: 'files-title', textContent: 'Files' }),
      this.input, this.policyNote, this.messageNode,
      this.transferTitle, this.transferList,
      el('div', { className: 'files-nav' }, this.upButton, this.refreshButton, this.uploadButton),
      this.pathNode,
      el('p', { className: 'files-drop-hint note', textContent: 'Drop files here to upload them to this directory.' }),
      this.list);
    this.panel.setAttribute('aria-labelledby', 'files-title');
    const main = document.querySelector('.viewer-main');
    if (main) main.append(this.panel);

    this.upButton.addEventListener('click', () => this.listDir(parentPath(this.status.path || '/')));
    this.refreshButton.addEventListener('click', () => this.listDir(this.status.path));
    this.uploadButton.addEventListener('click', () => this.input.click());
    this.input.addEventListener('change', () => {
      const files = Array.from(this.input.files || []);
      this.input.value = '';
      for (const f of files) this.upload(f);
    });
    this.panel.addEventListener('dragover', (e) => {
      if (!e.dataTransfer || !Array.from(e.dataTransfer.types || []).includes('Files')) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = this.status.upload ? 'copy' : 'none';
      this.panel.classList.add('dragover');
    });
    this.panel.addEventListener('dragleave', () => this.panel.classList.remove('dragover'));
    this.panel.addEventListener('drop', (e) => {
      e.preventDefault();
      this.panel.classList.remove('dragover');
      const files = Array.from((e.dataTransfer && e.dataTransfer.files) || []);
      for (const f of files) this.upload(f);
    });
  }

  toggle(open = this.panel.hidden) {
    if (!this.status.available) open = false;
    this.panel.hidden = !open;
    this.toggleButton.setAttribute('aria-pressed', String(open));
    this.layoutChanged();
  }

  setMessage(text, isError = false) {
    this.status.message = text;
    this.messageNode.textContent = text;
    this.messageNode.classList.toggle('error', isError);
  }

  /** A new connection: transfers of the old one are over; hidden until FILES. */
  reset() {
    for (const t of this.transfers.values()) this.fail(t, 0, 'The connection to the gateway was lost.');
    this.transfers.clear();
    this.listings.clear();
    this.nextId = 1;
    this.status.available = false;
    this.toggleButton.hidden = true;
    if (!this.panel.hidden) this.toggle(false);
  }

  send(bytes) {
    return this.sendBytes(bytes);
  }

  /** A file message from the gateway. */
  onMessage(msg) {
    switch (msg.type) {
      case 'files': this.onFiles(msg); break;
      case 'file_listing': this.onListing(msg); break;
      case 'file_start': this.onStart(msg); break;
      case 'file_data': this.onData(msg); break;
      case 'file_progress': this.onProgress(msg); break;
      case 'file_done': this.onDone(msg); break;
      case 'file_error': this.onError(msg); break;
      default: break;
    }
  }

  onFiles(msg) {
    Object.assign(this.status, {
      available: msg.upload || msg.download,
      upload: msg.upload,
      download: msg.download,
      uploadMaxBytes: msg.uploadMaxBytes,
      downloadMaxBytes: msg.downloadMaxBytes,
    });
    this.toggleButton.hidden = !this.status.available;
    const up = msg.upload ? `Uploads ${limitText(msg.uploadMaxBytes)}.` : 'Uploading files is disabled by policy.';
    const down = msg.download ? `Downloads ${limitText(msg.downloadMaxBytes)}.` : 'Downloading files is disabled by policy.';
    this.policyNote.textContent = `${up} ${down}`;
    this.uploadButton.disabled = !msg.upload;
    this.uploadButton.title = msg.upload ? 'Choose files to upload to this directory' : 'Uploading files is disabled by policy';
    this.panel.classList.toggle('no-upload', !msg.upload);
    this.listDir(this.status.path);
  }

  listDir(path) {
    const id = this.nextId++;
    this.listings.set(id, path);
    if (!this.send(encodeFileList(id, path || ''))) {
      this.listings.delete(id);
      this.setMessage('Not connected.', true);
    }
  }

  onListing(msg) {
    if (!this.listings.delete(msg.id)) return;
    this.status.path = msg.path;
    this.status.entries = msg.entries.map((e) => ({ name: e.name, isDir: e.isDir, size: e.size }));
    this.pathNode.textContent = msg.path;
    this.list.replaceChildren(...msg.entries.map((e) => this.entryNode(e)));
    if (msg.truncated) this.list.append(el('li', { className: 'note', textContent: 'Only the first 10000 entries are shown.' }));
    if (msg.entries.length === 0) this.list.append(el('li', { className: 'note', textContent: 'This directory is empty.' }));
  }

  entryNode(entry) {
    const path = joinPath(this.status.path, entry.name);
    if (entry.isDir) {
      const open = el('button', { type: 'button', className: 'link files-dir', textContent: `${entry.name}/` });
      open.addEventListener('click', () => this.listDir(path));
      return el('li', { className: 'files-entry dir', dataset: { name: entry.name } }, open);
    }
    const download = el('button', {
      type: 'button', className: 'button secondary files-download', textContent: 'Download',
      disabled: !this.status.download,
      title: this.status.download ? `Download ${entry.name}` : 'Downloading files is disabled by policy',
    });
    download.addEventListener('click', () => this.download(path, entry.name));
    return el('li', { className: 'files-entry file', dataset: { name: entry.name } },
      el('span', { className: 'files-name', textContent: entry.name }),
      el('span', { className: 'files-size', textContent: formatBytes(entry.size) }),
      download);
  }

  // -- transfers ------------------------------------------------------------

  addTransfer(direction, name, size) {
    const id = this.nextId++;
    const record = { id, direction, name, size, bytes: 0, state: 'running', code: 0, message: '' };
    const progress = el('progress', { max: Math.max(1, size), value: 0 });
    const text = el('span', { className: 'files-transfer-status', textContent: 'Waiting…' });
    const cancel = el('button', { type: 'button', className: 'button secondary files-cancel', textContent: 'Cancel' });
    const node = el('li', { className: 'files-transfer', dataset: { id: String(id), state: 'running', direction } },
      el('span', { className: 'files-name', textContent: `${direction === 'upload' ? '↑' : '↓'} ${name}` }),
      progress, text, cancel);
    cancel.addEventListener('click', () => {
      if (record.state === 'running') this.send(encodeFileCancel(id));
    });
    this.transferList.prepend(node);
    this.transferTitle.hidden = false;
    this.status.transfers.push(record);
    const t = { id, direction, name, size, record, node, progress, text, cancel, chunks: [], received: 0, sent: 0, acked: 0, ended: false, accepted: false };
    this.transfers.set(id, t);
    return t;
  }

  update(t, bytes) {
    t.record.bytes = bytes;
    t.progress.max = Math.max(1, t.size);
    t.progress.value = Math.min(bytes, t.size);
    const pct = t.size > 0 ? Math.floor((100 * Math.min(bytes, t.size)) / t.size) : 100;
    t.text.textContent = `${formatBytes(bytes)} of ${formatBytes(t.size)} (${pct}%)`;
  }

  finishTransfer(t, state, message) {
    this.transfers.delete(t.id);
    t.record.state = state;
    t.record.message = message;
    t.node.dataset.state = state;
    t.text.textContent = message;
    t.cancel.hidden = true;
    t.chunks = [];
  }

  fail(t, code, message) {
    t.record.code = code;
    this.finishTransfer(t, 'error', message);
    const what = t.direction === 'upload' ? 'Upload' : 'Download';
    const text = `${what} of ${t.name} failed: ${message}`;
    this.setMessage(text, true);
    this.toast(text);
  }

  download(path, name) {
    if (!this.status.download) {
      this.setMessage('Downloading files is disabled by policy.', true);
      return;
    }
    const t = this.addTransfer('download', name, 0);
    if (!this.send(encodeFileDownload(t.id, path))) this.fail(t, 0, 'not connected');
  }

  onStart(msg) {
    const t = this.transfers.get(msg.id);
    if (!t || t.direction !== 'download') return;
    t.size = msg.size;
    t.record.size = msg.size;
    this.update(t, 0);
  }

  onData(msg) {
    const t = this.transfers.get(msg.id);
    if (!t || t.direction !== 'download') return;
    if (msg.offset !== t.received) {
      this.send(encodeFileCancel(t.id));
      this.fail(t, 0, `data arrived out of order (offset ${msg.offset}, expected ${t.received})`);
      return;
    }
    t.chunks.push(msg.data);
    t.received += msg.data.length;
    this.update(t, t.received);
    this.send(encodeFileAck(t.id, t.received));
  }

  upload(file) {
    if (!this.status.upload) {
      this.setMessage('Uploading files is disabled by policy: nothing was sent.', true);
      return;
    }
    if (!file.name || new TextEncoder().encode(file.name).length > 255 || file.name.includes('/')) {
      this.setMessage(`${file.name || 'The file'} cannot be uploaded: its name is not valid.`, true);
      return;
    }
    const t = this.addTransfer('upload', file.name, file.size);
    t.file = file;
    t.dir = this.status.path;
    try {
      if (!this.send(encodeFileUpload(t.id, file.size, t.dir, file.name))) this.fail(t, 0, 'not connected');
    } catch (err) {
      this.fail(t, 0, err.message);
    }
  }

  onProgress(msg) {
    const t = this.transfers.get(msg.id);
    if (!t || t.direction !== 'upload') return;
    t.accepted = true;
    t.acked = Math.max(t.acked, msg.bytes);
    this.update(t, t.acked);
    this.pump(t);
  }

  /** Sends upload chunks while the window allows, then FILE_END. */
  async pump(t) {
    if (t.pumping) return;
    t.pumping = true;
    try {
      while (this.transfers.get(t.id) === t && t.sent < t.size) {
        const n = Math.min(MAX_FILE_CHUNK, t.size - t.sent);
        if (t.sent + n - t.acked > FILE_WINDOW) return;
        const data = new Uint8Array(await t.file.slice(t.sent, t.sent + n).arrayBuffer());
        if (this.transfers.get(t.id) !== t) return;
        if (data.length !== n) {
          this.send(encodeFileCancel(t.id));
          this.fail(t, 0, 'the file changed while uploading');
          return;
        }
        if (!this.send(encodeFileData(t.id, data))) return;
        t.sent += n;
      }
      if (this.transfers.get(t.id) === t && t.sent === t.size && !t.ended) {
        t.ended = true;
        this.send(encodeFileEnd(t.id));
        t.text.textContent = 'Storing…';
      }
    } catch (err) {
      if (this.transfers.get(t.id) === t) {
        this.send(encodeFileCancel(t.id));
        this.fail(t, 0, `cannot read the file: ${err.message}`);
      }
    } finally {
      t.pumping = false;
    }
  }

  onDone(msg) {
    const t = this.transfers.get(msg.id);
    if (!t) return;
    if (t.direction === 'download') {
      if (t.received !== msg.bytes) {
        this.fail(t, 0, `received ${t.received} of ${msg.bytes} bytes`);
        return;
      }
      this.save(t);
      this.update(t, t.received);
      this.finishTransfer(t, 'done', `Downloaded ${formatBytes(t.received)}`);
      this.setMessage(`Downloaded ${t.name}.`);
    } else {
      this.update(t, msg.bytes);
      this.finishTransfer(t, 'done', `Uploaded ${formatBytes(msg.bytes)}`);
      this.setMessage(`Uploaded ${t.name}.`);
      if (t.dir === this.status.path) this.listDir(this.status.path);
    }
  }

  /** Hands the downloaded bytes to the browser as a file. */
  save(t) {
    const url = URL.createObjectURL(new Blob(t.chunks, { type: 'application/octet-stream' }));
    const a = el('a', { href: url, download: t.name, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  onError(msg) {
    if (this.listings.delete(msg.id)) {
      this.setMessage(`Cannot list the directory: ${msg.message}`, true);
      return;
    }
    const t = this.transfers.get(msg.id);
    if (!t) return;
    if (msg.code === FileErrorCode.CANCELLED) {
      t.record.code = msg.code;
      this.finishTransfer(t, 'error', 'Cancelled');
      return;
    }
    this.fail(t, msg.code, msg.message);
  }
}
