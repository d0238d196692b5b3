/**
 * Launching a device kernel: `threads` device threads run the kernel's body, each loading and
 * storing through the address space's DeviceMmu, and one fault-handler thread (the driver's
 * interrupt work) services the replayable faults they raise, batch by batch, until every device
 * thread is done.
 *
 * A device thread that misses stalls in the fault buffer; the handler fetches a batch, the driver
 * services it (`DeviceFaultHandler.serviceFaults`: HMM populate, and migration if its policy says
 * so), the batch is replayed and each stalled access translates again. An entry the driver cancels
 * kills the launch: every thread stops at its next access and the launch throws the first
 * DeviceKernelFault, as a fatal MMU fault tears down a GPU context.
 *
 * Accesses that hit run without a scheduling point unless `preemptible` is set (an
 * option for scenarios where CPU threads interleave between two device accesses); a fault always is one.
 */

import { PAGE_SIZE } from '../core/addr.js';
import { ArgumentError, CALL_PAGES_MAX, describeValue, EFAULT, EINVAL } from '../core/errno.js';
import type { PhysMem } from '../mm/page_alloc.js';
import type { Task } from '../sched/index.js';
import { current, WaitQueue } from '../sched/index.js';
import type { FaultEntry } from './fault_buffer.js';
import {
  DEVICE_THREADS_MAX,
  type DeviceKernel,
  type DeviceKernelContext,
  DeviceKernelFault,
  type LaunchOptions,
} from './kernel.js';
import type { DeviceMmu } from './mmu.js';

/** The driver's side of a launch: service a fetched batch, setting `status` < 0 on entries it cannot map. */
export interface DeviceFaultHandler {
  /**
   * Services every entry of `batch` (HMM fault, maybe migration), setting `status` to -errno for those it
   * cannot map.
   */
  serviceFaults(batch: FaultEntry[]): Task;
  /** Services pending access-counter notifications (FaultBuffer.notify), if the driver has them. */
  serviceNotifications?(): Task;
}

/** A launch's shared state. */
class Launch {
  readonly threads: number;
  readonly preemptible: boolean;
  done = 0;
  handlerDone = false;
  fatal: DeviceKernelFault | null = null;
  readonly wq = new WaitQueue('device launch');

  constructor(threads: number, preemptible: boolean) {
    this.threads = threads;
    this.preemptible = preemptible;
  }
}

/** Thrown inside a device thread when another thread's fatal fault killed the launch. */
class Killed extends Error {}

/** Runs `kernel` on `threads` device threads; returns each thread's value in thread order. */
export function* launchKernel<T>(
  mmu: DeviceMmu,
  mem: PhysMem,
  handler: DeviceFaultHandler,
  kernel: DeviceKernel<T>,
  opts: LaunchOptions & { preemptible?: boolean } = {},
): Task<T[]> {
  const threads = opts.threads === undefined ? 1 : opts.threads;
  if (!Number.isInteger(threads) || threads < 1 || threads > DEVICE_THREADS_MAX)
    throw new ArgumentError(
      'threads',
      `expected an integer in 1..${DEVICE_THREADS_MAX}, got ${describeValue(threads)}`,
    );
  if (typeof kernel !== 'function') throw new ArgumentError('kernel', 'expected a generator function');
  const launch = new Launch(threads, opts.preemptible ?? false);
  const results = new Array<T>(threads);
  const ex = current().executor;
  const name = mmu.device.name;
  for (let t = 0; t < threads; t++) {
    const ctx = new DeviceThreadContext(mmu, mem, launch, t);
    ex.spawn(`${name}.t${t}`, deviceThread(kernel, ctx, launch, results));
  }
  ex.spawn(`${name}.fault`, faultHandlerThread(mmu, handler, launch));
  yield* launch.wq.waitEvent(() => launch.done === threads && launch.handlerDone);
  if (launch.fatal !== null) throw launch.fatal;
  return results;
}

function* deviceThread<T>(
  kernel: DeviceKernel<T>,
  ctx: DeviceThreadContext,
  launch: Launch,
  results: T[],
): Task {
  try {
    const body = kernel(ctx);
    if (body === null || typeof body !== 'object' || typeof body.next !== 'function')
      throw new ArgumentError('kernel', 'expected a generator function (function*)');
    results[ctx.threadId] = yield* body;
  } catch (e) {
    if (e instanceof DeviceKernelFault) launch.fatal ??= e;
    else if (!(e instanceof Killed)) throw e;
  } finally {
    launch.done++;
    if (launch.done === launch.threads) ctx.mmu.faults.kick();
    launch.wq.wakeUp();
  }
}

