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
  type ExploreResult,
  explore,
  MODERN_SCENARIOS,
  replay,
  SCENARIOS,
  type StrategyName,
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
  preemptions: number;
  seed: number;
  json?: boolean;
  /** --html: where to write the viewer page of the violation found. */
  html?: string;
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
        scenarios: [...SCENARIOS, ...MODERN_SCENARIOS].map((s) => ({
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

/** Runs the explorer; returns the exit code (0: no violation, 1: one found). */
export function runExplore(scenario: string, opts: ExploreCliOptions, out: (line: string) => void): number {
  if (![...SCENARIOS, ...MODERN_SCENARIOS].some((s) => s.name === scenario)) {
    throw new InvalidArgumentError(`unknown scenario '${scenario}' (hmmsim explore --list names them)`);
  }
  if (!builtinDrivers().some(([name]) => name === opts.driver)) {
    throw new InvalidArgumentError(`unknown driver '${opts.driver}' (hmmsim explore --list names them)`);
  }
  const html = opts.html === undefined ? null : htmlTarget(opts.html);
  const progress = startProgress('explore', opts.schedules ?? Number.POSITIVE_INFINITY);
  let r: ExploreResult;
  try {
    r = explore(scenario, {
      driver: opts.driver,
      drivers: new ExploreDrivers(),
      protocol: opts.protocol,
      strategy: opts.strategy,
      schedules: opts.schedules,
      preemptions: opts.preemptions,
      seed: opts.seed,
      onSchedule: (done) => progress.update(done),
      clock: wallClockMs,
    });
  } finally {
    progress.stop();
  }
  if (opts.json) out(JSON.stringify(jsonOf(r)));
  else printResult(r, out);
  const status = r.violation === null ? 0 : 1;
  if (html === null) return status;
  if (r.violation === null) {
    cliIo().stderr.write('hmmsim: no violation found: --html writes no page\n');
    return status;
  }
  return (
    writeViewerPage(
      html,
      recordReplay(r.violation.replay, { drivers: new ExploreDrivers() }, { maxEvents: VIEWER_EVENTS_MAX })
        .run,
      opts.json ? null : out,
    ) || status
  );
}

/** The library's ExploreResult, field for field (docs/explorer.md). */
export function jsonOf(r: ExploreResult): object {
  return {
    scenario: r.scenario,
    driver: r.driver,
    protocol: r.protocol,
    strategy: r.strategy,
    seed: r.seed,
    preemptions: r.preemptions,
    schedulesExplored: r.schedulesExplored,
    complete: r.complete,
    schedulesPerSecond: Math.round(r.schedulesPerSecond),
    violation: r.violation,
  };
}

function printResult(r: ExploreResult, out: (line: string) => void): void {
  out(
    `SEED=${r.seed} scenario=${r.scenario} driver=${r.driver} protocol=${r.protocol} strategy=${r.strategy}`,
  );
  out(
    `${r.schedulesExplored} schedules explored${r.complete ? ' (all within the bound)' : ''}, ${Math.round(r.schedulesPerSecond)} per second`,
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
export function runReplay(
  replayString: string,
  json: boolean,
  out: (line: string) => void,
  htmlPath?: string,
): number {
  let r: ReturnType<typeof replay>;
  const html = htmlPath === undefined ? null : htmlTarget(htmlPath);
  let run: ViewerRun | null = null;
  try {
    if (html === null) r = replay(replayString, { drivers: new ExploreDrivers() });
    else
      ({ result: r, run } = recordReplay(
        replayString,
        { drivers: new ExploreDrivers() },
        { maxEvents: VIEWER_EVENTS_MAX },
      ));
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
