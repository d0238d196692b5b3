/**
 * Explorer speed: schedules per second on fault-vs-munmap (a device fault racing munmap, with the
 * checkers after every step), on one core, after a warm-up. The target is >= 5,000/s.
 *
 *   npm run bench:explore            a table line
 *   npm run -s bench:explore -- --json   one JSON document
 */
import { explore } from '../src/explore/index.js';
import { median as medianOf } from './stats.js';

const SCENARIO = 'fault-vs-munmap';
const SCHEDULES = 20_000;
const REPS = 5;
const TARGET = 5_000;

function measureOnce(seed: number): number {
  const t0 = process.hrtime.bigint();
  const r = explore(SCENARIO, { strategy: 'random', schedules: SCHEDULES, seed, clock: () => 0 });
  const ns = Number(process.hrtime.bigint() - t0);
  if (r.violation !== null) throw new Error(`${SCENARIO} found a violation: ${r.violation.message}`);
  return (r.schedulesExplored * 1e9) / ns;
}

// time to the first schedule of a fresh process (module load excluded): issue 13 asks for it
const tFirst = process.hrtime.bigint();
explore(SCENARIO, { strategy: 'random', schedules: 1, seed: 98 });
const firstScheduleMs = Number(process.hrtime.bigint() - tFirst) / 1e6;
explore(SCENARIO, { strategy: 'random', schedules: 2_000, seed: 99 });
const samples = Array.from({ length: REPS }, (_, i) => measureOnce(i + 1)).sort((a, b) => a - b);
const median = medianOf(samples);
const result = {
  name: `explore-${SCENARIO}`,
  schedules: SCHEDULES,
  schedulesPerSecond: Math.round(median),
  min: Math.round(samples[0] as number),
  max: Math.round(samples[REPS - 1] as number),
  target: TARGET,
  ok: median >= TARGET,
  firstScheduleMs: Math.round(firstScheduleMs * 10) / 10,
};
if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify({ results: [result] })}\n`);
else
  process.stdout.write(
    `${result.name}: ${result.schedulesPerSecond} schedules/s (median of ${REPS} x ${SCHEDULES}, min ${result.min}, max ${result.max}; target >= ${TARGET}; first schedule ${result.firstScheduleMs} ms) ${result.ok ? 'ok' : 'MISSED'}\n`,
  );
