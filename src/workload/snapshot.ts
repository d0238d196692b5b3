/**
 * Reading a workload's structures back from process memory in bulk. Checking 10^5 nodes with one
 * `p.read` each would cost a trip through the page tables per node; instead the pages the nodes
 * lie on are read once each, adjacent pages as one run, and fields are decoded from the copy.
 * Only pages holding the given records are read, so pages the heap trimmed stay untouched (a read
 * would map the zero page back in). Reading is still a CPU access: pages the device migrated
 * fault back to system memory, as they would for any CPU reader.
 */

import { PAGE_SIZE } from '../core/addr.js';
import type { Process } from '../sim/process.js';
import { getPtr, getU32, getU64 } from './bytes.js';

export class MemorySnapshot {
  private readonly views = new Map<number, { view: DataView; start: number }>();
  /** p.read calls it took. */
  readonly reads: number;
  /** Pages read. */
  readonly pages: number;

  /** Reads the pages under records of `size` bytes at each address. */
  constructor(p: Process, addrs: Iterable<number>, size: number) {
    const vpns = new Set<number>();
    for (const a of addrs)
      for (let v = Math.floor(a / PAGE_SIZE); v <= Math.floor((a + size - 1) / PAGE_SIZE); v++) vpns.add(v);
    const sorted = [...vpns].sort((x, y) => x - y);
    let reads = 0;
    for (let i = 0; i < sorted.length; ) {
      let j = i + 1;
      while (j < sorted.length && sorted[j] === (sorted[j - 1] as number) + 1) j++;
      const start = (sorted[i] as number) * PAGE_SIZE;
      const bytes = p.read(start, (j - i) * PAGE_SIZE);
      const entry = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), start };
      for (let k = i; k < j; k++) this.views.set(sorted[k] as number, entry);
      reads++;
      i = j;
    }
    this.reads = reads;
    this.pages = sorted.length;
  }

  u32(addr: number): number {
    const { view, start } = this.at(addr);
    return getU32(view, addr - start);
  }

  u64(addr: number): bigint {
    const { view, start } = this.at(addr);
    return getU64(view, addr - start);
  }

  ptr(addr: number): number {
    const { view, start } = this.at(addr);
    return getPtr(view, addr - start);
  }

  private at(addr: number): { view: DataView; start: number } {
    const e = this.views.get(Math.floor(addr / PAGE_SIZE));
    if (e === undefined) throw new Error(`snapshot: 0x${addr.toString(16)} was not read`);
    return e;
  }
}
