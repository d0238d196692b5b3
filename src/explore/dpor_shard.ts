/**
 * A split DPOR search, the one `--shard i/n` and `--jobs N` run for `dpor`: the top
 * DPOR_SPLIT_DEPTH decisions are fully expanded (every runnable thread within the preemption bound)
 * and an independent DporStrategy explores below each node at that depth (a unit), its prefix
 * replayed and its backtrack and sleep sets starting empty at the cut. Units are numbered in DFS
 * order of the top tree and dealt round-robin to the shards.
 *
 * Why it is sound: a race found below the cut that plain DPOR would reverse at a node above it
 * asks for one thread there; full expansion runs every thread there, so the unit drops the
 * reversal (DporStrategy.freezeAbove). Bounded POR's conservative point, the latest free switch
 * before the race, when it falls above the cut, is covered the same way: full expansion applies
 * the same bound. Below the cut each unit is plain DPOR from the state at the cut, sound from any
 * state; sleep sets starting empty only explore more. A schedule with fewer decisions than the
 * depth is a unit of its own (one schedule, nothing below to search).
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
import { DporStrategy, type Footprint, type FootprintRecorder } from '../sched/index.js';
import type { ShardSpec } from './shard.js';

/**
 * Decisions fully expanded above the cut. Three keeps the redundant top small (at most 27 units
 * for three threads, docs/explorer.md "Sharded DPOR" measures it) and still deals 8-27 units.
 */
export const DPOR_SPLIT_DEPTH = 3;

/** What a shard of a split DPOR search reports beyond ShardReport, for an exact merge. */
export interface DporSplitReport {
  /** Decisions above the cut (DPOR_SPLIT_DEPTH): shards of different depths do not merge. */
  depth: number;
  /** Units seen (owned or not) when the shard stopped. */
  units: number;
  /** Schedules run in each owned unit, in order: unit `index + k * count` ran `unitSchedules[k]`. */
  unitSchedules: number[];
  /** For each of ShardReport's terminalStateHashes, the first unit whose clean schedule ended in it. */
  stateUnits: number[];
}

/** A decision above the cut: the step it is and the threads tried there. */
interface TopNode {
  step: number;
  tried: Set<number>;
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
  private decisions = 0;
  private readonly top: TopNode[] = [];
  private readonly schedules: number[] = [];
  private readonly stateUnit = new Map<string, number>();

  constructor(
    /** The part of the units this search runs. */
    readonly spec: ShardSpec,
    private readonly opts: DporOptions,
    /** Decisions above the cut. */
    readonly depth: number = DPOR_SPLIT_DEPTH,
  ) {
    this.unit = new DporStrategy(opts);
  }

  /** The current unit's footprint recorder (the executor reads it at each schedule's start). */
  get recorder(): FootprintRecorder {
    return this.unit.recorder;
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

  stepped(t: Thread, runnable: readonly Thread[], fp: Footprint): void {
    if (this.fresh && this.decisions < this.depth) {
      this.tids.push(t.id);
      this.runnables.push(runnable.map((x) => x.id));
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
    for (const h of states) if (!this.stateUnit.has(h)) this.stateUnit.set(h, this.unitNo);
    return true;
  }

  /** The merge's data: `hashes` (the shard's terminal states, sorted) with their first units. */
  report(hashes: readonly string[]): DporSplitReport {
    return {
      depth: this.depth,
      units: this.unitNo + 1,
      unitSchedules: [...this.schedules],
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
    return this.unit.nextExecution();
  }

  /** From the unit's first execution: the decisions above the cut below the last known; the cut. */
  private learnTop(): number {
    const last = this.top.length > 0 ? this.top[this.top.length - 1]!.step : -1;
    for (let s = last + 1; s < this.tids.length && this.top.length < this.depth; s++)
      if (this.runnables[s]!.length > 1) this.top.push({ step: s, tried: new Set([this.tids[s]!]) });
    return this.top.length === this.depth ? this.top[this.depth - 1]!.step + 1 : this.tids.length;
  }

  /** Full expansion: the deepest decision above the cut with an untried thread within the bound. */
  private nextUnit(): boolean {
    for (let i = this.top.length - 1; i >= 0; i--) {
      const node = this.top[i]!;
      const r = this.runnables[node.step]!.find((x) => !node.tried.has(x) && this.fits(node.step, x));
      if (r === undefined) continue;
      node.tried.add(r);
      this.top.length = i + 1;
      const prefix = [...this.tids.slice(0, node.step), r];
      this.unit = new DporStrategy({ ...this.opts, prefix });
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
      if (prev !== tid && this.runnables[j]!.includes(prev)) pre++;
    }
    return pre <= bound;
  }
}
