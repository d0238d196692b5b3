/**
 * The catalogue of broken dmirror drivers (src/drivers/dmirror/variants.ts): for each variant, a
 * small multi-threaded run that makes it fail with an exact observation, and the same run on the
 * correct driver that does not.
 *
 * Two ways to schedule:
 * - a Script (below): "run thread X until it has yielded point P for the n-th time", leg by leg.
 *   It names positions in the code, so the same script drives the correct driver and a broken one
 *   although their paths differ; the replay string of the failing run then reproduces it exactly
 *   (ReplayStrategy). Used for the races with MADV_DONTNEED, which takes mmap_sem only for read:
 *   the seed protocol itself has a race there (reference/kernel-hmm.md §6 #3), so under 'seed'
 *   the correct driver is compared on the same schedule, not over all schedules; and for the
 *   migration race.
 * - DfsStrategy over every schedule with at most 2 preemptions, where the invalidations take
 *   mmap_sem for write (munmap, mprotect, fork) or cannot interleave with a device fault, and for
 *   MADV_DONTNEED under protocol 'seq': the broken driver fails in some schedule, the correct one
 *   in none.
 *
 * The observations are checked here with a local coherence check (device page-table entry against
 * the CPU PTE) and data reads, not with src/check.
 */

import { describe, expect, it } from 'vitest';
import { HmmError } from '../../src/core/errno.js';
import {
  checkDmirrorVariant,
  DMIRROR_VARIANT_NAMES,
  DMIRROR_VARIANTS,
  type DmirrorVariant,
} from '../../src/drivers/dmirror/variants.js';
import {
  MADV_DONTNEED,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  type Process,
  Simulator,
} from '../../src/index.js';
import { oomReapTaskMm } from '../../src/mm/oom_kill.js';
import {
  continueChoice,
  DfsStrategy,
  LockdepBug,
  ReplayStrategy,
  type RunResult,
  type Strategy,
  type Task,
  type Thread,
} from '../../src/sched/index.js';
import type { DeviceFile } from '../../src/sim/devicefile.js';

const PAGE = 4096;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
/** The point a thread yields just before it takes a dmirror's update lock. */
const LOCK = 'mutex_lock dmirror.mutex';

// -- scheduling ------------------------------------------------------------------------------------

/** [thread, point, n]: run `thread` until it has yielded `point` n times in all, or cannot run. */
type Leg = readonly [thread: string, point?: string, n?: number];

/** Points yielded so far, per thread and point (filled by `traced`). */
type Trace = Map<string, Map<string, number>>;

/**
 * A schedule written as legs. A leg ends when its thread sits at the n-th yield of its point (so
 * its next step is the one that point names), or when the thread is blocked or done. After the
 * last leg every decision continues the current thread.
 */
class Script implements Strategy {
  private leg = 0;
  constructor(
    private readonly legs: readonly Leg[],
    private readonly trace: Trace,
  ) {}

  pick(runnable: readonly Thread[], current: Thread | null): number {
    for (; this.leg < this.legs.length; this.leg++) {
      const [name, point, n = 1] = this.legs[this.leg] as Leg;
      const i = runnable.findIndex((t) => t.name === name);
      if (i < 0) continue;
      if (point !== undefined && (this.trace.get(name)?.get(point) ?? 0) >= n) continue;
      return i;
    }
    return continueChoice(runnable, current);
  }
}

/** Runs `body`, counting the points it yields in `trace` under `name`. */
function* traced<T>(name: string, body: Task<T>, trace: Trace): Task<T> {
  const seen = new Map<string, number>();
  trace.set(name, seen);
  let input: unknown;
  let error: { e: unknown } | null = null;
  for (;;) {
    const r = error === null ? body.next(input) : body.throw(error.e);
    if (r.done === true) return r.value;
    seen.set(r.value, (seen.get(r.value) ?? 0) + 1);
    try {
      input = yield r.value;
      error = null;
    } catch (e) {
      error = { e };
    }
  }
}

// -- scenarios -------------------------------------------------------------------------------------

interface World {
  sim: Simulator;
  p: Process;
  /** The device under test, opened with the variant. */
  dev: DeviceFile;
  /** A page the CPU wrote 0x5a to before the run, mapped by the CPU as pfn `pfn`. */
  a: number;
  pfn: number;
  /** A second, untouched page (a later allocation reuses the frame freed last). */
  b: number;
}

