/**
 * Eviction: when a migration to device memory needs more free device pages than there are, the
 * driver first moves device pages back to system memory with migrate_vma. The policy chooses the
 * victims if it has a chooseVictims hook (UVM: whole 2 MiB root chunks, least recently allocated
 * first; nouveau: none, so the migration moves fewer pages); otherwise the least recently allocated
 * pages go, page by page. Best effort, like every migration: a victim that migrate_vma skips
 * (pinned, shared after fork, its mm gone) stays where it is, and the migration that wanted the
 * room then moves fewer pages. Each group of victims is a decision on the trace, told to the policy.
 *
 * The victims' virtual addresses come from the driver's own books (DmirrorDevice records the
 * owner and vpn of every page it maps), as a real driver's VA-block tracking does: a device-private
 * page has no rmap a driver could use.
 *
 * @see docs/costs.md, "Eviction" (UVM's uvm_pmm_gpu.c, KFD's kfd_svm.c), docs/policies.md
 */

import { PAGE_SIZE } from '../../core/addr.js';
import type { Tracepoints } from '../../core/trace.js';
import { type DecisionSink, emitEviction, policyEvicted } from '../../policy/events.js';
import type { VictimCandidate, VictimRequest } from '../../policy/policy.js';
import type { PolicyTracepoints } from '../../policy/trace.js';
import type { Task } from '../../sched/index.js';
import type { Dmirror } from '../dmirror/dmirror.js';
import { dmirrorMigrateRangeToRam } from '../dmirror/migrate.js';

/** A victim: whose page, which virtual page, which frame. */
interface Victim {
  owner: Dmirror;
  vpn: number;
  pfn: number;
}

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
  const kept = keptBy(dmirror, start, end, keep);
  if (dmirror.policy.chooseVictims !== undefined) {
    yield* evictChosen(dmirror, short, kept);
    return;
  }
  const victims = mdevice
    .lraVictims(short, kept)
    .map((v) => ({ owner: v.owner, vpn: v.vpn, pfn: v.owner.resident.get(v.vpn) ?? -1 }));
  yield* evictGroup(dmirror, victims, 'least recently allocated device pages', false);
}

/**
 * Tells whether a page of `owner` at `vpn` is protected: this mm's pages in [start, end) or in
 * `keep`. The victim scans ask once per candidate, up to device memory's size per eviction, so the
 * test allocates nothing and rules out an address outside every range by their span first.
 */
function keptBy(
  dmirror: Dmirror,
  start: number,
  end: number,
  keep: readonly { start: number; end: number }[],
): (owner: Dmirror, vpn: number) => boolean {
  let lo = start;
  let hi = end;
  for (const r of keep) {
    lo = Math.min(lo, r.start);
    hi = Math.max(hi, r.end);
  }
  return (owner, vpn) => {
    if (owner !== dmirror) return false;
    const a = vpn * PAGE_SIZE;
    if (a < lo || a >= hi) return false;
    if (a >= start && a < end) return true;
    for (const r of keep) if (a >= r.start && a < r.end) return true;
    return false;
  };
}

/** The policy's choice of victims, group by group (see the file comment). */
function* evictChosen(dmirror: Dmirror, need: number, kept: (owner: Dmirror, vpn: number) => boolean): Task {
  const mdevice = dmirror.mdevice;
  const candidate = (pfn: number): VictimCandidate | null => {
    const p = mdevice.placement(pfn);
    return p === null ? null : { pfn, vpn: p.vpn, protected: kept(p.owner, p.vpn) };
  };
  const request: VictimRequest = {
    need,
    nowUs: mdevice.device.cost.nowUs,
    candidate,
    *leastRecentlyAllocated() {
      for (const p of mdevice.placements()) yield { pfn: p.pfn, vpn: p.vpn, protected: kept(p.owner, p.vpn) };
    },
  };
  for (const choice of dmirror.policy.chooseVictims?.(request) ?? []) {
    const victims: Victim[] = [];
    for (const pfn of choice.pfns) {
      const p = mdevice.placement(pfn);
      if (p === null || kept(p.owner, p.vpn)) continue;
      mdevice.forget(pfn);
      victims.push({ owner: p.owner, vpn: p.vpn, pfn });
    }
    yield* evictGroup(dmirror, victims, choice.reason, true);
  }
}

/** Evicts one group of victims, reports it (trace, stats, the policy) and counts the pages. */
function* evictGroup(dmirror: Dmirror, victims: Victim[], reason: string, chunk: boolean): Task {
  if (victims.length === 0) return;
  const device = dmirror.mdevice.device;
  const sink: DecisionSink = {
    trace: dmirror.pt.trace as Tracepoints<PolicyTracepoints> | null,
    device: device.id,
    nowUs: () => device.cost.nowUs,
  };
  if (sink.trace?.enabled === true) emitEviction(sink, dmirror.policy, victims, reason);
  const before = device.counters.evictedPages;
  for (const run of contiguousRuns(victims)) {
    const was = device.counters.migratedToRam;
    yield* dmirrorMigrateRangeToRam(run.owner, run.start, run.end, undefined, 'eviction');
    device.counters.evictedPages += device.counters.migratedToRam - was;
  }
  const moved = device.counters.evictedPages - before;
  policyEvicted(sink, dmirror.policy, victims, moved, chunk, (i) => {
    const v = victims[i] as Victim;
    return v.owner.resident.has(v.vpn);
  });
}

/** Pages of [start, end) already in this device's memory, by the driver's books. */
function residentIn(dmirror: Dmirror, start: number, end: number): number {
  return dmirror.resident.countIn(start / PAGE_SIZE, end / PAGE_SIZE);
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
