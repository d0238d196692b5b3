/**
 * What KASAN costs the explorer (docs/performance.md, "KASAN"): schedules per CPU second with and
 * without it (`explore`'s `kasan` option), in the same process, the two runs alternated so that
 * the load of a shared machine hits both alike; the median of REPS pairs per scenario.
 *
 *   npm run bench:kasan               a table
 *   npm run -s bench:kasan -- --json   one JSON document
 */
import { explore } from '../src/explore/index.js';
import { median } from './stats.js';

const REPS = 7;
/** [scenario, driver, schedules per run (random)]. */
const CASES: [string, string, number][] = [
  ['fault-vs-munmap', 'correct', 4_000],
  ['close-vs-cpuread', 'correct', 2_000],
  ['fault-vs-munmap', 'test_hmm', 4_000],
];

function rate(scenario: string, driver: string, schedules: number, kasan: boolean, seed: number): number {
  // CPU time of this process, not wall time: the machine is shared, and its load is not ours.
  const t0 = process.cpuUsage();
  const r = explore(scenario, { driver, protocol: 'seq', strategy: 'random', schedules, seed, kasan });
  const used = process.cpuUsage(t0);
  const ns = (used.user + used.system) * 1000;
  if (r.violation !== null) throw new Error(`${scenario}/${driver}: ${r.violation.message}`);
  return (r.schedulesExplored * 1e9) / ns;
}

const results = CASES.map(([scenario, driver, schedules]) => {
  rate(scenario, driver, 500, true, 99);
  rate(scenario, driver, 500, false, 99);
  const on: number[] = [];
  const off: number[] = [];
  for (let i = 0; i < REPS; i++) {
    off.push(rate(scenario, driver, schedules, false, i + 1));
    on.push(rate(scenario, driver, schedules, true, i + 1));
  }
  const a = median(off);
  const b = median(on);
  return {
    scenario,
    driver,
    schedules,
    offPerSecond: Math.round(a),
    onPerSecond: Math.round(b),
    overheadPercent: Math.round(((a - b) / a) * 1000) / 10,
  };
});
if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify({ results })}\n`);
else
  for (const r of results)
    process.stdout.write(
      `${r.scenario}/${r.driver}: ${r.offPerSecond} schedules per CPU second without KASAN, ${r.onPerSecond} with (${r.overheadPercent}% slower; median of ${REPS} alternated runs of ${r.schedules})\n`,
    );