interface Options {
  /** How HMM tracks range validity (default 'seed', the v5.3 range->valid). */
  protocol?: 'seed' | 'seq';
  /** Open device 1 (correct) on the process before the device under test: a second mirror. */
  otherMirror?: boolean;
  /** The device under test maps page a before the run (a device read). */
  premapped?: boolean;
  /** Device-side writes: the device under test maps page a writable (a device write of 0x22). */
  premappedWrite?: boolean;
}

function world(variant: DmirrorVariant, opts: Options = {}): World {
  const sim = new Simulator({
    ramPages: 64,
    devices: [{ memoryPages: 8 }, { memoryPages: 8 }],
    protocol: opts.protocol ?? 'seed',
    // small memory sections: a world is built per schedule, and hot-plug cost grows with them
    sectionPages: 64,
  });
  const p = sim.createProcess();
  const a = p.mmap(2 * PAGE, RW, ANON);
  const b = a + PAGE;
  p.write(a, new Uint8Array([0x5a]));
  if (opts.otherMirror) sim.openDevice(1, p);
  const dev = sim.openDevice(0, p, { variant });
  if (opts.premapped) dev.read(a, 1);
  if (opts.premappedWrite) dev.write(a, pageOf(0x22));
  return { sim, p, dev, a, b, pfn: p.pte(a).pfn };
}

/** A page whose first byte is `byte`, the rest zero: HMM_DMIRROR_WRITE writes whole pages. */
function pageOf(byte: number): Uint8Array {
  const page = new Uint8Array(PAGE);
  page[0] = byte;
  return page;
}

/** What a device command returned: its data, or the errno it failed with. */
interface Outcome {
  data?: Uint8Array;
  errno?: number;
}

function* deviceRead(f: DeviceFile, addr: number, out: Outcome): Task {
  try {
    out.data = (yield* f.task.read(addr, 1)).data;
  } catch (e) {
    if (!(e instanceof HmmError)) throw e;
    out.errno = e.errno;
  }
}

function* deviceWrite(f: DeviceFile, addr: number, byte: number, out: Outcome): Task {
  try {
    yield* f.task.write(addr, pageOf(byte));
  } catch (e) {
    if (!(e instanceof HmmError)) throw e;
    out.errno = e.errno;
  }
}

function* deviceMigrate(f: DeviceFile, addr: number, out: Outcome): Task {
  try {
    out.data = (yield* f.task.migrate(addr, 1)).data;
  } catch (e) {
    if (!(e instanceof HmmError)) throw e;
    out.errno = e.errno;
  }
}

/**
 * The mirror invariant of hmm.h, after the run: every device entry maps the frame the CPU maps at
 * that address, and is writable only where the CPU's entry is. One line per broken entry.
 */
function incoherence(w: World): string[] {
  const bad: string[] = [];
  for (const m of w.dev.dmirror.pt.mappings()) {
    const addr = `0x${(m.vpn * PAGE).toString(16)}`;
    const pte = w.p.pte(m.vpn * PAGE);
    if ((pte.kind !== 'present' && pte.kind !== 'device-private') || pte.pfn !== m.pfn) {
      const cpu = pte.kind === 'none' ? 'nothing' : `${pte.kind} pfn ${pte.pfn}`;
      bad.push(`device maps pfn ${m.pfn} at ${addr}, the CPU maps ${cpu}`);
    } else if (m.write && !pte.write) {
      bad.push(`device maps pfn ${m.pfn} at ${addr} writable, the CPU read-only`);
    }
  }
  return bad;
}

/** One execution: spawns the threads of `threads(w)` (traced) on a fresh world, runs it. */
function runOnce(
  variant: DmirrorVariant,
  opts: Options,
  threads: (w: World) => Array<[string, Task]>,
  strategy: (trace: Trace) => Strategy,
): { w: World; res: RunResult } {
  const w = world(variant, opts);
  const trace: Trace = new Map();
  const ex = w.sim.executor(strategy(trace));
  for (const [name, body] of threads(w)) ex.spawn(name, traced(name, body, trace));
  return { w, res: ex.run() };
}

