/**
 * Eviction: when a migration to device memory needs more free device pages than there are, the
 * driver first moves the least recently allocated device pages back to system memory with
 * migrate_vma (UVM evicts its least-recently-allocated root chunks the same way; AMD KFD evicts
 * whole ranges through TTM). Best effort, like every migration: a victim that migrate_vma skips
 * (pinned, shared after fork, its mm gone) stays where it is, and the migration that wanted the
 * room then moves fewer pages.
 *
 * The victims' virtual addresses come from the driver's own books (DmirrorDevice records the
 * owner and vpn of every page it maps), as a real driver's VA-block tracking does: a device-private
 * page has no rmap a driver could use.
 *
 * @see docs/costs.md, "Eviction" (UVM's uvm_pmm_gpu.c, KFD's kfd_svm.c)
 */

import { PAGE_SIZE } from '../../core/addr.js';
import type { Task } from '../../sched/index.js';
import type { Dmirror } from '../dmirror/dmirror.js';
import { dmirrorMigrateRangeToRam } from '../dmirror/migrate.js';

/**
 * Makes room for migrating [start, end) of `dmirror`'s mm: evicts until enough pages are free,
 * never a page of this mm inside [start, end) or inside `keep` (what the current fault batch
 * migrated: the replay is about to use it).
 */
export function* dmirrorEvictFor(
  dmirror: Dmirror,
  start: number,
  end: number,
  keep: readonly { start: number; end: number }[] = [],
): Task {
  const mdevice = dmirror.mdevice;
  const want = Math.min(
    (end - start) / PAGE_SIZE - residentIn(dmirror, start, end),
    mdevice.device.memoryPages,
  );
  const short = want - mdevice.freeCount;
  if (short <= 0) return;
  const inside = (a: number, r: { start: number; end: number }): boolean => a >= r.start && a < r.end;
  const victims = mdevice.lraVictims(short, (owner, vpn) => {
    const a = vpn * PAGE_SIZE;
    return owner === dmirror && (inside(a, { start, end }) || keep.some((r) => inside(a, r)));
  });
  for (const run of contiguousRuns(victims)) {
    const before = mdevice.device.counters.migratedToRam;
    yield* dmirrorMigrateRangeToRam(run.owner, run.start, run.end, undefined, 'eviction');
    const moved = mdevice.device.counters.migratedToRam - before;
    mdevice.device.counters.evictedPages += moved;
  }
}

/** Pages of [start, end) already in this device's memory, by the driver's books. */
function residentIn(dmirror: Dmirror, start: number, end: number): number {
  let n = 0;
  for (let vpn = start / PAGE_SIZE; vpn < end / PAGE_SIZE; vpn++) if (dmirror.resident.has(vpn)) n++;
  return n;
}

interface Run {
  owner: Dmirror;
  start: number;
  end: number;
}

/** Victims grouped into address runs per owner, so each run is one migrate_vma range. */
function contiguousRuns(victims: { owner: Dmirror; vpn: number }[]): Run[] {
  const sorted = [...victims].sort((a, b) => a.owner.id - b.owner.id || a.vpn - b.vpn);
  const runs: Run[] = [];
  for (const v of sorted) {
    const last = runs[runs.length - 1];
    const addr = v.vpn * PAGE_SIZE;
    if (last !== undefined && last.owner === v.owner && last.end === addr) last.end = addr + PAGE_SIZE;
    else runs.push({ owner: v.owner, start: addr, end: addr + PAGE_SIZE });
  }
  return runs;
}
