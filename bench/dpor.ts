/**
 * DFS against DPOR (issue 13, "Partial-order reduction"): for each built-in scenario and each broken
 * variant on the scenario that catches it, the schedules plain DFS needs to exhaust the space (or to
 * find the bug) against `dpor` at the same preemption bound, with the CPU time of each (the machine
 * is shared: CPU time moves less with the load than the wall clock; the load average is printed).
 *
 *   npm run bench:dpor                                   the bounded table (2 preemptions; 1 on the four-thread scenario)
 *   npm run bench:dpor -- --unbounded                    the three- and four-thread scenarios with no bound
 *   npm run bench:dpor -- --unbounded --cap 50000        DFS stops after 50,000 schedules
 *   npm run bench:dpor -- --only fault-munmap-migrate    one scenario (a substring of its name)
 *   npm run bench:dpor -- --test-hmm                     today's test_hmm on every scenario it runs, and each
 *                                                        of its broken variants on the first scenario where
 *                                                        dpor finds it
 *   npm run bench:dpor -- --unbounded --test-hmm         the three- and four-thread scenarios with no bound,
 *                                                        on today's test_hmm (and today's own three-thread one)
 *   npm run -s bench:dpor -- --json                      one JSON document
 *
 * `fault-migrate-cpu-munmap` unbounded needs 2.2 million schedules (~30 CPU minutes): this bench stops
 * it at `--dpor-cap`; docs/explorer.md gives the sharded CLI run that exhausts it on two cores.
 *
 * Unbounded, DFS is capped (default 10x dpor's count, at least `--cap`): a DFS that stops at the cap
 * without exhausting is reported as "> N", a lower bound, so "N = 10x dpor's count without
 * exhausting" is a rigorous "at least 10x fewer schedules". DPOR's own cap is `--dpor-cap`.
 */
import { loadavg } from 'node:os';
import { TEST_HMM_BROKEN } from '../src/drivers/test_hmm_broken/index.js';
import { MODERN_SCENARIOS } from '../src/explore/scenarios.js';
import { LIFECYCLE_SCENARIOS } from '../src/explore/scenarios_lifecycle.js';
import {
  type ExploreResult,
  explore,
  MODERN_MULTI_SCENARIOS,
  MULTI_SCENARIOS,
  SCENARIOS,
} from '../src/index.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const UNBOUNDED = process.argv.includes('--unbounded');
const TEST_HMM = process.argv.includes('--test-hmm');
const JSON_OUT = process.argv.includes('--json');
const ONLY = arg('only', '');
const CAP = Number(arg('cap', '0'));
const DPOR_CAP = Number(arg('dpor-cap', '20000'));

/** The variant of each broken driver's row: the scenario that catches it (test/explore/dpor.test.ts). */
const CATCHES: readonly [string, string][] = [
  ['no-valid-check', 'fault-vs-dontneed'],
  ['unlocked-valid-check', 'fault-vs-munmap'],
  ['no-lock-in-sync', 'fault-vs-munmap'],
  ['sleep-nonblockable', 'fault-vs-oomreap'],
  ['map-after-unregister', 'fault-vs-munmap'],
  ['no-write-erase', 'fault-vs-munmap'],
  ['free-mapped-page', 'migrate-vs-cpufault'],
  ['ignore-ebusy', 'fault-vs-dontneed'],
  ['no-tlb-flush', 'kernel-vs-munmap'],
  ['close-unregister-first', 'close-vs-cpuread'],
  ['unlock-twice-on-retry', 'fault-vs-dontneed'],
  ['ebusy-fatal', 'fault-vs-dontneed'],
  ['vma-lookup-unlocked', 'fault-vs-munmap'],
  ['close-without-clear', 'fault-vs-dontneed'],
  ['release-unlocked', 'exit-vs-devaccess'],
  ['erase-short', 'fault-vs-munmap'],
  ['release-keeps-pt', 'exit-vs-devaccess'],
  ['close-keeps-owner', 'close-vs-cpuread'],
  ['vma-kept-unlocked', 'fault-vs-munmap'],
];

interface Row {
  scenario: string;
  driver: string;
  bound: number;
  /** null when dpor itself did not end within --dpor-cap. */
  dfs: Cell | null;
  dpor: Cell;
}

interface Cell {
  schedules: number;
  complete: boolean;
  violation: string | null;
  terminalStates: number;
  cpuMs: number;
}

function cpuMs(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
}

function run(scenario: string, driver: string, strategy: 'dfs' | 'dpor', bound: number, cap: number): Cell {
  const t0 = cpuMs();
  const r: ExploreResult = explore(scenario, {
    strategy,
    driver,
    protocol: 'seq',
    preemptions: bound,
    schedules: cap,
  });
  return {
    schedules: r.schedulesExplored,
    complete: r.complete,
    violation: r.violation?.checker ?? null,
    terminalStates: r.terminalStates,
    cpuMs: Math.round(cpuMs() - t0),
  };
}

