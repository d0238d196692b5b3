/**
 * `hmmsim explore` and `hmmsim replay`: printing only, over src/explore.
 *
 * A progress bar on stderr (progress.ts) counts schedules when a run takes over a second.
 */

import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidArgumentError } from 'commander';
import { ArgumentError } from '../core/errno.js';
import { DMIRROR_VARIANTS } from '../drivers/dmirror/variants.js';
import { TEST_HMM_BROKEN } from '../drivers/test_hmm_broken/index.js';
import {
  ExploreDrivers,
  type ExploreOptions,
  type ExploreResult,
  explore,
  generateScenarios,
  LIFECYCLE_SCENARIOS,
  MODERN_MULTI_SCENARIOS,
  MODERN_SCENARIOS,
  MULTI_SCENARIOS,
  parseShard,
  replay,
  SCENARIOS,
  type ScenarioDriverFactory,
  type StrategyName,
  scenarioByName,
} from '../explore/index.js';
import type { ViewerRun } from '../schema/viewer.js';
import { recordReplay } from '../viewer/explore.js';
import { color } from './color.js';
import { cliIo } from './io.js';
import { startProgress } from './progress.js';
import { htmlTarget, VIEWER_EVENTS_MAX, writeViewerPage } from './viewer.js';

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
  /** --html: where to write the viewer page of the violation found. */
  html?: string;
  /** --allow, repeated: known violations to go past (src/explore/allow.ts). */
  allow?: string[];
  /** false with --no-kasan: the machines run without KASAN (ExploreOptions.kasan). */
  kasan?: boolean;
  /** --generate: explore this many generated scenarios (gen-<seed>-<i>) instead of one. */
  generate?: number;
  /** --driver-module, loaded by loadDriverModule: the registry holding the user's driver. */
  userDrivers?: UserDrivers;
  /** `--shard i/n`. */
  shard?: string;
  /** `--jobs N`. */
  jobs?: number;
  /** `--merge a.json b.json ...`. */
  merge?: string[];
}

/** A user's driver loaded from a module file, and the registry it is registered in. */
export interface UserDrivers {
  /** Built-ins plus the user's driver. */
  drivers: ExploreDrivers;
  /** The name it is registered under (its function's name, or the file's base name). */
  name: string;
}

/**
 * --driver-module <file>: imports the file and registers the ScenarioDriverFactory it exports as
 * `default` (or `driver`) under the factory's name (docs/writing-a-driver.md). A file that cannot be
 * loaded or exports no function is a usage error.
 */
