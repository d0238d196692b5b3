/**
 * The device TLB: a set-associative cache of device page-table entries in front of the device page
 * table, as every GPU MMU has (UVMSmart models 100-cycle walks behind it). Like a CPU TLB it is not
 * coherent with the page table: the driver must invalidate it whenever it erases or downgrades an
 * entry, and check/coherence.ts reports a TLB entry the page table no longer backs.
 *
 * Layout: `sets` sets of `ways` entries; set = vpn mod sets. Per entry:
 *   tag[i]   vpn, or -1 when empty
 *   pfn[i]   the frame
 *   write[i] 1 if the entry allows writes
 *   used[i]  the access tick of the last hit (LRU within the set)
 *
 * Range invalidation follows Linux's tlb_single_page_flush_ceiling (33 pages): a longer range
 * flushes everything, which is what drivers do too (UVM: more than 4 ranges, invalidate all).
 *
 * @see arch/x86/mm/tlb.c (tlb_single_page_flush_ceiling); NVIDIA open-gpu-kernel-modules kernel-open/nvidia-uvm/uvm_tlb_batch.h (docs/costs.md)
 */

import { ArgumentError, describeValue } from '../core/errno.js';
import { HostArrays } from '../core/host_arrays.js';

/** TLB entries of a device unless configured (tlbEntries). */
export const DEVICE_TLB_ENTRIES_DEFAULT = 1024;
/** Associativity: entries per set. */
export const DEVICE_TLB_WAYS = 8;
/** Largest TLB a device may have (GPU TLBs hold thousands of entries; this bounds the host arrays). */
export const DEVICE_TLB_ENTRIES_MAX = 2 ** 16;
/** Ranges longer than this flush the whole TLB (tlb_single_page_flush_ceiling). */
export const TLB_SINGLE_PAGE_FLUSH_CEILING = 33;

/** Throws ArgumentError (naming tlbEntries) unless `entries` is a multiple of the ways up to the maximum. */
export function checkTlbEntries(entries: number): void {
  if (
    !Number.isInteger(entries) ||
    entries < DEVICE_TLB_WAYS ||
    entries > DEVICE_TLB_ENTRIES_MAX ||
    entries % DEVICE_TLB_WAYS !== 0
  )
    throw new ArgumentError(
      'tlbEntries',
      `expected a multiple of ${DEVICE_TLB_WAYS} in ${DEVICE_TLB_WAYS}..${DEVICE_TLB_ENTRIES_MAX}, got ${describeValue(entries)}`,
    );
}

const NO_ENTRIES = new Float64Array(0);
const NO_WRITABLE = new Uint8Array(0);

/** One cached translation of a DeviceTlb. */
export interface DeviceTlbEntry {
  /** Device virtual page number. */
  readonly vpn: number;
  /** The physical frame it translates to. */
  readonly pfn: number;
  /** Whether the cached entry allows writes. */
  readonly write: boolean;
}

/** A set-associative, LRU device TLB, not coherent with the page table (see the file comment). */
export class DeviceTlb {
  /** Capacity in entries (a multiple of DEVICE_TLB_WAYS). */
  readonly entries: number;
  private readonly sets: number;
  private readonly ways: number;
  // Allocated by the first fill (allocate()): most mirrors never run a device kernel, and the
  // explorer opens thousands a second.
  private tag: Float64Array = NO_ENTRIES;
  private pfnOf: Float64Array = NO_ENTRIES;
  private writable: Uint8Array = NO_WRITABLE;
  private used: Float64Array = NO_ENTRIES;
  private tick = 0;
  private live = 0;
  /** Lookups that found the vpn cached. */
  hits = 0;
  /** Lookups that did not (the access then walks the page table). */
  misses = 0;
  /** Range invalidations that dropped entry by entry, and whole flushes. */
  invalidations = 0;
  /** Whole-TLB flushes. */
  flushes = 0;

  /** `arrays`: where the first fill takes the TLB's arrays from (the machine's, reused after it). */
  constructor(
    entries = DEVICE_TLB_ENTRIES_DEFAULT,
    private readonly arrays: HostArrays = new HostArrays(),
  ) {
    checkTlbEntries(entries);
    this.entries = entries;
    this.ways = DEVICE_TLB_WAYS;
    this.sets = entries / DEVICE_TLB_WAYS;
  }

  private allocate(): void {
    this.tag = this.arrays.f64(this.entries).fill(-1);
    this.pfnOf = this.arrays.f64(this.entries);
    this.writable = this.arrays.u8(this.entries);
    this.used = this.arrays.f64(this.entries);
  }

  /** The frame for vpn if cached with the needed permission (a hit), else -1 (a miss). */
  lookup(vpn: number, write: boolean): number {
    const i = this.find(vpn);
    if (i < 0 || (write && this.writable[i] === 0)) {
      this.misses++;
      return -1;
    }
    this.hits++;
    this.used[i] = ++this.tick;
    return this.pfnOf[i] as number;
  }

  /** Caches a translation the page-table walker found, evicting the set's least recently used entry. */
  fill(vpn: number, pfn: number, write: boolean): void {
    if (this.tag === NO_ENTRIES) this.allocate();
    let i = this.find(vpn);
    if (i < 0) {
      i = this.victim(vpn % this.sets);
      if (this.tag[i] === -1) this.live++;
    }
    this.tag[i] = vpn;
    this.pfnOf[i] = pfn;
    this.writable[i] = write ? 1 : 0;
    this.used[i] = ++this.tick;
  }

  /** Drops the entries for [startVpn, endVpn); a long range flushes everything (then true). */
  invalidateRange(startVpn: number, endVpn: number): boolean {
    if (endVpn - startVpn > TLB_SINGLE_PAGE_FLUSH_CEILING) {
      this.flush();
      return true;
    }
    this.invalidations++;
    for (let vpn = startVpn; vpn < endVpn; vpn++) {
      const i = this.find(vpn);
      if (i >= 0) {
        this.tag[i] = -1;
        this.live--;
      }
    }
    return false;
  }

  /** Drops every cached entry. */
  flush(): void {
    this.flushes++;
    if (this.live === 0) return;
    this.tag.fill(-1);
    this.live = 0;
  }

  /** Cached translations. */
  get size(): number {
    return this.live;
  }

  /** The cached translations, for checkers and tools. */
  cached(): DeviceTlbEntry[] {
    const out: DeviceTlbEntry[] = [];
    if (this.live === 0) return out;
    for (let i = 0; i < this.entries; i++) {
      const vpn = this.tag[i] as number;
      if (vpn >= 0) out.push({ vpn, pfn: this.pfnOf[i] as number, write: this.writable[i] === 1 });
    }
    return out;
  }

  private find(vpn: number): number {
    if (this.live === 0) return -1;
    const base = (vpn % this.sets) * this.ways;
    for (let i = base; i < base + this.ways; i++) if (this.tag[i] === vpn) return i;
    return -1;
  }

  /** An empty way of the set, or its least recently used one. */
  private victim(set: number): number {
    const base = set * this.ways;
    let best = base;
    for (let i = base; i < base + this.ways; i++) {
      if (this.tag[i] === -1) return i;
      if ((this.used[i] as number) < (this.used[best] as number)) best = i;
    }
    return best;
  }
}
