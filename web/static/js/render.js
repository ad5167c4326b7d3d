/**
 * The viewer's framebuffer: a 2D canvas whose backing store is the remote
 * desktop, 1:1, and the drawing of FRAME operations (docs/protocol.md §3).
 *
 * A frame is drawn in two steps so that frames can be pipelined: its images
 * start decoding as soon as it arrives (`decodeImages`), and `draw` applies
 * it, in arrival order, once the previous frames are drawn: COPYs in order,
 * then FILLs and IMAGEs. All operations of one frame are applied in one
 * synchronous run, so the browser presents the frame whole.
 */

import { CODEC_MIME } from './wire.js';

const BITMAP_OPTIONS = { premultiplyAlpha: 'none', colorSpaceConversion: 'none' };

/** Closes every ImageBitmap of a decode result (null entries are skipped). */
export function closeBitmaps(bitmaps) {
  for (const b of bitmaps) if (b) b.close();
}

export class Framebuffer {
  /** @param {HTMLCanvasElement} canvas */
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d', { alpha: false });
    this.configure();
  }

  get width() {
    return this.canvas.width;
  }

  get height() {
    return this.canvas.height;
  }

  configure() {
    // Images are opaque (§3 guarantee 4), so plain source-over is a copy.
    this.ctx.imageSmoothingEnabled = false;
  }

  /** Sizes the framebuffer to `width`×`height` and clears it to black. */
  reset(width, height) {
    // Assigning the size clears the canvas and resets the context's state.
    this.canvas.width = Math.max(1, width);
    this.canvas.height = Math.max(1, height);
    this.configure();
    this.ctx.fillStyle = '#000';
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
  }

  /**
   * Starts decoding every IMAGE operation of `frame` in parallel. Resolves to
   * an array parallel to `frame.ops` (null for non-image operations); rejects
   * with a descriptive Error if any image fails, closing the ones that
   * succeeded. The returned promise never causes an unhandled rejection on
   * its own: whoever awaits it gets the error.
   */
  decodeImages(frame) {
    const jobs = frame.ops.map((op, index) => {
      if (op.op !== 'image') return Promise.resolve(null);
      const blob = new Blob([op.data], { type: CODEC_MIME[op.codec] });
      return createImageBitmap(blob, BITMAP_OPTIONS).then((bitmap) => {
        const { width, height } = bitmap;
        if (width !== op.width || height !== op.height) {
          bitmap.close();
          throw new Error(`image ${index} of frame ${frame.frameId} decoded to `
            + `${width}×${height}, expected ${op.width}×${op.height}`);
        }
        return bitmap;
      }, (err) => {
        throw new Error(`cannot decode image ${index} of frame ${frame.frameId} `
          + `(${CODEC_MIME[op.codec]}, ${op.data.length} bytes): ${err?.message ?? err}`);
      });
    });
    const all = Promise.allSettled(jobs).then((results) => {
      const failed = results.find((r) => r.status === 'rejected');
      const bitmaps = results.map((r) => (r.status === 'fulfilled' ? r.value : null));
      if (failed) {
        closeBitmaps(bitmaps);
        throw failed.reason;
      }
      return bitmaps;
    });
    all.catch(() => {}); // handled by whoever awaits `all`
    return all;
  }

  /**
   * Applies `frame` with its decoded `bitmaps` (from `decodeImages`), and
   * closes the bitmaps. COPYs read the framebuffer as the previous COPY left
   * it; the canvas snapshots itself when it is its own source, which gives
   * the "as if through a temporary buffer" semantics of overlapping copies.
   */
  draw(frame, bitmaps) {
    const ctx = this.ctx;
    try {
      for (const op of frame.ops) {
        if (op.op === 'copy') {
          ctx.drawImage(this.canvas, op.srcX, op.srcY, op.width, op.height, op.x, op.y, op.width, op.height);
        }
      }
      frame.ops.forEach((op, index) => {
        if (op.op === 'fill') {
          ctx.fillStyle = `rgb(${op.r}, ${op.g}, ${op.b})`;
          ctx.fillRect(op.x, op.y, op.width, op.height);
        } else if (op.op === 'image') {
          ctx.drawImage(bitmaps[index], op.x, op.y);
        }
      });
    } finally {
      closeBitmaps(bitmaps);
    }
  }
}

// Tiny WebP images (1×1), lossy and lossless, to probe decoder support.
const WEBP_PROBES = [
  'UklGRiIAAABXRUJQVlA4IBYAAAAwAQCdASoBAAEADsD+JaQAA3AAAAAA',
  'UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==',
];

/** Whether this browser decodes lossy and lossless WebP with createImageBitmap. */
export async function canDecodeWebp() {
  if (typeof createImageBitmap !== 'function') return false;
  try {
    const results = await Promise.all(WEBP_PROBES.map(async (b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/webp' }), BITMAP_OPTIONS);
      const ok = bitmap.width === 1 && bitmap.height === 1;
      bitmap.close();
      return ok;
    }));
    return results.every(Boolean);
  } catch {
    return false;
  }
}