/** DFS over every schedule with at most 2 preemptions: the first failing one, and how many ran. */
function searchDfs(
  variant: DmirrorVariant,
  opts: Options,
  threads: (w: World) => Array<[string, Task]>,
  bad: (w: World, res: RunResult) => string | null,
): { executions: number; found: { message: string; replay: string } | null } {
  const dfs = new DfsStrategy(2);
  while (dfs.nextExecution()) {
    const { w, res } = runOnce(variant, opts, threads, () => dfs);
    const message = bad(w, res);
    if (message !== null) return { executions: dfs.executions, found: { message, replay: res.replay } };
  }
  return { executions: dfs.executions, found: null };
}

/** The distinct outcomes (as `classify` names them) of every schedule with at most 2 preemptions. */
function tally(
  variant: DmirrorVariant,
  opts: Options,
  threads: (w: World) => Array<[string, Task]>,
  classify: (w: World, res: RunResult) => string,
): string[] {
  const dfs = new DfsStrategy(2);
  const seen = new Set<string>();
  while (dfs.nextExecution()) {
    const { w, res } = runOnce(variant, opts, threads, () => dfs);
    seen.add(classify(w, res));
  }
  return [...seen].sort();
}

/** A failed thread's message, or the first incoherence, or null. */
function failureOrIncoherence(w: World, res: RunResult): string | null {
  if (res.status !== 'done') return res.failure?.message ?? res.deadlock?.message ?? res.status;
  return incoherence(w)[0] ?? null;
}

const frame = (w: World): string => `0x${w.a.toString(16)}`;

// -- the catalogue ---------------------------------------------------------------------------------

describe('the variant registry', () => {
  it('names every variant once, correct first, each with one line of what is wrong and what breaks', () => {
    expect(DMIRROR_VARIANT_NAMES).toEqual([
      'correct',
      'no-valid-check',
      'unlocked-valid-check',
      'no-lock-in-sync',
      'sleep-nonblockable',
      'map-after-unregister',
      'ignore-ebusy',
      'no-write-erase',
      'free-mapped-page',
      'close-unregister-first',
      'unlock-twice-on-retry',
      'ebusy-fatal',
      'vma-lookup-unlocked',
      'close-without-clear',
      'release-unlocked',
      'erase-short',
      'release-keeps-pt',
      'no-tlb-flush',
      'close-keeps-owner',
      'vma-kept-unlocked',
    ]);
    for (const name of DMIRROR_VARIANT_NAMES) {
      expect(DMIRROR_VARIANTS[name].wrong).not.toMatch(/\n/);
      expect(DMIRROR_VARIANTS[name].breaks).not.toMatch(/\n/);
    }
  });

  it('openDevice takes a variant and refuses an unknown one', () => {
    const sim = new Simulator({ ramPages: 16, devices: [{ memoryPages: 4 }] });
    const p = sim.createProcess();
    expect(sim.openDevice(0, p).dmirror.variant).toBe('correct');
    expect(sim.openDevice(0, p, { variant: 'ignore-ebusy' }).dmirror.bugs).toEqual(new Set(['ignore-ebusy']));
    expect(() => sim.openDevice(0, p, { variant: 'nope' as DmirrorVariant })).toThrow(
      /invalid argument 'variant': unknown dmirror variant "nope"; expected one of correct, no-valid-check/,
    );
    expect(checkDmirrorVariant('free-mapped-page')).toBe('free-mapped-page');
  });
});

/*
 * Device read fault racing MADV_DONTNEED of the same page, with a second mirror on the process so
 * that the invalidation pauses after it has run the device under test's sync (mirrors are called
 * newest first): dev stops at its update lock after the walk, the DONTNEED runs until it is about
 * to lock the other mirror, dev finishes, the DONTNEED finishes (zap, frame freed, end).
 */
const DONTNEED_IN_FLIGHT: readonly Leg[] = [['dev', LOCK, 2], ['cpu', LOCK, 2], ['dev'], ['cpu']];

function readVsDontneed(out: Outcome) {
  return (w: World): Array<[string, Task]> => [
    ['dev', deviceRead(w.dev, w.a, out)],
    ['cpu', w.p.task.madvise(w.a, PAGE, MADV_DONTNEED)],
  ];
}

/**
 * After a stale entry for page a: the CPU writes 0x77 to page b, which gets the frame the
 * DONTNEED freed last, and the device reads page a through its page table.
 */
function reuseAndDeviceRead(w: World): { device: number; cpu: number } {
  w.p.write(w.b, new Uint8Array([0x77]));
  return { device: w.dev.read(w.a, 1).data[0] as number, cpu: w.p.read(w.a, 1)[0] as number };
}

