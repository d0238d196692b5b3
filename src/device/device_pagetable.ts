/**
 * The device's page table: virtual page number -> physical frame, with a write bit. Like dmirror's
 * xarray it holds no page references: correctness relies on the driver erasing entries in its
 * invalidation callback before the CPU side frees or changes a page (hmm.h: "the device is
 * invalidated before the CPU table can point at a new page").
 *
 * Entry encoding (one number per vpn): pfn * 4 + tag, tag DPT_TAG_READ (0), DPT_TAG_ATOMIC (1: the
 * page is held for device atomics, v5.14) or DPT_TAG_WRITE (3), the values of lib/test_hmm.c's
 * DPT_XA_TAG_ATOMIC and DPT_XA_TAG_WRITE. An atomic entry is not writable through ordinary writes.
 *
 * @see lib/test_hmm.c (dmirror->pt, DPT_XA_TAG_WRITE) (Linux v5.8; DPT_XA_TAG_ATOMIC as of v6.19)
 */

import type { Tracepoints } from '../core/trace.js';

/** A read-only entry (no tag in test_hmm's xarray). */
export const DPT_TAG_READ = 0;
/** test_hmm's DPT_XA_TAG_ATOMIC: an entry dmirror_atomic_map stores for a device-exclusive page. */
export const DPT_TAG_ATOMIC = 1;
/** test_hmm's DPT_XA_TAG_WRITE: the device may write through the entry. */
export const DPT_TAG_WRITE = 3;

/** The frame of a present raw entry (DevicePageTable.lookup >= 0). */
export function dptEntryPfn(e: number): number {
  return Math.floor(e / 4);
}

/** Whether a present raw entry is writable (tag DPT_TAG_WRITE). */
export function dptEntryWritable(e: number): boolean {
  return e % 4 === DPT_TAG_WRITE;
}

/** One present entry of a DevicePageTable. */
export interface DeviceMapping {
  /** Device virtual page number (user address / 4096). */
  readonly vpn: number;
  /** The physical frame mapped (RAM or device memory). */
  readonly pfn: number;
  /** Whether the entry is writable (DPT_TAG_WRITE). */
  readonly write: boolean;
}

/**
 * The tracepoints a device page table emits on its machine's stream (every write: a store, the
 * erase of a present entry, a clear of a non-empty table), before the write, for the rules checker
 * (the driver's update lock must be held) and the explorer's trace. Observation only.
 */
export interface DevicePageTableTracepoints {
  /** An entry is stored (new or replaced). */
  device_pt_store: {
    /** The table written. */
    readonly pt: DevicePageTable;
    /** The device virtual page number. */
    readonly vpn: number;
    /** The physical frame it now maps. */
    readonly pfn: number;
    /** Whether the device may write through it. */
    readonly write: boolean;
  };
  /** A present entry is erased. */
  device_pt_erase: {
    /** The table written. */
    readonly pt: DevicePageTable;
    /** The device virtual page number erased. */
    readonly vpn: number;
  };
  /** A non-empty table is emptied at once. */
  device_pt_clear: {
    /** The table cleared. */
    readonly pt: DevicePageTable;
  };
}

/** Entries per leaf of the table (one PTE table's worth, as a device MMU would have). */
const LEAF_ENTRIES = 512;
const EMPTY = -1;
/**
 * Leaves of tables cleared (a driver context closing) or emptied, for the next tables of this process: a fresh
 * leaf is 4 KiB of fresh memory to fault in, which costs more than refilling a used one.
 */
const spareLeaves: Float64Array[] = [];
/** At most 4 MiB of them. */
const SPARE_LEAVES_MAX = 1024;

/** forEach's visitor through findEntry: every entry, no result. */
function visitAll(
  visit: (vpn: number, pfn: number, write: boolean) => void,
  _b: null,
  vpn: number,
  pfn: number,
  write: boolean,
): null {
  visit(vpn, pfn, write);
  return null;
}

function spareLeaf(leaf: Leaf): void {
  if (spareLeaves.length < SPARE_LEAVES_MAX) spareLeaves.push(leaf.e);
}

