/**
 * Explorer speed (issue 13, "Speed and scale"): schedules per second on fault-vs-munmap (a device
 * fault racing munmap, with the checkers after every step), on one core.
 *
 * - warm: `explore()` in this process after a warm-up of 2,000 schedules, median of 5 x 20,000, per
 *   wall second and per CPU second of this process (the machine's other load moves the first, much
 *   less the second). Target >= 25,000 per second (goal 50,000). Measured on the shipped build,
 *   dist/ (tsc's output, what the CLI and the package run), when it is newer than every file of
 *   src/; src/ through tsx (esbuild's transpile with keepNames, which wraps every named function and
 *   class in a `__name` call: 20-30% slower) is measured beside it, its reps alternated with
 *   dist/'s, and is the headline without a build.
 * - CLI: `hmmsim explore fault-vs-munmap --strategy random --schedules 2000 --json` in a fresh
 *   process (dist/: run `npm run build` first), the rate it reports, against the warm rate: the
 *   issue asks for within 2x. Its time to the first schedule is reported too, and what V8's
 *   warm-up costs in that run: the optimising compiler's time and the unoptimised rate.
 *
 * - retention: bytes of 100 finished schedules that two minor GCs cannot free, per schedule. A
 *   finished schedule's machine is garbage; when something old points at it (a hidden class made
 *   per object, a module-level WeakMap's values) every minor GC promotes it instead, and the
 *   warm rate halves. Limit 5 KB a schedule (it was ~26 KB before the fix, ~3 KB after). The same
 *   for 300 schedules of an unbounded dpor search of fault-migrate-cpu-munmap: limit 15 KB (~47 KB
 *   before the memory footprints stopped installing a closure per schedule on the pool, ~7 KB after).
 *
 *   npm run bench:explore            table lines
 *   npm run -s bench:explore -- --json   one JSON document
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { distIsFresh } from '../scripts/dist.mjs';
import { explore as exploreSrc } from '../src/explore/index.js';
import { median as medianOf } from './stats.js';

type Explore = typeof exploreSrc;

const SCENARIO = 'fault-vs-munmap';
const SCHEDULES = 20_000;
const REPS = 5;
const TARGET = 25_000;
const CLI_SCHEDULES = 2_000;
const CLI_RATIO_MAX = 2;
const RETAINED_MAX = 5_000;
const DPOR_RETAINED_SCENARIO = 'fault-migrate-cpu-munmap';
const DPOR_RETAINED_MAX = 15_000;

/** dist/'s explore when dist/ was built after the last change to src/, else null. */
async function builtExplore(): Promise<Explore | null> {
  if (!existsSync('dist/explore/index.js') || !distIsFresh()) return null;
  const mod = (await import(pathToFileURL(resolve('dist/explore/index.js')).href)) as { explore: Explore };
  return mod.explore;
}

/** Heap bytes per schedule of `run` (`n` schedules) that survive two minor GCs (see the file comment). */
function retainedPerSchedule(n: number, run: () => void): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (opts?: { type: 'minor' | 'major' }) => void;
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  run();
  gc({ type: 'minor' });
  gc({ type: 'minor' });
  return Math.max(0, process.memoryUsage().heapUsed - before) / n;
}

/**
 * The same for a dpor search (DPOR_RETAINED_SCENARIO, unbounded, its first 2,000 schedules run
 * first): a closure per schedule installed on the page-table pool by the memory footprints once
 * kept every finished machine alive through the next minor GCs, ~47 KB a schedule, and the
 * scavenger took a third of the search's time.
 */
function dporRetainedPerSchedule(explore: Explore): number {
  const opts = { strategy: 'dpor', protocol: 'seq', preemptions: Number.POSITIVE_INFINITY } as const;
  explore(DPOR_RETAINED_SCENARIO, { ...opts, schedules: 2_000 });
  return retainedPerSchedule(300, () => explore(DPOR_RETAINED_SCENARIO, { ...opts, schedules: 300 }));
}

interface Rate {
  wall: number;
  cpu: number;
}

