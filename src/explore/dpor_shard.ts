/**
 * A split DPOR search, the one `--shard i/n` and `--jobs N` run for `dpor`: the top
 * DPOR_SPLIT_DEPTH decisions (DPOR_SPLIT_DEPTH_UNBOUNDED without a bound) are fully expanded (every runnable thread within the preemption bound
 * that is not asleep) and a DporStrategy of its own explores below each node at that depth (a
 * unit), its prefix replayed, its backtrack sets starting empty at the cut and its sleep set the
 * one plain DPOR would carry there (unbounded; bounded POR runs without sleep sets). Units are
 * numbered in DFS order of the top tree and dealt round-robin to the shards.
 *
 * Why it is sound: it is source-set DPOR whose backtrack sets above the cut hold every thread, a
 * superset of the source sets plain DPOR computes, and DPOR stays sound with larger backtrack sets.
 * So a race found below the cut that plain DPOR would reverse at a node above it asks for a thread
 * full expansion runs anyway: the unit drops the reversal (DporStrategy.freezeAbove). Bounded POR's
 * conservative point, the latest free switch before the race, when it falls above the cut, is
 * covered the same way: full expansion applies the same bound. The sleep sets above the cut follow
 * DporStrategy's rules (a thread sleeps at a node once run from it, and below while only
 * independent steps run), computed here from the steps' footprints. A schedule with fewer decisions
 * than the depth, or sleep-set blocked above the cut, is a unit of its own (one schedule).
 *
 * Why shards agree: a unit's search depends on its prefix only, and every shard walks the whole
 * top tree (it runs the first schedule of each unit it does not own, uncounted, to learn where the
 * next unit starts), so every shard numbers the units alike and each unit runs the same schedules
 * in the same order wherever it runs. A shard stops at the first violation in its own units; the
 * merge (mergeShards) keeps the lowest unit's, the one a single process running every unit in order
 * (`--shard 0/1`) finds, and from the per-unit counts below rebuilds that process's schedule count
 * and terminal states exactly.
 */

import type { DporOptions, Strategy, Thread } from '../sched/index.js';
import {
  DporStrategy,
  type Footprint,
  type FootprintRecorder,
  isPreemption,
  sleepAfterStep,
} from '../sched/index.js';
import type { ShardSpec } from './shard.js';

/**
 * Decisions fully expanded above the cut of a bounded search. Bounded POR runs without sleep sets,
 * so each level of full expansion costs schedules: three keeps the redundant top small (at most 27
 * units for three threads; docs/explorer.md, "Sharded DPOR", measures depths 3, 4 and 6).
 */
export const DPOR_SPLIT_DEPTH = 3;

/**
 * Decisions above the cut of an unbounded search: the sleep sets carry across the cut, so a deeper
 * cut costs few schedules (3% on fault-munmap-migrate) and deals units of more even sizes.
 */
export const DPOR_SPLIT_DEPTH_UNBOUNDED = 6;

/** What a shard of a split DPOR search reports beyond ShardReport, for an exact merge. */
export interface DporSplitReport {
  /** Decisions above the cut (SplitDpor.depth): shards of different depths do not merge. */
  depth: number;
  /** Units seen (owned or not) when the shard stopped. */
  units: number;
  /** Schedules run in each owned unit, in order: unit `index + k * count` ran `unitSchedules[k]`. */
  unitSchedules: number[];
  /** Of those, the ones that ended sleep-set blocked (ExploreResult.sleepBlocked), per owned unit. */
  unitSleepBlocked: number[];
  /** For each of ShardReport's terminalStateHashes, the first unit whose clean schedule ended in it. */
  stateUnits: number[];
}

/** A decision above the cut: the step it is, the threads tried there, its sleep set. */
interface TopNode {
  step: number;
  tried: Set<number>;
  /** Threads not to run here (unbounded only), as DporStrategy keeps them: see sleepAfter. */
  sleep: Map<number, Footprint>;
}

/** The split search as one Strategy; explore() asks owns() after every schedule. */
export class SplitDpor implements Strategy {
  private unit: DporStrategy;
  private unitNo = 0;
  private started = false;
  /** The current unit's first execution is running: its path is recorded. */
  private fresh = false;
  private readonly tids: number[] = [];
  private readonly runnables: number[][] = [];
  private readonly fps: Footprint[] = [];
  private readonly sleepSets: boolean;
  /** Decisions above the cut: DPOR_SPLIT_DEPTH, or DPOR_SPLIT_DEPTH_UNBOUNDED without a bound. */
  readonly depth: number;
  private decisions = 0;
  private readonly top: TopNode[] = [];
  private readonly schedules: number[] = [];
  private readonly blocked: number[] = [];
  private readonly stateUnit = new Map<string, number>();

  constructor(
    /** The part of the units this search runs. */
    readonly spec: ShardSpec,
    private readonly opts: DporOptions,
  ) {
    this.unit = new DporStrategy(opts);
    this.sleepSets = (opts.preemptions ?? Number.POSITIVE_INFINITY) === Number.POSITIVE_INFINITY;
    this.depth = this.sleepSets ? DPOR_SPLIT_DEPTH_UNBOUNDED : DPOR_SPLIT_DEPTH;
  }

  /** The current unit's footprint recorder (the executor reads it at each schedule's start). */
  get recorder(): FootprintRecorder {
    return this.unit.recorder;
  }

