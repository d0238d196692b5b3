/**
 * The device's DMA engine: it copies page contents between system memory and device memory (the
 * CPU cannot touch device memory, hmm.rst "Migration to and from device memory"), counts what it
 * moved and charges each transfer to the cost clock. One `submit` of a batch is one transfer, which
 * is why migrate_vma works on ranges: a transfer's fixed latency dwarfs a 4 KiB page's copy time.
 */

import type { PhysMem } from '../mm/page_alloc.js';
import type { CostModel } from './cost.js';
import type { DeviceCounters } from './device.js';

/** Bytes one page transfer moves (PAGE_SIZE). */
export const DMA_PAGE_BYTES = 4096;

/**
 * A device's DMA engine: batched page copies between RAM and device memory, counted and charged (see the
 * file comment).
 */
export class DmaEngine {
  private readonly mem: PhysMem;
  private readonly cost: CostModel;
  private readonly counters: DeviceCounters;

  constructor(mem: PhysMem, cost: CostModel, counters: DeviceCounters) {
    this.mem = mem;
    this.cost = cost;
    this.counters = counters;
  }

  /** Copies each src page to the dst page at the same index (a zero-filled src for -1) as one transfer. */
  submit(dst: readonly number[], src: readonly number[]): void {
    if (dst.length === 0) return;
    for (let i = 0; i < dst.length; i++) {
      const s = src[i] as number;
      if (s < 0) this.mem.clearPage(dst[i] as number);
      else this.mem.copyPage(dst[i] as number, s);
    }
    const bytes = dst.length * DMA_PAGE_BYTES;
    this.counters.dmaTransfers++;
    this.counters.dmaPages += dst.length;
    this.counters.dmaBytes += bytes;
    this.cost.dmaTransfer(bytes);
  }

  /** Device-side load/store of bytes within one page of device or system memory. */
  read(pfn: number, offset: number, out: Uint8Array, outOffset: number, len: number): void {
    this.mem.readBytes(pfn, offset, out, outOffset, len);
  }

  /** Device-side store of `len` bytes of `src` into page `pfn` at `offset` (RAM or device memory). */
  write(pfn: number, offset: number, src: Uint8Array, srcOffset: number, len: number): void {
    this.mem.writeBytes(pfn, offset, src, srcOffset, len);
  }
}