/** The driver's fault work: fetch a batch, service it, replay; until the last device thread ends. */
function* faultHandlerThread(mmu: DeviceMmu, handler: DeviceFaultHandler, launch: Launch): Task {
  const counters = mmu.device.counters;
  const cost = mmu.device.cost;
  while (yield* mmu.faults.waitForFaults(() => launch.done === launch.threads)) {
    if (mmu.faults.takeNotified() && handler.serviceNotifications !== undefined)
      yield* handler.serviceNotifications();
    if (mmu.faults.size === 0) continue;
    const batch = mmu.faults.fetch();
    counters.faultBatches++;
    cost.record('device-fault', batch.length);
    cost.faultBatch(batch.length);
    yield* handler.serviceFaults(batch);
    for (const e of batch) if (e.status < 0) counters.faultsFatal++;
    mmu.faults.replay(batch);
  }
  launch.handlerDone = true;
  launch.wq.wakeUp();
}

/** enter/proceed: the access is a scheduling point before it translates (LaunchOptions.preemptible). */
const PREEMPT = -2;
/** enter/proceed: the access missed and stalls on its fault until the replay. */
const STALLED = -1;

const TWO_32 = 2 ** 32;
/** The most bytes one loadBytes may copy (CALL_PAGES_MAX pages). */
const LOAD_BYTES_MAX = CALL_PAGES_MAX * PAGE_SIZE;
/** Pointers are exact numbers: the high word must stay below 2^21 (2^53 in all). */
const PTR_HIGH_LIMIT = 2 ** 21;

/** What a device kernel's `ctx` is: loads and stores through the MMU, faulting and replaying. */
class DeviceThreadContext implements DeviceKernelContext {
  readonly mmu: DeviceMmu;
  readonly threadId: number;
  readonly threads: number;
  /** The frames' memory (TouchOp reads and writes it too). */
  readonly mem: PhysMem;
  private readonly launch: Launch;

  constructor(mmu: DeviceMmu, mem: PhysMem, launch: Launch, threadId: number) {
    this.mmu = mmu;
    this.mem = mem;
    this.launch = launch;
    this.threadId = threadId;
    this.threads = launch.threads;
  }

  /** The Task touch() hands out, reused access after access. */
  private readonly touchOp = new TouchOp(this);

  /** Bound, so that a kernel may take it off the context (`const touch = ctx.touch`). */
  readonly touch = (addr: number, write: boolean): Task<number> => this.touchOp.arm(addr, write);

  /** The fault this thread's access stalls on (STALLED), else null. */
  private stalled: FaultEntry | null = null;

  /**
   * Starts an access: the frame holding addr with the needed permission, else PREEMPT (the access
   * is a scheduling point first) or STALLED (it missed: its fault is posted). `bytes` (default
   * `size`, the alignment) is what the access moves. The caller's loop, open-coded in each access
   * so that an access takes one generator, not one per level:
   *   let pfn = this.enter(...); while (pfn < 0) { yield this.waitPoint(pfn); pfn = this.proceed(pfn, ...); }
   */
  enter(addr: number, size: number, write: boolean, bytes = size): number {
    if (this.launch.fatal !== null) throw new Killed();
    checkAddrValue(addr);
    if (!Number.isSafeInteger(addr) || addr < 0 || addr % size !== 0)
      throw new DeviceKernelFault(EINVAL, addr, write, 'misaligned', `not a ${size}-byte aligned address`);
    if (this.launch.preemptible) return PREEMPT;
    return this.translateOrPost(addr, write, bytes);
  }

  /** What a started access yields while it waits: a preemption point, or its stall until the replay. */
  waitPoint(state: number): string {
    return state === PREEMPT ? 'device access' : this.mmu.faults.stall();
  }

  /** After a wait: the frame, or STALLED again (not replayed yet, or the retry missed and faulted anew). */
  proceed(state: number, addr: number, write: boolean, bytes: number): number {
    if (state === PREEMPT) return this.translateOrPost(addr, write, bytes);
    const entry = this.stalled as FaultEntry;
    if (!entry.replayed) return STALLED;
    this.stalled = null;
    if (this.launch.fatal !== null) throw new Killed();
    if (entry.status < 0)
      throw new DeviceKernelFault(-entry.status, addr, write, 'unmapped', 'the driver could not map it');
    this.mmu.device.counters.retries++;
    return this.translateOrPost(addr, write, bytes);
  }

