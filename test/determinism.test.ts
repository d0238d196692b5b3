/**
 * Determinism (DESIGN.md decision 2): the same seed and inputs give the same event log, byte for
 * byte (compared through its hash); different seeds of a racy scenario explore different
 * interleavings; and the replay string of a run reproduces it exactly, down to the final memory.
 */

import { describe, expect, it } from 'vitest';
import { checkAccounting } from '../src/check/accounting.js';
import {
  decodeReplay,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  type Process,
  RandomStrategy,
  ReplayStrategy,
  type RunResult,
  Simulator,
  type Strategy,
} from '../src/index.js';

const PAGE = 4096;
const RW = PROT_READ | PROT_WRITE;

interface Outcome {
  hash: string;
  events: number;
  result: RunResult;
  /** Memory read back after the multi-threaded part, per region. */
  bytes: Uint8Array[];
  violations: string[];
}

function fill(len: number, byte: number): Uint8Array {
  return new Uint8Array(len).fill(byte);
}

function ramp(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (seed + i) % 251;
  return b;
}

function finish(sim: Simulator, result: RunResult, regions: Array<[Process, number, number]>): Outcome {
  const bytes = regions.map(([p, addr, len]) => p.read(addr, len));
  return {
    hash: sim.log.hash(),
    events: sim.log.count,
    result,
    bytes,
    violations: checkAccounting(sim.kernel),
  };
}

/**
 * A fixed workload: single-threaded facade calls (mmap, pwrite, write, fork, mprotect, munmap),
 * then five threads at once — a parent and a child writing their COW-shared private memory, both
 * writing one shared region, and a reader — under `strategy`, then a read-back of every region.
 */
function workload(seed: number, strategy: Strategy): Outcome {
  const sim = new Simulator({ seed, logEvents: 0, ramPages: 1024 });
  const p = sim.createProcess();
  const f = sim.createFile(4 * PAGE);
  f.pwrite(ramp(3 * PAGE, 7), 100);
  const priv = p.mmap(8 * PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS);
  const shared = p.mmap(4 * PAGE, RW, MAP_SHARED | MAP_ANONYMOUS);
  const file = p.mmap(4 * PAGE, RW, MAP_PRIVATE, f, 0);
  p.write(priv, ramp(5 * PAGE, 1));
  p.read(file, 2 * PAGE);
  const child = p.fork();
  p.mprotect(file + 3 * PAGE, PAGE, PROT_READ);
  child.munmap(priv + 7 * PAGE, PAGE);

  const ex = sim.executor(strategy);
  ex.spawn('parent-priv', p.task.write(priv + 100, ramp(6 * PAGE, 2)));
  ex.spawn('child-priv', child.task.write(priv, ramp(7 * PAGE, 3)));
  ex.spawn('parent-shared', p.task.write(shared, fill(4 * PAGE, 0xaa)));
  ex.spawn('child-shared', child.task.write(shared + 10, fill(4 * PAGE - 10, 0xbb)));
  ex.spawn('child-file', child.task.write(file + PAGE, ramp(2 * PAGE, 4)));
  ex.spawn('reader', p.task.read(file, 4 * PAGE));
  const result = ex.run();
  return finish(sim, result, [
    [p, priv, 8 * PAGE],
    [child, priv, 7 * PAGE],
    [p, shared, 4 * PAGE],
    [child, file, 4 * PAGE],
  ]);
}

/** Two threads of one process storing different bytes over the same four shared pages. */
function racyStores(seed: number, strategy: Strategy): Outcome {
  const sim = new Simulator({ seed, logEvents: 0, ramPages: 256 });
  const p = sim.createProcess();
  const a = p.mmap(4 * PAGE, RW, MAP_SHARED | MAP_ANONYMOUS);
  const ex = sim.executor(strategy);
  ex.spawn('A', p.task.write(a, fill(4 * PAGE, 0xaa)));
  ex.spawn('B', p.task.write(a, fill(4 * PAGE, 0xbb)));
  const result = ex.run();
  return finish(sim, result, [[p, a, 4 * PAGE]]);
}

function expectSameRun(x: Outcome, y: Outcome): void {
  expect(y.result.status).toBe(x.result.status);
  expect(y.hash).toBe(x.hash);
  expect(y.events).toBe(x.events);
  expect(y.result.steps).toBe(x.result.steps);
  expect(y.bytes.length).toBe(x.bytes.length);
  x.bytes.forEach((b, i) => {
    expect(Buffer.from(y.bytes[i] as Uint8Array).equals(Buffer.from(b)), `region ${i}`).toBe(true);
  });
}

describe('determinism', () => {
  it('the same seed gives the same event-log hash, schedule and memory', () => {
    for (const seed of [0, 1, 0xdeadbeef]) {
      const first = workload(seed, new RandomStrategy(seed));
      const second = workload(seed, new RandomStrategy(seed));
      expect(first.result.status).toBe('done');
      expect(first.violations).toEqual([]);
      expect(first.events).toBeGreaterThan(100);
      expect(decodeReplay(first.result.replay).length).toBeGreaterThan(0);
      expectSameRun(first, second);
      expect(second.result.replay).toBe(first.result.replay);
    }
  });

  it('the workload is correct under every seed: COW keeps parent and child apart', () => {
    for (const seed of [2, 3, 4]) {
      const o = workload(seed, new RandomStrategy(seed));
      const [parentPriv, childPriv, shared, childFile] = o.bytes as [
        Uint8Array,
        Uint8Array,
        Uint8Array,
        Uint8Array,
      ];
      const wantParent = ramp(8 * PAGE, 0).fill(0);
      wantParent.set(ramp(5 * PAGE, 1));
      wantParent.set(ramp(6 * PAGE, 2), 100);
      expect(Buffer.from(parentPriv).equals(Buffer.from(wantParent))).toBe(true);
      expect(Buffer.from(childPriv).equals(Buffer.from(ramp(7 * PAGE, 3)))).toBe(true);
      // Each shared byte holds one of the two stores; which one depends on the interleaving.
      expect(shared.every((b, i) => b === 0xaa || (i >= 10 && b === 0xbb))).toBe(true);
      expect(Buffer.from(childFile.subarray(PAGE, 3 * PAGE)).equals(Buffer.from(ramp(2 * PAGE, 4)))).toBe(
        true,
      );
      expect(o.violations).toEqual([]);
    }
  });

  it('different seeds of a racy two-thread scenario give different interleavings', () => {
    const outcomes = [1, 2, 3, 4, 5, 6, 7, 8].map((seed) => racyStores(seed, new RandomStrategy(seed)));
    for (const o of outcomes) expect(o.result.status).toBe('done');
    const hashes = new Set(outcomes.map((o) => o.hash));
    expect(hashes.size).toBeGreaterThan(1);
    const replays = new Set(outcomes.map((o) => o.result.replay));
    expect(replays.size).toBeGreaterThan(1);
    // The race is visible in memory too: some seed leaves a page of each writer's bytes.
    const mixed = outcomes.some((o) => {
      const b = o.bytes[0] as Uint8Array;
      return b.includes(0xaa) && b.includes(0xbb);
    });
    expect(mixed).toBe(true);
  });

  it('a replay string reproduces the run: the same hash and the same final memory', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const racy = racyStores(seed, new RandomStrategy(seed));
      expectSameRun(racy, racyStores(seed, new ReplayStrategy(racy.result.replay)));
      const full = workload(seed, new RandomStrategy(seed));
      const again = workload(seed, new ReplayStrategy(full.result.replay));
      expectSameRun(full, again);
      expect(again.result.replay).toBe(full.result.replay);
    }
  });
});
