/**
 * The device MMU of one address space: the TLB in front of the device page table, and the
 * replayable fault buffer behind them. The driver writes the page table and must keep the TLB in
 * step: `map` drops a cached entry it changes, `invalidateRange` is what a driver's invalidation
 * callback calls after erasing (nouveau's PFNCLR + TLB flush, UVM's TLB batch).
 *
 * Every access whose translation lands in system memory (a page mapped remotely, zero-copy), TLB hit
 * or walk alike, crosses the link: it is counted (remoteAccesses), charged (the cost model's
 * remoteAccess term) and told to `onRemoteAccess` if set, as the GPU's hub counts remote accesses
 * for UVM's access counters whether or not the translation was cached.
 */

import type { CostModel } from './cost.js';
import type { DeviceCounters, SimDevice } from './device.js';
import { type DevicePageTable, dptEntryPfn, dptEntryWritable } from './device_pagetable.js';
import { FaultBuffer } from './fault_buffer.js';
import { DeviceTlb } from './tlb.js';

/** The device MMU of one driver address space: TLB, page table and fault buffer (see the file comment). */
export class DeviceMmu {
  /** The device this MMU belongs to. */
  readonly device: SimDevice;
  /** The page table the driver writes (dmirror->pt). */
  readonly pt: DevicePageTable;
  /** The TLB caching `pt`; the driver must invalidate it when it erases entries. */
  readonly tlb: DeviceTlb;
  /** Where device accesses that miss `pt` stall until the driver replays them. */
  readonly faults: FaultBuffer;
  private readonly counters: DeviceCounters;
  private readonly cost: CostModel;
  /** Told each vpn a page-table walk translated (the svm engine counts prefetched pages' first use). */
  onWalk: ((vpn: number) => void) | null = null;
  /** Told each device access to system memory (the access counters' input); null costs one comparison. */
  onRemoteAccess: ((vpn: number) => void) | null = null;
  private readonly sysmemPfnMax: number;

  constructor(device: SimDevice, pt: DevicePageTable, tlbEntries?: number) {
    this.device = device;
    this.pt = pt;
    this.tlb = new DeviceTlb(tlbEntries, device.arrays);
    this.counters = device.counters;
    this.cost = device.cost;
    this.sysmemPfnMax = device.sysmemPfnMax;
    this.faults = new FaultBuffer(`${device.name}.faults`, device.counters);
  }

  /**
   * The frame for vpn with the access's permission, or -1 (a fault): the TLB, else a walk that
   * refills it. An access of `bytes` to system memory is a remote one (see the file comment).
   */
  translate(vpn: number, write: boolean, bytes = 1): number {
    const hit = this.tlb.lookup(vpn, write);
    if (hit >= 0) {
      this.counters.tlbHits++;
      if (hit <= this.sysmemPfnMax) this.remote(vpn, bytes);
      return hit;
    }
    this.counters.tlbMisses++;
    this.cost.ptWalk();
    // one lookup for both: pfnOf and isWritable decode the same entry
    const e = this.pt.lookup(vpn);
    if (e < 0) return -1;
    const pfn = dptEntryPfn(e);
    const writable = dptEntryWritable(e);
    if (write && !writable) return -1;
    this.tlb.fill(vpn, pfn, writable);
    if (this.onWalk !== null) this.onWalk(vpn);
    if (pfn <= this.sysmemPfnMax) this.remote(vpn, bytes);
    return pfn;
  }

  private remote(vpn: number, bytes: number): void {
    this.counters.remoteAccesses++;
    this.cost.remoteAccess(bytes);
    if (this.onRemoteAccess !== null) this.onRemoteAccess(vpn);
  }

  /** Writes a device page-table entry; a cached translation it replaces or downgrades is dropped. */
  map(vpn: number, pfn: number, write: boolean): void {
    const old = this.pt.lookup(vpn);
    this.pt.store(vpn, pfn, write);
    this.counters.pagesMirrored++;
    if (old >= 0 && old !== this.pt.lookup(vpn)) this.invalidateRange(vpn, vpn + 1);
  }

  /** Drops cached translations for [startVpn, endVpn) (a long range flushes the TLB). */
  invalidateRange(startVpn: number, endVpn: number): void {
    if (this.tlb.invalidateRange(startVpn, endVpn)) this.counters.tlbFlushes++;
    else this.counters.tlbInvalidations++;
  }

  /** Flushes the whole TLB (counted in tlbFlushes). */
  flush(): void {
    this.tlb.flush();
    this.counters.tlbFlushes++;
  }
}
