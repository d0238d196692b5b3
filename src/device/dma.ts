/**
 * The device's DMA engine: it copies page contents between system memory and device memory (the
 * CPU cannot touch device memory, hmm.rst "Migration to and from device memory"), counts what it
 * moved and charges each transfer to the cost clock. One `submit` of a batch is one transfer, which
 * is why migrate_vma works on ranges: a transfer's fixed latency dwarfs a 4 KiB page's copy time.
 */

import { Tracepoints } from '../core/trace.js';
import type { PhysMem } from '../mm/page_alloc.js';
import type { CostModel } from './cost.js';
import type { DeviceCounters } from './device.js';

/** Bytes one page transfer moves (PAGE_SIZE). */
export const DMA_PAGE_BYTES = 4096;

/** One transfer of the copy engine: how many pages and bytes, and which way. */
export interface DmaTransferEvent {
  /** Pages copied (or zero-filled). */
  readonly pages: number;
  /** Bytes moved. */
  readonly bytes: number;
  /** 'to-device' (RAM or zero fill to device memory), 'to-host', or 'device-to-device' / 'host-to-host'. */
  readonly direction: 'to-device' | 'to-host' | 'device-to-device' | 'host-to-host';
}

/** The copy engine's tracepoint (the hardware's: the kernel has no trace event for a driver's DMA). */
export interface DmaTracepoints {
  /** A submitted batch, traced before it is copied. */
  device_dma: DmaTransferEvent;
}

/**
 * A device's DMA engine: batched page copies between RAM and device memory, counted and charged (see the
 * file comment).
 */
export class DmaEngine {
  private readonly mem: PhysMem;
  private readonly cost: CostModel;
  private readonly counters: DeviceCounters;
  /** Its transfers (observation only). */
  readonly trace = new Tracepoints<DmaTracepoints>();

  constructor(mem: PhysMem, cost: CostModel, counters: DeviceCounters) {
    this.mem = mem;
    this.cost = cost;
    this.counters = counters;
  }

  /** Copies each src page to the dst page at the same index (a zero-filled src for -1) as one transfer. */
  submit(dst: readonly number[], src: readonly number[]): void {
    if (dst.length === 0) return;
    if (this.trace.enabled) this.trace.emit('device_dma', this.transfer(dst, src));
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

  private transfer(dst: readonly number[], src: readonly number[]): DmaTransferEvent {
    const toDev = this.mem.store.isZoneDevice(dst[0] as number);
    const s = src[0] as number;
    const fromDev = s >= 0 && this.mem.store.isZoneDevice(s);
    const direction = toDev
      ? fromDev
        ? 'device-to-device'
        : 'to-device'
      : fromDev
        ? 'to-host'
        : 'host-to-host';
    return { pages: dst.length, bytes: dst.length * DMA_PAGE_BYTES, direction };
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