/**
 * One leaf: LEAF_ENTRIES entries (EMPTY or pfn * 4 + tag), how many are present, and the lowest
 * slot ever stored (erases leave it: a bound, not the first entry), where forEach starts.
 */
interface Leaf {
  readonly e: Float64Array;
  n: number;
  lo: number;
}

/**
 * Stored as leaves of 512 entries keyed by vpn / 512, like the radix tree of a real device MMU (and
 * test_hmm's xarray): lookups and stores index an array, and a range that covers a leaf drops it
 * whole, so an munmap of a mirrored range costs one step per leaf, not one hash-table delete per
 * page.
 */
export class DevicePageTable {
  private readonly leaves = new Map<number, Leaf>();
  private count = 0;
  /** Entries written and erased over the table's life. */
  stores = 0;
  /** Entries erased over the table's life (one per present entry, clears included). */
  erases = 0;
  /** The machine's event stream this table's writes are traced on (null: not traced). */
  readonly trace: Tracepoints<DevicePageTableTracepoints> | null;

  constructor(trace: Tracepoints<DevicePageTableTracepoints> | null = null) {
    this.trace = trace;
  }

  /** Someone listens to this table's tracepoints. */
  private get traced(): boolean {
    return this.trace?.enabled === true;
  }

  /** Present entries now. */
  get size(): number {
    return this.count;
  }

  /** The raw entry for vpn, or -1. */
  lookup(vpn: number): number {
    const leaf = this.leaves.get(Math.floor(vpn / LEAF_ENTRIES));
    return leaf === undefined ? EMPTY : (leaf.e[vpn % LEAF_ENTRIES] as number);
  }

  /** The pfn `vpn` maps, or -1 if it has no entry. */
  pfnOf(vpn: number): number {
    const e = this.lookup(vpn);
    return e < 0 ? -1 : dptEntryPfn(e);
  }

  /** Whether `vpn` has a writable (DPT_TAG_WRITE) entry. */
  isWritable(vpn: number): boolean {
    const e = this.lookup(vpn);
    return e >= 0 && dptEntryWritable(e);
  }

  /** True if vpn holds an ATOMIC entry (xa_pointer_tag(entry) == DPT_XA_TAG_ATOMIC). */
  isAtomic(vpn: number): boolean {
    const e = this.lookup(vpn);
    return e >= 0 && e % 4 === DPT_TAG_ATOMIC;
  }

  /** Maps `vpn` to `pfn`, writable or read-only, replacing any entry (dmirror_do_fault's xa_store). */
  store(vpn: number, pfn: number, write: boolean): void {
    this.storeTagged(vpn, pfn, write ? DPT_TAG_WRITE : DPT_TAG_READ);
  }

  /** Stores an ATOMIC entry (traced as a read-only store: the device may not write through it). */
  storeAtomic(vpn: number, pfn: number): void {
    this.storeTagged(vpn, pfn, DPT_TAG_ATOMIC);
  }

  private storeTagged(vpn: number, pfn: number, tag: number): void {
    const write = tag === DPT_TAG_WRITE;
    if (this.traced) this.trace?.emit('device_pt_store', { pt: this, vpn, pfn, write });
    const key = Math.floor(vpn / LEAF_ENTRIES);
    let leaf = this.leaves.get(key);
    if (leaf === undefined) {
      leaf = { e: (spareLeaves.pop() ?? new Float64Array(LEAF_ENTRIES)).fill(EMPTY), n: 0, lo: LEAF_ENTRIES };
      this.leaves.set(key, leaf);
    }
    const i = vpn % LEAF_ENTRIES;
    if ((leaf.e[i] as number) < 0) {
      leaf.n++;
      this.count++;
      if (i < leaf.lo) leaf.lo = i;
    }
    leaf.e[i] = pfn * 4 + tag;
    this.stores++;
  }

