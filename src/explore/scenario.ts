/**
 * Scenarios: a small program the explorer runs under many schedules.
 *
 * A scenario sets up a machine through the facade (processes, mappings, initial contents, open
 * devices), then names the threads that race, each a generator body (Task). The explorer builds a
 * fresh machine for every schedule, so setup must be deterministic; the threads must be too (same
 * choices, same steps).
 *
 * Everything a scenario does goes through its ScenarioContext, so that the checkers see it:
 *   ctx.openDevice(n, p)  opens device n for p with the driver under test (the explore `driver`
 *                         option) and hands it to the coherence and rules checkers;
 *   ctx.cpu(p)            CPU loads and stores and the calls that change contents (munmap,
 *                         MADV_DONTNEED, fork, exit), recorded in the integrity shadow;
 *   ctx.dev(d)            device reads, writes and migrations, likewise recorded.
 * The accessors tolerate the errors a race legitimately produces (HmmError such as EFAULT after an
 * munmap, SegvError) and return null or false for them; anything else (a KernelBug, a bad
 * argument) propagates and fails the run.
 */

import { ShadowMemory } from '../check/integrity.js';
import { RulesChecker } from '../check/rules.js';
import { PAGE_SIZE } from '../core/addr.js';
import { ArgumentError, HmmError, SegvError } from '../core/errno.js';
import type { DeviceKernel, LaunchOptions } from '../device/kernel.js';
import type { DriverView } from '../drivers/driver.js';
import type { KernelVersion } from '../mm/kernel.js';
import { MADV_DONTNEED } from '../mm/madvise.js';
import { oomReapTaskMm } from '../mm/oom_kill.js';
import type { Task } from '../sched/index.js';
import type { Process } from '../sim/process.js';
import type { Simulator } from '../sim/simulator.js';

/**
 * A driver instance opened on one process, as scenarios and checkers use it: the driver's view
 * (src/drivers/driver.ts) plus the facade's commands, which throw HmmError instead of returning
 * -errno.
 */
export type ExploreDevice = DriverView & {
  /** For messages ('dev0'); set by ScenarioContext.openDevice. */
  name: string;
  /** Device number (sim.device(n) is its memory). */
  readonly device: number;
  /** The driver's own lock, if it has one (dmirror->mutex): `dpor`'s footprints tell each device's apart. */
  readonly driverLock?: object;
  /** HMM_DMIRROR_READ: the bytes of npages at addr. Throws HmmError on failure. */
  read(
    addr: number,
    npages: number,
  ): Task<{
    /** The bytes read back: npages * PAGE_SIZE. */
    data: Uint8Array;
  }>;
  /** HMM_DMIRROR_WRITE. Throws HmmError on failure. */
  write(addr: number, bytes: Uint8Array): Task<unknown>;
  /** HMM_DMIRROR_MIGRATE (to this device's memory, then read back). Optional. */
  migrate?(
    addr: number,
    npages: number,
  ): Task<{
    /** The bytes read back: npages * PAGE_SIZE. */
    data: Uint8Array;
  }>;
  /** HMM_DMIRROR_EXCLUSIVE (today's API: take the pages for device atomics, then read). Optional. */
  exclusive?(
    addr: number,
    npages: number,
  ): Task<{
    /** The bytes read back: npages * PAGE_SIZE. */
    data: Uint8Array;
  }>;
  /** HMM_DMIRROR_RELEASE (today's API: evict the device's memory with migrate_device_range). Optional. */
  release?(addr: number, npages: number): Task<unknown>;
  /** Runs a device kernel through this device's MMU and TLB (replayable faults). Optional. */
  launch?<T>(kernel: DeviceKernel<T>, opts?: LaunchOptions & { preemptible?: boolean }): Task<T[]>;
  /** close(): unregisters the mirror. */
  close(): Task;
  /** True once closed (a scenario thread may close it; the teardown then does not). */
  readonly closed?: boolean;
  /**
   * Pages of device memory the driver manages itself (its own memremapPages, not the simulator's
   * devices) still in use. Optional; after the teardown (every device closed, every process exited)
   * the leak check requires 0.
   */
  devicePagesInUse?(): number;
};

/**
 * Opens device `device` for process `p` with a driver: the explorer's `driver` option when it is not
 * a built-in variant name. Must register the mirror (run what it needs with sim.run).
 */
export type ScenarioDriverFactory = ((
  sim: Simulator,
  device: number,
  p: Process,
) => Omit<ExploreDevice, 'name'>) & {
  /**
   * The kernel whose mm the explored machines follow (default 'v5.3', the seed's): a driver written
   * against today's API sets 'v6.19'.
   */
  readonly kernel?: KernelVersion;
  /** The API generation its driver is written against (default 'seed'): 'modern' runs `api: 'modern'` scenarios. */
  readonly api?: 'seed' | 'modern';
};

