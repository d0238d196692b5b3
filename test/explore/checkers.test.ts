/**
 * The checkers of src/check on hand-made states (a test may break the state; the checkers only
 * look), and each checker catching a broken driver under the explorer.
 */

import { describe, expect, it } from 'vitest';
import {
  checkCoherence,
  coherenceViolations,
  type MirrorView,
  RulesChecker,
  ShadowMemory,
  violationOfError,
} from '../../src/check/index.js';
import { KernelBug, KernelWarning } from '../../src/core/assert.js';
import { HmmError } from '../../src/core/errno.js';
import {
  correctDmirror,
  explore,
  hmm,
  LockdepBug,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  replay,
  type ScenarioDriverFactory,
  Simulator,
  type Task,
} from '../../src/index.js';
import type { DeviceFile } from '../../src/sim/devicefile.js';

const PAGE = 4096;

function machine(): { sim: Simulator; a: number; fd: DeviceFile; view: MirrorView } {
  const sim = new Simulator({ ramPages: 64, sectionPages: 64, devices: [{ memoryPages: 16 }] });
  const p = sim.createProcess();
  const a = p.mmap(2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  p.write(a, new Uint8Array(2 * PAGE).fill(7));
  const fd = sim.openDevice(0, p);
  fd.read(a, 2);
  const d = fd.dmirror;
  const view: MirrorView = { name: 'dev0', mm: p.mm, pt: d.pt, owns: (pfn) => d.mdevice.owns(pfn) };
  return { sim, a, fd, view };
}

describe('coherence', () => {
  it('passes a device that mirrors what the CPU maps, and after the driver followed an munmap', () => {
    const { sim, a, fd, view } = machine();
    expect(fd.dmirror.pt.size).toBe(2);
    expect(checkCoherence(sim.kernel, [view])).toBeNull();
    fd.process.munmap(a, 2 * PAGE);
    expect(fd.dmirror.pt.size).toBe(0);
    expect(checkCoherence(sim.kernel, [view])).toBeNull();
  });

  it('reports a device entry for another frame than the CPU maps', () => {
    const { sim, a, fd, view } = machine();
    const other = fd.process.pte(a + PAGE).pfn;
    fd.dmirror.pt.store(a / PAGE, other, false);
    expect(coherenceViolations(sim.kernel, [view])).toEqual([
      `dev0 maps 0x${a.toString(16)} (mm 1) to pfn ${other}, but the CPU maps pfn ${fd.process.pte(a).pfn} there ` +
        `(${fd.process.pte(a).text})`,
    ]);
  });

  it('reports a writable device entry over a read-only CPU entry, once no invalidation is in flight', () => {
    const { sim, a, fd, view } = machine();
    fd.process.mprotect(a, 2 * PAGE, PROT_READ);
    const pfn = fd.process.pte(a).pfn;
    fd.dmirror.pt.store(a / PAGE, pfn, true);
    expect(checkCoherence(sim.kernel, [view])).toMatch(
      /^dev0 maps 0x[0-9a-f]+ \(mm 1\) to pfn \d+ writable, but the CPU's entry is read-only \(.*\) and no invalidation covering it is in flight$/,
    );
    // while an invalidation covering it is in flight the downgrade may not have reached the device yet
    const h = hmm.mmHmm(fd.process.mm)!;
    h.inflight.push({ mm: fd.process.mm, start: a, end: a + PAGE, event: 2, blockable: true });
    expect(checkCoherence(sim.kernel, [view])).toBeNull();
  });

  it('reports a device entry where the CPU has none, unless an invalidation covering it is in flight', () => {
    const { sim, fd, view } = machine();
    const p = fd.process;
    const b = p.mmap(PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
    fd.dmirror.pt.store(b / PAGE, 0, false); // the zero page, never free
    expect(checkCoherence(sim.kernel, [view])).toBe(
      `dev0 maps 0x${b.toString(16)} (mm 1) to pfn 0, but the CPU has no entry there and no invalidation covering it is in flight`,
    );
    hmm.mmHmm(p.mm)!.inflight.push({ mm: p.mm, start: b, end: b + PAGE, event: 1, blockable: true });
    expect(checkCoherence(sim.kernel, [view])).toBeNull();
  });

  it('reports a free page even while an invalidation is in flight, and anything after exit', () => {
    const { sim, a, fd, view } = machine();
    const p = fd.process;
    const pfn = p.pte(a).pfn;
    p.munmap(a, 2 * PAGE);
    fd.dmirror.pt.store(a / PAGE, pfn, false);
    hmm.mmHmm(p.mm)!.inflight.push({ mm: p.mm, start: a, end: a + PAGE, event: 0, blockable: true });
    expect(checkCoherence(sim.kernel, [view])).toBe(
      `dev0 maps 0x${a.toString(16)} (mm 1) to pfn ${pfn}, a page that is free (PG_buddy)`,
    );
    hmm.mmHmm(p.mm)!.inflight.length = 0;
    fd.dmirror.pt.clear();
    const zero = p.mmap(PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
    p.read(zero, 1);
    p.exit();
    fd.dmirror.pt.store(zero / PAGE, 0, false);
    expect(checkCoherence(sim.kernel, [view])).toMatch(
      /after its address space was torn down \(exit_mmap\)$/,
    );
  });
});

describe('rules', () => {
  it('reports a device page-table write without the update lock, with thread, step and point', () => {
    const { sim, a, fd } = machine();
    const rules = new RulesChecker();
    const d = fd.dmirror;
    rules.watch({
      name: 'dev0',
      mirror: d.mirror,
      pt: d.pt,
      updateLockHeld: () => d.mutex.owner !== null,
    });
    sim.run(
      'locked',
      (function* (): Task {
        yield* d.mutex.lock();
        d.pt.store(a / PAGE, fd.process.pte(a).pfn, false);
        d.mutex.unlock();
      })(),
    );
    expect(rules.violations).toEqual([]);
    sim.run(
      'unlocked',
      (function* (): Task {
        yield 'somewhere';
        d.pt.erase(a / PAGE);
      })(),
    );
    expect(rules.violations).toEqual([
      `dev0: device page-table write (erase of vpn 0x${(a / PAGE).toString(16)}) without the driver's update lock held [unlocked, step 2, at 'somewhere']`,
    ]);
    expect(rules.takePending()).toBe(rules.violations[0]);
    expect(rules.takePending()).toBeNull();
  });

  it('classifies errors thrown inside threads', () => {
    expect(
      violationOfError(new KernelBug('BUG: sleeping function called from invalid context at x'), 't'),
    ).toEqual({
      checker: 'rules',
      message: 't: BUG: sleeping function called from invalid context at x',
    });
    expect(
      violationOfError(new LockdepBug('WARNING: possible circular locking dependency detected')).checker,
    ).toBe('rules');
    expect(
      violationOfError(new KernelBug('BUG: hmm_range_fault: range was unregistered (...)')).checker,
    ).toBe('rules');
    expect(violationOfError(new KernelWarning('WARNING: hmm: notifiers count underflow')).checker).toBe(
      'kernel',
    );
    expect(violationOfError(new HmmError(-14, 'HMM_DMIRROR_READ'), 'dev0')).toEqual({
      checker: 'kernel',
      message: 'dev0: unexpected HmmError: EFAULT: Bad address, HMM_DMIRROR_READ',
    });
  });
});

describe('integrity (shadow memory)', () => {
  const sim = new Simulator({ ramPages: 16, sectionPages: 64, devices: [] });

  it('compares a read with the last write, byte for byte', () => {
    const p = sim.createProcess();
    const s = new ShadowMemory();
    const bytes = new Uint8Array(PAGE).fill(5);
    s.endWrite(s.beginWrite(p.mm, 0x10000, bytes, 'CPU'), bytes, true);
    s.endRead(s.beginRead(p.mm, 0x10000, PAGE, 'dev0'), new Uint8Array(PAGE).fill(5));
    expect(s.violations).toEqual([]);
    const bad = new Uint8Array(PAGE).fill(5);
    bad[9] = 6;
    s.endRead(s.beginRead(p.mm, 0x10000, PAGE, 'dev0'), bad);
    expect(s.violations).toEqual([
      `dev0 read 0x06 at 0x10009 (mm ${p.mm.id}), but the last write there stored 0x05`,
    ]);
    // never-written anonymous memory reads as zeros
    s.endRead(s.beginRead(p.mm, 0x20000, 4, 'CPU'), new Uint8Array(4));
    expect(s.violations.length).toBe(1);
  });

  it('does not judge a page a write touched while the read was in progress', () => {
    const p = sim.createProcess();
    const s = new ShadowMemory();
    const r = s.beginRead(p.mm, 0, PAGE, 'dev0');
    const bytes = new Uint8Array(PAGE).fill(1);
    s.endWrite(s.beginWrite(p.mm, 0, bytes, 'CPU'), bytes, true);
    s.endRead(r, new Uint8Array(PAGE).fill(9));
    expect(s.violations).toEqual([]);
  });

  it('fork copies private pages and shares the pages of shared mappings', () => {
    const p = sim.createProcess();
    const priv = p.mmap(PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    const shared = p.mmap(PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
    const s = new ShadowMemory();
    const one = new Uint8Array(PAGE).fill(1);
    s.endWrite(s.beginWrite(p.mm, priv, one, 'CPU'), one, true);
    s.endWrite(s.beginWrite(p.mm, shared, one, 'CPU'), one, true);
    const child = p.fork();
    s.fork(p.mm, child.mm, s.markFork(p.mm));
    const two = new Uint8Array(PAGE).fill(2);
    s.endWrite(s.beginWrite(p.mm, priv, two, 'CPU'), two, true);
    s.endWrite(s.beginWrite(p.mm, shared, two, 'CPU'), two, true);
    s.endRead(s.beginRead(child.mm, priv, PAGE, 'child'), one);
    s.endRead(s.beginRead(child.mm, shared, PAGE, 'child'), two);
    expect(s.violations).toEqual([]);
    s.endRead(s.beginRead(child.mm, priv, PAGE, 'child'), two);
    expect(s.violations).toHaveLength(1);
  });
});

/** The reference driver, with one thing changed. */
function wrapDmirror(
  name: string,
  change: (d: ReturnType<ScenarioDriverFactory>, sim: Simulator) => ReturnType<ScenarioDriverFactory>,
): ScenarioDriverFactory {
  const f: ScenarioDriverFactory = (sim, n, p) => change(correctDmirror(sim, n, p), sim);
  Object.defineProperty(f, 'name', { value: name });
  return f;
}

describe('each checker catches a broken driver under the explorer', () => {
  it('integrity: a device that returns one wrong byte', () => {
    const driver = wrapDmirror('flipper', (d) => ({
      ...d,
      *read(addr: number, npages: number) {
        const r = yield* d.read(addr, npages);
        r.data[0] = (r.data[0] as number) ^ 0xff;
        return r;
      },
    }));
    const r = explore('fault-vs-munmap', { driver });
    expect(r.driver).toBe('flipper');
    expect(r.violation?.checker).toBe('integrity');
    expect(r.violation?.message).toMatch(
      /^dev0 read 0xef at 0x[0-9a-f]+ \(mm 1\), but the last write there stored 0x10 \[after dev0's step \d+ at '.*'\]$/,
    );
    expect(r.violation?.preemptions).toBe(0);
    expect(r.violation?.replay).toMatch(/^hmmx3:fault-vs-munmap:flipper:seed:1:0\.1\.0:\w+:\d+:hmm1:/);
    expect(replay(r.violation!.replay, { driver }).violation?.message).toBe(r.violation?.message);
    expect(() => replay(r.violation!.replay)).toThrow(/unknown driver 'flipper'/);
  });

  it('accounting: a driver that leaks a page at open', () => {
    const driver = wrapDmirror('leaky', (d, sim) => {
      sim.kernel.mem.allocPage();
      return d;
    });
    const r = explore('fault-vs-munmap', { driver });
    expect(r.schedulesExplored).toBe(1);
    expect(r.violation?.checker).toBe('accounting');
    expect(r.violation?.message).toMatch(/leak/);
    expect(r.violation?.message).toMatch(/at the end of the schedule/);
  });

  it('kernel: a BUG inside a device command', () => {
    const driver = wrapDmirror('oops', (d) => ({
      ...d,
      // biome-ignore lint/correctness/useYield: it fails before its first step
      *write(): Task<unknown> {
        throw new KernelBug('BUG: oops in the driver');
      },
    }));
    const r = explore('fault-vs-mprotect', { driver });
    expect(r.violation).toMatchObject({
      checker: 'kernel',
      message: 'dev0: BUG: oops in the driver',
      preemptions: 0,
    });
    expect(r.violation?.interleaving.at(-1)).toBe('      !! kernel: dev0: BUG: oops in the driver');
  });
});
