/**
 * What hmm-tests.c defines before its first TEST_F, for the ported tests: its constants, struct
 * hmm_buffer, the system calls as the C test makes them (0 or -errno; mmap: an address or
 * MAP_FAILED), hmm_dmirror_cmd and its wrappers, and the `int *` loops over buffers.
 *
 * @see tools/testing/selftests/mm/hmm-tests.c (Linux v6.19 and the torvalds tip after it)
 */

import { alignUp, PAGE_SIZE, PMD_SIZE } from '../core/addr.js';
import { EINVAL, HmmError } from '../core/errno.js';
import {
  HMM_DMIRROR_CHECK_EXCLUSIVE,
  HMM_DMIRROR_EXCLUSIVE,
  HMM_DMIRROR_FLAGS,
  HMM_DMIRROR_MIGRATE_TO_DEV,
  HMM_DMIRROR_MIGRATE_TO_SYS,
  HMM_DMIRROR_READ,
  HMM_DMIRROR_RELEASE,
  HMM_DMIRROR_SNAPSHOT,
  HMM_DMIRROR_WRITE,
} from '../drivers/test_hmm/uapi.js';
import type { RunResult, Task } from '../sched/index.js';
import type { DeviceFile } from '../sim/devicefile.js';
import type { Process } from '../sim/process.js';
import type { SimFile } from '../sim/simfile.js';
import type { SelftestContext } from './harness.js';
import { ASSERT_EQ, ASSERT_INTS, ASSERT_NE } from './harness.js';

export const HMM_BUFFER_SIZE = 1024 << 12;
export const TWOMEG = 1 << 21;
/** NTIMES of [5.10+] (256 in 5.8). */
export const NTIMES = 10;
/** The schedule seeds anon_teardown runs its READ/munmap race under. */
export const ANON_TEARDOWN_SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];

export const MAP_FAILED = -1;
export const INT = 4;

/** struct hmm_buffer. `ptr` is a user address (0 = NULL); `mirror` is the test's malloc'd buffer. */
export interface HmmBuffer {
  ptr: number;
  mirror: Uint8Array;
  size: number;
  file: SimFile | null;
  cpages: number;
  faults: number;
}

export function hmmBuffer(size: number, mirrorSize = size): HmmBuffer {
  return { ptr: 0, mirror: new Uint8Array(mirrorSize), size, file: null, cpages: 0, faults: 0 };
}

/** The mirror seen as `int *`. */
export function mirrorInts(buffer: HmmBuffer): Int32Array {
  return new Int32Array(buffer.mirror.buffer, buffer.mirror.byteOffset, buffer.mirror.byteLength >> 2);
}

export function fillInts(ints: Int32Array, f: (i: number) => number): void {
  for (let i = 0; i < ints.length; i++) ints[i] = f(i);
}

/** `for (i = from; i < to; ++i) ((int *)addr)[i] = f(i);` as CPU stores by process p. */
export function writeInts(
  p: Process,
  addr: number,
  from: number,
  to: number,
  f: (i: number) => number,
): void {
  const ints = new Int32Array(to - from);
  for (let i = from; i < to; i++) ints[i - from] = f(i);
  p.write(addr + from * INT, new Uint8Array(ints.buffer));
}

/** The ints [0, n) at addr, read by the CPU of process p (faulting pages back as needed). */
export function readInts(p: Process, addr: number, n: number): Int32Array {
  const bytes = p.read(addr, n * INT);
  return new Int32Array(bytes.buffer, bytes.byteOffset, n);
}

/** `ALIGN(HMM_BUFFER_SIZE, page_size) >> page_shift`, asserted non-zero. */
export function bufferPages(ctx: SelftestContext): number {
  const npages = alignUp(HMM_BUFFER_SIZE, ctx.pageSize) / ctx.pageSize;
  ASSERT_NE(npages, 0, 'npages');
  return npages;
}

// -- system calls as the C test makes them: 0 or -errno (mmap: the address or MAP_FAILED) --------

export function sys(call: () => unknown): number {
  try {
    call();
    return 0;
  } catch (e) {
    if (e instanceof HmmError) return -e.errno;
    throw e;
  }
}

export function mmap(p: Process, size: number, prot: number, flags: number, file?: SimFile): number {
  try {
    return p.mmap(size, prot, flags, file, 0);
  } catch (e) {
    if (e instanceof HmmError) return MAP_FAILED;
    throw e;
  }
}

export function munmap(p: Process, addr: number, len: number): number {
  return sys(() => p.munmap(addr, len));
}

export function mprotect(p: Process, addr: number, len: number, prot: number): number {
  return sys(() => p.mprotect(addr, len, prot));
}

export function madvise(p: Process, addr: number, len: number, advice: number): number {
  return sys(() => p.madvise(addr, len, advice));
}

/** read_pmd_pagesize() (vm_util.c): the THP size, /sys/kernel/mm/transparent_hugepage/hpage_pmd_size. */
export function readPmdPagesize(): number {
  return PMD_SIZE;
}

export function hmmBufferFree(p: Process, buffer: HmmBuffer): void {
  if (buffer.ptr !== 0 && !p.exited) munmap(p, buffer.ptr, buffer.size);
}

/** hmm_create_file: an O_TMPFILE of `size` bytes (ftruncate). */
export function hmmCreateFile(ctx: SelftestContext, size: number): SimFile {
  return ctx.sim.createFile(size);
}

/**
 * hmm_dmirror_cmd as a generator: the ioctl on the device file, with cmd.addr = buffer->ptr and
 * cmd.ptr = buffer->mirror. Returns 0 and updates cpages/faults, or returns -errno and leaves them
 * alone (a failed ioctl copies nothing back). Requests are today's numbers (lib/test_hmm_uapi.h);
 * each is the facade's method of the same name, whichever API generation the fd is open on (a
 * command the seed-API dmirror lacks answers -ENOTTY).
 */