/**
 * The old name of ScenarioDriverFactory, kept because the public API exported it.
 * @deprecated Use ScenarioDriverFactory; `DriverFactory` is drivers/driver.ts's (a `Driver` from a `DriverContext`).
 */
export type DriverFactory = ScenarioDriverFactory;

/** One racing thread of a scenario: the explorer interleaves the threads' steps. */
export interface ThreadSpec {
  /** The thread's name in interleavings and reports ('dev0', 'munmap', ...). */
  name: string;
  /** The thread's work: a generator that yields at each scheduling point. */
  body: Task<unknown>;
}

/** A scenario: setup through the facade, then the racing threads. */
export interface Scenario<S = unknown> {
  /** `<a>-vs-<b>`. */
  readonly name: string;
  /** One line: the race the scenario sets up. */
  readonly description: string;
  /** Machine size (defaults: 64 pages of RAM, 2 devices of 16 pages). */
  readonly machine?: MachineOptions;
  /** 'modern': it uses today's commands (EXCLUSIVE, RELEASE), so only a modern-API driver runs it. */
  readonly api?: 'seed' | 'modern';
  /** Builds the starting state on a fresh machine (runs unscheduled); its result is handed to threads and check. */
  setup(sim: Simulator, ctx: ScenarioContext): S;
  /** The threads to race, built from setup's state. */
  threads(state: S, ctx: ScenarioContext): ThreadSpec[];
  /** Called once every thread has finished: a message if the outcome is wrong. */
  check?(state: S, ctx: ScenarioContext): string | null | undefined;
}

/** The size of a scenario's machine. */
export interface MachineOptions {
  /** System RAM in pages. Default 64. */
  ramPages?: number;
  /** Number of devices. Default 2. */
  devices?: number;
  /** Memory of each device in pages. Default 16. */
  devicePages?: number;
}

const filledPages = new Map<number, Uint8Array>();

/**
 * A page of `byte`, shared: never modify it. The explorer builds thousands of machines a second and
 * every allocation counts.
 */
export function filledPage(byte: number): Uint8Array {
  let b = filledPages.get(byte);
  if (b === undefined) {
    b = new Uint8Array(PAGE_SIZE).fill(byte);
    filledPages.set(byte, b);
  }
  return b;
}

function tolerated(e: unknown): boolean {
  return (e instanceof HmmError && !(e instanceof ArgumentError)) || e instanceof SegvError;
}

/** The scenario's handle on the machine, the driver under test and the checkers. */
export class ScenarioContext {
  /** The machine this schedule runs on. */
  readonly sim: Simulator;
  /** Every device opened through openDevice, in order (the teardown closes them). */
  readonly devices: ExploreDevice[] = [];
  /** Every process created or forked, in order (the teardown exits them). */
  readonly processes: Process[] = [];
  /** The integrity checker: what every byte should read, given the accesses so far. */
  readonly shadow = new ShadowMemory();
  /** The rules checker, subscribed to the machine's tracepoints (locking and sleeping rules). */
  readonly rules = new RulesChecker();
  /** Every tolerated error, in order: '<who>: <message>' (for the scenarios' own checks). */
  readonly failures: string[] = [];
  private readonly factory: ScenarioDriverFactory;

  constructor(sim: Simulator, factory: ScenarioDriverFactory) {
    this.sim = sim;
    this.factory = factory;
  }

  /**
   * Records a tolerated error (an HmmError or SegvError a race may legitimately cause) in
   * `failures` and returns true; false for anything else, which the caller rethrows.
   */
  tolerate(e: unknown, who: string): boolean {
    if (!tolerated(e)) return false;
    this.failures.push(`${who}: ${(e as Error).message}`);
    return true;
  }

  /** A new process (tracked, so the explorer can tear it down at the end). */
  createProcess(): Process {
    const p = this.sim.createProcess();
    this.processes.push(p);
    return p;
  }

