/**
 * Generated scenarios: `gen-<seed>-<index>` is a scenario composed from a small grammar under a
 * seed, so the explorer searches scenarios as well as schedules (`hmmsim explore --generate N`).
 * The name is the whole recipe: scenarioByName rebuilds the same scenario from it, so a replay
 * string recorded on one replays like any other.
 *
 *   scenario := setup, device thread, CPU thread
 *   setup    := 2 pages of private anonymous memory, each written by the CPU or a hole; device 0
 *               open; optionally the pages migrated to it first
 *   device   := 1-2 of  read | write | migrate          (of both pages)
 *   cpu      := 1-2 of  read | write | munmap | dontneed | mprotect(PROT_READ)   (of one or both)
 */

import { PAGE_SIZE } from '../core/addr.js';
import { ArgumentError } from '../core/errno.js';
import { Prng } from '../core/prng.js';
import { PROT_READ } from '../mm/mmap.js';
import type { Task } from '../sched/index.js';
import type { Scenario, ScenarioContext } from './scenario.js';
import { filledPage } from './scenario.js';
import { LEN, NPAGES, type OneDevice } from './scenario_setup.js';

const NAME = /^gen-(\d{1,15})-(\d{1,6})$/;
/** Generated scenarios per seed: indexes are 0..GENERATE_MAX - 1. */
export const GENERATE_MAX = 1_000_000;

type Op = (s: OneDevice, ctx: ScenarioContext) => Task<unknown>;

const BOTH = new Uint8Array(LEN).fill(0xb7);

const DEVICE_OPS: readonly [string, Op][] = [
  ['read', (s, ctx) => ctx.dev(s.dev).read(s.a, NPAGES)],
  ['write', (s, ctx) => ctx.dev(s.dev).write(s.a, BOTH)],
  ['migrate', (s, ctx) => ctx.dev(s.dev).migrate(s.a, NPAGES)],
];

/** A CPU operation on page `page` (or both pages for null). */
function cpuOps(page: number | null): [string, Op][] {
  const off = page === null ? 0 : page * PAGE_SIZE;
  const len = page === null ? LEN : PAGE_SIZE;
  const at = page === null ? '' : `@${page}`;
  return [
    [`read${at}`, (s, ctx) => ctx.cpu(s.p).read(s.a + off, len)],
    [`write${at}`, (s, ctx) => ctx.cpu(s.p).write(s.a + off, page === null ? BOTH : filledPage(0xc7))],
    [`munmap${at}`, (s, ctx) => ctx.cpu(s.p).munmap(s.a + off, len)],
    [`dontneed${at}`, (s, ctx) => ctx.cpu(s.p).dontneed(s.a + off, len)],
    [`mprotect${at}`, (s, ctx) => ctx.cpu(s.p).mprotect(s.a + off, len, PROT_READ)],
  ];
}

/** 1 or 2 operations drawn from `ops`, run one after the other. */
function sequence(prng: Prng, ops: readonly [string, Op][]): [string, Op] {
  const n = 1 + prng.below(2);
  const chosen = Array.from({ length: n }, () => prng.pick(ops));
  const name = chosen.map((c) => c[0]).join('+');
  const run: Op = function* (s, ctx) {
    for (const [, op] of chosen) yield* op(s, ctx);
  };
  return [name, run];
}

/** The generated scenario `gen-<seed>-<index>`. */
export function generateScenario(seed: number, index: number): Scenario<OneDevice> {
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new ArgumentError('seed', `expected a non-negative safe integer, got ${seed}`);
  if (!Number.isInteger(index) || index < 0 || index >= GENERATE_MAX)
    throw new ArgumentError('index', `expected an integer in 0..${GENERATE_MAX - 1}, got ${index}`);
  // One stream per (seed, index): the seed's first draw, times GENERATE_MAX, plus the index.
  const prng = new Prng(new Prng(seed).nextU32() * GENERATE_MAX + index);
  const written = prng.below(NPAGES + 1);
  const premigrate = prng.below(4) === 0;
  const dev = sequence(prng, DEVICE_OPS);
  const page = prng.below(3);
  const cpu = sequence(prng, cpuOps(page === 2 ? null : page));
  const setupText = `${written} of ${NPAGES} pages written${premigrate ? ', migrated to device 0' : ''}`;
  return {
    name: `gen-${seed}-${index}`,
    description: `generated: ${setupText}; dev0 ${dev[0]} vs cpu ${cpu[0]}`,
    setup: (_sim, ctx) => {
      const p = ctx.createProcess();
      const a = ctx.anonymous(p, NPAGES, written);
      const s = { p, a, dev: ctx.openDevice(0, p) };
      if (premigrate) ctx.run(ctx.dev(s.dev).migrate(a, NPAGES));
      return s;
    },
    threads: (s, ctx) => [
      { name: 'dev0', body: dev[1](s, ctx) },
      { name: 'cpu', body: cpu[1](s, ctx) },
    ],
  };
}

/** The generated scenario a name stands for, or undefined if it is not `gen-<seed>-<index>`. */
export function generatedByName(name: string): Scenario | undefined {
  const m = NAME.exec(name);
  if (m === null) return undefined;
  return generateScenario(Number(m[1]), Number(m[2])) as Scenario;
}

/** The first `n` generated scenarios of `seed`. */
export function generateScenarios(seed: number, n: number): Scenario[] {
  return Array.from({ length: n }, (_, i) => generateScenario(seed, i) as Scenario);
}
