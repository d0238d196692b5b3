/**
 * An open /dev/hmm_dmirrorN: the device part of the test-facing contract. Each method is one ioctl
 * of lib/test_hmm.c on its driver (src/drivers/driver.ts), run to completion; `task.*` are the generator forms.
 * A failed command throws HmmError and, as the ioctl does, reports no cpages or faults.
 */

import { PAGE_SIZE } from '../core/addr.js';
import { ArgumentError, check, ENOTTY, HmmError } from '../core/errno.js';
import type { DeviceKernel, LaunchOptions } from '../device/kernel.js';
import { Dmirror } from '../drivers/dmirror/dmirror.js';
import type {
  DmirrorReadResult,
  DmirrorSnapshotResult,
  DmirrorWriteResult,
} from '../drivers/dmirror/uapi.js';
import type { Driver } from '../drivers/driver.js';
import type { DmirrorCmdResult } from '../drivers/test_hmm/uapi.js';
import { checkPolicy, type MigrationPolicy } from '../policy/policy.js';
import type { Task } from '../sched/index.js';
import { checkAddr, checkBoolean, checkBytes, checkInt, checkOptions, checkPages } from './args.js';
import { Process } from './process.js';
import type { Simulator } from './simulator.js';

/** An open device file (a dmirror fd): the ioctls a process issues to its driver, run synchronously. */
export class DeviceFile {
  /** The simulator the device belongs to. */
  readonly sim: Simulator;
  /** The process that opened it: the device mirrors this process's address space. */
  readonly process: Process;
  /** The open driver instance (src/drivers/driver.ts). */
  readonly driver: Driver;
  /** Generator forms of every ioctl, for scenarios with several threads. */
  readonly task: DeviceFileTasks;

  constructor(sim: Simulator, process: Process, driver: Driver) {
    sim.own('process', process, Process);
    process.alive();
    if (driver.mm !== process.mm) throw new ArgumentError('driver', "is not bound to the process's mm");
    this.sim = sim;
    this.process = process;
    this.driver = driver;
    this.task = new DeviceFileTasks(this);
  }

  /** The driver as the reference dmirror (its internals, for tests and tools); ArgumentError for another driver. */
  get dmirror(): Dmirror {
    if (!(this.driver instanceof Dmirror))
      throw new ArgumentError('fd', `is open on driver '${this.driver.driverName}', not dmirror`);
    return this.driver;
  }

  /** HMM_DMIRROR_READ: what the device reads at addr, through its page table. */
  read(addr: number, npages: number): DmirrorReadResult {
    return this.sim.run('HMM_DMIRROR_READ', this.task.read(addr, npages));
  }

  /**
   * HMM_DMIRROR_WRITE: the device stores `bytes` at addr. The ioctl takes npages and copies
   * npages * PAGE_SIZE bytes from the caller's buffer, so `bytes` must be whole pages (npages =
   * bytes.length / PAGE_SIZE): an empty buffer or a partial last page is an ArgumentError naming
   * `bytes`, as there is no ioctl that writes part of a page.
   */
  write(addr: number, bytes: Uint8Array): DmirrorWriteResult {
    return this.sim.run('HMM_DMIRROR_WRITE', this.task.write(addr, bytes));
  }

  /** HMM_DMIRROR_MIGRATE: move the range to device memory, then read it back through the device. */
  migrate(addr: number, npages: number): DmirrorReadResult {
    return this.sim.run('HMM_DMIRROR_MIGRATE', this.task.migrate(addr, npages));
  }

  /** HMM_DMIRROR_SNAPSHOT: one HMM_DMIRROR_PROT_* byte per page. */
  snapshot(addr: number, npages: number): DmirrorSnapshotResult {
    return this.sim.run('HMM_DMIRROR_SNAPSHOT', this.task.snapshot(addr, npages));
  }