  /** Opens device n for p with the driver under test; the checkers watch it from now on. */
  openDevice(n: number, p: Process): ExploreDevice {
    const d = this.factory(this.sim, n, p) as ExploreDevice;
    // The checkers and the trace subscribe to the machine's stream: the driver must emit to it. A
    // driver on today's API has no HmmMirror (its interval notifier needs no machine settings).
    if (d.mirror !== undefined && d.mirror.machine !== this.sim.hmm)
      throw new ArgumentError(
        'factory',
        "the driver's HmmMirror must be built with the simulator's HMM settings (new HmmMirror(ops, sim.hmm))",
      );
    if (d.pt?.trace !== this.sim.trace)
      throw new ArgumentError(
        'factory',
        "the driver's DevicePageTable must trace on the simulator's stream (new DevicePageTable(sim.trace))",
      );
    const same = this.devices.filter((x) => x.device === n).length;
    d.name = same === 0 ? `dev${n}` : `dev${n}#${same + 1}`;
    this.devices.push(d);
    this.rules.watch(d);
    return d;
  }

  /** Runs a task to completion (for setup). */
  run<T>(task: Task<T>): T {
    return this.sim.run('setup', task);
  }

  /**
   * Anonymous private read-write memory of npages, the first `written` of them (default all)
   * written by the CPU, each filled with its own byte; the rest are holes.
   */
  anonymous(
    p: Process,
    npages: number,
    written = npages,
    fill: (page: number) => number = (i) => 0x10 + i,
  ): number {
    const a = this.ctxMmap(p, npages);
    for (let i = 0; i < written; i++) {
      const ok = this.run(this.cpu(p).write(a + i * PAGE_SIZE, filledPage(fill(i))));
      if (!ok) throw new Error(`scenario setup: the first write to page ${i} failed`);
    }
    return a;
  }

  private ctxMmap(p: Process, npages: number): number {
    // PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS
    return p.mmap(npages * PAGE_SIZE, 0x3, 0x02 | 0x20);
  }

  /** CPU accesses and address-space calls of p, recorded in the shadow. */
  cpu(p: Process): CpuAccess {
    return new CpuAccess(this, p);
  }

  /** Device accesses through d, recorded in the shadow. */
  dev(d: ExploreDevice): DevAccess {
    return new DevAccess(this, d);
  }
}

/** CPU side of a scenario thread: each call returns null / false for a tolerated error. */
export class CpuAccess {
  constructor(
    private readonly ctx: ScenarioContext,
    /** The process whose accesses these are. */
    readonly p: Process,
  ) {}

  private get who(): string {
    return `CPU (pid ${this.p.pid})`;
  }

  /** Writes `bytes` at `addr` as p; false for a tolerated error (e.g. SIGSEGV). */
  *write(addr: number, bytes: Uint8Array): Task<boolean> {
    const tok = this.ctx.shadow.beginWrite(this.p.mm, addr, bytes, this.who);
    let ok = false;
    try {
      yield* this.p.task.write(addr, bytes);
      ok = true;
    } catch (e) {
      if (!this.ctx.tolerate(e, this.who)) throw e;
    } finally {
      this.ctx.shadow.endWrite(tok, bytes, ok);
    }
    return ok;
  }

  /** Reads `length` bytes at `addr` as p, checked against the shadow; null for a tolerated error. */
  *read(addr: number, length: number): Task<Uint8Array | null> {
    const tok = this.ctx.shadow.beginRead(this.p.mm, addr, length, this.who);
    try {
      const data = yield* this.p.task.read(addr, length);
      this.ctx.shadow.endRead(tok, data);
      return data;
    } catch (e) {
      if (!this.ctx.tolerate(e, this.who)) throw e;
      return null;
    }
  }

  /** MADV_DONTNEED: private anonymous pages read back as zeros. */
  *dontneed(addr: number, length: number): Task<boolean> {
    const tok = this.ctx.shadow.beginDrop(this.p.mm, addr, length, this.who);
    let ok = false;
    try {
      yield* this.p.task.madvise(addr, length, MADV_DONTNEED);
      ok = true;
    } catch (e) {
      if (!this.ctx.tolerate(e, this.who)) throw e;
    } finally {
      this.ctx.shadow.endDrop(tok, ok, false);
    }
    return ok;
  }

  /** munmap: the shadow marks the range's pages gone; false for a tolerated error. */
  *munmap(addr: number, length: number): Task<boolean> {
    const tok = this.ctx.shadow.beginDrop(this.p.mm, addr, length, this.who);
    let ok = false;
    try {
      yield* this.p.task.munmap(addr, length);
      ok = true;
    } catch (e) {
      if (!this.ctx.tolerate(e, this.who)) throw e;
    } finally {
      this.ctx.shadow.endDrop(tok, ok, true);
    }
    return ok;
  }