describe('no-valid-check and unlocked-valid-check: fault vs MADV_DONTNEED, invalidation in flight', () => {
  for (const variant of ['no-valid-check', 'unlocked-valid-check'] as const) {
    it(`${variant}: the device keeps the freed frame and reads another address's bytes through it`, () => {
      const out: Outcome = {};
      const { w, res } = runOnce(
        variant,
        { otherMirror: true },
        readVsDontneed(out),
        (t) => new Script(DONTNEED_IN_FLIGHT, t),
      );
      expect(res.status, res.failure?.message).toBe('done');
      // The device read ran before the discard finished: it saw the old bytes, legitimately.
      expect(out.data?.[0]).toBe(0x5a);
      const stale = [`device maps pfn ${w.pfn} at ${frame(w)}, the CPU maps nothing`];
      expect(incoherence(w)).toEqual(stale);
      expect(w.p.pte(w.b).pfn).toBe(-1);
      expect(reuseAndDeviceRead(w)).toEqual({ device: 0x77, cpu: 0 });
      expect(w.p.pte(w.b).pfn).toBe(w.pfn);

      // The replay string reproduces the run exactly.
      const again = runOnce(
        variant,
        { otherMirror: true },
        readVsDontneed({}),
        () => new ReplayStrategy(res.replay),
      );
      expect(again.res.replay).toBe(res.replay);
      expect(incoherence(again.w)).toEqual(stale);
    });
  }

  it('correct: the locked check sees the invalidation in flight, waits, and maps the zero page', () => {
    const out: Outcome = {};
    const { w, res } = runOnce(
      'correct',
      { otherMirror: true },
      readVsDontneed(out),
      (t) => new Script(DONTNEED_IN_FLIGHT, t),
    );
    expect(res.status, res.failure?.message).toBe('done');
    expect(out.data?.[0]).toBe(0);
    expect(incoherence(w)).toEqual([]);
    expect(w.dev.dmirror.pt.mappings()).toEqual([{ vpn: w.a / PAGE, pfn: w.p.pte(w.a).pfn, write: false }]);
    expect(reuseAndDeviceRead(w)).toEqual({ device: 0, cpu: 0 });
  });
});

/*
 * One mirror. dev walks (pfns = [frame]) and stops at its update lock; the DONTNEED starts and
 * stops before its sync takes the lock; dev's locked check fails, its second walk returns -EBUSY
 * (the range is invalid) and it stops at its update lock again; the DONTNEED finishes (valid is
 * true again); dev finishes.
 */
const EBUSY_THEN_END: readonly Leg[] = [
  ['dev', LOCK, 2],
  ['cpu', LOCK, 1],
  ['dev', LOCK, 3],
  ['cpu'],
  ['dev'],
];

describe('ignore-ebusy: fault vs MADV_DONTNEED', () => {
  it('ignore-ebusy: programs the first walk’s pfns after -EBUSY; the device maps the freed frame', () => {
    const out: Outcome = {};
    const { w, res } = runOnce('ignore-ebusy', {}, readVsDontneed(out), (t) => new Script(EBUSY_THEN_END, t));
    expect(res.status, res.failure?.message).toBe('done');
    expect(w.sim.kernel.counters.get('madv_dontneed')).toBe(1);
    const stale = [`device maps pfn ${w.pfn} at ${frame(w)}, the CPU maps nothing`];
    expect(incoherence(w)).toEqual(stale);
    // The read itself went through the entry after the frame was freed: zeros of a free page.
    expect(out.data?.[0]).toBe(0);
    expect(reuseAndDeviceRead(w)).toEqual({ device: 0x77, cpu: 0 });

    const again = runOnce('ignore-ebusy', {}, readVsDontneed({}), () => new ReplayStrategy(res.replay));
    expect(again.res.replay).toBe(res.replay);
    expect(incoherence(again.w)).toEqual(stale);
  });

  it('correct: waits on -EBUSY and walks again after the discard', () => {
    const out: Outcome = {};
    const { w, res } = runOnce('correct', {}, readVsDontneed(out), (t) => new Script(EBUSY_THEN_END, t));
    expect(res.status, res.failure?.message).toBe('done');
    expect(incoherence(w)).toEqual([]);
    expect(out.data?.[0]).toBe(0);
    expect(reuseAndDeviceRead(w)).toEqual({ device: 0, cpu: 0 });
  });
});