function row(scenario: string, driver: string, bound: number): Row {
  const dpor = run(scenario, driver, 'dpor', bound, DPOR_CAP);
  // a dpor search that did not end gives no count to compare: DFS is not run
  if (!dpor.complete && dpor.violation === null) return { scenario, driver, bound, dfs: null, dpor };
  // unbounded, DFS stops at 10x dpor's count (or --cap): that already shows the reduction
  const dfsCap = bound === Number.POSITIVE_INFINITY ? Math.max(CAP, 10 * dpor.schedules) : 10_000_000;
  return { scenario, driver, bound, dfs: run(scenario, driver, 'dfs', bound, dfsCap), dpor };
}

function cell(c: Cell): string {
  const n = c.schedules.toLocaleString('en-US');
  const count = c.violation !== null ? `${n} (${c.violation})` : c.complete ? n : `> ${n} (not exhausted)`;
  const states = c.violation === null && c.complete ? `, ${c.terminalStates} states` : '';
  return `${count}${states}, ${c.cpuMs} ms`;
}

/**
 * test_hmm on every scenario it runs; each broken variant on the first scenario (the built-ins, then
 * the lifecycle ones) where dpor finds it sooner than any race of the correct test_hmm there, or on
 * fault-vs-munmap, clean, if none does.
 */
function testHmmRows(want: (s: string) => boolean): Row[] {
  const out: Row[] = [];
  const scenarios = [...SCENARIOS, ...MODERN_SCENARIOS, ...MODERN_MULTI_SCENARIOS].map((x) => x.name);
  for (const s of scenarios.filter(want)) out.push(row(s, 'test_hmm', 2));
  // where the correct test_hmm fails too (close-vs-cpuread's known race), a variant is caught only
  // if dpor finds it sooner than the correct driver's race
  const all = [...scenarios, ...LIFECYCLE_SCENARIOS.map((x) => x.name)];
  const correct = new Map(all.map((x) => [x, run(x, 'test_hmm', 'dpor', 2, DPOR_CAP)] as const));
  const catches = (x: string, c: Cell) => {
    const base = correct.get(x) as Cell;
    return c.violation !== null && (base.violation === null || c.schedules < base.schedules);
  };
  for (const v of Object.keys(TEST_HMM_BROKEN).filter(want)) {
    const s = all.find((x) => catches(x, run(x, v, 'dpor', 2, DPOR_CAP)));
    out.push(s === undefined ? row(scenarios[0] as string, v, 2) : row(s, v, 2));
  }
  return out;
}

function rows(): Row[] {
  const out: Row[] = [];
  const want = (s: string) => ONLY === '' || s.includes(ONLY);
  const multi = MULTI_SCENARIOS.map((s) => s.name).filter(want);
  if (UNBOUNDED) {
    const driver = TEST_HMM ? 'test_hmm' : 'correct';
    for (const s of multi) out.push(row(s, driver, Number.POSITIVE_INFINITY));
    if (TEST_HMM)
      for (const s of MODERN_MULTI_SCENARIOS.map((x) => x.name).filter(want))
        out.push(row(s, driver, Number.POSITIVE_INFINITY));
    return out;
  }
  if (TEST_HMM) return testHmmRows(want);
  for (const s of SCENARIOS.map((x) => x.name).filter(want)) out.push(row(s, 'correct', 2));
  for (const s of multi) out.push(row(s, 'correct', s === 'fault-migrate-cpu-munmap' ? 1 : 2));
  for (const [v, s] of CATCHES) if (want(s) || want(v)) out.push(row(s, v, 2));
  return out;
}

const load = `load average ${loadavg()
  .map((x) => x.toFixed(2))
  .join(', ')}`;
const result = rows();
if (JSON_OUT) process.stdout.write(`${JSON.stringify({ load, rows: result })}\n`);
else {
  process.stdout.write(
    `${load}\n| scenario | driver | bound | dfs: schedules, cpu | dpor: schedules, cpu | ratio |\n`,
  );
  process.stdout.write('| --- | --- | --- | --- | --- | --- |\n');
  for (const r of result) {
    const b = r.bound === Number.POSITIVE_INFINITY ? '∞' : String(r.bound);
    const ratio =
      r.dfs === null
        ? '—'
        : `${r.dfs.complete || r.dfs.violation !== null ? '' : '≥ '}${(r.dfs.schedules / r.dpor.schedules).toFixed(1)}x`;
    process.stdout.write(
      `| \`${r.scenario}\` | ${r.driver} | ${b} | ${r.dfs === null ? 'not run' : cell(r.dfs)} | ${cell(r.dpor)} | ${ratio} |\n`,
    );
  }
}
