/**
 * The device's page table: virtual page number -> physical frame, with a write bit. Like dmirror's
 * xarray it holds no page references: correctness relies on the driver erasing entries in its
 * invalidation callback before the CPU side frees or changes a page (hmm.h: "the device is
 * invalidated before the CPU table can point at a new page").
 *
 * Entry encoding (one number per vpn): pfn * 4 + tag, tag DPT_TAG_READ (0) or DPT_TAG_WRITE (3),
 * the values of lib/test_hmm.c's DPT_XA_TAG_WRITE.
 *
 * @see lib/test_hmm.c (dmirror->pt, DPT_XA_TAG_WRITE) (Linux v5.8)
 */

export const DPT_TAG_READ = 0;
export const DPT_TAG_WRITE = 3;

export interface DeviceMapping {
  readonly vpn: number;
  readonly pfn: number;
  readonly write: boolean;
}

/** Which write a DevicePageTable.onWrite hook is told about. */
export type DevicePageTableWrite = 'store' | 'erase' | 'clear';

export class DevicePageTable {
  private readonly entries = new Map<number, number>();
  /** Bounds of every vpn stored since the table was last empty (they only widen until then). */
  private minVpn = Number.POSITIVE_INFINITY;
  private maxVpn = Number.NEGATIVE_INFINITY;
  /** Entries written and erased over the table's life. */
  stores = 0;
  erases = 0;
  /**
   * Called before every write (store, erase of a present entry, clear), for the rules checker
   * (the driver's update lock must be held). Observation only; null by default.
   */
  onWrite: ((op: DevicePageTableWrite, vpn: number, pfn: number, write: boolean) => void) | null = null;

  get size(): number {
    return this.entries.size;
  }

  /** The raw entry for vpn, or -1. */
  lookup(vpn: number): number {
    return this.entries.get(vpn) ?? -1;
  }

  pfnOf(vpn: number): number {
    const e = this.entries.get(vpn);
    return e === undefined ? -1 : Math.floor(e / 4);
  }

  isWritable(vpn: number): boolean {
    const e = this.entries.get(vpn);
    return e !== undefined && e % 4 === DPT_TAG_WRITE;
  }

  store(vpn: number, pfn: number, write: boolean): void {
    if (this.onWrite !== null) this.onWrite('store', vpn, pfn, write);
    this.entries.set(vpn, pfn * 4 + (write ? DPT_TAG_WRITE : DPT_TAG_READ));
    this.stores++;
    if (vpn < this.minVpn) this.minVpn = vpn;
    if (vpn > this.maxVpn) this.maxVpn = vpn;
  }

  erase(vpn: number): boolean {
    if (this.onWrite !== null && this.entries.has(vpn)) this.onWrite('erase', vpn, -1, false);
    const had = this.entries.delete(vpn);
    if (had) this.erases++;
    return had;
  }

  /** Erases every entry with startVpn <= vpn < endVpn; returns how many. */
  eraseRange(startVpn: number, endVpn: number): number {
    let n = this.entries.size;
    if (n === 0) return 0;
    if (this.onWrite === null && startVpn <= this.minVpn && this.maxVpn < endVpn) {
      // The range covers every entry (an munmap or mprotect of the whole mirrored range).
      this.erases += n;
      this.entries.clear();
      this.minVpn = Number.POSITIVE_INFINITY;
      this.maxVpn = Number.NEGATIVE_INFINITY;
      return n;
    }
    n = 0;
    if (endVpn - startVpn < this.entries.size) {
      for (let v = startVpn; v < endVpn; v++) if (this.erase(v)) n++;
      return n;
    }
    for (const v of [...this.entries.keys()]) if (v >= startVpn && v < endVpn && this.erase(v)) n++;
    return n;
  }

  clear(): void {
    if (this.onWrite !== null && this.entries.size > 0) this.onWrite('clear', -1, -1, false);
    this.erases += this.entries.size;
    this.entries.clear();
    this.minVpn = Number.POSITIVE_INFINITY;
    this.maxVpn = Number.NEGATIVE_INFINITY;
  }

  /** Visits every entry, in insertion order, without allocating (for the checkers). */
  forEach(visit: (vpn: number, pfn: number, write: boolean) => void): void {
    for (const [vpn, e] of this.entries) visit(vpn, Math.floor(e / 4), e % 4 === DPT_TAG_WRITE);
  }

  /** Entries in vpn order (for checkers and tools). */
  mappings(): DeviceMapping[] {
    return [...this.entries.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([vpn, e]) => ({ vpn, pfn: Math.floor(e / 4), write: e % 4 === DPT_TAG_WRITE }));
  }
}