  /** The schedules of this shard's units that ended sleep-set blocked. */
  get sleepBlocked(): number {
    return this.blocked.reduce((n, b) => n + b, 0);
  }

  /** Number (in DFS order) of the unit the last execution belongs to. */
  get current(): number {
    return this.unitNo;
  }

  /** Starts the next execution: the current unit's next, else the next unit's first; false at the end. */
  nextExecution(): boolean {
    if (!this.started) {
      this.started = true;
      return this.beginUnit();
    }
    if (this.fresh) {
      this.fresh = false;
      this.unit.freezeAbove(this.learnTop());
      if (this.owned() && this.unit.nextExecution()) return true;
    } else if (this.unit.nextExecution()) return true;
    return this.nextUnit();
  }

  pick(runnable: readonly Thread[], current: Thread | null): number {
    return this.unit.pick(runnable, current);
  }

  /** The unit's replay, but never in a unit's first execution, whose top steps' footprints are learnt. */
  replaying(): boolean {
    return !this.fresh && this.unit.replaying();
  }

  stepped(t: Thread, runnable: readonly Thread[], fp: Footprint): void {
    if (this.fresh && this.decisions < this.depth) {
      this.tids.push(t.id);
      this.runnables.push(runnable.map((x) => x.id));
      this.fps.push(fp);
      if (runnable.length > 1) this.decisions++;
    }
    this.unit.stepped(t, runnable, fp);
  }

  /**
   * After a schedule: true if its unit is this shard's; then it counts, and its terminal states
   * (`states`) are recorded with the unit. A schedule of another shard's unit is only the walk.
   */
  owns(states: ReadonlySet<string>): boolean {
    if (!this.owned()) return false;
    const k = Math.floor(this.unitNo / this.spec.count);
    this.schedules[k] = (this.schedules[k] ?? 0) + 1;
    this.blocked[k] = (this.blocked[k] ?? 0) + (this.unit.blocked ? 1 : 0);
    for (const h of states) if (!this.stateUnit.has(h)) this.stateUnit.set(h, this.unitNo);
    return true;
  }

  /** The merge's data: `hashes` (the shard's terminal states, sorted) with their first units. */
  report(hashes: readonly string[]): DporSplitReport {
    return {
      depth: this.depth,
      units: this.unitNo + 1,
      unitSchedules: [...this.schedules],
      unitSleepBlocked: [...this.blocked],
      stateUnits: hashes.map((h) => this.stateUnit.get(h) ?? -1),
    };
  }

  private owned(): boolean {
    return this.unitNo % this.spec.count === this.spec.index;
  }

  private beginUnit(): boolean {
    this.fresh = true;
    this.decisions = 0;
    this.tids.length = 0;
    this.runnables.length = 0;
    this.fps.length = 0;
    return this.unit.nextExecution();
  }

  /**
   * From the unit's first execution: the decisions above the cut below the last known, and the cut.
   * An execution sleep-set blocked above the cut (every runnable thread asleep) is a unit of its own:
   * what follows the block is covered elsewhere, as in DporStrategy.
   */
  private learnTop(): number {
    const known = this.top[this.top.length - 1];
    let sleep = known?.sleep ?? new Map<number, Footprint>();
    for (let s = (known?.step ?? -1) + 1; s < this.tids.length && this.top.length < this.depth; s++) {
      sleep = this.sleepAfter(sleep, s - 1);
      const runnable = this.runnables[s]!;
      if (runnable.length < 2) continue;
      if (runnable.every((r) => sleep.has(r))) return this.tids.length;
      this.top.push({ step: s, tried: new Set([this.tids[s]!]), sleep });
    }
    return this.top.length === this.depth ? this.top[this.depth - 1]!.step + 1 : this.tids.length;
  }

  /** The sleep set after step s (DporStrategy's rule, sleepAfterStep); empty before the first. */
  private sleepAfter(sleep: ReadonlyMap<number, Footprint>, s: number): Map<number, Footprint> {
    return s < 0 ? new Map() : sleepAfterStep(sleep, this.tids[s]!, this.fps[s]!);
  }

  /** Full expansion: the deepest decision above the cut with an untried thread within the bound. */
  private nextUnit(): boolean {
    for (let i = this.top.length - 1; i >= 0; i--) {
      const node = this.top[i]!;
      const r = this.runnables[node.step]!.find(
        (x) => !node.tried.has(x) && !node.sleep.has(x) && this.fits(node.step, x),
      );
      if (r === undefined) continue;
      // the thread run here so far sleeps from now on (DporStrategy.nextExecution's rule)
      if (this.sleepSets) node.sleep.set(this.tids[node.step]!, this.fps[node.step]!);
      node.tried.add(r);
      this.top.length = i + 1;
      const prefix = [...this.tids.slice(0, node.step), r];
      this.unit = new DporStrategy({ ...this.opts, prefix, prefixSleep: node.sleep });
      this.unitNo++;
      return this.beginUnit();
    }
    return false;
  }

  /** Whether running r at step s stays within the bound (DporStrategy's accounting of preemptions). */
  private fits(s: number, r: number): boolean {
    const bound = this.opts.preemptions ?? Number.POSITIVE_INFINITY;
    let pre = 0;
    for (let j = 1; j <= s; j++) {
      const prev = this.tids[j - 1]!;
      const tid = j === s ? r : this.tids[j]!;
      if (isPreemption(prev, tid, this.runnables[j]!)) pre++;
    }
    return pre <= bound;
  }
}