  /** Removes `vpn`'s entry (xa_erase); false if it had none. */
  erase(vpn: number): boolean {
    const key = Math.floor(vpn / LEAF_ENTRIES);
    const leaf = this.leaves.get(key);
    const i = vpn % LEAF_ENTRIES;
    if (leaf === undefined || (leaf.e[i] as number) < 0) return false;
    if (this.traced) this.trace?.emit('device_pt_erase', { pt: this, vpn });
    leaf.e[i] = EMPTY;
    this.count--;
    this.erases++;
    if (--leaf.n === 0) this.dropLeaf(key, leaf);
    return true;
  }

  /** Erases every entry with startVpn <= vpn < endVpn; returns how many. */
  eraseRange(startVpn: number, endVpn: number): number {
    if (this.count === 0 || endVpn <= startVpn) return 0;
    const first = Math.floor(startVpn / LEAF_ENTRIES);
    const last = Math.floor((endVpn - 1) / LEAF_ENTRIES);
    let n = 0;
    if (last - first + 1 <= this.leaves.size) {
      for (let key = first; key <= last; key++) n += this.eraseInLeaf(key, startVpn, endVpn);
    } else {
      for (const key of [...this.leaves.keys()])
        if (key >= first && key <= last) n += this.eraseInLeaf(key, startVpn, endVpn);
    }
    return n;
  }

  /** The part of [startVpn, endVpn) in leaf `key`: the whole leaf at once when it is covered. */
  private eraseInLeaf(key: number, startVpn: number, endVpn: number): number {
    const leaf = this.leaves.get(key);
    if (leaf === undefined) return 0;
    const base = key * LEAF_ENTRIES;
    const from = Math.max(startVpn, base) - base;
    const to = Math.min(endVpn, base + LEAF_ENTRIES) - base;
    if (!this.traced && from === 0 && to === LEAF_ENTRIES) {
      const n = leaf.n;
      this.count -= n;
      this.erases += n;
      this.dropLeaf(key, leaf);
      return n;
    }
    let n = 0;
    for (let i = from; i < to; i++) if ((leaf.e[i] as number) >= 0 && this.erase(base + i)) n++;
    return n;
  }

  /** Removes every entry (the driver context is closing). */
  clear(): void {
    if (this.traced && this.count > 0) this.trace?.emit('device_pt_clear', { pt: this });
    this.erases += this.count;
    for (const leaf of this.leaves.values()) spareLeaf(leaf);
    this.leaves.clear();
    this.count = 0;
  }

  private dropLeaf(key: number, leaf: Leaf): void {
    this.leaves.delete(key);
    spareLeaf(leaf);
  }

  /** Visits every entry (leaf by leaf, in the order leaves were created; ascending within one) without allocating. */
  forEach(visit: (vpn: number, pfn: number, write: boolean) => void): void {
    this.findEntry(visitAll, visit, null);
  }

  /**
   * The first non-null `visit(a, b, vpn, pfn, write)` over the entries, in forEach's order, or
   * null. `a` and `b` are passed through, so that a checker run after every step needs no closure.
   */
  findEntry<A, B, R>(
    visit: (a: A, b: B, vpn: number, pfn: number, write: boolean) => R | null,
    a: A,
    b: B,
  ): R | null {
    for (const [key, leaf] of this.leaves) {
      const base = key * LEAF_ENTRIES;
      const e = leaf.e;
      // the checkers visit every table after every step: from the leaf's lowest slot to its last entry
      let left = leaf.n;
      for (let i = leaf.lo; left > 0 && i < LEAF_ENTRIES; i++) {
        const x = e[i] as number;
        if (x < 0) continue;
        left--;
        const r = visit(a, b, base + i, dptEntryPfn(x), dptEntryWritable(x));
        if (r !== null) return r;
      }
    }
    return null;
  }

  /** Entries in vpn order (for checkers and tools). */
  mappings(): DeviceMapping[] {
    const out: DeviceMapping[] = [];
    this.forEach((vpn, pfn, write) => {
      out.push({ vpn, pfn, write });
    });
    return out.sort((a, b) => a.vpn - b.vpn);
  }
}