  /** The translation, or STALLED with the fault raised (FaultBuffer.post). */
  private translateOrPost(addr: number, write: boolean, bytes: number): number {
    const vpn = Math.floor(addr / PAGE_SIZE);
    const pfn = this.mmu.translate(vpn, write, bytes);
    if (pfn >= 0) return pfn;
    this.stalled = this.mmu.faults.post(vpn, write);
    return STALLED;
  }

  /** The frame holding addr (enter's loop as a generator, for the accesses that are not hot). */
  private *frame(addr: number, size: number, write: boolean, bytes = size): Task<number> {
    let pfn = this.enter(addr, size, write, bytes);
    while (pfn < 0) {
      yield this.waitPoint(pfn);
      pfn = this.proceed(pfn, addr, write, bytes);
    }
    return pfn;
  }

  /** Little-endian unsigned load of `size` <= 4 bytes. */
  private *loadLe(addr: number, size: number): Task<number> {
    let pfn = this.enter(addr, size, false);
    while (pfn < 0) {
      yield this.waitPoint(pfn);
      pfn = this.proceed(pfn, addr, false, size);
    }
    return readLe(this.mem, pfn, addr, size);
  }

  private *storeLe(addr: number, size: number, value: number): Task {
    let pfn = this.enter(addr, size, true);
    while (pfn < 0) {
      yield this.waitPoint(pfn);
      pfn = this.proceed(pfn, addr, true, size);
    }
    writeLe(this.mem, pfn, addr, size, value);
  }

  load8(addr: number): Task<number> {
    return this.loadLe(addr, 1);
  }

  load16(addr: number): Task<number> {
    return this.loadLe(addr, 2);
  }

  load32(addr: number): Task<number> {
    return this.loadLe(addr, 4);
  }

  *load64(addr: number): Task<bigint> {
    const [lo, hi] = yield* this.loadWords(addr);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  *loadPtr(addr: number): Task<number> {
    const [lo, hi] = yield* this.loadWords(addr);
    if (hi >= PTR_HIGH_LIMIT)
      throw new DeviceKernelFault(EFAULT, addr, false, 'not-a-pointer', 'the value is 2^53 or more');
    return hi * TWO_32 + lo;
  }

  private *loadWords(addr: number): Task<[number, number]> {
    const pfn = yield* this.frame(addr, 8, false);
    const b = this.mem.store.contents[pfn];
    if (b === undefined) return [0, 0];
    const o = addr % PAGE_SIZE;
    const lo =
      ((b[o] as number) | ((b[o + 1] as number) << 8) | ((b[o + 2] as number) << 16)) +
      (b[o + 3] as number) * 2 ** 24;
    const hi =
      ((b[o + 4] as number) | ((b[o + 5] as number) << 8) | ((b[o + 6] as number) << 16)) +
      (b[o + 7] as number) * 2 ** 24;
    return [lo, hi];
  }

  store8(addr: number, value: number): Task {
    return this.storeLe(addr, 1, checkUint('value', value, 8));
  }

  store16(addr: number, value: number): Task {
    return this.storeLe(addr, 2, checkUint('value', value, 16));
  }

  store32(addr: number, value: number): Task {
    return this.storeLe(addr, 4, checkUint('value', value, 32));
  }

  *store64(addr: number, value: bigint): Task {
    if (typeof value !== 'bigint' || value < 0n || value >= 1n << 64n)
      throw new ArgumentError('value', `expected a bigint in 0..2^64-1, got ${describeValue(value)}`);
    yield* this.storeWords(addr, Number(value & 0xffffffffn), Number(value >> 32n));
  }

  *storePtr(addr: number, value: number): Task {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new ArgumentError(
        'value',
        `expected a pointer (an integer in 0..2^53-1), got ${describeValue(value)}`,
      );
    yield* this.storeWords(addr, value % TWO_32, Math.floor(value / TWO_32));
  }

  private *storeWords(addr: number, lo: number, hi: number): Task {
    const pfn = yield* this.frame(addr, 8, true);
    const b = this.mem.pageBytes(pfn);
    const o = addr % PAGE_SIZE;
    for (let i = 0; i < 4; i++) {
      b[o + i] = lo & 0xff;
      b[o + 4 + i] = hi & 0xff;
      lo = Math.floor(lo / 256);
      hi = Math.floor(hi / 256);
    }
  }

  *loadBytes(addr: number, length: number): Task<Uint8Array> {
    checkAddrValue(addr);
    // One copy is bounded like a facade read: the buffer is allocated before the first access faults.
    if (!Number.isInteger(length) || length < 0 || length > LOAD_BYTES_MAX)
      throw new ArgumentError(
        'length',
        `expected an integer in 0..${LOAD_BYTES_MAX}, got ${describeValue(length)}`,
      );
    const out = new Uint8Array(length);
    for (let done = 0; done < length; ) {
      const a = addr + done;
      const n = Math.min(length - done, PAGE_SIZE - (a % PAGE_SIZE));
      const pfn = yield* this.frame(a, 1, false, n);
      this.mem.readBytes(pfn, a % PAGE_SIZE, out, done, n);
      done += n;
    }
    return out;
  }

  *storeBytes(addr: number, bytes: Uint8Array): Task {
    checkAddrValue(addr);
    if (!(bytes instanceof Uint8Array)) throw new ArgumentError('bytes', 'expected a Uint8Array');
    for (let done = 0; done < bytes.length; ) {
      const a = addr + done;
      const n = Math.min(bytes.length - done, PAGE_SIZE - (a % PAGE_SIZE));
      const pfn = yield* this.frame(a, 1, true, n);
      this.mem.writeBytes(pfn, a % PAGE_SIZE, bytes, done, n);
      done += n;
    }
  }
}

/** A value that is no address at all is the kernel author's mistake; a bad address is the device's fault. */
function checkAddrValue(addr: unknown): void {
  if (typeof addr !== 'number' || !Number.isInteger(addr))
    throw new ArgumentError('addr', `expected an integer address, got ${describeValue(addr)}`);
}

function checkUint(name: string, v: number, bits: number): number {
  if (!Number.isInteger(v) || v < 0 || v >= 2 ** bits)
    throw new ArgumentError(name, `expected an integer in 0..2^${bits}-1, got ${describeValue(v)}`);
  return v;
}

/**
 * DeviceThreadContext.touch's Task: load8 (write false) or store8 of 0 as an iterator the thread's
 * context reuses, so that a replayed access costs no generator object; its steps are enter/proceed's
 * loop, exactly as loadLe's and storeLe's. Only one can be in flight per thread, which touch's
 * contract (run it at once, before the next access) guarantees.
 */
class TouchOp implements Task<number> {
  private readonly ctx: DeviceThreadContext;
  private addr = 0;
  private write = false;
  /** enter/proceed's state while the access waits (< 0), 0 before the first step. */
  private state = 0;
  /** The one result object it returns (yield* reads it at once, and nothing else sees it). */
  private readonly result: { value: string | number; done: boolean } = { value: '', done: false };