function measureOnce(explore: Explore, seed: number): Rate {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const r = explore(SCENARIO, { strategy: 'random', schedules: SCHEDULES, seed, clock: () => 0 });
  const ns = Number(process.hrtime.bigint() - t0);
  const c = process.cpuUsage(c0);
  if (r.violation !== null) throw new Error(`${SCENARIO} found a violation: ${r.violation.message}`);
  return { wall: (r.schedulesExplored * 1e9) / ns, cpu: (r.schedulesExplored * 1e6) / (c.user + c.system) };
}

/**
 * stdout of `hmmsim explore SCENARIO --strategy random --schedules CLI_SCHEDULES --json` in a
 * fresh `node` given `nodeFlags`.
 */
function cliOutput(nodeFlags: readonly string[]): string {
  const args = [
    'bin/hmmsim.js',
    'explore',
    SCENARIO,
    '--strategy',
    'random',
    '--schedules',
    String(CLI_SCHEDULES),
  ];
  const r = spawnSync(process.execPath, [...nodeFlags, ...args, '--json'], { encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(`node ${nodeFlags.join(' ')} hmmsim explore exited with ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** The schedules per second the CLI's JSON line reports. */
function reportedRate(stdout: string): number {
  const line = stdout.split('\n').find((l) => l.startsWith('{')) as string;
  return (JSON.parse(line) as { schedulesPerSecond: number }).schedulesPerSecond;
}

/** The CLI's own report of 2,000 schedules in a fresh process, or null without dist/. */
function cliRun(): { schedulesPerSecond: number } | null {
  if (!existsSync('dist/cli/main.js')) return null;
  return { schedulesPerSecond: reportedRate(cliOutput([])) };
}

/**
 * Why the CLI's rate is what it is: the same fresh-process run under `node --trace-opt`, V8's
 * optimising-compiler jobs and their time off the main thread (the middle of each job's three
 * "took" times), and the rate of unoptimised code alone (`--no-opt --no-sparkplug`). The 2x target
 * gives the whole run `budgetMs`; when the compiler alone needs more, no cut in the explorer's
 * start-up can meet it on this runtime.
 */
function cliWarmUpCost(): { jobs: number; compileMs: number; interpretedPerSecond: number } | null {
  if (!existsSync('dist/cli/main.js')) return null;
  const jobs = [
    ...cliOutput(['--trace-opt']).matchAll(
      /^\[completed compiling .*\(target TURBOFAN\) - took [\d.]+, ([\d.]+), [\d.]+ ms\]$/gm,
    ),
  ];
  const compileMs = jobs.reduce((sum, m) => sum + Number(m[1]), 0);
  const interpretedPerSecond = reportedRate(cliOutput(['--no-opt', '--no-sparkplug']));
  return { jobs: jobs.length, compileMs: Math.round(compileMs), interpretedPerSecond };
}

const built = await builtExplore();
const explore = built ?? exploreSrc;
const measured = built === null ? 'src/ through tsx: no dist/ newer than src/, npm run build' : 'dist/';
// time to the first schedule of a fresh process (module load excluded): issue 13 asks for it
const tFirst = process.hrtime.bigint();
explore(SCENARIO, { strategy: 'random', schedules: 1, seed: 98 });
const firstScheduleMs = Number(process.hrtime.bigint() - tFirst) / 1e6;
explore(SCENARIO, { strategy: 'random', schedules: 2_000, seed: 99 });
if (built !== null) exploreSrc(SCENARIO, { strategy: 'random', schedules: 2_000, seed: 99 });
const samples: Rate[] = [];
const srcSamples: Rate[] = [];
for (let i = 1; i <= REPS; i++) {
  samples.push(measureOnce(explore, i));
  if (built !== null) srcSamples.push(measureOnce(exploreSrc, i));
}
const wall = samples.map((s) => s.wall).sort((a, b) => a - b);
const cpu = medianOf(samples.map((s) => s.cpu));
const median = medianOf(wall);
const srcMedian = built === null ? null : medianOf(srcSamples.map((s) => s.wall));
const retained = Math.round(
  retainedPerSchedule(100, () => explore(SCENARIO, { strategy: 'random', schedules: 100, seed: 7 })),
);
const dporRetained = Math.round(dporRetainedPerSchedule(explore));
const cli = cliRun();
const cliRatio = cli === null ? null : Math.round((median / cli.schedulesPerSecond) * 100) / 100;
const warmUp = cliWarmUpCost();
const budgetMs = Math.round((CLI_SCHEDULES * CLI_RATIO_MAX * 1000) / median);
const result = {
  name: `explore-${SCENARIO}`,
  measured,
  schedules: SCHEDULES,
  schedulesPerSecond: Math.round(median),
  srcSchedulesPerSecond: srcMedian === null ? null : Math.round(srcMedian),
  schedulesPerCpuSecond: Math.round(cpu),
  min: Math.round(wall[0] as number),
  max: Math.round(wall[REPS - 1] as number),
  target: TARGET,
  ok: median >= TARGET,
  firstScheduleMs: Math.round(firstScheduleMs * 10) / 10,
  retainedBytesPerSchedule: retained,
  retainedOk: retained <= RETAINED_MAX,
  dporRetainedBytesPerSchedule: dporRetained,
  dporRetainedOk: dporRetained <= DPOR_RETAINED_MAX,
  cli:
    cli === null
      ? null
      : {
          schedules: CLI_SCHEDULES,
          schedulesPerSecond: cli.schedulesPerSecond,
          warmOverCli: cliRatio,
          target: CLI_RATIO_MAX,
          ok: (cliRatio as number) <= CLI_RATIO_MAX,
          budgetMs,
          turbofanJobs: warmUp?.jobs ?? null,
          turbofanCompileMs: warmUp?.compileMs ?? null,
          interpretedSchedulesPerSecond: warmUp?.interpretedPerSecond ?? null,
        },
};
if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify({ results: [result] })}\n`);
else {
  process.stdout.write(
    `${result.name}: ${result.schedulesPerSecond} schedules/s, ${result.schedulesPerCpuSecond} per CPU second (${measured}; median of ${REPS} x ${SCHEDULES}, min ${result.min}, max ${result.max}; target >= ${TARGET}; first schedule ${result.firstScheduleMs} ms) ${result.ok ? 'ok' : 'MISSED'}\n`,
  );
  if (result.srcSchedulesPerSecond !== null)
    process.stdout.write(
      `${result.name}-src: ${result.srcSchedulesPerSecond} schedules/s (src/ through tsx, its reps alternated with dist/'s; not the target's measure)\n`,
    );
  process.stdout.write(
    `explore-retention: ${retained} bytes a schedule survive two minor GCs (limit ${RETAINED_MAX}) ${result.retainedOk ? 'ok' : 'MISSED'}\n`,
  );
  process.stdout.write(
    `explore-retention-dpor: ${dporRetained} bytes a schedule of an unbounded dpor search of ${DPOR_RETAINED_SCENARIO} survive two minor GCs (limit ${DPOR_RETAINED_MAX}) ${result.dporRetainedOk ? 'ok' : 'MISSED'}\n`,
  );
  const c = result.cli;
  process.stdout.write(
    c === null
      ? 'explore-cli: skipped (no dist/: npm run build)\n'
      : `explore-cli: ${c.schedulesPerSecond} schedules/s on ${c.schedules} in a fresh process; warm is ${c.warmOverCli}x that (target <= ${c.target}x) ${c.ok ? 'ok' : 'MISSED'}\n`,
  );
  if (c !== null)
    process.stdout.write(
      `explore-cli-warm-up: the 2x target gives ${c.schedules} schedules ${c.budgetMs} ms; V8 ran ${c.turbofanJobs} TurboFan jobs taking ${c.turbofanCompileMs} ms of compiler time in the same run (node --trace-opt), and unoptimised code alone runs ${c.interpretedSchedulesPerSecond} schedules/s (--no-opt --no-sparkplug)\n`,
    );
}
