/**
 * The race explorer: run a scenario under many schedules on a fresh machine each time, check the
 * invariants after every step, stop at the first violation, shrink it to the fewest preemptions
 * and hand back a replay string and a readable interleaving.
 *
 *   explore(scenario, { driver, protocol, strategy, schedules, preemptions, seed })
 *   replay('hmmx3:<scenario>:<driver>:<protocol>:<seed>:<version>:<outcome>:<n>:hmm1:...:<crc32>')
 *
 * Each schedule: a new Simulator seeded with the run's seed (small memory sections, so building one
 * costs tens of µs; the replay string records the seed, so a replay builds the same machine), the
 * scenario's setup, then its threads on an Executor whose step hook runs the checkers:
 *   rules       pending reports of the RulesChecker (it subscribes to the machine's tracepoints)
 *   integrity   pending reports of the shadow memory (reads compared as they complete)
 *   coherence   every device entry against the CPU page table (src/check/coherence.ts)
 * Errors thrown inside threads are classified by violationOfError (a lockdep report or a sleep in
 * atomic context is 'rules', other BUGs/WARNs, deadlocks and livelocks 'kernel'). When every thread
 * is done: the scenario's own check of the outcome ('integrity': e.g. a device read that failed
 * although the pages stayed mapped), accounting, then a teardown (close every device, exit every
 * process) and accounting again, with the device free lists full: nothing may leak.
 *
 * Strategies: 'dfs' (every schedule with at most `preemptions` preemptions, stateless: each
 * execution rebuilds the machine), 'pct' (depth preemptions + 1), 'random'. A violation found at
 * the end of a schedule is reported as a failed run too, so src/sched/shrink.ts can shrink it.
 */

import { checkAccounting } from '../check/accounting.js';
import { checkCoherence } from '../check/coherence.js';
import { kasanQuiet, takeKasanViolation } from '../check/kasan.js';
import { livenessViolations } from '../check/liveness.js';
import { type CheckerName, type Violation, ViolationError, violationOfError } from '../check/violation.js';
import { hex, PAGE_SIZE } from '../core/addr.js';
import { ArgumentError, describeValue } from '../core/errno.js';
import { itemSeed } from '../core/prng.js';
import { HMMSIM_VERSION } from '../core/version.js';
import type { DevicePageTable } from '../device/device_pagetable.js';
import type { Hmm, HmmProtocol } from '../hmm/seed/types.js';
import { isHmmProtocol } from '../hmm/seed/validity.js';
import { AddressSpace } from '../mm/file.js';
import type { MmuNotifierRange } from '../mm/mmu_notifier.js';
import {
  DfsStrategy,
  DporStrategy,
  decodeReplay,
  Executor,
  FootprintError,
  type FootprintRecorder,
  PctStrategy,
  RandomStrategy,
  ReplayStrategy,
  type RunResult,
  type StepHook,
  type Strategy,
  shrink,
  type Thread,
} from '../sched/index.js';
import { Simulator } from '../sim/simulator.js';
import { type DistinctViolation, ViolationLog, violationShape } from './allow.js';
import { SplitDpor } from './dpor_shard.js';
import { ExploreDrivers } from './drivers.js';
import { recordMemoryFootprints } from './footprint_mem.js';
import { formatReplay, parseReplay, ReplayError, type ReplayOutcome } from './replaystring.js';
import { type Scenario, ScenarioContext, type ScenarioDriverFactory } from './scenario.js';
import { builtinScenarioNames, scenarioByName } from './scenarios.js';
import { checkShard, ShardFilter, type ShardReport, type ShardSpec } from './shard.js';
import { terminalStateHash } from './terminal.js';
import { omittedLine, threadColumnWidth, traceWindow } from './tracewindow.js';

/**
 * How schedules are chosen: bounded-preemption depth-first search, the same with partial-order
 * reduction ('dpor', docs/explorer.md), PCT, or uniform random (file comment).
 */
export type StrategyName = 'random' | 'pct' | 'dfs' | 'dpor';

