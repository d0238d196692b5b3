/**
 * `hmmsim explore` and `hmmsim replay`: printing only, over src/explore.
 *
 * A progress bar on stderr (progress.ts) counts schedules when a run takes over a second.
 */

import { InvalidArgumentError } from 'commander';
import { ArgumentError } from '../core/errno.js';
import { DMIRROR_VARIANTS } from '../drivers/dmirror/variants.js';
import { TEST_HMM_BROKEN } from '../drivers/test_hmm_broken/index.js';
import {
  ExploreDrivers,
  type ExploreOptions,
  type ExploreResult,
  explore,
  MODERN_SCENARIOS,
  MULTI_SCENARIOS,
  parseShard,
  replay,
  SCENARIOS,
  type StrategyName,
} from '../explore/index.js';
import { color } from './color.js';
import { startProgress } from './progress.js';

export interface ExploreCliOptions {
  list?: boolean;
  driver: string;
  protocol: 'seed' | 'seq';
  strategy: StrategyName;
  schedules?: number;
  /** A bound, or Infinity for `--preemptions unbounded`. */
  preemptions: number;
  seed: number;
  json?: boolean;
  /** `--shard i/n`. */
  shard?: string;
  /** `--jobs N`. */
  jobs?: number;
  /** `--merge a.json b.json ...`. */
  merge?: string[];
}

export { runExploreJobs, runExploreMerge } from './explore_jobs.js';

/** `--preemptions`: a bound, or 'unbounded' (dfs and dpor: every schedule). */
export function preemptionsArg(value: string): number {
  if (value === 'unbounded') return Number.POSITIVE_INFINITY;
  try {
    return nonNegativeInt(value);
  } catch {
    throw new InvalidArgumentError("expected a non-negative integer or 'unbounded'.");
  }
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0)
    throw new InvalidArgumentError('expected a positive integer.');
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n))
    throw new InvalidArgumentError('expected a non-negative integer.');
  return n;
}

/** The list of scenarios and driver variants, for --list (with --json: one document). */
export function listScenarios(out: (line: string) => void, json = false): void {
  if (json) {
    out(
      JSON.stringify({
        scenarios: [...SCENARIOS, ...MULTI_SCENARIOS, ...MODERN_SCENARIOS].map((s) => ({
          name: s.name,
          description: s.description,
          ...(s.api === 'modern' ? { api: 'modern' } : {}),
        })),
        drivers: builtinDrivers().map(([name, v]) => ({
          name,
          description: describeVariant(v),
        })),
      }),
    );
    return;
  }
  out('scenarios:');
  for (const s of SCENARIOS) out(`  ${s.name.padEnd(22)} ${s.description}`);
  out('three and four threads:');
  for (const s of MULTI_SCENARIOS) out(`  ${s.name.padEnd(22)} ${s.description}`);
  out("today's API only (--driver test_hmm or a test_hmm.* variant):");
  for (const s of MODERN_SCENARIOS) out(`  ${s.name.padEnd(22)} ${s.description}`);
  out('drivers (--driver):');
  for (const [name, v] of builtinDrivers()) out(`  ${name.padEnd(22)} ${describeVariant(v)}`);
}

/** Every built-in driver and its catalogue entry: the seed API's, then today's. */
function builtinDrivers(): [string, unknown][] {
  return [
    ...Object.entries(DMIRROR_VARIANTS),
    ['test_hmm', { wrong: "nothing: today's lib/test_hmm.c on the modern API (v6.19 machines)." }],
    ...Object.entries(TEST_HMM_BROKEN),
  ];
}

function describeVariant(v: unknown): string {
  if (typeof v === 'string') return v;
  const o = v as { wrong?: string; description?: string };
  return o.wrong ?? o.description ?? '';
}

/** The wall clock in ms, for schedulesPerSecond: the library reads none of its own. */
function wallClockMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** explore()'s options for the CLI's. */
export function libraryOptions(opts: ExploreCliOptions): ExploreOptions {
  return {
    driver: opts.driver,
    drivers: new ExploreDrivers(),
    protocol: opts.protocol,
    strategy: opts.strategy,
    schedules: opts.schedules,
    preemptions: opts.preemptions,
    seed: opts.seed,
    ...(opts.shard === undefined ? {} : { shard: parseShard(opts.shard) }),
  };
}

