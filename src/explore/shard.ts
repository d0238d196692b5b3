/**
 * Sharding a DFS exploration: `shard: { index, count }` splits the schedules of one search into
 * `count` disjoint parts, deterministically, so that independent processes (workers, machines under
 * any batch engine) each run one, and mergeShards joins their results into what one process finds.
 *
 * The DFS tree is cut at depth SHARD_DEPTH (decisions): the subtrees rooted there, numbered in DFS
 * order as the search meets them (a schedule with fewer decisions is a subtree of its own), go
 * round-robin to the shards. Every shard walks the top of the tree: it runs the first schedule of
 * each subtree it does not own (uncounted, its outcome ignored) only to learn where the next one
 * starts, then skips the rest of it. A shard stops at the first violation in its own subtrees; DFS
 * order within a subtree and the subtrees' numbering make "first" canonical: the merge keeps the
 * violation of the lowest-numbered subtree, which is the one a single process finds (and shrinks
 * to the same replay string, shrinking being deterministic).
 *
 * A 'random' or 'pct' search is dealt by schedule: schedule j (drawing from a stream of its own,
 * itemSeed) goes to shard j mod count, and a violation is numbered by its schedule, so the merge
 * keeps the lowest, the single process's, and counts the schedules one process runs to it.
 *
 * A 'dpor' search cannot be cut this way (it adds backtrack points above the cut from races found
 * below it, so a shard that skipped a subtree would miss points it owns): a sharded 'dpor' search is
 * split instead (dpor_shard.ts), and its shards report per-unit counts (`dporSplit`) from which
 * mergeShards rebuilds the single-process result exactly, violation or not.
 */

import { ArgumentError } from '../core/errno.js';
import { checkShard, parseShard, type ShardSpec } from '../core/shard.js';
import type { DfsStrategy } from '../sched/index.js';
import { type DistinctViolation, violationShape } from './allow.js';
import type { DporSplitReport } from './dpor_shard.js';
import type { ExploreResult } from './explore.js';

export { checkShard, parseShard, type ShardSpec };

/** Decisions above the cut: up to 2^6 subtrees for two threads, enough to keep 64 shards busy. */
export const SHARD_DEPTH = 6;

/** What a shard reports beyond a plain ExploreResult, for mergeShards. */
export interface ShardReport {
  /** 0-based index of this shard. */
  index: number;
  /** How many shards the search is split into. */
  count: number;
  /**
   * Number (in DFS order) of the subtree its violation is in (a random or PCT search: the number of
   * the violating schedule, 0-based), or null without one.
   */
  violationSubtree: number | null;
  /** The terminal-state hashes of its clean schedules (src/explore/terminal.ts), sorted. */
  terminalStateHashes: string[];
  /** A split 'dpor' search's per-unit counts (then violationSubtree is a unit's number). */
  dporSplit?: DporSplitReport;
}

/** Tells, after each DFS execution, whether it is this shard's (and skips the others' subtrees). */
export class ShardFilter {
  private readonly prefix: number[] = [];
  private subtree = -1;

  constructor(
    /** The part of the search this filter keeps. */
    readonly spec: ShardSpec,
  ) {}

  /** Number of the subtree the last execution belongs to. */
  get current(): number {
    return this.subtree;
  }

  /** After an execution of `dfs`: true if this shard owns it; if not, its subtree is skipped. */
  owns(dfs: DfsStrategy): boolean {
    const depth = Math.min(dfs.depth, SHARD_DEPTH);
    let same = this.subtree >= 0 && depth === this.prefix.length;
    for (let i = 0; same && i < depth; i++) same = this.prefix[i] === dfs.choiceAt(i);
    if (!same) {
      this.subtree++;
      this.prefix.length = 0;
      for (let i = 0; i < depth; i++) this.prefix.push(dfs.choiceAt(i));
    }
    if (this.subtree % this.spec.count === this.spec.index) return true;
    dfs.skipSubtree(depth);
    return false;
  }
}

/**
 * Joins the results of every shard of one search (each with its `shard` report) into the result
 * one process gets: the violation of the lowest subtree, the schedules and terminal states summed
 * and united, complete when every shard is. An ArgumentError when the results are not the shards of
 * one search (different scenario, driver, bound...) or a shard is missing or repeated.
 */
