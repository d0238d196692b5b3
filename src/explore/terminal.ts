/**
 * The terminal state of a schedule, as a hash: what `--preemptions unbounded` counts ("distinct
 * terminal states") and what the DPOR soundness tests compare against plain DFS.
 *
 * It covers what the scenario's threads can observe or leave behind: every live process's VMAs,
 * each page's CPU entry (raw, so pfns, protections, dirty bits, swap and device-private entries
 * count) and, for a present entry, the page's bytes; every device's page table (vpn, pfn,
 * writable); and the tolerated errors the threads saw (sorted: their order is not state). Two
 * schedules equivalent under the dependency relation end with the same hash.
 */

import { PAGE_SIZE } from '../core/addr.js';
import { _PAGE_PRESENT, ptePfn } from '../mm/pte.js';
import type { ScenarioContext } from './scenario.js';

/** FNV-1a over 32-bit words, twice with different offsets: 64 bits of hash as 16 hex digits. */
class Hash {
  private a = 0x811c9dc5;
  private b = 0x01000193 ^ 0x5bd1e995;

  word(w: number): void {
    this.a = Math.imul(this.a ^ (w >>> 0), 0x01000193) >>> 0;
    this.b = Math.imul(this.b ^ (w >>> 0), 0x5bd1e995) >>> 0;
    this.b ^= this.b >>> 15;
  }

  text(s: string): void {
    this.word(s.length);
    for (let i = 0; i < s.length; i++) this.word(s.charCodeAt(i));
  }

  bytes(d: Uint8Array): void {
    for (let i = 0; i + 3 < d.length; i += 4)
      this.word(d[i]! | (d[i + 1]! << 8) | (d[i + 2]! << 16) | (d[i + 3]! << 24));
  }

  hex(): string {
    return this.a.toString(16).padStart(8, '0') + this.b.toString(16).padStart(8, '0');
  }
}

const page = new Uint8Array(PAGE_SIZE);
const entry = new Uint32Array(2);

/** The hash of the machine's state once every thread of the schedule has finished. */
export function terminalStateHash(ctx: ScenarioContext): string {
  const h = new Hash();
  const kernel = ctx.sim.kernel;
  const pt = kernel.pt;
  for (const p of ctx.processes) {
    h.word(p.pid);
    if (p.exited) {
      h.word(0xdead);
      continue;
    }
    const mm = p.mm;
    for (const v of mm.vmas) {
      h.word(v.start / PAGE_SIZE);
      h.word(v.end / PAGE_SIZE);
      h.word(v.flags);
      for (let a = v.start; a < v.end; a += PAGE_SIZE) {
        // Each page's own entry and bytes: a PMD's narrowed to the page (a THP's tail bytes count).
        pt.pageEntry(mm.pgd, a, entry);
        const lo = entry[0] as number;
        const hi = entry[1] as number;
        h.word(lo);
        h.word(hi);
        if ((lo & _PAGE_PRESENT) !== 0) {
          const pfn = ptePfn(lo, hi);
          if (pfn < kernel.mem.ramPages) {
            kernel.mem.readBytes(pfn, 0, page, 0, PAGE_SIZE);
            h.bytes(page);
          }
        }
      }
    }
  }
  for (const d of ctx.devices) {
    h.text(d.name);
    d.pt.forEach((vpn, pfn, write) => {
      h.word(vpn);
      h.word(pfn);
      h.word(write ? 1 : 0);
    });
  }
  for (const f of [...ctx.failures].sort()) h.text(f);
  return h.hex();
}