/** explore()'s options; every one has a default. */
export interface ExploreOptions {
  /** A registered driver name ('correct' = dmirror, or a variant), or a ScenarioDriverFactory. Default 'correct'. */
  driver?: string | ScenarioDriverFactory;
  /** Where `driver` names are looked up. Default: a fresh ExploreDrivers (the built-in names only). */
  drivers?: ExploreDrivers;
  /** Range-validity protocol of every machine. Default 'seed'. */
  protocol?: HmmProtocol;
  /** Default 'dfs'. */
  strategy?: StrategyName;
  /** Budget of schedules. Default: every schedule for 'dfs', 1000 for 'random' and 'pct'. */
  schedules?: number;
  /**
   * 'dfs' and 'dpor': the preemption bound (Infinity: unbounded, every schedule); 'pct': depth - 1
   * (the number of priority change points). Default 2.
   */
  preemptions?: number;
  /**
   * 'dpor' only, a test mode: a step that declared its footprint (src/sched/dependency.ts) and
   * touches something else (a lock, or memory seen through a tracepoint) fails the run. Default false.
   */
  checkFootprints?: boolean;
  /**
   * KASAN on every schedule's machine (src/mm/slab.ts, src/check/kasan.ts): a use after free, double
   * free or invalid free of a kmalloc'ed struct is a 'kasan' violation. Default true; false saves
   * kfree's poisoning and its traps (docs/performance.md, "KASAN"). replay() always runs with it on.
   */
  kasan?: boolean;
  /**
   * 'dpor' only: counts every race the search analysed by the object that made its two steps
   * dependent ('mutex dmirror.mutex (write/write)', 'pte _ (read/write)'), into this map.
   */
  raceProfile?: Map<string, number>;
  /**
   * 'dfs' and 'dpor': run part `index` of `count` of the search (src/explore/shard.ts; mergeShards
   * joins them). A 'dpor' search is then split (src/explore/dpor_shard.ts): `{ index: 0, count: 1 }`
   * is the whole split search in one process.
   */
  shard?: ShardSpec;
  /** Seed of every machine built (Simulator `seed`), and of 'random' and 'pct'. Default 1. */
  seed?: number;
  /**
   * Wall clock in ms, read only to report schedulesPerSecond. Default: none, and schedulesPerSecond
   * is 0: nothing below src/cli reads the wall clock (the CLI passes process.hrtime).
   */
  clock?: () => number;
  /** Told after each schedule: how many ran, and the budget (Infinity for an unbounded dfs). For progress bars. */
  onSchedule?: (explored: number, budget: number) => void;
  /**
   * Known violations to go past ('checker:text' or 'seed-race', src/explore/allow.ts): a schedule
   * ending in one is recorded in `violations` and the search goes on. Default none.
   */
  allow?: readonly string[];
}

/** The first violation an exploration found, shrunk to the fewest preemptions. */
export interface ExploreViolation {
  /** Which checker reported it ('rules', 'integrity', 'coherence', 'accounting' or 'kernel'). */
  checker: CheckerName;
  /** The checker's report, one line. */
  message: string;
  /** Preemptions in the shrunk schedule. */
  preemptions: number;
  /** 'hmmx3:...' (src/explore/replaystring.ts): replay() reproduces the violation exactly. */
  replay: string;
  /** The shrunk schedule, one step per line, preemptions marked. */
  interleaving: string[];
}

/** What explore() did: its configuration, how many schedules it ran, and the violation if any. */
export interface ExploreResult {
  /** Name of the scenario explored. */
  scenario: string;
  /** Name of the driver it ran against ('correct', a variant, or a registered name). */
  driver: string;
  /** Range-validity protocol of every machine ('seed' or 'seq'). */
  protocol: HmmProtocol;
  /** The schedule strategy used. */
  strategy: StrategyName;
  /** Seed of every machine built, and of 'random' and 'pct'. */
  seed: number;
  /** The preemption bound ('dfs') or PCT depth - 1 the run used. */
  preemptions: number;
  /** Schedules run, the failing one included. */
  schedulesExplored: number;
  /** 'dfs' and 'dpor': every schedule within the bound was run (for 'dpor': one of each equivalence class). */
  complete: boolean;
  /**
   * 'dfs' and 'dpor': distinct terminal states (src/explore/terminal.ts) of the clean schedules run;
   * with `complete` and an unbounded search, every state any schedule can end in. 0 otherwise.
   */
  terminalStates: number;
  /**
   * 'dpor': the schedules that ended sleep-set blocked, each equivalent to one run before it.
   * Source-set DPOR runs a redundant Mazurkiewicz trace only this way, so an exhausted search ran
   * `schedulesExplored - sleepBlocked` distinct traces; optimal DPOR (wakeup trees) would run only
   * those. 0 for the other strategies.
   */
  sleepBlocked: number;
  /** With the `shard` option: which part this is and what mergeShards needs. */
  shard?: ShardReport;
  /** Schedules per wall-clock second, or 0 when no `clock` option was given. */
  schedulesPerSecond: number;
  /** The first violation found that no `allow` rule acknowledged (shrunk), or null. */
  violation: ExploreViolation | null;
  /** Every distinct violation seen, allowed ones included, in the order first seen. */
  violations: DistinctViolation[];
}

/**
 * Memory sections of the explorer's machines (see PhysMemOptions.sectionPages): small, so that the
 * struct page arrays of 64 pages of RAM and two 16-page devices cover 112 pfns, which the accounting
 * check walks twice a schedule.
 */
export const EXPLORE_SECTION_PAGES = 16;
/** Steps after which a schedule counts as a livelock. */
export const EXPLORE_STEPS_MAX = 200_000;

interface Config {
  scenario: Scenario;
  driverName: string;
  factory: ScenarioDriverFactory;
  protocol: HmmProtocol;
  /** The Simulator seed of every machine built. */
  seed: number;
  /** KASAN on the machines built (ExploreOptions.kasan). */
  kasan: boolean;
  /** replay()'s observer of the rendered run. */
  observe?: (ctx: ScenarioContext) => ExploreObserver;
}

/** No wall clock (DESIGN decision 2): elapsed time 0, schedulesPerSecond 0. */
function noClock(): number {
  return 0;
}