  constructor(ctx: DeviceThreadContext) {
    this.ctx = ctx;
  }

  arm(addr: number, write: boolean): this {
    this.addr = addr;
    this.write = write;
    this.state = 0;
    return this;
  }

  next(): IteratorResult<string, number> {
    const ctx = this.ctx;
    const pfn =
      this.state === 0
        ? ctx.enter(this.addr, 1, this.write)
        : ctx.proceed(this.state, this.addr, this.write, 1);
    const r = this.result;
    if (pfn < 0) {
      this.state = pfn;
      r.done = false;
      r.value = ctx.waitPoint(pfn);
    } else {
      this.state = 0;
      r.done = true;
      if (this.write) writeLe(ctx.mem, pfn, this.addr, 1, 0);
      r.value = this.write ? 0 : readLe(ctx.mem, pfn, this.addr, 1);
    }
    return r as IteratorResult<string, number>;
  }

  return(value: number): IteratorResult<string, number> {
    this.state = 0;
    return { value, done: true };
  }

  throw(e: unknown): IteratorResult<string, number> {
    this.state = 0;
    throw e;
  }

  [Symbol.iterator](): this {
    return this;
  }
}

/** The little-endian value of `size` <= 4 bytes at addr in frame pfn (0 for a page without contents). */
function readLe(mem: PhysMem, pfn: number, addr: number, size: number): number {
  const b = mem.store.contents[pfn];
  if (b === undefined) return 0;
  const o = addr % PAGE_SIZE;
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + (b[o + i] as number);
  return v;
}

/** Stores `value` as `size` <= 4 little-endian bytes at addr in frame pfn. */
function writeLe(mem: PhysMem, pfn: number, addr: number, size: number, value: number): void {
  const b = mem.pageBytes(pfn);
  const o = addr % PAGE_SIZE;
  for (let i = 0; i < size; i++) {
    b[o + i] = value & 0xff;
    value = Math.floor(value / 256);
  }
}
