/**
 * The driver's residency books (Dmirror.resident): virtual page -> device page, kept per 2 MiB VA
 * block in an Int32Array of 512 entries (-1: not resident), as UVM keeps a resident mask and a
 * page array per VA block. A sweep's device holds up to 2^18 pages and every fault batch asks
 * page by page; a Map of that size cost more in hashing and rehashing than the rest of the
 * driver's bookkeeping.
 */

import { HostArrays } from '../../core/host_arrays.js';

const BLOCK_SHIFT = 9;
const BLOCK_PAGES = 1 << BLOCK_SHIFT;
const BLOCK_MASK = BLOCK_PAGES - 1;

/** Virtual page -> device page, for the pages of one dmirror context in device memory. */
export class ResidentPages {
  private readonly blocks = new Map<number, Int32Array>();
  private pages = 0;

  /** `arrays`: where the blocks come from (the machine's, reused after it is released). */
  constructor(private readonly arrays: HostArrays = new HostArrays()) {}

  /** Pages resident. */
  get size(): number {
    return this.pages;
  }

  /** The device page backing `vpn`, or undefined. */
  get(vpn: number): number | undefined {
    const b = this.blocks.get(Math.floor(vpn / BLOCK_PAGES));
    if (b === undefined) return undefined;
    const pfn = b[vpn & BLOCK_MASK] as number;
    return pfn < 0 ? undefined : pfn;
  }

  /** True if `vpn` is backed by a device page. */
  has(vpn: number): boolean {
    const b = this.blocks.get(Math.floor(vpn / BLOCK_PAGES));
    return b !== undefined && (b[vpn & BLOCK_MASK] as number) >= 0;
  }

  /** Records that device page `pfn` backs `vpn`. */
  set(vpn: number, pfn: number): void {
    const key = Math.floor(vpn / BLOCK_PAGES);
    let b = this.blocks.get(key);
    if (b === undefined) {
      b = this.arrays.i32(BLOCK_PAGES).fill(-1);
      this.blocks.set(key, b);
    }
    if ((b[vpn & BLOCK_MASK] as number) < 0) this.pages++;
    b[vpn & BLOCK_MASK] = pfn;
  }

  /** Resident pages among [startVpn, endVpn), a VA block at a time. */
  countIn(startVpn: number, endVpn: number): number {
    let n = 0;
    for (let vpn = startVpn; vpn < endVpn; ) {
      const stop = Math.min(endVpn, (Math.floor(vpn / BLOCK_PAGES) + 1) * BLOCK_PAGES);
      const b = this.blocks.get(Math.floor(vpn / BLOCK_PAGES));
      if (b !== undefined)
        for (let i = vpn & BLOCK_MASK, e = i + (stop - vpn); i < e; i++) if ((b[i] as number) >= 0) n++;
      vpn = stop;
    }
    return n;
  }

  /** The runs of [startVpn, endVpn) not resident, as [first, outer) vpn pairs in address order. */
  absentRuns(startVpn: number, endVpn: number): [number, number][] {
    const runs: [number, number][] = [];
    const absent = (vpn: number): void => {
      const last = runs[runs.length - 1];
      if (last !== undefined && last[1] === vpn) last[1] = vpn + 1;
      else runs.push([vpn, vpn + 1]);
    };
    for (let vpn = startVpn; vpn < endVpn; ) {
      const stop = Math.min(endVpn, (Math.floor(vpn / BLOCK_PAGES) + 1) * BLOCK_PAGES);
      const b = this.blocks.get(Math.floor(vpn / BLOCK_PAGES));
      if (b === undefined) {
        const last = runs[runs.length - 1];
        if (last !== undefined && last[1] === vpn) last[1] = stop;
        else runs.push([vpn, stop]);
      } else for (let v = vpn, i = vpn & BLOCK_MASK; v < stop; v++, i++) if ((b[i] as number) < 0) absent(v);
      vpn = stop;
    }
    return runs;
  }

  /** Forgets `vpn`; false if it was not resident. */
  delete(vpn: number): boolean {
    const b = this.blocks.get(Math.floor(vpn / BLOCK_PAGES));
    if (b === undefined || (b[vpn & BLOCK_MASK] as number) < 0) return false;
    b[vpn & BLOCK_MASK] = -1;
    this.pages--;
    return true;
  }
}