/** Runs the explorer; returns the exit code (0: no violation, 1: one found). */
export function runExplore(scenario: string, opts: ExploreCliOptions, out: (line: string) => void): number {
  if (![...SCENARIOS, ...MULTI_SCENARIOS, ...MODERN_SCENARIOS].some((s) => s.name === scenario)) {
    throw new InvalidArgumentError(`unknown scenario '${scenario}' (hmmsim explore --list names them)`);
  }
  if (!builtinDrivers().some(([name]) => name === opts.driver)) {
    throw new InvalidArgumentError(`unknown driver '${opts.driver}' (hmmsim explore --list names them)`);
  }
  const progress = startProgress('explore', opts.schedules ?? Number.POSITIVE_INFINITY);
  let r: ExploreResult;
  try {
    r = explore(scenario, {
      ...libraryOptions(opts),
      onSchedule: (done) => progress.update(done),
      clock: wallClockMs,
    });
  } finally {
    progress.stop();
  }
  printExploreResult(r, opts.json === true, out);
  return r.violation === null ? 0 : 1;
}

/** Prints a result: one JSON document, or the text report. */
export function printExploreResult(r: ExploreResult, json: boolean, out: (line: string) => void): void {
  if (json) out(JSON.stringify(jsonOf(r)));
  else printResult(r, out);
}

/** The library's ExploreResult, field for field (docs/explorer.md). */
export function jsonOf(r: ExploreResult): object {
  return {
    scenario: r.scenario,
    driver: r.driver,
    protocol: r.protocol,
    strategy: r.strategy,
    seed: r.seed,
    preemptions: r.preemptions === Number.POSITIVE_INFINITY ? 'unbounded' : r.preemptions,
    schedulesExplored: r.schedulesExplored,
    complete: r.complete,
    schedulesPerSecond: Math.round(r.schedulesPerSecond),
    violation: r.violation,
    terminalStates: r.terminalStates,
    ...(r.shard === undefined ? {} : { shard: r.shard }),
  };
}

function printResult(r: ExploreResult, out: (line: string) => void): void {
  out(
    `SEED=${r.seed} scenario=${r.scenario} driver=${r.driver} protocol=${r.protocol} strategy=${r.strategy}`,
  );
  out(
    `${r.schedulesExplored} schedules explored${r.complete ? ' (all within the bound)' : ''}, ${Math.round(r.schedulesPerSecond)} per second`,
  );
  if (r.strategy === 'dfs' || r.strategy === 'dpor') {
    const every =
      r.complete && r.preemptions === Number.POSITIVE_INFINITY ? ' (every schedule ends in one of them)' : '';
    out(`${r.terminalStates} distinct terminal state${r.terminalStates === 1 ? '' : 's'}${every}`);
  }
  if (r.shard !== undefined)
    out(
      `shard ${r.shard.index}/${r.shard.count} (hmmsim explore --merge joins the shards' --json documents)`,
    );
  if (r.violation === null) {
    out(color.green('no violation found'));
    return;
  }
  const v = r.violation;
  out(color.red(`VIOLATION (${v.checker}): ${v.message}`));
  out(`shrunk to ${v.preemptions} preemption${v.preemptions === 1 ? '' : 's'}; interleaving:`);
  for (const line of v.interleaving) out(`  ${line}`);
  out(`replay: hmmsim replay ${v.replay}`);
}

/**
 * Re-runs one schedule; returns 1 if it reproduces a violation, 0 if it runs clean. A string that
 * does not check out (a ReplayError) is a usage error: one line, exit 2 (see main.ts usage()).
 */
export function runReplay(replayString: string, json: boolean, out: (line: string) => void): number {
  let r: ReturnType<typeof replay>;
  try {
    r = replay(replayString, { drivers: new ExploreDrivers() });
  } catch (e) {
    if (e instanceof ArgumentError) throw new InvalidArgumentError(e.message);
    throw e;
  }
  if (json) {
    out(
      JSON.stringify({
        scenario: r.scenario,
        driver: r.driver,
        protocol: r.protocol,
        seed: r.seed,
        version: r.version,
        violation: r.violation,
      }),
    );
  } else {
    out(
      `scenario=${r.scenario} driver=${r.driver} protocol=${r.protocol} seed=${r.seed} recorded-with=hmmsim ${r.version}`,
    );
    for (const line of r.interleaving) out(`  ${line}`);
    out(
      r.violation === null
        ? color.green('no violation')
        : color.red(`VIOLATION (${r.violation.checker}): ${r.violation.message}`),
    );
  }
  return r.violation === null ? 0 : 1;
}
