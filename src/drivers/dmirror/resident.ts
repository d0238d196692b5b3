/**
 * The driver's residency books (Dmirror.resident): virtual page -> device page, kept per 2 MiB VA
 * block in an Int32Array of 512 entries (-1: not resident), as UVM keeps a resident mask and a
 * page array per VA block. A sweep's device holds up to 2^18 pages and every fault batch asks
 * page by page; a Map of that size cost more in hashing and rehashing than the rest of the
 * driver's bookkeeping.
 */

const BLOCK_SHIFT = 9;
const BLOCK_PAGES = 1 << BLOCK_SHIFT;
const BLOCK_MASK = BLOCK_PAGES - 1;

/** Virtual page -> device page, for the pages of one dmirror context in device memory. */
export class ResidentPages {
  private readonly blocks = new Map<number, Int32Array>();
  private count = 0;

  /** Pages resident. */
  get size(): number {
    return this.count;
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
      b = new Int32Array(BLOCK_PAGES).fill(-1);
      this.blocks.set(key, b);
    }
    if ((b[vpn & BLOCK_MASK] as number) < 0) this.count++;
    b[vpn & BLOCK_MASK] = pfn;
  }

  /** Forgets `vpn`; false if it was not resident. */
  delete(vpn: number): boolean {
    const b = this.blocks.get(Math.floor(vpn / BLOCK_PAGES));
    if (b === undefined || (b[vpn & BLOCK_MASK] as number) < 0) return false;
    b[vpn & BLOCK_MASK] = -1;
    this.count--;
    return true;
  }
}