/** A scenario that uses today's commands needs a driver on today's API. */
function checkScenarioApi(sc: Scenario, name: string, factory: ScenarioDriverFactory): void {
  if (sc.api === 'modern' && factory.api !== 'modern')
    throw new ArgumentError(
      'driver',
      `scenario '${sc.name}' uses today's commands (EXCLUSIVE, RELEASE): '${name}' is not a modern-API driver (try test_hmm)`,
    );
}

function resolveScenario(s: Scenario | string): Scenario {
  if (typeof s !== 'string') return s;
  const found = scenarioByName(s);
  if (found === undefined) {
    throw new ArgumentError(
      'scenario',
      `unknown scenario '${s}'; built-in: ${builtinScenarioNames().join(', ')}`,
    );
  }
  return found;
}

function resolveDriver(
  d: string | ScenarioDriverFactory | undefined,
  drivers: ExploreDrivers,
): { name: string; factory: ScenarioDriverFactory } {
  if (d === undefined) return { name: 'correct', factory: drivers.byName('correct') };
  if (typeof d === 'string') return { name: d, factory: drivers.byName(d) };
  const name = (d.name || 'custom').replace(/[^A-Za-z0-9_.-]/g, '_');
  return { name, factory: d };
}

/** The `drivers` option: an ExploreDrivers, or one holding the built-ins only when absent. */
function checkDrivers(d: unknown): ExploreDrivers {
  if (d === undefined) return new ExploreDrivers();
  if (!(d instanceof ExploreDrivers))
    throw new ArgumentError('drivers', `expected an ExploreDrivers, got ${describeValue(d)}`);
  return d;
}

function checkProtocol(p: string): HmmProtocol {
  if (!isHmmProtocol(p)) throw new ArgumentError('protocol', `expected 'seed' or 'seq', got '${p}'`);
  return p;
}

/**
 * Upper limits of explore's options. A bound of 64 preemptions is far past any the search can
 * exhaust (the number of schedules grows as steps^k) and past PCT's useful depth; a billion
 * schedules is days of wall clock. Beyond them a value is a mistake, not a budget.
 */
export const EXPLORE_PREEMPTIONS_MAX = 64;
/** Largest `schedules` budget explore() accepts. */
export const EXPLORE_SCHEDULES_MAX = 1_000_000_000;

/** `value` as an integer in 0..max, or an ArgumentError naming the option. */
function checkedInt(name: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    const got = typeof value === 'number' ? String(value) : typeof value;
    throw new ArgumentError(name, `expected an integer in 0..${max}, got ${got}`);
  }
  return value;
}

function checkedBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean')
    throw new ArgumentError(name, `expected a boolean, got ${describeValue(value)}`);
  return value;
}

function checkedFunction<F>(name: string, f: F | undefined): F | undefined {
  if (f !== undefined && typeof f !== 'function')
    throw new ArgumentError(name, `expected a function, got ${typeof f}`);
  return f;
}