  /** HMM_DMIRROR_MIGRATE_TO_SYS (today's test_hmm): move this device's pages in the range back to system memory. */
  migrateToSys(addr: number, npages: number): DmirrorCmdResult {
    return this.sim.run('HMM_DMIRROR_MIGRATE_TO_SYS', this.task.migrateToSys(addr, npages));
  }

  /** HMM_DMIRROR_RELEASE (today's test_hmm): evict this device's memory by pfn (migrate_device_range). */
  release(addr: number, npages: number): DmirrorCmdResult {
    return this.sim.run('HMM_DMIRROR_RELEASE', this.task.release(addr, npages));
  }

  /** HMM_DMIRROR_EXCLUSIVE (today's test_hmm): take the pages for device atomics and read them. */
  exclusive(addr: number, npages: number): DmirrorReadResult {
    return this.sim.run('HMM_DMIRROR_EXCLUSIVE', this.task.exclusive(addr, npages));
  }

  /** HMM_DMIRROR_CHECK_EXCLUSIVE (today's test_hmm): throws EPERM while a device atomic entry remains. */
  checkExclusive(addr: number, npages: number): DmirrorCmdResult {
    return this.sim.run('HMM_DMIRROR_CHECK_EXCLUSIVE', this.task.checkExclusive(addr, npages));
  }

  /** HMM_DMIRROR_FLAGS (today's test_hmm): fault injection, e.g. HMM_DMIRROR_FLAG_FAIL_ALLOC. */
  setFlags(flags: number): DmirrorCmdResult {
    return this.sim.run('HMM_DMIRROR_FLAGS', this.task.setFlags(flags));
  }

  /**
   * Runs a device kernel on `threads` device threads in p's address space (kernel.ts): the same
   * pointers as the CPU's, device faults serviced through HMM. Returns each thread's value;
   * throws DeviceKernelFault if an access could not be mapped.
   */
  launch<T>(kernel: DeviceKernel<T>, opts?: LaunchOptions): T[] {
    return this.sim.run('device launch', this.task.launch(kernel, opts));
  }

  /** What device faults migrate from now on ('none', 'page', 'block:k' or a MigrationPolicy). */
  setPolicy(policy: string | MigrationPolicy): void {
    const checked = checkPolicy(policy);
    openDriver(this).policy = checked;
  }

  /** The migration policy device faults follow now (see `setPolicy`). */
  get policy(): MigrationPolicy {
    return this.driver.policy;
  }

  /** close(2): the driver drops its mirror and its device pages. */
  close(): void {
    this.sim.run('close', this.task.close());
  }
}

/** The generator forms. Each validates its arguments before the first scheduling point. */
export class DeviceFileTasks {
  private readonly f: DeviceFile;

  constructor(f: DeviceFile) {
    this.f = f;
  }

  private open(): Driver {
    return openDriver(this.f);
  }

  /** Generator form of `DeviceFile.read`. */
  *read(addr: number, npages: number): Task<DmirrorReadResult> {
    checkCmd(addr, npages);
    return unwrap(yield* this.open().read(addr, npages), 'HMM_DMIRROR_READ');
  }

  /** Generator form of `DeviceFile.write`. */
  *write(addr: number, bytes: Uint8Array): Task<DmirrorWriteResult> {
    checkCmd(addr, writePages(bytes));
    return unwrap(yield* this.open().write(addr, bytes), 'HMM_DMIRROR_WRITE');
  }

  /** Generator form of `DeviceFile.migrate`. */
  *migrate(addr: number, npages: number): Task<DmirrorReadResult> {
    checkCmd(addr, npages);
    return unwrap(yield* this.open().migrate(addr, npages), 'HMM_DMIRROR_MIGRATE');
  }

  /** The prot array is the caller's buffer, one byte a page: npages is at most CALL_PAGES_MAX. */
  *snapshot(addr: number, npages: number): Task<DmirrorSnapshotResult> {
    checkCmd(addr, npages);
    checkPages('npages', npages);
    return unwrap(yield* this.open().snapshot(addr, npages), 'HMM_DMIRROR_SNAPSHOT');
  }