/** Device read of the (unmapped) page a, racing munmap of page a. */
function readVsMunmap(w: World): Array<[string, Task]> {
  return [
    ['dev', deviceRead(w.dev, w.a, {})],
    ['cpu', w.p.task.munmap(w.a, PAGE)],
  ];
}

/*
 * The same race over every schedule with at most 2 preemptions, one mirror. Under 'seed' the
 * correct driver has the seed design's own race (an invalidation that starts and ends between the
 * walk and the locked check goes unseen), so only a directed schedule tells it from a broken one;
 * under 'seq' the correct driver passes and the broken ones fail. ignore-ebusy cannot map a stale
 * page under 'seq' (the stale sequence fails the locked check, and only hmm_range_wait_until_valid
 * reads a new one): it busy-retries until DMIRROR_POPULATE_RETRIES_MAX and READ fails with EBUSY.
 */
describe('fault vs MADV_DONTNEED over every schedule with at most 2 preemptions', () => {
  function outcomes(variant: DmirrorVariant, protocol: 'seed' | 'seq'): string[] {
    let out: Outcome = {};
    const threads = (w: World) => {
      out = {};
      return readVsDontneed(out)(w);
    };
    return tally(variant, { protocol }, threads, (w, res) => {
      const m = failureOrIncoherence(w, res);
      if (m !== null) return m.replace(/0x[0-9a-f]+/g, 'ADDR').replace(/\d+/g, 'N');
      return out.errno === undefined ? 'ok' : `READ failed with errno ${out.errno}`;
    });
  }
  const STALE = 'device maps pfn N at ADDR, the CPU maps nothing';

  it("seed: the correct driver shows the seed design's race", () => {
    expect(outcomes('correct', 'seed')).toEqual([STALE, 'ok']);
  });

  it('seq: no-valid-check and unlocked-valid-check map the freed frame; the correct driver never does', () => {
    expect(outcomes('correct', 'seq')).toEqual(['ok']);
    expect(outcomes('no-valid-check', 'seq')).toEqual([STALE, 'ok']);
    expect(outcomes('unlocked-valid-check', 'seq')).toEqual([STALE, 'ok']);
  });

  it('seq: ignore-ebusy never maps a stale page, but spins on its stale sequence until READ fails with EBUSY', () => {
    expect(outcomes('ignore-ebusy', 'seq')).toEqual(['READ failed with errno 16', 'ok']);
  });
});

describe('no-lock-in-sync: fault vs munmap', () => {
  it('no-lock-in-sync: the erase in sync_cpu_device_pagetables runs without the update lock (LockdepBug)', () => {
    const r = searchDfs('no-lock-in-sync', {}, readVsMunmap, failureOrIncoherence);
    expect(r.executions).toBe(1);
    expect(r.found?.message).toMatch(
      /^WARNING: lockdep_assert_held failed: cpu does not hold mutex dmirror\.mutex at /,
    );
    const again = runOnce('no-lock-in-sync', {}, readVsMunmap, () => new ReplayStrategy(r.found!.replay));
    expect(again.res.status).toBe('failed');
    expect(again.res.failure?.thread).toBe('cpu');
    expect(again.res.failure?.error).toBeInstanceOf(LockdepBug);
  });

  it('correct: no schedule with at most 2 preemptions breaks coherence (protocol seed)', () => {
    const r = searchDfs('correct', {}, readVsMunmap, failureOrIncoherence);
    expect(r.found).toBeNull();
    expect(r.executions).toBeGreaterThan(10);
  });
});

/** The OOM reaper (non-blockable invalidation) racing a device read of a page the device maps. */
function readVsOomReaper(w: World): Array<[string, Task]> {
  return [
    ['dev', deviceRead(w.dev, w.a, {})],
    [
      'oom_reaper',
      (function* (): Task {
        yield* oomReapTaskMm(w.p.mm);
      })(),
    ],
  ];
}