export function* hmmDmirrorCmdTask(
  fd: DeviceFile,
  request: number,
  buffer: HmmBuffer,
  npages: number,
): Task<number> {
  try {
    const r = yield* dmirrorIoctl(fd, request, buffer, npages);
    if (r === null) return -EINVAL;
    if (r.data !== undefined) {
      buffer.mirror.set(r.data.subarray(0, Math.min(r.data.length, buffer.mirror.length)));
    }
    buffer.cpages = r.cpages;
    buffer.faults = r.faults;
    return 0;
  } catch (e) {
    if (e instanceof HmmError) return -e.errno;
    throw e;
  }
}

/** What one ioctl copies back: cmd.cpages, cmd.faults and what it wrote to cmd.ptr. */
export interface CmdOut {
  cpages: number;
  faults: number;
  data?: Uint8Array;
}

/** dmirror_fops_unlocked_ioctl's dispatch, on the facade; null for an unknown request. */
export function* dmirrorIoctl(
  fd: DeviceFile,
  request: number,
  buffer: HmmBuffer,
  npages: number,
): Task<CmdOut | null> {
  const t = fd.task;
  const addr = buffer.ptr;
  switch (request) {
    case HMM_DMIRROR_READ:
      return yield* t.read(addr, npages);
    case HMM_DMIRROR_WRITE:
      return yield* t.write(addr, buffer.mirror.subarray(0, npages * PAGE_SIZE));
    case HMM_DMIRROR_MIGRATE_TO_DEV:
      return yield* t.migrate(addr, npages);
    case HMM_DMIRROR_MIGRATE_TO_SYS:
      return yield* t.migrateToSys(addr, npages);
    case HMM_DMIRROR_SNAPSHOT: {
      const r = yield* t.snapshot(addr, npages);
      return { cpages: r.cpages, faults: 0, data: r.prot };
    }
    case HMM_DMIRROR_EXCLUSIVE:
      return yield* t.exclusive(addr, npages);
    case HMM_DMIRROR_CHECK_EXCLUSIVE:
      return yield* t.checkExclusive(addr, npages);
    case HMM_DMIRROR_RELEASE:
      return yield* t.release(addr, npages);
    case HMM_DMIRROR_FLAGS:
      // cmd.npages carries the flags (HMM_DMIRROR_FLAG_FAIL_ALLOC)
      return yield* t.setFlags(npages);
    default:
      return null;
  }
}

export function hmm_dmirror_cmd(fd: DeviceFile, request: number, buffer: HmmBuffer, npages: number): number {
  return fd.sim.run('hmm_dmirror_cmd', hmmDmirrorCmdTask(fd, request, buffer, npages));
}

/** HMM_DMIRROR_MIGRATE (5.8–5.19) = HMM_DMIRROR_MIGRATE_TO_DEV (6.0+). */
export function hmm_migrate_sys_to_dev(fd: DeviceFile, buffer: HmmBuffer, npages: number): number {
  return hmm_dmirror_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, buffer, npages);
}

/** HMM_DMIRROR_MIGRATE_TO_SYS (6.1+). */
export function hmm_migrate_dev_to_sys(fd: DeviceFile, buffer: HmmBuffer, npages: number): number {
  return hmm_dmirror_cmd(fd, HMM_DMIRROR_MIGRATE_TO_SYS, buffer, npages);
}

/** `ASSERT_EQ(ret, 0); ASSERT_EQ(buffer->cpages, npages); ASSERT_EQ(buffer->faults, faults)`. */
export function assertCmd(ret: number, buffer: HmmBuffer, npages: number, faults?: number): void {
  ASSERT_EQ(ret, 0, 'ret');
  ASSERT_EQ(buffer.cpages, npages, 'buffer->cpages');
  if (faults !== undefined) ASSERT_EQ(buffer.faults, faults, 'buffer->faults');
}

export function describeRun(r: RunResult): string {
  if (r.status === 'done') return 'done';
  return `${r.status}: ${r.failure?.message ?? r.deadlock?.message ?? ''}`;
}

/**
 * The device writes `ptr[i] = i` over npages: mirror = i; WRITE → 0, cpages npages, one fault
 * round; then the CPU reads back ptr == i (the first `size` bytes of the buffer).
 */
export function deviceWritesInts(ctx: SelftestContext, buffer: HmmBuffer, npages: number): void {
  const size = npages * ctx.pageSize;
  // Initialize data that the device will write to buffer->ptr.
  fillInts(mirrorInts(buffer).subarray(0, size / INT), (i) => i);

  // Simulate a device writing system memory.
  const ret = hmm_dmirror_cmd(ctx.fd, HMM_DMIRROR_WRITE, buffer, npages);
  assertCmd(ret, buffer, npages, 1);

  // Check what the device wrote.
  ASSERT_INTS(readInts(ctx.proc, buffer.ptr, size / INT), (i) => i, 'ptr');
}

/** MIGRATE_TO_DEV of npages: 0 and cpages npages. */
export function migrateToDev(ctx: SelftestContext, buffer: HmmBuffer, npages: number): void {
  const ret = hmm_migrate_sys_to_dev(ctx.fd, buffer, npages);
  assertCmd(ret, buffer, npages);
}

/** MIGRATE_TO_DEV of npages whose ints are i: 0, cpages npages, and the mirror reads back i. */
export function migrateInts(ctx: SelftestContext, buffer: HmmBuffer, npages: number): void {
  // Migrate memory to device.
  migrateToDev(ctx, buffer, npages);
  // Check what the device read.
  ASSERT_INTS(mirrorInts(buffer), (i) => i, 'mirror');
}