export function mergeShards(results: readonly ExploreResult[]): ExploreResult {
  if (!Array.isArray(results) || results.length === 0)
    throw new ArgumentError('results', 'expected the results of every shard of one search');
  const first = results[0]!;
  const count = first.shard?.count ?? 0;
  const seen = new Set<number>();
  for (const r of results) {
    const s = r.shard;
    if (s === undefined) throw new ArgumentError('results', `a result of ${r.scenario} is not a shard's`);
    const key = (x: ExploreResult) =>
      [
        x.scenario,
        x.driver,
        x.protocol,
        x.strategy,
        x.seed,
        x.preemptions,
        x.shard?.count,
        x.shard?.dporSplit?.depth,
      ].join(':');
    if (key(r) !== key(first))
      throw new ArgumentError(
        'results',
        `shard ${s.index}/${s.count} is of another search: ${key(r)} vs ${key(first)}`,
      );
    if (seen.has(s.index)) throw new ArgumentError('results', `shard ${s.index}/${s.count} given twice`);
    seen.add(s.index);
  }
  if (seen.size !== count)
    throw new ArgumentError(
      'results',
      `missing shard(s) ${Array.from({ length: count }, (_, i) => i)
        .filter((i) => !seen.has(i))
        .map((i) => `${i}/${count}`)
        .join(', ')}`,
    );
  let best: ExploreResult | null = null;
  for (const r of results) {
    const v = r.shard!.violationSubtree;
    if (v !== null && (best === null || v < best.shard!.violationSubtree!)) best = r;
  }
  const { shard: _shard, ...common } = first;
  const split = first.shard!.dporSplit !== undefined ? splitCounts(results, best) : null;
  const states = new Set<string>();
  for (const r of results) for (const h of r.shard!.terminalStateHashes) states.add(h);
  // a random or PCT search's violation is numbered by its schedule: one process runs that many
  const numbered = first.strategy === 'random' || first.strategy === 'pct';
  const explored =
    split?.explored ??
    (numbered && best !== null
      ? best.shard!.violationSubtree! + 1
      : results.reduce((n, r) => n + r.schedulesExplored, 0));
  const seconds = results.reduce(
    (n, r) => n + (r.schedulesPerSecond > 0 ? r.schedulesExplored / r.schedulesPerSecond : 0),
    0,
  );
  return {
    ...common,
    schedulesExplored: explored,
    complete: results.every((r) => r.complete),
    terminalStates: split?.states ?? states.size,
    // only a split dpor search has any (dfs, random and PCT shards report 0)
    sleepBlocked: split?.sleepBlocked ?? 0,
    schedulesPerSecond: seconds > 0 ? Math.round(explored / seconds) : 0,
    violation: best === null ? null : best.violation,
    ...mergedViolations(results, best, numbered, split !== null, explored),
  };
}

/**
 * The merged distinct violations, or nothing to keep the first shard's list (a DFS search's
 * shards count their schedules apart). A random or PCT search's are the violating shard's, or with
 * allow rules every shard's united; a split search's one violation is its last schedule.
 */
function mergedViolations(
  results: readonly ExploreResult[],
  best: ExploreResult | null,
  numbered: boolean,
  split: boolean,
  explored: number,
): { violations?: DistinctViolation[] } {
  const allowed = results.some((r) => r.violations.some((d) => d.allowed));
  if (numbered) return { violations: allowed ? unitedViolations(results) : (best?.violations ?? []) };
  if (!split || best === null || allowed) return {};
  return { violations: best.violations.map((d) => ({ ...d, firstSchedule: explored })) };
}

/**
 * The shards' distinct violations as one list (allow rules: the searches went on past allowed
 * ones): one entry per shape (violationShape), schedules summed, the first schedule the lowest.
 * A shard may have run past the schedule where one process stopped: its counts are in the sums.
 */
function unitedViolations(results: readonly ExploreResult[]): DistinctViolation[] {
  const byKey = new Map<string, DistinctViolation>();
  for (const r of results)
    for (const d of r.violations) {
      const key = violationShape(d);
      const known = byKey.get(key);
      if (known === undefined) byKey.set(key, { ...d });
      else {
        known.schedules += d.schedules;
        known.firstSchedule = Math.min(known.firstSchedule, d.firstSchedule);
      }
    }
  return [...byKey.values()].sort((a, b) => a.firstSchedule - b.firstSchedule);
}

/**
 * A split 'dpor' search's shards counted as one process running every unit in order counts them:
 * the schedules of the units up to the violation's (all of them without one), and the terminal
 * states first reached in those units.
 */
function splitCounts(
  results: readonly ExploreResult[],
  best: ExploreResult | null,
): { explored: number; states: number; sleepBlocked: number } {
  const last = best === null ? Number.POSITIVE_INFINITY : best.shard!.violationSubtree!;
  let explored = 0;
  let sleepBlocked = 0;
  const firstUnit = new Map<string, number>();
  for (const r of results) {
    const s = r.shard!;
    const split = s.dporSplit;
    if (
      split === undefined ||
      !integers(split.unitSchedules) ||
      !integers(split.unitSleepBlocked) ||
      !integers(split.stateUnits)
    )
      throw new ArgumentError(
        'results',
        `shard ${s.index}/${s.count} carries no split dpor counts (dporSplit.unitSchedules, unitSleepBlocked, stateUnits)`,
      );
    split.unitSchedules.forEach((n, k) => {
      if (s.index + k * s.count > last) return;
      explored += n;
      sleepBlocked += split.unitSleepBlocked[k] ?? 0;
    });
    s.terminalStateHashes.forEach((h, i) => {
      const u = split.stateUnits[i] ?? -1;
      const known = firstUnit.get(h);
      if (u <= last && (known === undefined || u < known)) firstUnit.set(h, u);
    });
  }
  return { explored, states: firstUnit.size, sleepBlocked };
}

function integers(a: unknown): boolean {
  return Array.isArray(a) && a.every((x) => Number.isInteger(x));
}
