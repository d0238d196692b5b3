/**
 * Sweep speed (issue 11, "Speed"): `hmmsim sweep` over a 1 GiB footprint at the 8 default
 * oversubscription levels under the 5 default policies, on `--jobs` worker threads (default: the
 * core count), timed on the wall clock. Reports the wall time against the 60 s budget and the
 * simulated device faults per second per core (device faults of all configurations / wall seconds
 * / jobs), and, per configuration, its share.
 *
 *   npm run bench:sweep                                 the table
 *   npm run -s bench:sweep -- --json                    one JSON document
 *   npm run bench:sweep -- --footprint 128MiB --workload hotspot --iterations 1 --jobs 2
 *   npm run bench:sweep -- --per-fault                  only the per-fault comparison below
 *
 * The per-fault comparison (issue 11: a policy-only run's cost per fault at most device-fault-in's):
 * one configuration of a policy-only sweep (stream, 64 MiB, policy none, contents off, one
 * iteration: every page faults once, through the CPU first touch HMM's fault path does) timed per
 * device fault, against bench/sim.ts's device-fault-in at 16,384 pages, in the same process.
 */
import { availableParallelism } from 'node:os';
import { runSweepCli } from '../src/cli/sweep.js';
import type { SweepRecord } from '../src/schema/sweep.js';
import { checkSweepSpec, runSweepPoint, sweepConfigurations } from '../src/sweep/index.js';
import { deviceFaultIn } from './sim.js';

const BUDGET_S = 60;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

/** ns per device fault of a policy-only configuration, best of `reps`, and device-fault-in's ns per page. */
function perFault(reps = 3): { policyOnlyNsPerFault: number; deviceFaultInNsPerPage: number; ratio: number } {
  const spec = checkSweepSpec({
    workload: 'stream',
    footprint: 64 * 2 ** 20,
    policies: ['none'],
    oversubscription: [1],
    iterations: 1,
  });
  const [config] = sweepConfigurations(spec);
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < reps; i++) {
    const t = process.hrtime.bigint();
    const p = runSweepPoint(spec, config as NonNullable<typeof config>);
    best = Math.min(best, Number(process.hrtime.bigint() - t) / p.faults);
  }
  const dfi = deviceFaultIn(16_384, { reps, warmup: 1 }).nsPerPage;
  return {
    policyOnlyNsPerFault: Math.round(best),
    deviceFaultInNsPerPage: Math.round(dfi),
    ratio: Math.round((best / dfi) * 100) / 100,
  };
}

if (process.argv.includes('--per-fault')) {
  const r = perFault();
  process.stdout.write(
    process.argv.includes('--json')
      ? `${JSON.stringify({ results: [{ name: 'sweep-per-fault', ...r, ok: r.ratio <= 1 }] })}\n`
      : `sweep-per-fault: policy-only run ${r.policyOnlyNsPerFault} ns/fault, device-fault-in ${r.deviceFaultInNsPerPage} ns/page: ${r.ratio}x (target <= 1x) ${r.ratio <= 1 ? 'ok' : 'MISSED'}\n`,
  );
  process.exit(0);
}

const opts = {
  workload: arg('workload', 'stream'),
  footprint: arg('footprint', '1GiB'),
  iterations: arg('iterations', '2'),
  jobs: arg('jobs', String(availableParallelism())),
  json: true,
};
let text = '';
const t0 = process.hrtime.bigint();
const code = await runSweepCli(opts, (line) => {
  text += line;
});
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
if (code !== 0) throw new Error(`hmmsim sweep exited ${code}`);
const record = JSON.parse(text) as SweepRecord;
const faults = record.points.reduce((n, p) => n + p.faults, 0);
const cpuFaults = record.points.reduce((n, p) => n + p.cpuFaults, 0);
const jobs = Number(opts.jobs);
const result = {
  name: `sweep-${opts.workload}-${opts.footprint}`,
  configurations: record.points.length,
  iterations: Number(opts.iterations),
  jobs,
  wallSeconds: Math.round(seconds * 10) / 10,
  deviceFaults: faults,
  cpuFaults,
  deviceFaultsPerSecondPerCore: Math.round(faults / seconds / jobs),
  budgetSeconds: BUDGET_S,
  ok: seconds <= BUDGET_S,
};
if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify({ results: [result] })}\n`);
else
  process.stdout.write(
    `${result.name}: ${result.configurations} configurations (iterations ${result.iterations}) on ${jobs} jobs in ${result.wallSeconds} s ` +
      `(budget ${BUDGET_S} s) ${result.ok ? 'ok' : 'MISSED'}; ${faults.toLocaleString('en-US')} device faults, ` +
      `${cpuFaults.toLocaleString('en-US')} CPU faults; ${result.deviceFaultsPerSecondPerCore.toLocaleString('en-US')} device faults/s/core\n`,
  );
