/**
 * Sharded DPOR (src/explore/dpor_shard.ts): what the split costs and what `--jobs` can gain.
 *
 *   npx tsx bench/dpor_shard.ts [scenario] [bound|unbounded] [shards]
 *     default: fault-munmap-migrate unbounded 2 (seq, correct driver)
 *
 * One process, CPU time (process.cpuUsage, which load moves far less than wall time): plain dpor,
 * the split search in one process (`--shard 0/1`), then each of the shards in turn. The largest
 * shard's CPU time over the split's is the wall time `--jobs N` needs on N idle cores, before worker
 * start-up. Then `hmmsim explore --jobs 1` and `--jobs N` alternated, wall and CPU time, with the
 * load average: on a shared machine the wall-time ratio says more about the load than the split.
 */
import { loadavg } from 'node:os';
import { captureStream } from '../src/cli/io.js';
import { main } from '../src/cli/main.js';
import { type ExploreOptions, explore } from '../src/explore/index.js';

const scenario = process.argv[2] ?? 'fault-munmap-migrate';
const boundArg = process.argv[3] ?? 'unbounded';
const shards = Number(process.argv[4] ?? 2);
const preemptions = boundArg === 'unbounded' ? Number.POSITIVE_INFINITY : Number(boundArg);
const base: ExploreOptions = { strategy: 'dpor', protocol: 'seq', preemptions };

function cpuMs<T>(f: () => T): [T, number] {
  const c0 = process.cpuUsage();
  const r = f();
  const c = process.cpuUsage(c0);
  return [r, Math.round((c.user + c.system) / 1000)];
}

const [plain, plainMs] = cpuMs(() => explore(scenario, base));
const [one, oneMs] = cpuMs(() => explore(scenario, { ...base, shard: { index: 0, count: 1 } }));
const parts = Array.from({ length: shards }, (_, index) =>
  cpuMs(() => explore(scenario, { ...base, shard: { index, count: shards } })),
);
const largest = Math.max(...parts.map(([, ms]) => ms));
console.log(
  JSON.stringify({
    scenario,
    bound: boundArg,
    plain: { schedules: plain.schedulesExplored, cpuMs: plainMs },
    split: { units: one.shard?.dporSplit?.units, schedules: one.schedulesExplored, cpuMs: oneMs },
    shards: parts.map(([r, ms]) => ({ schedules: r.schedulesExplored, cpuMs: ms })),
    idealJobsSpeedup: Math.round((oneMs / largest) * 100) / 100,
    load: loadavg()[0],
  }),
);

const args = ['explore', scenario, '--strategy', 'dpor', '--protocol', 'seq', '--preemptions', boundArg];
for (const jobs of [1, shards, 1, shards]) {
  const stdout = captureStream();
  const t0 = performance.now();
  const [code, ms] = await (async () => {
    const c0 = process.cpuUsage();
    const code = await main(['node', 'hmmsim', ...args, '--json', '--jobs', String(jobs)], {
      stdout,
      stderr: captureStream(),
      env: {},
    });
    const c = process.cpuUsage(c0);
    return [code, Math.round((c.user + c.system) / 1000)];
  })();
  const r = JSON.parse(stdout.text);
  console.log(
    JSON.stringify({
      jobs,
      code,
      schedules: r.schedulesExplored,
      wallMs: Math.round(performance.now() - t0),
      cpuMs: ms,
      load: loadavg()[0],
    }),
  );
}