  /**
   * The OOM reaper on p (oom_reap_task_mm: non-blockable invalidations under mmap_sem for read).
   * True if every VMA was reaped; the shadow then reads zeros, else (a VMA skipped) unknown.
   */
  *oomReap(): Task<boolean> {
    const mm = this.p.mm;
    const toks = mm.vmas.map((v) => this.ctx.shadow.beginDrop(mm, v.start, v.end - v.start, this.who));
    let ok = false;
    try {
      ok = yield* oomReapTaskMm(mm);
    } finally {
      for (const tok of toks) this.ctx.shadow.endDrop(tok, ok, false);
    }
    return ok;
  }

  /** mprotect with PROT_* bits `prot`; false for a tolerated error. */
  *mprotect(addr: number, length: number, prot: number): Task<boolean> {
    try {
      yield* this.p.task.mprotect(addr, length, prot);
      return true;
    } catch (e) {
      if (!this.ctx.tolerate(e, this.who)) throw e;
      return false;
    }
  }

  /** fork: the child (tracked) with a copy of the parent's shadow, or null. */
  *fork(): Task<Process | null> {
    const shadow = this.ctx.shadow;
    const mark = shadow.markFork(this.p.mm);
    try {
      const child = yield* this.p.task.fork();
      this.ctx.processes.push(child);
      shadow.fork(this.p.mm, child.mm, mark);
      return child;
    } catch (e) {
      if (!this.ctx.tolerate(e, this.who)) throw e;
      return null;
    }
  }

  /** exit: p drops its mm; the shadow unmaps the pages once exit_mmap has run (maybe in a later mmput). */
  *exit(): Task {
    yield* this.p.task.exit();
    this.ctx.shadow.exit(this.p.mm);
  }
}

/** Device side of a scenario thread: each call returns null / false for a tolerated error. */
export class DevAccess {
  constructor(
    private readonly ctx: ScenarioContext,
    /** The device (driver instance) whose accesses these are. */
    readonly d: ExploreDevice,
  ) {}

  /** HMM_DMIRROR_READ of npages at `addr`, checked against the shadow; null for a tolerated error. */
  *read(addr: number, npages: number): Task<Uint8Array | null> {
    const tok = this.ctx.shadow.beginRead(this.d.mm, addr, npages * PAGE_SIZE, this.d.name);
    try {
      const r = yield* this.d.read(addr, npages);
      this.ctx.shadow.endRead(tok, r.data);
      return r.data;
    } catch (e) {
      if (!this.ctx.tolerate(e, this.d.name)) throw e;
      return null;
    }
  }

  /** HMM_DMIRROR_WRITE of `bytes` at `addr`; false for a tolerated error. */
  *write(addr: number, bytes: Uint8Array): Task<boolean> {
    const tok = this.ctx.shadow.beginWrite(this.d.mm, addr, bytes, this.d.name);
    let ok = false;
    try {
      yield* this.d.write(addr, bytes);
      ok = true;
    } catch (e) {
      if (!this.ctx.tolerate(e, this.d.name)) throw e;
    } finally {
      this.ctx.shadow.endWrite(tok, bytes, ok);
    }
    return ok;
  }

  /** Migrate to the device, then read back (the read-back is checked like a read). */
  migrate(addr: number, npages: number): Task<Uint8Array | null> {
    return this.readBack('migrate', this.d.migrate, addr, npages);
  }

  /** Take the pages for device atomics (today's API), then read back, checked like a read. */
  exclusive(addr: number, npages: number): Task<Uint8Array | null> {
    return this.readBack('exclusive', this.d.exclusive, addr, npages);
  }

  /** Evict this device's pages in the range back to system memory (today's RELEASE). */
  *release(addr: number, npages: number): Task<boolean> {
    const release = this.d.release;
    if (release === undefined) throw new Error(`${this.d.name}: the driver has no release command`);
    try {
      yield* release.call(this.d, addr, npages);
      return true;
    } catch (e) {
      if (!this.ctx.tolerate(e, this.d.name)) throw e;
      return false;
    }
  }

  /** A command that ends by reading the range through the device. */
  private *readBack(
    what: string,
    cmd: ((addr: number, npages: number) => Task<{ data: Uint8Array }>) | undefined,
    addr: number,
    npages: number,
  ): Task<Uint8Array | null> {
    if (cmd === undefined) throw new Error(`${this.d.name}: the driver has no ${what} command`);
    const tok = this.ctx.shadow.beginRead(this.d.mm, addr, npages * PAGE_SIZE, `${this.d.name} (${what})`);
    try {
      const r = yield* cmd.call(this.d, addr, npages);
      this.ctx.shadow.endRead(tok, r.data);
      return r.data;
    } catch (e) {
      if (!this.ctx.tolerate(e, this.d.name)) throw e;
      return null;
    }
  }
}