  /** Generator form of `DeviceFile.migrateToSys`. */
  *migrateToSys(addr: number, npages: number): Task<DmirrorCmdResult> {
    checkCmd(addr, npages);
    return yield* this.optional('HMM_DMIRROR_MIGRATE_TO_SYS', this.open().migrateToSys?.(addr, npages));
  }

  /** Generator form of `DeviceFile.release`. */
  *release(addr: number, npages: number): Task<DmirrorCmdResult> {
    checkCmd(addr, npages);
    return yield* this.optional('HMM_DMIRROR_RELEASE', this.open().release?.(addr, npages));
  }

  /** Generator form of `DeviceFile.exclusive`. */
  *exclusive(addr: number, npages: number): Task<DmirrorReadResult> {
    checkCmd(addr, npages);
    return yield* this.optional('HMM_DMIRROR_EXCLUSIVE', this.open().exclusive?.(addr, npages));
  }

  /** Generator form of `DeviceFile.checkExclusive`. */
  *checkExclusive(addr: number, npages: number): Task<DmirrorCmdResult> {
    checkCmd(addr, npages);
    return yield* this.optional('HMM_DMIRROR_CHECK_EXCLUSIVE', this.open().checkExclusive?.(addr, npages));
  }

  /** Generator form of `DeviceFile.setFlags`; flags is a non-negative integer (the command's npages word). */
  *setFlags(flags: number): Task<DmirrorCmdResult> {
    checkInt('flags', flags, 0, 2 ** 32 - 1);
    return yield* this.optional('HMM_DMIRROR_FLAGS', this.open().setFlags?.(flags));
  }

  /** A command a driver may lack: the VFS answers -ENOTTY for it. */
  private *optional<T>(cmd: string, op: Task<T | number> | undefined): Task<T> {
    return unwrap(op === undefined ? -ENOTTY : yield* op, cmd);
  }

  /** Generator form of `DeviceFile.launch`; `preemptible` lets the scheduler switch between device accesses. */
  *launch<T>(kernel: DeviceKernel<T>, options?: LaunchOptions & { preemptible?: boolean }): Task<T[]> {
    const opts = checkOptions<LaunchOptions & { preemptible?: boolean }>('options', options, [
      'threads',
      'preemptible',
    ]);
    if (opts.preemptible !== undefined) checkBoolean('preemptible', opts.preemptible);
    return yield* this.open().launch(kernel, opts);
  }

  /** Generator form of `DeviceFile.close`. */
  *close(): Task {
    yield* this.open().close();
  }
}

/** The driver of `f`, or an ArgumentError naming the fd if it was closed. */
function openDriver(f: DeviceFile): Driver {
  if (f.driver.closed) throw new ArgumentError('fd', 'the device file is closed');
  return f.driver;
}

function checkCmd(addr: number, npages: number): void {
  checkAddr('addr', addr, true);
  checkInt('npages', npages, 1, 2 ** 36);
}

/**
 * The npages of an HMM_DMIRROR_WRITE of `bytes`: the ioctl copies npages * PAGE_SIZE bytes from the
 * user buffer (lib/test_hmm.c, dmirror_write), so the buffer is whole pages, at least one.
 * @see lib/test_hmm.c (Linux v6.19: dmirror_write, dmirror_bounce_copy_from)
 */
function writePages(bytes: unknown): number {
  checkBytes('bytes', bytes);
  if (bytes.length === 0 || bytes.length % PAGE_SIZE !== 0)
    throw new ArgumentError(
      'bytes',
      `${bytes.length} bytes is not a whole number of pages: HMM_DMIRROR_WRITE copies npages * ${PAGE_SIZE} bytes from the buffer (pad the last page)`,
    );
  return bytes.length / PAGE_SIZE;
}

function unwrap<T>(r: T | number, cmd: string): T {
  if (typeof r === 'number') {
    check(r, cmd);
    throw new HmmError(r, cmd);
  }
  return r;
}
