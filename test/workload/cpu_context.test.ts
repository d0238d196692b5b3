import { describe, expect, it } from 'vitest';
import { ArgumentError, HmmError } from '../../src/core/errno.js';
import type { DeviceKernel, DeviceKernelContext } from '../../src/device/kernel.js';
import { DeviceKernelFault } from '../../src/device/kernel.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/mmap.js';
import type { Task } from '../../src/sched/task.js';
import type { Process } from '../../src/sim/process.js';
import { cpuContext, runOnCpu } from '../../src/workload/cpu_context.js';
import { PG, setup, thrown } from './helpers.js';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

/** Runs one context call to completion, as `yield*` would in a kernel. */
function run<T>(task: Task<T>): T {
  let step = task.next();
  while (!step.done) step = task.next();
  return step.value;
}

function mapped(): { p: Process; a: number; ctx: DeviceKernelContext } {
  const { p } = setup();
  const a = p.mmap(2 * PG, RW, ANON);
  return { p, a, ctx: cpuContext(p) };
}

describe('workload/cpu_context: loads and stores through p.read/p.write', () => {
  it('loads little-endian values of every width', () => {
    const { p, a, ctx } = mapped();
    p.write(a, Uint8Array.from([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x88]));
    expect(run(ctx.load8(a + 7))).toBe(0x88);
    expect(run(ctx.load16(a + 2))).toBe(0x0403);
    expect(run(ctx.load32(a + 4))).toBe(0x88070605);
    expect(run(ctx.load64(a))).toBe(0x8807060504030201n);
    expect([...run(ctx.loadBytes(a + 1, 3))]).toEqual([2, 3, 4]);
  });

  it("touch is load8, or store8 of 0 returning 0, as the launch's", () => {
    const { p, a, ctx } = mapped();
    p.write(a, Uint8Array.from([0x5a, 0x66]));
    expect(run(ctx.touch(a, false))).toBe(0x5a);
    expect(run(ctx.touch(a + 1, true))).toBe(0);
    expect([...p.read(a, 2)]).toEqual([0x5a, 0]);
  });

  it('stores little-endian values of every width', () => {
    const { p, a, ctx } = mapped();
    run(ctx.store8(a, 0xab));
    run(ctx.store16(a + 2, 0xbeef));
    run(ctx.store32(a + 4, 0xdeadbeef));
    run(ctx.store64(a + 8, 0x0102030405060708n));
    run(ctx.storePtr(a + 16, 0x7f12_3456_7890));
    run(ctx.storeBytes(a + PG - 1, Uint8Array.from([9, 9])));
    expect([...p.read(a, 24)]).toEqual([
      0xab, 0, 0xef, 0xbe, 0xef, 0xbe, 0xad, 0xde, 8, 7, 6, 5, 4, 3, 2, 1, 0x90, 0x78, 0x56, 0x34, 0x12, 0x7f,
      0, 0,
    ]);
    expect([...p.read(a + PG - 1, 2)]).toEqual([9, 9]);
    expect(run(ctx.loadPtr(a + 16))).toBe(0x7f12_3456_7890);
  });

  it('a load or store is one completed step: the context never yields', () => {
    const { ctx, a } = mapped();
    const t = ctx.load32(a);
    expect(t.next()).toEqual({ done: true, value: 0 });
  });

  it('faults on misaligned accesses as the device does, and allows unaligned byte ranges', () => {
    const { ctx, a } = mapped();
    const cases: [() => unknown, boolean][] = [
      [() => run(ctx.load16(a + 1)), false],
      [() => run(ctx.load32(a + 2)), false],
      [() => run(ctx.load64(a + 4)), false],
      [() => run(ctx.loadPtr(a + 12)), false],
      [() => run(ctx.store32(a + 1, 0)), true],
      [() => run(ctx.store64(a + 4, 0n)), true],
      [() => run(ctx.storePtr(a + 4, 0)), true],
    ];
    for (const [access, write] of cases) {
      const e = thrown(DeviceKernelFault, access);
      expect([e.reason, e.write, e.code]).toEqual(['misaligned', write, 'EINVAL']);
    }
    // As on the device, an address that is no non-negative integer counts as misaligned.
    expect(thrown(DeviceKernelFault, () => run(ctx.load32(-4))).reason).toBe('misaligned');
    expect(thrown(DeviceKernelFault, () => run(ctx.load8(0.5))).reason).toBe('misaligned');
    expect(run(ctx.loadBytes(a + 3, 5))).toHaveLength(5);
  });

  it('turns a CPU SIGSEGV into an unserviceable device fault', () => {
    const { p } = setup();
    const ro = p.mmap(PG, PROT_READ, ANON);
    const ctx = cpuContext(p);
    const miss = thrown(DeviceKernelFault, () => run(ctx.load32(0x1000)));
    expect([miss.reason, miss.addr, miss.write, miss.code]).toEqual(['unmapped', 0x1000, false, 'EFAULT']);
    const denied = thrown(DeviceKernelFault, () => run(ctx.store32(ro, 1)));
    expect([denied.reason, denied.addr, denied.write]).toEqual(['unmapped', ro, true]);
  });

  it('refuses a u64 that is no pointer', () => {
    const { p, a, ctx } = mapped();
    p.write(a, Uint8Array.from([0, 0, 0, 0, 0, 0, 0x20, 0]));
    const e = thrown(DeviceKernelFault, () => run(ctx.loadPtr(a)));
    expect([e.reason, e.addr]).toEqual(['not-a-pointer', a]);
    expect(run(ctx.load64(a))).toBe(2n ** 53n);
  });

  it('rejects values that do not fit the store', () => {
    const { ctx, a } = mapped();
    expect(thrown(ArgumentError, () => run(ctx.store8(a, 256))).argument).toBe('value');
    expect(thrown(ArgumentError, () => run(ctx.store32(a, -1))).argument).toBe('value');
    expect(thrown(ArgumentError, () => run(ctx.store64(a, 1n << 64n))).argument).toBe('value');
    expect(thrown(ArgumentError, () => run(ctx.storePtr(a, 2 ** 53))).argument).toBe('value');
  });
});

describe('workload/cpu_context: runOnCpu', () => {
  const whoAmI: DeviceKernel<string> = function* (ctx) {
    yield 'a kernel may yield on its own';
    return `${ctx.threadId}/${ctx.threads}`;
  };

  it("runs every thread's generator to completion, in thread order", () => {
    const { p } = setup();
    expect(runOnCpu(p, whoAmI, 3)).toEqual(['0/3', '1/3', '2/3']);
    expect(runOnCpu(p, whoAmI)).toEqual(['0/1']);
  });

  it('lets threads see each other’s stores, since they run one after another', () => {
    const { p } = setup();
    const a = p.mmap(PG, RW, ANON);
    const add: DeviceKernel<number> = function* (ctx) {
      const v = yield* ctx.load32(a);
      yield* ctx.store32(a, v + ctx.threadId + 1);
      return v;
    };
    expect(runOnCpu(p, add, 4)).toEqual([0, 1, 3, 6]);
  });

  it('rejects bad thread counts and ids', () => {
    const { p } = setup();
    for (const n of [0, 1025, 1.5])
      expect(thrown(ArgumentError, () => runOnCpu(p, whoAmI, n)).argument).toBe('threads');
    expect(thrown(ArgumentError, () => cpuContext(p, 2, 2)).argument).toBe('threadId');
    expect(thrown(HmmError, () => cpuContext(p, -1, 2)).code).toBe('EINVAL');
  });
});
