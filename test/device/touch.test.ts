import { describe, expect, it } from 'vitest';
import {
  type DeviceKernelContext,
  DeviceKernelFault,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  Simulator,
} from '../../src/index.js';
import type { Task } from '../../src/sched/index.js';

const PAGE = 4096;
const PAGES = 24;

/**
 * A launch's `touch(addr, write)` is load8(addr) / store8(addr, 0) without a generator per access
 * (src/device/launch.ts, TouchOp): the same access. Run the same accesses both ways on identical
 * machines and compare everything a run leaves: the values read, the bytes stored, every device
 * counter and cost term, and the event log's hash (every scheduling point, in order).
 */
type Access = (ctx: DeviceKernelContext, addr: number, write: boolean) => Task<number>;

const viaLoadStore: Access = function* (ctx, addr, write) {
  if (!write) return yield* ctx.load8(addr);
  yield* ctx.store8(addr, 0);
  return 0;
};
const viaTouch: Access = (ctx, addr, write) => (ctx.touch as NonNullable<typeof ctx.touch>)(addr, write);

/** Thread t reads every page of its grid-stride share, stores 0 to byte 5 of every third, re-reads. */
function run(api: 'seed' | 'modern', access: Access, preemptible: boolean) {
  const sim = new Simulator({
    seed: 7,
    ramPages: 4096,
    kernel: api === 'modern' ? 'v6.19' : undefined,
    devices: [{ memoryPages: 64 }],
  });
  const p = sim.createProcess();
  const a = p.mmap(PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  // half the pages written by the CPU (byte 5 = 100 + i), half left for the device's first touch
  for (let i = 0; i < PAGES; i += 2) p.write(a + i * PAGE + 5, new Uint8Array([100 + i]));
  const fd = sim.openDevice(0, p, { api, policy: 'none' });
  const kernel = function* (ctx: DeviceKernelContext): Task<number> {
    let sum = 0;
    for (let i = ctx.threadId; i < PAGES; i += ctx.threads) {
      const addr = a + i * PAGE + 5;
      sum = sum * 3 + (yield* access(ctx, addr, false));
      if (i % 3 === 0) yield* access(ctx, addr, true);
      sum = sum * 3 + (yield* access(ctx, addr, false));
    }
    return sum;
  };
  const results = sim.run('launch', fd.task.launch(kernel, { threads: 4, preemptible }));
  const bytes = Array.from({ length: PAGES }, (_, i) => p.read(a + i * PAGE + 5, 1)[0] as number);
  return {
    results,
    bytes,
    counters: { ...sim.deviceCounters(0) },
    costs: sim.deviceCosts(0),
    hash: sim.log.hash(),
    events: sim.log.count,
  };
}

describe('DeviceKernelContext.touch', () => {
  for (const api of ['seed', 'modern'] as const)
    for (const preemptible of [false, true])
      it(`is load8/store8(0) to the counter, cost term and scheduling point (${api}, preemptible ${preemptible})`, () => {
        const slow = run(api, viaLoadStore, preemptible);
        const fast = run(api, viaTouch, preemptible);
        expect(fast).toEqual(slow);
        // the run did fault and replay, read what the CPU wrote, and stored
        expect(slow.counters.faults).toBeGreaterThan(0);
        expect(slow.counters.retries).toBe(slow.counters.faults);
        expect(slow.bytes.slice(0, 4)).toEqual([0, 0, 102, 0]);
        expect(slow.results.every((r) => typeof r === 'number')).toBe(true);
      });

  it('fails an access the driver cannot map as load8 does, and the context keeps touching after', () => {
    const sim = new Simulator({ seed: 1, ramPages: 1024, devices: [{ memoryPages: 16 }] });
    const p = sim.createProcess();
    const a = p.mmap(PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    const fd = sim.openDevice(0, p);
    const hole = a + 64 * PAGE;
    let caught: unknown = null;
    const results = fd.launch(function* (ctx: DeviceKernelContext): Task<number> {
      const touch = ctx.touch as NonNullable<typeof ctx.touch>;
      try {
        yield* touch(hole, false);
      } catch (e) {
        caught = e;
      }
      yield* touch(a, true);
      return yield* touch(a, false);
    });
    expect(caught).toBeInstanceOf(DeviceKernelFault);
    expect((caught as DeviceKernelFault).addr).toBe(hole);
    expect((caught as DeviceKernelFault).reason).toBe('unmapped');
    expect(results).toEqual([0]);
  });

  it('reports a misaligned or non-integer address as load8 does', () => {
    const sim = new Simulator({ seed: 1, ramPages: 1024, devices: [{ memoryPages: 16 }] });
    const p = sim.createProcess();
    const fd = sim.openDevice(0, p);
    expect(() =>
      fd.launch(function* (ctx: DeviceKernelContext): Task<number> {
        return yield* (ctx.touch as NonNullable<typeof ctx.touch>)(1.5, false);
      }),
    ).toThrow(/addr/);
  });
});
