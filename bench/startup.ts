/**
 * CLI start-up: `npm run bench:startup [-- --runs N]`. See docs/performance.md.
 *
 * Spawns `node -e 0`, `hmmsim --version` and `hmmsim --help` (the compiled bin/hmmsim.js: run
 * `npm run build` first) N times each, interleaved so load on the machine hits all three alike, and
 * prints the median wall time of each and its ratio to `node -e 0`. Exits 1 if a median of hmmsim is
 * over the 0.3 s budget (issue 14).
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { median } from './stats.js';

const BUDGET_MS = 300;

const COMMANDS: Record<string, readonly string[]> = {
  'node -e 0': ['-e', '0'],
  'hmmsim --version': ['bin/hmmsim.js', '--version'],
  'hmmsim --help': ['bin/hmmsim.js', '--help'],
};

function wallMs(args: readonly string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited with ${r.status}`);
  return ms;
}

const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' } } });
const runs = Number(values.runs);
const times: Record<string, number[]> = Object.fromEntries(Object.keys(COMMANDS).map((k) => [k, []]));
for (let i = 0; i < runs; i++)
  for (const [name, args] of Object.entries(COMMANDS)) times[name]?.push(wallMs(args));

const base = median(times['node -e 0'] ?? []);
let over = false;
for (const [name, ms] of Object.entries(times)) {
  const m = median(ms);
  if (name !== 'node -e 0' && m > BUDGET_MS) over = true;
  console.log(`${name.padEnd(18)} median ${m.toFixed(0).padStart(5)} ms  ratio ${(m / base).toFixed(2)}`);
}
console.log(`(${runs} runs each; budget ${BUDGET_MS} ms)`);
process.exitCode = over ? 1 : 0;