/** Explores `scenario` until the first violation or the end of the budget. */
export function explore(scenario: Scenario | string, opts: ExploreOptions = {}): ExploreResult {
  if (typeof opts !== 'object' || opts === null)
    throw new ArgumentError('opts', `expected an object, got ${opts === null ? 'null' : typeof opts}`);
  const sc = resolveScenario(scenario);
  const driver = resolveDriver(opts.driver, checkDrivers(opts.drivers));
  const seed = checkedInt('seed', opts.seed ?? 1, Number.MAX_SAFE_INTEGER);
  checkScenarioApi(sc, driver.name, driver.factory);
  const cfg: Config = {
    scenario: sc,
    driverName: driver.name,
    factory: driver.factory,
    protocol: checkProtocol(opts.protocol ?? 'seed'),
    seed,
    kasan: checkedBoolean('kasan', opts.kasan ?? true),
  };
  const strategy = opts.strategy ?? 'dfs';
  if (strategy !== 'dfs' && strategy !== 'dpor' && strategy !== 'pct' && strategy !== 'random') {
    throw new ArgumentError(
      'strategy',
      `expected 'random', 'pct', 'dfs' or 'dpor', got '${String(strategy)}'`,
    );
  }
  const systematic = strategy === 'dfs' || strategy === 'dpor';
  const preemptions =
    systematic && opts.preemptions === Number.POSITIVE_INFINITY
      ? Number.POSITIVE_INFINITY
      : checkedInt('preemptions', opts.preemptions ?? 2, EXPLORE_PREEMPTIONS_MAX);
  const budget =
    opts.schedules === undefined
      ? systematic
        ? Number.POSITIVE_INFINITY
        : 1000
      : checkedInt('schedules', opts.schedules, EXPLORE_SCHEDULES_MAX);
  const clock = checkedFunction('clock', opts.clock) ?? noClock;
  const onSchedule = checkedFunction('onSchedule', opts.onSchedule) ?? null;
  const log = new ViolationLog(opts.allow);

  // The explorer never prints a stack: capturing one for every HmmError a race produces is the
  // single largest cost of a schedule. Restored before returning.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    const check = opts.checkFootprints === true;
    if (opts.raceProfile !== undefined && !(opts.raceProfile instanceof Map))
      throw new ArgumentError('raceProfile', 'expected a Map');
    const profile = opts.raceProfile ?? null;
    let shard: ShardFilter | null = null;
    if (opts.shard !== undefined) {
      shard = new ShardFilter(checkShard(opts.shard));
    }
    return exploreWith(sc, cfg, strategy, preemptions, budget, clock, onSchedule, check, shard, log, profile);
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

function exploreWith(
  sc: Scenario,
  cfg: Config,
  strategy: StrategyName,
  preemptions: number,
  budget: number,
  clock: () => number,
  onSchedule: ((explored: number, budget: number) => void) | null,
  checkFootprints: boolean,
  shard: ShardFilter | null,
  log: ViolationLog,
  raceProfile: Map<string, number> | null,
): ExploreResult {
  const t0 = clock();
  let explored = 0;
  let complete = false;
  let failed: RunResult | null = null;
  const states = new Set<string>();
  let split: SplitDpor | null = null;
  let sleepBlocked = 0;
  /** A random or PCT search's violating schedule (0-based), which numbers its shard's violation. */
  let failedAt: number | null = null;
  if (strategy === 'dfs' || strategy === 'dpor') {
    const dporOpts = {
      preemptions,
      check: checkFootprints,
      precise: true,
      ...(raceProfile !== null ? { profile: raceProfile } : {}),
    };
    // a sharded dpor search is split (src/explore/dpor_shard.ts); plain dpor is one search
    split = strategy === 'dpor' && shard !== null ? new SplitDpor(shard.spec, dporOpts) : null;
    const search = strategy === 'dfs' ? new DfsStrategy(preemptions) : (split ?? new DporStrategy(dporOpts));
    while (explored < budget) {
      if (!search.nextExecution()) {
        complete = true;
        break;
      }
      const scratch = new Set<string>();
      const r = runSchedule(cfg, search, undefined, shard === null ? states : scratch);
      if (shard !== null) {
        if (!(split?.owns(scratch) ?? shard.owns(search as DfsStrategy))) continue;
        for (const h of scratch) states.add(h);
      }
      if (search instanceof DporStrategy && search.blocked) sleepBlocked++;
      explored++;
      onSchedule?.(explored, budget);
      if (r.status !== 'done' && !log.record(violationOfResult(r) as Violation, explored, seqClean(cfg, r))) {
        failed = r;
        break;
      }
    }
  } else {
    // schedule j draws from a stream of its own (itemSeed), so shard i of n runs j = i, i + n, ...
    // and finds what one process finds in them; PCT's k is schedule 0's count of steps
    const stride = shard?.spec.count ?? 1;
    const first = shard?.spec.index ?? 0;
    const owned = Math.max(0, Math.ceil((budget - first) / stride));
    let k = strategy === 'pct' && first !== 0 && budget > 0 ? pctSteps(cfg, preemptions) : 0;
    for (let j = first; j < budget; j += stride) {
      const s = randomSchedule(strategy, cfg.seed, j, preemptions, k);
      explored++;
      const r = runSchedule(cfg, s);
      if (j === 0) k = r.steps;
      onSchedule?.(explored, shard === null ? budget : owned);
      if (r.status !== 'done' && !log.record(violationOfResult(r) as Violation, j + 1, seqClean(cfg, r))) {
        failed = r;
        failedAt = j;
        break;
      }
    }
  }
  const elapsed = clock() - t0;
  return {
    scenario: sc.name,
    driver: cfg.driverName,
    protocol: cfg.protocol,
    strategy,
    seed: cfg.seed,
    preemptions,
    schedulesExplored: explored,
    complete,
    terminalStates: states.size,
    sleepBlocked: split?.sleepBlocked ?? sleepBlocked,
    ...(shard === null
      ? {}
      : {
          shard: shardReport(
            shard,
            split,
            failed === null ? null : (failedAt ?? (split ?? shard).current),
            [...states].sort(),
          ),
        }),
    schedulesPerSecond: elapsed > 0 ? Math.round(explored / (elapsed / 1000)) : 0,
    violation: failed === null ? null : shrinkAndRender(cfg, failed),
    violations: log.distinct(),
  };
}

/**
 * What a shard reports: its part, the number of its violation's subtree (a split's unit, a random
 * search's schedule) or null, its states; a split's counts.
 */
function shardReport(
  shard: ShardFilter,
  split: SplitDpor | null,
  violationSubtree: number | null,
  hashes: string[],
): ShardReport {
  return {
    ...shard.spec,
    violationSubtree,
    terminalStateHashes: hashes,
    ...(split === null ? {} : { dporSplit: split.report(hashes) }),
  };
}

/** The strategy of schedule `j` of a random or PCT search (a stream of its own: itemSeed). */
function randomSchedule(
  strategy: StrategyName,
  seed: number,
  j: number,
  preemptions: number,
  k: number,
): Strategy {
  const own = itemSeed(seed, j);
  return strategy === 'random'
    ? new RandomStrategy(own)
    : new PctStrategy(own, preemptions + 1, { estimatedSteps: k });
}

/**
 * PCT's k (Burckhardt et al.: the steps of an execution, which bound its decisions) for a shard
 * without schedule 0: schedule 0, run again uncounted for its steps.
 */
function pctSteps(cfg: Config, preemptions: number): number {
  return runSchedule(cfg, randomSchedule('pct', cfg.seed, 0, preemptions, 0)).steps;
}

/** For the 'seed-race' allow rules: whether failing run `r` replays clean under protocol 'seq'. */
function seqClean(cfg: Config, r: RunResult): () => boolean {
  return () => {
    if (cfg.protocol !== 'seed') return false;
    try {
      const again = runSchedule(
        { ...cfg, protocol: 'seq' },
        new ReplayStrategy(r.replay, { allowIncomplete: true }),
      );
      return again.status === 'done';
    } catch {
      return false;
    }
  };
}

/** replay()'s options: where to find a scenario or driver that is not built in. */
export interface ExploreReplayOptions {
  /** Scenarios not built in, looked up by name. */
  scenarios?: readonly Scenario[];
  /** The factory of a driver that is not registered (its name must match the replay string's). */
  driver?: ScenarioDriverFactory;
  /** Where the replay string's driver name is looked up. Default: a fresh ExploreDrivers (built-ins only). */
  drivers?: ExploreDrivers;
  /** Told of the run's machine after setup; the observer it returns sees every step (the viewer's recorder). */
  observe?: (ctx: ScenarioContext) => ExploreObserver;
}

/** What replay()'s `observe` option returns: told of each step and preemption, before the checks. */
export interface ExploreObserver {
  /** `t` ran one step, scheduled at `point`. */
  step(t: Thread, point: string): void;
  /** `from` was switched out while runnable; `to` runs next. */
  preempt(from: Thread, to: Thread): void;
}

/** What replaying a string reproduced: what it was recorded against, and its violation or null. */
export interface ExploreReplayResult {
  /** Name of the scenario the string recorded. */
  scenario: string;
  /** Name of the driver the string recorded. */
  driver: string;
  /** Range-validity protocol the string recorded ('seed' or 'seq'). */
  protocol: HmmProtocol;
  /** The seed of the machine it ran on (1 for an 'hmmx2:' string). */
  seed: number;
  /** The hmmsim version that recorded the string. */
  version: string;
  /** The violation the schedule reproduces, or null if it runs clean (as the string recorded). */
  violation: ExploreViolation | null;
  /** The schedule, one step per line, whether or not it fails. */
  interleaving: string[];
}

/**
 * Re-runs one schedule from its replay string, with the same checks: the same violation, exactly.
 * A ReplayError (an ArgumentError) if the string is malformed or damaged (parseReplay), or if the
 * run does not take exactly its decisions or ends otherwise than the string recorded.
 */
export function replay(replayString: string, opts: ExploreReplayOptions = {}): ExploreReplayResult {
  const parsed = parseReplay(replayString);
  if (typeof opts !== 'object' || opts === null)
    throw new ArgumentError('opts', `expected an object, got ${opts === null ? 'null' : typeof opts}`);
  if (opts.scenarios !== undefined && !Array.isArray(opts.scenarios))
    throw new ArgumentError('scenarios', `expected an array of scenarios, got ${typeof opts.scenarios}`);
  checkedFunction('driver', opts.driver);
  const scenario =
    opts.scenarios?.find((s) => s.name === parsed.scenario) ?? resolveScenario(parsed.scenario);
  const factory = opts.driver ?? checkDrivers(opts.drivers).byName(parsed.driver);
  const cfg: Config = {
    scenario,
    driverName: parsed.driver,
    factory,
    protocol: parsed.protocol,
    seed: parsed.seed,
    kasan: true,
  };
  const why = mismatchContext(parsed.version, scenario.name);
  const strict = new StrictReplay(parsed.schedule, why);
  const rendered = render({ ...cfg, observe: opts.observe }, strict);
  if (strict.consumed !== parsed.decisions) {
    throw new ReplayError(
      `the run took ${strict.consumed} of the string's ${parsed.decisions} decisions${why}`,
    );
  }
  const outcome: ReplayOutcome = rendered.violation?.checker ?? 'none';
  if (outcome !== parsed.outcome) {
    throw new ReplayError(
      `the string recorded ${describeOutcome(parsed.outcome)}, the replay ended in ${describeOutcome(outcome)}${why}`,
    );
  }
  return {
    scenario: scenario.name,
    driver: parsed.driver,
    protocol: parsed.protocol,
    seed: parsed.seed,
    version: parsed.version,
    violation: rendered.violation,
    interleaving: rendered.interleaving,
  };
}

function decisions(n: number): string {
  return n === 1 ? '1 decision' : `${n} decisions`;
}

function describeOutcome(o: ReplayOutcome): string {
  return o === 'none' ? 'no violation' : `a ${o} violation`;
}

/** The likely causes of a mismatch, for the error message. */
function mismatchContext(version: string, scenario: string): string {
  const other =
    version === HMMSIM_VERSION
      ? ''
      : `, or hmmsim ${version} (this is ${HMMSIM_VERSION}) scheduled it differently`;
  return `: it was not recorded on scenario '${scenario}' as it is here${other}`;
}

/**
 * Follows a replay's decisions and no more: a decision outside the runnable threads, or a run that
 * needs more decisions than the string holds, is a ReplayError (the schedule is another scenario's,
 * or the scenario changed since it was recorded).
 */
class StrictReplay implements Strategy {
  private readonly choices: readonly number[];
  private pos = 0;

  constructor(
    schedule: string,
    private readonly why: string,
  ) {
    this.choices = decodeReplay(schedule);
  }

  get consumed(): number {
    return this.pos;
  }

  beginExecution(): void {
    this.pos = 0;
  }

  pick(runnable: readonly Thread[]): number {
    const i = this.choices[this.pos];
    if (i === undefined) {
      throw new ReplayError(
        `the run needs more than the string's ${decisions(this.choices.length)}${this.why}`,
      );
    }
    if (i >= runnable.length) {
      const names = runnable.map((t) => t.name).join(', ');
      throw new ReplayError(
        `decision ${this.pos} picks runnable thread ${i} of ${runnable.length} (${names})${this.why}`,
      );
    }
    this.pos++;
    return i;
  }
}

function replayString(cfg: Config, r: RunResult, outcome: ReplayOutcome): string {
  return formatReplay({
    scenario: cfg.scenario.name,
    driver: cfg.driverName,
    protocol: cfg.protocol,
    seed: cfg.seed,
    version: HMMSIM_VERSION,
    outcome,
    decisions: decodeReplay(r.replay).length,
    schedule: r.replay,
  });
}

// -- one schedule ----------------------------------------------------------------------------------

/**
 * Builds the machine, runs the scenario's threads under `strategy` with the checkers after every
 * step, and the end-of-schedule checks. A violation is a 'failed' (or 'deadlock' / 'step-limit')
 * RunResult; violationOfResult tells which.
 */
function runSchedule(cfg: Config, strategy: Strategy, trace?: Trace, states?: Set<string>): RunResult {
  const m = cfg.scenario.machine ?? {};
  // a loop, not Array.from({ length }): 27 ns against 245 (the array-like slow path), per schedule
  const devices: { memoryPages: number }[] = [];
  for (let i = 0; i < (m.devices ?? 2); i++) devices.push({ memoryPages: m.devicePages ?? 16 });
  const sim = new Simulator({
    seed: cfg.seed,
    ramPages: m.ramPages ?? 64,
    sectionPages: EXPLORE_SECTION_PAGES,
    devices,
    protocol: cfg.protocol,
    kernel: cfg.factory.kernel ?? 'v5.3',
  });
  const kernel = sim.kernel;
  // KASAN for every object the schedule allocates (its cost: docs/performance.md, "KASAN").
  kernel.slab.kasan = cfg.kasan;
  const ctx = new ScenarioContext(sim, cfg.factory);
  const state = cfg.scenario.setup(sim, ctx);
  if (trace !== undefined) trace.attach(ctx);
  const observer = trace === undefined ? undefined : cfg.observe?.(ctx);
  trace?.observe(observer);
  const recorder = strategy.recorder;
  const footprints = recorder?.precise === true ? recordMemoryFootprints(ctx, recorder) : null;
  const checkCoverage = footprints?.coverage ?? null;
  const specs = cfg.scenario.threads(state, ctx);
  const mirrors = ctx.devices;
  const rules = ctx.rules;
  const shadow = ctx.shadow;
  const slab = kernel.slab;
  const checks = (t: Thread, point: string) => {
    if (checkCoverage !== null) checkCoverage(recorder as FootprintRecorder);
    if (trace !== undefined) trace.step(t, point);
    observer?.step(t, point);
    const k = takeKasanViolation(slab);
    if (k !== null) throw new ViolationError('kasan', k);
    const r = rules.takePending();
    if (r !== null) throw new ViolationError('rules', r);
    const i = shadow.takePending();
    if (i !== null) throw new ViolationError('integrity', `${i}${where(t, point)}`);
    const c = checkCoherence(kernel, mirrors);
    if (c !== null) throw new ViolationError('coherence', `${c}${where(t, point)}`);
  };
  // The checkers' and observers' reads of a freed object are not uses (check/kasan.ts).
  const onStep: StepHook = (t: Thread, point: string) => kasanQuiet(slab, () => checks(t, point));
  const ex = new Executor({ strategy, lockdep: kernel.lockdep, stepsMax: EXPLORE_STEPS_MAX, onStep });
  for (const s of specs) ex.spawn(s.name, s.body);
  try {
    let result: RunResult;
    try {
      result = ex.run();
    } finally {
      // the end checks and the teardown read plain arrays, and so does the next machine
      footprints?.stop();
    }
    // the footprint check failing is a bug of the footprints, not a schedule to shrink and report
    if (result.failure?.error instanceof FootprintError) throw result.failure.error;
    if (result.status !== 'done') return result;
    states?.add(terminalStateHash(ctx));
    const end = endChecks(cfg, ctx, state);
    return end === null ? result : failedAtEnd(result, end);
  } finally {
    kernel.release();
  }
}

function where(t: Thread, point: string): string {
  return ` [after ${t.name}'s step ${t.executor.steps} at '${point}']`;
}

/** Scenario check, accounting, teardown, accounting and free lists again. */
function endChecks(cfg: Config, ctx: ScenarioContext, state: unknown): Violation | null {
  const sim = ctx.sim;
  const stuck = livenessViolations(ctx.processes.map((p) => p.mm));
  if (stuck.length > 0) return { checker: 'kernel', message: stuck[0] as string };
  const own = cfg.scenario.check?.(state, ctx);
  if (own) return { checker: 'integrity', message: `${cfg.scenario.name}: ${own}` };
  const acct = accountingViolation(sim, 'at the end of the schedule');
  if (acct !== null) return acct;
  try {
    for (const d of ctx.devices) if (d.closed !== true) sim.run(`close ${d.name}`, d.close());
    for (const p of ctx.processes) if (!p.exited) p.exit();
  } catch (e) {
    return violationOfError(e, 'teardown');
  }
  const k = takeKasanViolation(sim.kernel.slab);
  if (k !== null) return { checker: 'kasan', message: `${k} [teardown]` };
  const r = ctx.rules.takePending();
  if (r !== null) return { checker: 'rules', message: r };
  const c = checkCoherence(sim.kernel, ctx.devices);
  if (c !== null) return { checker: 'coherence', message: `${c} [after teardown]` };
  // Everything is unmapped now: every RAM page not in a page cache must be free again. (The full
  // recount already ran on the live state; it runs again only to name a leak.)
  const mem = sim.kernel.mem;
  let cached = 0;
  for (const m of sim.kernel.mappings.values()) if (m instanceof AddressSpace) cached += m.pages.size;
  if (mem.freePages + cached !== mem.ramPages) {
    const when = 'after every device was closed and every process exited';
    return (
      accountingViolation(sim, when) ?? {
        checker: 'accounting',
        message: `${mem.ramPages - mem.freePages - cached} page(s) of RAM leaked ${when}`,
      }
    );
  }
  for (const n of new Set(ctx.devices.map((d) => d.device))) {
    const used = sim.deviceUsedPages(n);
    if (used !== 0) {
      return {
        checker: 'accounting',
        message: `device ${n}: ${used} device page(s) not back on the free list after teardown`,
      };
    }
  }
  for (const d of ctx.devices) {
    const own = d.devicePagesInUse?.() ?? 0;
    if (own !== 0)
      return {
        checker: 'accounting',
        message: `${d.name}: ${own} page(s) of the driver's own device memory still in use after teardown`,
      };
  }
  return null;
}

function accountingViolation(sim: Simulator, when: string): Violation | null {
  const lines = checkAccounting(sim.kernel);
  if (lines.length === 0) return null;
  const more = lines.length > 1 ? ` (+${lines.length - 1} more)` : '';
  return { checker: 'accounting', message: `${lines[0]} ${when}${more}` };
}

function failedAtEnd(r: RunResult, v: Violation): RunResult {
  const message = v.message;
  return {
    status: 'failed',
    steps: r.steps,
    preemptions: r.preemptions,
    get replay(): string {
      return r.replay;
    },
    failure: { thread: '<end of schedule>', error: new ViolationError(v.checker, message), message },
    deadlock: null,
  };
}

/** The violation a run stands for, or null for a clean run. */
export function violationOfResult(r: RunResult): Violation | null {
  switch (r.status) {
    case 'done':
      return null;
    case 'failed':
      return violationOfError(r.failure?.error, r.failure?.thread);
    case 'deadlock':
      return { checker: 'kernel', message: r.deadlock?.message ?? 'deadlock' };
    case 'step-limit':
      return {
        checker: 'kernel',
        message: `livelock: no schedule end after ${r.steps} steps (stepsMax ${EXPLORE_STEPS_MAX})`,
      };
  }
}

/** Same checker, same first line with every number taken out (addresses and pfns may move). */
function sameViolation(candidate: RunResult, original: RunResult): boolean {
  const a = violationOfResult(candidate);
  const b = violationOfResult(original);
  return a !== null && b !== null && violationShape(a) === violationShape(b);
}

// -- shrinking and rendering -----------------------------------------------------------------------

/** Schedules the search for fewer preemptions may run after shrink() (see shrinkAndRender). */
export const EXPLORE_MINIMIZE_BUDGET = 2000;

/**
 * shrink() drops preemptions one at a time while the same violation remains; a schedule from a
 * random search can need several dropped together. Then a bounded search over the schedules with
 * fewer preemptions (k = 0, 1, ...), at most EXPLORE_MINIMIZE_BUDGET runs, looks for the same
 * violation with fewer still. The result is minimal whenever that search completes.
 */
function shrinkAndRender(cfg: Config, failed: RunResult): ExploreViolation {
  const shrunk = shrink(failed.replay, (s) => runSchedule(cfg, s), sameViolation);
  let best = shrunk.result;
  let runs = 0;
  for (let k = 0; k < best.preemptions && runs < EXPLORE_MINIMIZE_BUDGET; k++) {
    const dfs = new DfsStrategy(k);
    let found: RunResult | null = null;
    while (runs < EXPLORE_MINIMIZE_BUDGET && dfs.nextExecution()) {
      runs++;
      const r = runSchedule(cfg, dfs);
      if (r.status !== 'done' && sameViolation(r, failed) && r.preemptions < best.preemptions) {
        found = r;
        break;
      }
    }
    if (found !== null) {
      best = found;
      break;
    }
  }
  const schedule = new ReplayStrategy(best.replay, { allowIncomplete: true });
  const v = render(cfg, schedule).violation;
  if (v === null) throw new Error(`explore: the shrunk schedule ${best.replay} no longer fails`);
  return v;
}

/**
 * Runs the schedule once more, recording every step, and renders it with the violation it ends in.
 * The replay string is the run's own record of its decisions, so it holds exactly the decisions
 * taken (a shrunk schedule shorter than its run is continued without preemptions).
 */
function render(
  cfg: Config,
  schedule: Strategy,
): { violation: ExploreViolation | null; interleaving: string[] } {
  const trace = new Trace();
  const strategy = new RecordingStrategy(schedule, trace);
  const r = runSchedule(cfg, strategy, trace);
  const v = violationOfResult(r);
  const interleaving = trace.render(v, r);
  if (v === null) return { violation: null, interleaving };
  return {
    violation: {
      checker: v.checker,
      message: v.message,
      preemptions: r.preemptions,
      replay: replayString(cfg, r, v.checker),
      interleaving,
    },
    interleaving,
  };
}

/** Wraps a strategy and tells the trace where it preempted a thread. */
class RecordingStrategy implements Strategy {
  constructor(
    private readonly inner: Strategy,
    private readonly trace: Trace,
  ) {}

  beginExecution(): void {
    this.inner.beginExecution?.();
  }

  pick(runnable: readonly Thread[], current: Thread | null): number {
    const i = this.inner.pick(runnable, current);
    const next = runnable[i];
    if (current !== null && current.state === 'runnable' && next !== undefined && next !== current) {
      this.trace.preempt(current, next);
    }
    return i;
  }
}

interface TraceRow {
  step: number;
  thread: string;
  point: string;
  /** What happened inside the step (invalidations, device page-table writes). */
  notes: string[];
  /** Set on the row of a preemption marker. */
  preempted?: { from: string; at: string; to: string };
}

/** The steps of one run, for the readable interleaving. */
class Trace {
  private readonly rows: TraceRow[] = [];
  /** Notes of the step in progress (added before the step hook records its row). */
  private notes: string[] = [];
  private observer: ExploreObserver | undefined;

  /** Tells `observer` of the preemptions too. */
  observe(observer: ExploreObserver | undefined): void {
    this.observer = observer;
  }

  /** Subscribes to the machine's tracepoints for what to annotate the steps with (after setup). */
  attach(ctx: ScenarioContext): void {
    const trace = ctx.sim.trace;
    const invalidate = (phase: string, hmm: Hmm, range: MmuNotifierRange): void => {
      const span = `[${hex(range.start)}, ${hex(range.end)})`;
      this.notes.push(`invalidate_range_${phase} ${span} of mm ${hmm.mm.id}`);
    };
    trace.subscribe('mmu_notifier_invalidate_range_start', (e) => invalidate('start', e.hmm, e.range));
    trace.subscribe('mmu_notifier_invalidate_range_end', (e) => invalidate('end', e.hmm, e.range));
    // The devices open after setup, as named in the scenario (the ones opened later are not annotated).
    const names = new Map<DevicePageTable, string>(ctx.devices.map((d) => [d.pt, d.name]));
    const note = (pt: DevicePageTable, what: string): void => {
      const name = names.get(pt);
      if (name !== undefined) this.notes.push(`${name} ${what}`);
    };
    trace.subscribe('device_pt_store', (e) => {
      note(e.pt, `maps ${hex(e.vpn * PAGE_SIZE)} → pfn ${e.pfn}${e.write ? ' writable' : ''}`);
    });
    trace.subscribe('device_pt_erase', (e) => note(e.pt, `erases ${hex(e.vpn * PAGE_SIZE)}`));
    trace.subscribe('device_pt_clear', (e) => note(e.pt, 'clears its page table'));
  }

  preempt(from: Thread, to: Thread): void {
    this.observer?.preempt(from, to);
    this.rows.push({
      step: -1,
      thread: '',
      point: '',
      notes: [],
      preempted: { from: from.name, at: from.lastPoint, to: to.name },
    });
  }

  step(t: Thread, point: string): void {
    const notes = this.notes;
    this.notes = [];
    this.rows.push({
      step: t.executor.steps,
      thread: t.name,
      point: t.state === 'done' ? `${point} → exit` : point,
      notes,
    });
  }

  render(v: Violation | null, r: RunResult): string[] {
    const win = traceWindow(this.rows);
    const width = threadColumnWidth(win.rows);
    const out: string[] = win.omittedSteps > 0 ? [omittedLine(win.omittedSteps)] : [];
    for (const row of win.rows) {
      if (row.preempted !== undefined) {
        const p = row.preempted;
        out.push(`      ── preemption: ${p.from} is switched out before '${p.at}'; ${p.to} runs ──`);
        continue;
      }
      out.push(`${String(row.step).padStart(5)} ${row.thread.padEnd(width)}  ${row.point}`);
      for (const n of row.notes) out.push(`      ${' '.repeat(width)}    · ${n}`);
    }
    if (v === null) {
      out.push(`      ok: every thread finished, every check passed (${r.preemptions} preemptions)`);
      return out;
    }
    const thread = r.failure?.thread;
    const by = thread !== undefined && !v.message.startsWith(thread) ? ` (${thread})` : '';
    out.push(`      !! ${v.checker}${by}: ${v.message.split('\n', 1)[0]}`);
    return out;
  }
}