describe('sleep-nonblockable: device read vs the OOM reaper', () => {
  it('sleep-nonblockable: BUG: sleeping function called from invalid context, in the reaper', () => {
    const r = searchDfs('sleep-nonblockable', { premapped: true }, readVsOomReaper, failureOrIncoherence);
    expect(r.executions).toBe(1);
    expect(r.found?.message).toMatch(
      /^BUG: sleeping function called from invalid context at mutex_lock dmirror\.mutex\nin_atomic\(\): 0, non_block: \d+, name: oom_reaper\n/,
    );
    const again = runOnce(
      'sleep-nonblockable',
      { premapped: true },
      readVsOomReaper,
      () => new ReplayStrategy(r.found!.replay),
    );
    expect(again.res.failure?.thread).toBe('oom_reaper');
    expect(again.res.failure?.message).toBe(r.found?.message);
  });

  it('correct: trylocks, erases and lets the reaper zap, in every schedule', () => {
    let reaped = 0;
    const r = searchDfs('correct', { premapped: true }, readVsOomReaper, (w, res) => {
      if (w.sim.kernel.counters.get('oom_reap') === 1) reaped++;
      return failureOrIncoherence(w, res);
    });
    expect(r.found).toBeNull();
    expect(reaped).toBe(r.executions);
  });
});

describe('map-after-unregister: fault vs munmap', () => {
  it('map-after-unregister: the locked check fails and the retry uses the poisoned range (KernelBug)', () => {
    const r = searchDfs('map-after-unregister', {}, readVsMunmap, failureOrIncoherence);
    expect(r.executions).toBe(1);
    expect(r.found?.message).toBe(
      'BUG: hmm_range_fault: range was unregistered (general protection fault on poisoned range->hmm)',
    );
    const again = runOnce(
      'map-after-unregister',
      {},
      readVsMunmap,
      () => new ReplayStrategy(r.found!.replay),
    );
    expect(again.res.failure?.thread).toBe('dev');
    expect(again.res.failure?.message).toBe(r.found?.message);
  });
});

/** A device write to page a (mapped writable on the device) racing fork. */
function writeVsFork(children: Process[]) {
  return (w: World): Array<[string, Task]> => [
    ['dev', deviceWrite(w.dev, w.a, 0x33, {})],
    [
      'cpu',
      (function* (): Task {
        children.push(yield* w.p.task.fork());
      })(),
    ],
  ];
}

/** A device write to page a (mapped writable on the device) racing mprotect(PROT_READ). */
function writeVsMprotect(w: World): Array<[string, Task]> {
  return [
    ['dev', deviceWrite(w.dev, w.a, 0x33, {})],
    ['cpu', w.p.task.mprotect(w.a, PAGE, PROT_READ)],
  ];
}

describe('no-write-erase: device write vs fork and vs mprotect', () => {
  it('no-write-erase: after fork the device writes into the page the child shares', () => {
    const children: Process[] = [];
    const r = searchDfs(
      'no-write-erase',
      { premappedWrite: true },
      writeVsFork(children),
      failureOrIncoherence,
    );
    expect(r.executions).toBe(1);
    // The first schedule: the device write (through its entry), then fork, which keeps the entry.
    expect(r.found?.message).toMatch(/^device maps pfn \d+ at 0x[0-9a-f]+ writable, the CPU read-only$/);

    // Fork first, then the device write: it lands in the page the child still shares.
    const w = world('no-write-erase', { premappedWrite: true });
    const child = w.p.fork();
    expect(child.pte(w.a)).toMatchObject({ pfn: w.pfn, write: false });
    expect(incoherence(w)).toEqual([`device maps pfn ${w.pfn} at ${frame(w)} writable, the CPU read-only`]);
    w.dev.write(w.a, pageOf(0x33));
    expect(child.read(w.a, 1)[0]).toBe(0x33);
  });

  it('no-write-erase: after mprotect(PROT_READ) the device still maps the page writable', () => {
    const r = searchDfs('no-write-erase', { premappedWrite: true }, writeVsMprotect, failureOrIncoherence);
    expect(r.found?.message).toMatch(/^device maps pfn \d+ at 0x[0-9a-f]+ writable, the CPU read-only$/);
    const again = runOnce(
      'no-write-erase',
      { premappedWrite: true },
      writeVsMprotect,
      () => new ReplayStrategy(r.found!.replay),
    );
    expect(incoherence(again.w)).toEqual([
      `device maps pfn ${again.w.pfn} at ${frame(again.w)} writable, the CPU read-only`,
    ]);
  });

  it('correct: no schedule breaks coherence; after fork the child keeps the bytes of fork time', () => {
    for (const threads of [writeVsFork([]), writeVsMprotect]) {
      const r = searchDfs('correct', { premappedWrite: true }, threads, failureOrIncoherence);
      expect(r.found).toBeNull();
      expect(r.executions).toBeGreaterThan(5);
    }
    const w = world('correct', { premappedWrite: true });
    const child = w.p.fork();
    w.dev.write(w.a, pageOf(0x33));
    expect(child.read(w.a, 1)[0]).toBe(0x22);
    expect(w.p.read(w.a, 1)[0]).toBe(0x33);
    expect(incoherence(w)).toEqual([]);
  });
});

