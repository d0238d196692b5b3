/**
 * A write buffer for CPU stores into a simulated process. Every `p.write` is a trip through the
 * page tables on the scheduler (microseconds each), so building 10^5 nodes one store at a time
 * would spend seconds on bookkeeping the demo is not about. Stores are staged instead into a
 * shadow of each page they touch, with a mask of the bytes written, and `flush` issues one
 * `p.write` per maximal run of written bytes, across page boundaries: nodes carved from one arena
 * by a bump allocator become a single write. The process sees the same bytes either way; only the
 * number of trips changes. Bytes never staged are never written, so a run stops at any gap.
 *
 * Overlapping stores keep program order: the later store wins, as it would have unbuffered.
 */

import { PAGE_SIZE } from '../core/addr.js';
import { ArgumentError } from '../core/errno.js';

const PAGE = PAGE_SIZE;

export type WriteFn = (addr: number, bytes: Uint8Array) => void;

interface ShadowPage {
  readonly data: Uint8Array;
  /** 1 for each byte staged. */
  readonly mask: Uint8Array;
}

export class WriteBuffer {
  private readonly write: WriteFn;
  /** Shadow pages keyed by vpn - base: small integers hash faster than 35-bit page numbers. */
  private pages = new Map<number, ShadowPage>();
  private base = Number.NaN;
  private stores = 0;
  /** p.write calls made by flushes so far. */
  writes = 0;

  constructor(write: WriteFn) {
    this.write = write;
  }

  /** Stores staged and not yet flushed. */
  get pending(): number {
    return this.stores;
  }

  /** Stages a store of `bytes` at addr; they are copied, so the caller may reuse its buffer. */
  stage(addr: number, bytes: Uint8Array): void {
    if (!Number.isSafeInteger(addr) || addr < 0)
      throw new ArgumentError('addr', `expected an address, got ${String(addr)}`);
    if (!(bytes instanceof Uint8Array)) throw new ArgumentError('bytes', 'expected a Uint8Array');
    this.stores++;
    for (let done = 0; done < bytes.length; ) {
      const at = addr + done;
      const vpn = Math.floor(at / PAGE);
      const off = at - vpn * PAGE;
      const len = Math.min(PAGE - off, bytes.length - done);
      const page = this.page(vpn);
      page.data.set(bytes.subarray(done, done + len), off);
      page.mask.fill(1, off, off + len);
      done += len;
    }
  }

  /** Writes everything staged, one p.write per contiguous run; returns the number of writes. */
  flush(): number {
    const pages = this.pages;
    this.pages = new Map();
    this.stores = 0;
    const base = this.base;
    this.base = Number.NaN;
    const keys = [...pages.keys()].sort((a, b) => a - b);
    let run: { start: number; chunks: Uint8Array[]; end: number } | null = null;
    let n = 0;
    const emit = () => {
      if (run === null) return;
      this.write(run.start, concat(run.chunks, run.end - run.start));
      run = null;
      n++;
    };
    for (const key of keys) {
      const { data, mask } = pages.get(key) as ShadowPage;
      const at = (base + key) * PAGE;
      for (let lo = mask.indexOf(1); lo >= 0; lo = mask.indexOf(1, lo)) {
        let hi = mask.indexOf(0, lo);
        if (hi < 0) hi = PAGE;
        if (run === null || run.end !== at + lo) {
          emit();
          run = { start: at + lo, chunks: [], end: at + lo };
        }
        run.chunks.push(data.subarray(lo, hi));
        run.end = at + hi;
        lo = hi;
      }
    }
    emit();
    this.writes += n;
    return n;
  }

  /** Forgets everything staged (for memory that was unmapped before the flush). */
  discard(): void {
    this.pages = new Map();
    this.base = Number.NaN;
    this.stores = 0;
  }

  private page(vpn: number): ShadowPage {
    if (Number.isNaN(this.base)) this.base = vpn;
    let page = this.pages.get(vpn - this.base);
    if (page === undefined) {
      page = { data: new Uint8Array(PAGE), mask: new Uint8Array(PAGE) };
      this.pages.set(vpn - this.base, page);
    }
    return page;
  }
}

function concat(chunks: readonly Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