export async function loadDriverModule(file: string): Promise<UserDrivers> {
  let mod: { default?: unknown; driver?: unknown };
  try {
    mod = (await import(pathToFileURL(resolve(file)).href)) as typeof mod;
  } catch (e) {
    throw new InvalidArgumentError(`--driver-module: cannot load '${file}': ${(e as Error).message}`);
  }
  const f = mod.default ?? mod.driver;
  if (typeof f !== 'function')
    throw new InvalidArgumentError(
      `--driver-module: '${file}' exports no driver factory (export default, or export const driver)`,
    );
  const factory = f as ScenarioDriverFactory;
  const name = (factory.name || basename(file).replace(/\.[^.]*$/, '')).replace(/[^A-Za-z0-9_.-]/g, '_');
  const drivers = new ExploreDrivers();
  drivers.register(name, factory);
  return { drivers, name };
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
        scenarios: [
          ...SCENARIOS,
          ...MULTI_SCENARIOS,
          ...MODERN_SCENARIOS,
          ...MODERN_MULTI_SCENARIOS,
          ...LIFECYCLE_SCENARIOS,
        ].map((s) => ({
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
  for (const s of [...MODERN_SCENARIOS, ...MODERN_MULTI_SCENARIOS])
    out(`  ${s.name.padEnd(22)} ${s.description}`);
  out('lifecycle scenarios (holes, repeated invalidations, close, exit, two devices, a KVM-like notifier):');
  for (const s of LIFECYCLE_SCENARIOS) out(`  ${s.name.padEnd(22)} ${s.description}`);
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

/** Schedules per generated scenario when --schedules is not given. */
export const GENERATE_SCHEDULES_DEFAULT = 300;

/**
 * --generate N: explores gen-<seed>-0 .. gen-<seed>-(N-1), one line each (or one JSON document
 * holding every result); exit 1 if any has a violation.
 */
export function runGenerate(n: number, opts: ExploreCliOptions, out: (line: string) => void): number {
  const results: ExploreResult[] = [];
  for (const sc of generateScenarios(opts.seed, n)) {
    const r = exploreOne(sc.name, { ...opts, schedules: opts.schedules ?? GENERATE_SCHEDULES_DEFAULT });
    results.push(r);
    if (!opts.json) {
      const v = r.violation;
      const verdict =
        v === null
          ? color.green('clean')
          : color.red(`VIOLATION (${v.checker}): ${v.message.split('\n', 1)[0]}`);
      out(`${sc.name} (${sc.description}): ${r.schedulesExplored} schedules, ${verdict}`);
      if (v !== null) out(`  replay: hmmsim replay ${v.replay}`);
    }
  }
  const found = results.filter((r) => r.violation !== null).length;
  if (opts.json) out(JSON.stringify(results.map(jsonOf)));
  else out(`${n} generated scenarios, ${found} with a violation`);
  return found === 0 ? 0 : 1;
}

/** explore()'s options for the CLI's. */
export function libraryOptions(opts: ExploreCliOptions): ExploreOptions {
  const user = opts.userDrivers;
  return {
    // a user's module driver runs where the reference driver would (--driver-module without --driver)
    driver: user !== undefined && opts.driver === 'correct' ? user.name : opts.driver,
    drivers: user?.drivers ?? new ExploreDrivers(),
    allow: opts.allow ?? [],
    kasan: opts.kasan !== false,
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
  // The page's path is checked before the run, so a bad path costs no exploration.
  const html = opts.html === undefined ? null : htmlTarget(opts.html);
  const r = exploreOne(scenario, opts);
  if (opts.json) out(JSON.stringify(jsonOf(r)));
  else printResult(r, out);
  const status = r.violation === null ? 0 : 1;
  if (html === null) return status;
  if (r.violation === null) {
    cliIo().stderr.write('hmmsim: no violation found: --html writes no page\n');
    return status;
  }
  const drivers = opts.userDrivers?.drivers ?? new ExploreDrivers();
  return (
    writeViewerPage(
      html,
      recordReplay(r.violation.replay, { drivers }, { maxEvents: VIEWER_EVENTS_MAX }).run,
      opts.json ? null : out,
    ) || status
  );
}

/** A CLI run's result: the library's, and the wall time to its first schedule (issue 13's start-up). */
type CliExploreResult = ExploreResult & {
  /** Milliseconds from the call to explore() to the end of the first schedule; absent if none ran. */
  firstScheduleMs?: number;
};

function exploreOne(scenario: string, opts: ExploreCliOptions): CliExploreResult {
  if (scenarioByName(scenario) === undefined) {
    throw new InvalidArgumentError(`unknown scenario '${scenario}' (hmmsim explore --list names them)`);
  }
  const user = opts.userDrivers;
  const driver = user !== undefined && opts.driver === 'correct' ? user.name : opts.driver;
  if (driver !== user?.name && !builtinDrivers().some(([name]) => name === driver)) {
    throw new InvalidArgumentError(`unknown driver '${opts.driver}' (hmmsim explore --list names them)`);
  }
  const progress = startProgress('explore', opts.schedules ?? Number.POSITIVE_INFINITY);
  let r: ExploreResult;
  const t0 = wallClockMs();
  let first: number | undefined;
  try {
    r = explore(scenario, {
      ...libraryOptions(opts),
      onSchedule: (done) => {
        first ??= wallClockMs() - t0;
        progress.update(done);
      },
      clock: wallClockMs,
    });
  } finally {
    progress.stop();
  }
  return first === undefined ? r : { ...r, firstScheduleMs: first };
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
    violations: r.violations,
    terminalStates: r.terminalStates,
    sleepBlocked: r.sleepBlocked,
    ...(r.shard === undefined ? {} : { shard: r.shard }),
  };
}

function printResult(r: CliExploreResult, out: (line: string) => void): void {
  out(
    `SEED=${r.seed} scenario=${r.scenario} driver=${r.driver} protocol=${r.protocol} strategy=${r.strategy}`,
  );
  const first = r.firstScheduleMs === undefined ? '' : `, the first after ${r.firstScheduleMs.toFixed(1)} ms`;
  out(
    `${r.schedulesExplored} schedules explored${r.complete ? ' (all within the bound)' : ''}, ${Math.round(r.schedulesPerSecond)} per second${first}`,
  );
  printDistinct(r, out);
  if (r.strategy === 'dfs' || r.strategy === 'dpor') {
    const every =
      r.complete && r.preemptions === Number.POSITIVE_INFINITY ? ' (every schedule ends in one of them)' : '';
    out(`${r.terminalStates} distinct terminal state${r.terminalStates === 1 ? '' : 's'}${every}`);
  }
  if (r.strategy === 'dpor')
    out(`${r.sleepBlocked} of the schedules ended sleep-set blocked (each equivalent to one run before it)`);
  if (r.shard !== undefined) {
    const split = r.shard.dporSplit;
    const units =
      split === undefined
        ? ''
        : ` of a split dpor search (${split.units} units, cut at depth ${split.depth})`;
    out(
      `shard ${r.shard.index}/${r.shard.count}${units} (hmmsim explore --merge joins the shards' --json documents)`,
    );
  }
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

/** With --allow: every distinct violation seen, allowed or not (the first one is printed in full). */
function printDistinct(r: ExploreResult, out: (line: string) => void): void {
  if (!r.violations.some((d) => d.allowed)) return;
  out(`${r.violations.length} distinct violation${r.violations.length === 1 ? '' : 's'}:`);
  for (const d of r.violations) {
    const how = d.allowed ? 'allowed' : 'NOT allowed';
    out(`  ${how} (${d.checker}) in ${d.schedules} schedule(s), first #${d.firstSchedule}: ${d.message}`);
  }
}

/**
 * Re-runs one schedule; returns 1 if it reproduces a violation, 0 if it runs clean. A string that
 * does not check out (a ReplayError) is a usage error: one line, exit 2 (see main.ts usage()).
 */
export function runReplay(
  replayString: string,
  json: boolean,
  out: (line: string) => void,
  htmlPath?: string,
  user?: UserDrivers,
): number {
  let r: ReturnType<typeof replay>;
  const html = htmlPath === undefined ? null : htmlTarget(htmlPath);
  let run: ViewerRun | null = null;
  try {
    const drivers = user?.drivers ?? new ExploreDrivers();
    if (html === null) r = replay(replayString, { drivers });
    else ({ result: r, run } = recordReplay(replayString, { drivers }, { maxEvents: VIEWER_EVENTS_MAX }));
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
  const status = r.violation === null ? 0 : 1;
  return html === null || run === null ? status : writeViewerPage(html, run, json ? null : out) || status;
}