/** MIGRATE of page b (never touched: a hole) racing a CPU write to page b. */
function migrateVsCpuWrite(out: Outcome) {
  return (w: World): Array<[string, Task]> => [
    ['dev', deviceMigrate(w.dev, w.b, out)],
    ['cpu', w.p.task.write(w.b, new Uint8Array([0x5a]))],
  ];
}

describe('free-mapped-page: migration vs CPU fault on the same page', () => {
  /*
   * dev collects the hole (its invalidation's sync is the 1st update-lock point), allocates a
   * device page and stops where migrate_vma_pages invalidates to insert it (the 2nd); the CPU
   * write fills the hole; the insert backs off; finalize_and_map runs; migrate_vma_finalize frees
   * the unused device page.
   */
  const HOLE_FILLED: readonly Leg[] = [['dev', LOCK, 2], ['cpu'], ['dev']];

  it('free-mapped-page: the device maps a device page that migrate_vma_finalize put back on the free list', () => {
    const out: Outcome = {};
    const { w, res } = runOnce(
      'free-mapped-page',
      {},
      migrateVsCpuWrite(out),
      (t) => new Script(HOLE_FILLED, t),
    );
    expect(res.status, res.failure?.message).toBe('done');
    const mdevice = w.dev.dmirror.mdevice;
    const [m] = w.dev.dmirror.pt.mappings();
    expect(mdevice.owns(m!.pfn)).toBe(true);
    expect({ calloc: mdevice.calloc, cfree: mdevice.cfree, free: mdevice.freeCount }).toEqual({
      calloc: 1,
      cfree: 1,
      free: 8,
    });
    expect(w.p.pte(w.b)).toMatchObject({ kind: 'present', write: true });
    expect(incoherence(w)).toEqual([
      `device maps pfn ${m!.pfn} at 0x${w.b.toString(16)}, the CPU maps present pfn ${w.p.pte(w.b).pfn}`,
    ]);
    // MIGRATE "succeeded" and read back the free page's zeros; the CPU wrote 0x5a there.
    expect(out).toEqual({ data: expect.any(Uint8Array) });
    expect(out.data?.[0]).toBe(0);
    expect(w.p.read(w.b, 1)[0]).toBe(0x5a);

    const again = runOnce(
      'free-mapped-page',
      {},
      migrateVsCpuWrite({}),
      () => new ReplayStrategy(res.replay),
    );
    expect(incoherence(again.w)).toEqual(incoherence(w));
  });

  it('correct: the page that did not migrate is not mapped; MIGRATE fails with ENOENT', () => {
    const out: Outcome = {};
    const { w, res } = runOnce('correct', {}, migrateVsCpuWrite(out), (t) => new Script(HOLE_FILLED, t));
    expect(res.status, res.failure?.message).toBe('done');
    expect(out).toEqual({ errno: 2 });
    expect(w.dev.dmirror.pt.size).toBe(0);
    expect(w.dev.dmirror.mdevice.freeCount).toBe(8);
    expect(w.p.read(w.b, 1)[0]).toBe(0x5a);
  });

  it('a DFS over 2 preemptions finds it, and no incoherence in the correct driver', () => {
    const outcomes = (variant: DmirrorVariant): string[] =>
      tally(variant, {}, migrateVsCpuWrite({}), (w, res) => {
        const m = failureOrIncoherence(w, res);
        return m === null ? 'ok' : m.replace(/0x[0-9a-f]+/g, 'ADDR').replace(/\d+/g, 'N');
      });
    expect(outcomes('free-mapped-page')).toEqual([
      'device maps pfn N at ADDR, the CPU maps present pfn N',
      'ok',
    ]);
    expect(outcomes('correct')).toEqual(['ok']);
  });
});
