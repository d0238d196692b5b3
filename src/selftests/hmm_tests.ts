/**
 * tools/testing/selftests/mm/hmm-tests.c (selftests/vm/ before ≈v6.3) ported to hmmsim, as a table
 * of named tests (xv6 usertests style) that vitest and `hmmsim selftest [name...]` both run.
 *
 * Each entry is one TEST_F of the kernel file, under its name, with the kernel's sizes and its
 * exact asserts on return codes, cpages, faults and bytes (buffers are filled with Int32 values
 * `ptr[i] = i` exactly as the C test does, and mirrors are compared as Int32 values). The bare
 * name is today's form of the test; a variant is `test@variant`: an older kernel's form
 * (`migrate_fault@5.8`, `today: false`) or another schedule explorer (`anon_teardown@dfs`).
 * hmm_tests_modern.ts and hmm_tests_thp.ts hold the tests that need later kernels' features; this
 * file's HMM_SELFTESTS puts all of them in the kernel file's order.
 *
 * Every entry has one body, run on both API generations (harness.ts). The modern run (today's
 * test_hmm) asserts what the kernel test asserts. On the seed run (v5.3) an entry whose test the
 * seed API cannot express says why (`seedCannot`); where v5.3 semantics differ from what a test
 * asserts, the entry says `seed: 'diverges'`, names the docs/fidelity.md row, and `run` asserts
 * what the seed implements, with the kernel's asserts in `upstream` (what the modern run runs;
 * they fail on the seed). Where hmmsim's seed follows the release that fixed a v5.3 bug, as for
 * the zero page (v5.5) and the VM_WRITE check (v5.4), the test passes as written and there is no
 * `upstream`.
 *
 * Constants: HMM_BUFFER_SIZE = 1024 pages, TWOMEG = 2 MiB, NTIMES = 10 (the [5.10+] value; 5.8
 * had 256, which would only repeat the same rounds 25 times longer).
 *
 * The test process is `ctx.proc`; `ptr` accesses are CPU loads and stores through its page tables
 * (proc.read/proc.write), so they fault exactly as the C test's do. `buffer->mirror` is a plain
 * byte buffer, as the C test's malloc'd mirror is.
 *
 * @see tools/testing/selftests/mm/hmm-tests.c (Linux v5.8 … v6.19 and the torvalds tip after it,
 * commit 0eaed89c), docs/kernel-hmm.md §5
 */

import { alignUp } from '../core/addr.js';
import { EFAULT, EINVAL, ENOENT, EPERM } from '../core/errno.js';
import { Prng } from '../core/prng.js';
import {
  HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL,
  HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE,
  HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL,
  HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE,
  HMM_DMIRROR_PROT_ERROR,
  HMM_DMIRROR_PROT_NONE,
  HMM_DMIRROR_PROT_READ,
  HMM_DMIRROR_PROT_WRITE,
  HMM_DMIRROR_PROT_ZERO,
  HMM_DMIRROR_READ,
  HMM_DMIRROR_SNAPSHOT,
  HMM_DMIRROR_WRITE,
} from '../drivers/test_hmm/uapi.js';
import { MADV_HUGEPAGE } from '../mm/madvise.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_NONE, PROT_READ, PROT_WRITE } from '../mm/mmap.js';
import type { Strategy, Task } from '../sched/index.js';
import { DfsStrategy, PctStrategy, RandomStrategy, schedule } from '../sched/index.js';
import type { Selftest, SelftestContext } from './harness.js';
import { ASSERT_EQ, ASSERT_GE, ASSERT_INTS, ASSERT_NE, withContext } from './harness.js';
import {
  ANON_TEARDOWN_SEEDS,
  assertCmd,
  bufferPages,
  describeRun,
  deviceWritesInts,
  fillInts,
  HMM_BUFFER_SIZE,
  type HmmBuffer,
  hmm_dmirror_cmd,
  hmm_migrate_dev_to_sys,
  hmm_migrate_sys_to_dev,
  hmmBuffer,
  hmmBufferFree,
  hmmCreateFile,
  hmmDmirrorCmdTask,
  INT,
  MAP_FAILED,
  madvise,
  migrateInts,
  mirrorInts,
  mmap,
  mprotect,
  munmap,
  NTIMES,
  readInts,
  readPmdPagesize,
  writeInts,
} from './hmm_helpers.js';
import { benchmarkThpMigration } from './hmm_tests_benchmark.js';
import {
  anonWriteHugetlbfs,
  compound,
  exclusive,
  exclusiveCow,
  exclusiveMprotect,
  hmmGupTest,
  migrateRelease,
} from './hmm_tests_modern.js';
import { HMM_THP_SELFTESTS } from './hmm_tests_thp.js';

export type { Selftest, SelftestContext } from './harness.js';
export { ANON_TEARDOWN_SEEDS, HMM_BUFFER_SIZE, NTIMES, TWOMEG } from './hmm_helpers.js';

// -- the tests, in hmm-tests.c order ---------------------------------------------------------------

/** anon_read_prot's body; the kernel expects -EFAULT, v5.3 returns -EPERM. */
function anonReadProt(ctx: SelftestContext, expected: number): void {
  const p = ctx.proc;
  const npages = bufferPages(ctx);
  const size = npages * ctx.pageSize;
  const buffer = hmmBuffer(size);
  buffer.ptr = mmap(p, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  ASSERT_NE(buffer.ptr, MAP_FAILED, 'buffer->ptr');

  // Initialize buffer in system memory.
  writeInts(p, buffer.ptr, 0, size / INT, (i) => i);
  // Initialize mirror buffer so we can verify it isn't written.
  fillInts(mirrorInts(buffer), (i) => -i);

  // Protect buffer from reading.
  let ret = mprotect(p, buffer.ptr, size, PROT_NONE);
  ASSERT_EQ(ret, 0, 'ret');

  // Simulate a device reading system memory.
  ret = hmm_dmirror_cmd(ctx.fd, HMM_DMIRROR_READ, buffer, npages);
  ASSERT_EQ(ret, expected, 'ret');

  // Allow CPU to read the buffer so we can check it.
  ret = mprotect(p, buffer.ptr, size, PROT_READ);
  ASSERT_EQ(ret, 0, 'ret');
  ASSERT_INTS(readInts(p, buffer.ptr, size / INT), (i) => i, 'ptr');

  // Check what the device read.
  ASSERT_INTS(mirrorInts(buffer), (i) => -i, 'mirror');
  hmmBufferFree(p, buffer);
}

/**
 * anon_write_child / anon_write_child_shared. The parent waits for the child, so the child's part
 * runs first: it checks it sees the parent's values, opens its own fd on /dev/hmm_dmirror0 (the
 * inherited one is bound to the parent's mm), has the device write -i, and exits. The parent then
 * checks its buffer: unchanged (COW) for a private mapping, -i for a shared one.
 */
function anonWriteChild(
  ctx: SelftestContext,
  opts: { shared: boolean; form619: boolean; migrate: boolean; useThp: boolean },
): void {
  const p = ctx.proc;
  // [6.19]: npages = ALIGN(use_thp ? read_pmd_pagesize() : HMM_BUFFER_SIZE, page_size) >> page_shift
  const npages = alignUp(opts.useThp ? readPmdPagesize() : HMM_BUFFER_SIZE, ctx.pageSize) / ctx.pageSize;
  ASSERT_NE(npages, 0, 'npages');
  const size = npages * ctx.pageSize;
  // The base form maps `size`; the 6.19 form maps 2 * size and, for THP, uses the aligned half.
  const mapSize = opts.form619 ? size * 2 : size;
  const buffer = hmmBuffer(mapSize, size);
  buffer.ptr = mmap(
    p,
    mapSize,
    PROT_READ | PROT_WRITE,
    (opts.shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS,
  );
  ASSERT_NE(buffer.ptr, MAP_FAILED, 'buffer->ptr');
  const oldPtr = buffer.ptr;
  if (opts.useThp) {
    const map = alignUp(buffer.ptr, size);
    const ret = madvise(p, map, size, MADV_HUGEPAGE);
    ASSERT_EQ(ret, 0, 'ret');
    buffer.ptr = map;
  }

  // Initialize buffer->ptr so we can tell if it is written.
  writeInts(p, buffer.ptr, 0, size / INT, (i) => i);
  // Initialize data that the device will write to buffer->ptr.
  fillInts(mirrorInts(buffer), (i) => -i);

  if (opts.migrate) {
    const ret = hmm_migrate_sys_to_dev(ctx.fd, buffer, npages);
    assertCmd(ret, buffer, npages);
  }

  const child = p.fork();
  withContext('in the child', () => {
    // Check that we see the parent's values.
    ASSERT_INTS(readInts(child, buffer.ptr, size / INT), (i) => i, 'ptr');
    if (!opts.migrate) ASSERT_INTS(mirrorInts(buffer), (i) => -i, 'mirror');

    // The child process needs its own mirror to its own mm.
    const childFd = ctx.openDevice(0, child);
    // Simulate a device writing system memory.
    const ret = hmm_dmirror_cmd(childFd, HMM_DMIRROR_WRITE, buffer, npages);
    assertCmd(ret, buffer, npages, 1);

    // Check what the device wrote.
    if (!opts.migrate) ASSERT_INTS(readInts(child, buffer.ptr, size / INT), (i) => -i, 'ptr');
    childFd.close();
    child.exit();
  });

  // waitpid(pid, &ret, 0); ASSERT_EQ(WIFEXITED(ret), 1);
  ASSERT_EQ(child.exited, true, 'WIFEXITED(ret)');
  // Private: the parent's buffer did not change. Shared: it did.
  ASSERT_INTS(readInts(p, buffer.ptr, size / INT), (i) => (opts.shared ? -i : i), 'ptr');
  buffer.ptr = oldPtr;
  hmmBufferFree(p, buffer);
}

/** migrate_fault, [5.8] form: migrate, then the CPU reads everything back. */
function migrateFault58(ctx: SelftestContext): void {
  const p = ctx.proc;
  const npages = bufferPages(ctx);
  const size = npages * ctx.pageSize;
  const buffer = hmmBuffer(size);
  buffer.ptr = mmap(p, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  ASSERT_NE(buffer.ptr, MAP_FAILED, 'buffer->ptr');
  writeInts(p, buffer.ptr, 0, size / INT, (i) => i);

  // Migrate memory to device.
  const ret = hmm_migrate_sys_to_dev(ctx.fd, buffer, npages);
  assertCmd(ret, buffer, npages);
  ASSERT_INTS(mirrorInts(buffer), (i) => i, 'mirror');

  // Fault pages back to system memory and check them.
  ASSERT_INTS(readInts(p, buffer.ptr, size / INT), (i) => i, 'ptr');
  hmmBufferFree(p, buffer);
}

/**
 * migrate_fault, [5.10+] form: migrate, fault the first half back, migrate the mix again. On v5.3
 * the second migration's invalidation carries no owner, so it erases the device's own entries for
 * the half still on the device, and the read-back finds them missing: -ENOENT. `upstream` asserts
 * the kernel's 0 / npages.
 */
function migrateFault510(ctx: SelftestContext, upstream: boolean): void {
  const p = ctx.proc;
  const npages = bufferPages(ctx);
  const size = npages * ctx.pageSize;
  const buffer = hmmBuffer(size);
  buffer.ptr = mmap(p, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  ASSERT_NE(buffer.ptr, MAP_FAILED, 'buffer->ptr');
  writeInts(p, buffer.ptr, 0, size / INT, (i) => i);

  // Migrate memory to device.
  let ret = hmm_migrate_sys_to_dev(ctx.fd, buffer, npages);
  assertCmd(ret, buffer, npages);
  ASSERT_INTS(mirrorInts(buffer), (i) => i, 'mirror');

  // Fault half the pages back to system memory and check them.
  ASSERT_INTS(readInts(p, buffer.ptr, size / (2 * INT)), (i) => i, 'ptr');

  // Migrate memory to the device again.
  ret = hmm_migrate_sys_to_dev(ctx.fd, buffer, npages);
  if (upstream) {
    assertCmd(ret, buffer, npages);
    ASSERT_INTS(mirrorInts(buffer), (i) => i, 'mirror');
  } else {
    ASSERT_EQ(ret, -ENOENT, 'ret');
    // No data was lost: the device still reads every page (its own pages of the second half are
    // mapped again by one fault round, without moving), and so does the CPU.
    fillInts(mirrorInts(buffer), () => -1);
    ret = hmm_dmirror_cmd(ctx.fd, HMM_DMIRROR_READ, buffer, npages);
    assertCmd(ret, buffer, npages, 1);
    ASSERT_INTS(mirrorInts(buffer), (i) => i, 'mirror');
    ASSERT_INTS(readInts(p, buffer.ptr, size / INT), (i) => i, 'ptr');
  }
  hmmBufferFree(p, buffer);
}

/** Builds the 7-page layout of `snapshot` and returns its base p. */
function snapshotLayout(ctx: SelftestContext, buffer: HmmBuffer): number {
  const p = ctx.proc;
  const ps = ctx.pageSize;
  // Reserve a range of addresses.
  buffer.ptr = mmap(p, buffer.size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS);
  ASSERT_NE(buffer.ptr, MAP_FAILED, 'buffer->ptr');
  const base = buffer.ptr;

  // Punch a hole after the first page address.
  let ret = munmap(p, base + ps, ps);
  ASSERT_EQ(ret, 0, 'ret');

  // Page 2 will be read-only zero page.
  ret = mprotect(p, base + 2 * ps, ps, PROT_READ);
  ASSERT_EQ(ret, 0, 'ret');
  const val = (readInts(p, base + 2 * ps, 1)[0] as number) + 3;
  ASSERT_EQ(val, 3, 'val');

  // Page 3 will be read-only.
  ret = mprotect(p, base + 3 * ps, ps, PROT_READ | PROT_WRITE);
  ASSERT_EQ(ret, 0, 'ret');
  writeInts(p, base + 3 * ps, 0, 1, () => val);
  ret = mprotect(p, base + 3 * ps, ps, PROT_READ);
  ASSERT_EQ(ret, 0, 'ret');

  // Page 4-6 will be read-write.
  ret = mprotect(p, base + 4 * ps, 3 * ps, PROT_READ | PROT_WRITE);
  ASSERT_EQ(ret, 0, 'ret');
  writeInts(p, base + 4 * ps, 0, 1, () => val);

  // Page 5 will be migrated to device 0.
  buffer.ptr = base + 5 * ps;
  ret = hmm_migrate_sys_to_dev(ctx.fd0, buffer, 1);
  assertCmd(ret, buffer, 1);

  // Page 6 will be migrated to device 1.
  buffer.ptr = base + 6 * ps;
  ret = hmm_migrate_sys_to_dev(ctx.fd1, buffer, 1);
  assertCmd(ret, buffer, 1);
  return base;
}

/**
 * anon_teardown's rounds: a READ of the whole buffer races with a thread that munmaps its second
 * half. `strategy(c)` schedules round c; `sleep(c)` is the unmap thread's hmm_nanosleep, in
 * scheduling points (one per 500 ns of the C test's `hmm_random() % 32000`). Returns the READ's rc.
 */
function anonTeardownRound(
  ctx: SelftestContext,
  c: number,
  label: string,
  strategy: Strategy,
  sleepPoints: number,
): number {
  const p = ctx.proc;
  const npages = bufferPages(ctx);
  const size = npages * ctx.pageSize;
  const buffer = hmmBuffer(size);
  buffer.ptr = mmap(p, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  ASSERT_NE(buffer.ptr, MAP_FAILED, 'buffer->ptr');
  const base = buffer.ptr;

  // Initialize buffer in system memory.
  writeInts(p, buffer.ptr, 0, size / INT, (i) => i + c);

  const ex = ctx.sim.executor(strategy);
  // unmap_buffer: delay for a bit and then unmap buffer while it is being read.
  ex.spawn(
    'unmap_buffer',
    (function* unmapBuffer(): Task {
      for (let k = 0; k < sleepPoints; k++) yield* schedule('hmm_nanosleep');
      yield* p.task.munmap(buffer.ptr + buffer.size / 2, buffer.size / 2);
      buffer.ptr = 0;
    })(),
  );
  // Simulate a device reading system memory.
  let rc = 1;
  ex.spawn(
    'hmm_dmirror_cmd',
    (function* read(): Task {
      rc = yield* hmmDmirrorCmdTask(ctx.fd, HMM_DMIRROR_READ, buffer, npages);
    })(),
  );
  const r = ex.run();
  withContext(`${label}, c = ${c}, replay ${r.replay}`, () => {
    // pthread_join: both threads ran to the end.
    ASSERT_EQ(describeRun(r), 'done', 'pthread_join');
    if (rc === 0) {
      ASSERT_EQ(buffer.cpages, npages, 'buffer->cpages');
      ASSERT_EQ(buffer.faults, 1, 'buffer->faults');
      // Check what the device read.
      ASSERT_INTS(mirrorInts(buffer), (i) => i + c, 'mirror');
    }
  });
  hmmBufferFree(p, buffer);
  // The C test leaks the first half until the test process exits; unmap it to keep RAM small.
  munmap(p, base, size / 2);
  return rc;
}

/** What anon_teardown's Random and PCT schedules do on the modern run (their notes). */
const MODERN_TEARDOWN =
  "On the modern run today's READ takes twice the scheduling points (32-page " +
  "batches, the interval notifier's sequence checks), more than the longest sleep, so every munmap " +
  'lands inside the READ and it fails, as a 4 MiB READ outlasting a 32 µs sleep does on Linux; ' +
  'there only @dfs must take both branches.';

/**
 * The kernel test has two branches: a READ that succeeds (rc == 0: cpages, faults and every int
 * checked) and one that fails because the munmap came first (any error accepted). Rounds that all
 * take one branch never test the other, so each variant asserts that both were taken.
 */
export function assertEveryBranch(rcs: readonly number[]): void {
  const succeeded = rcs.filter((rc) => rc === 0).length;
  ASSERT_GE(succeeded, 1, `rounds whose READ succeeded (rc == 0) of ${rcs.length}`);
  ASSERT_GE(rcs.length - succeeded, 1, `rounds whose READ failed (rc != 0) of ${rcs.length}`);
}

/** The tests ported first (the seed can run all of them), in hmm-tests.c order. */
const FIRST_PORTS: Selftest[] = [
  {
    name: 'open_close',
    fixture: 'hmm',
    since: '5.8',
    seed: 'same',
    run() {
      // Simple NULL test of device open/close: the fixture does it all.
    },
  },
  {
    name: 'anon_read',
    fixture: 'hmm',
    since: '5.8',
    seed: 'diverges',
    fidelity: 'zero page (§2.8, §6 #6)',
    note:
      'v5.3 reports the zero page (page 1) as a special PTE and hmm_range_fault returns -EFAULT; ' +
      'hmmsim follows the v5.5 fix (a normal read-only entry), so the 5.8 asserts hold.',
    run(ctx) {
      const p = ctx.proc;
      const npages = bufferPages(ctx);
      const size = npages * ctx.pageSize;
      const buffer = hmmBuffer(size);
      buffer.ptr = mmap(p, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      ASSERT_NE(buffer.ptr, MAP_FAILED, 'buffer->ptr');

      // Initialize buffer in system memory but leave the first two pages zero (pte_none and pfn_zero).
      const first = (2 * ctx.pageSize) / INT;
      writeInts(p, buffer.ptr, first, size / INT, (i) => i);

      // Set buffer permission to read-only.
      let ret = mprotect(p, buffer.ptr, size, PROT_READ);
      ASSERT_EQ(ret, 0, 'ret');

      // Populate the CPU page table with a special zero page.
      const val = readInts(p, buffer.ptr + ctx.pageSize, 1)[0];
      ASSERT_EQ(val, 0, 'val');

      // Simulate a device reading system memory.
      ret = hmm_dmirror_cmd(ctx.fd, HMM_DMIRROR_READ, buffer, npages);
      assertCmd(ret, buffer, npages, 1);

      // Check what the device read.
      const m = mirrorInts(buffer);
      ASSERT_INTS(m, () => 0, 'mirror', 0, first);
      ASSERT_INTS(m, (i) => i, 'mirror', first);
      hmmBufferFree(p, buffer);
    },
  },
  {
    name: 'anon_read_prot',
    fixture: 'hmm',
    since: '5.8',
    seed: 'diverges',
    fidelity: 'VMA without `VM_READ` (§2.8, §6 #8)',
    note: 'v5.3 returns -EPERM for a VMA without VM_READ; the kernel test (5.8+) expects -EFAULT.',
    run: (ctx) => anonReadProt(ctx, -EPERM),
    upstream: (ctx) => anonReadProt(ctx, -EFAULT),
  },
  {
    name: 'anon_write',
    fixture: 'hmm',
    since: '5.8',
    seed: 'same',
    run(ctx) {
      const p = ctx.proc;
      const npages = bufferPages(ctx);
      const size = npages * ctx.pageSize;
      const buffer = hmmBuffer(size);
      buffer.ptr = mmap(p, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      ASSERT_NE(buffer.ptr, MAP_FAILED, 'buffer->ptr');

      deviceWritesInts(ctx, buffer, npages);
      hmmBufferFree(p, buffer);
    },
  },
  {
    name: 'anon_write_prot',
    fixture: 'hmm',
    since: '5.8',
    seed: 'diverges',
    fidelity: 'no `VM_WRITE` check (§2.5, §2.10, §6 #9)',
    note:
      'v5.3 fails the first READ on the zero page (-EFAULT, fixed in v5.5) and livelocks on the WRITE ' +
      '(no VM_WRITE check, fixed in v5.4); hmmsim has both fixes, so the 5.8 asserts hold.',
    run(ctx) {
      const p = ctx.proc;
      const npages = bufferPages(ctx);
      const size = npages * ctx.pageSize;
      const buffer = hmmBuffer(size);
      buffer.ptr = mmap(p, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
      ASSERT_NE(buffer.ptr, MAP_FAILED, 'buffer->ptr');

      // Simulate a device reading a zero page of memory.
      let ret = hmm_dmirror_cmd(ctx.fd, HMM_DMIRROR_READ, buffer, 1);
      assertCmd(ret, buffer, 1, 1);

      // Initialize data that the device will write to buffer->ptr.
      fillInts(mirrorInts(buffer), (i) => i);

      // Simulate a device writing system memory.
      ret = hmm_dmirror_cmd(ctx.fd, HMM_DMIRROR_WRITE, buffer, npages);
      ASSERT_EQ(ret, -EPERM, 'ret');

      // Check what the device wrote.
      ASSERT_INTS(readInts(p, buffer.ptr, size / INT), () => 0, 'ptr');

      // Now allow writing and see that the zero page is replaced.
      ret = mprotect(p, buffer.ptr, size, PROT_WRITE | PROT_READ);
      ASSERT_EQ(ret, 0, 'ret');

      // Simulate a device writing system memory.
      ret = hmm_dmirror_cmd(ctx.fd, HMM_DMIRROR_WRITE, buffer, npages);
      assertCmd(ret, buffer, npages, 1);

      // Check what the device wrote.
      ASSERT_INTS(readInts(p, buffer.ptr, size / INT), (i) => i, 'ptr');
      hmmBufferFree(p, buffer);
    },
  },
  {
    name: 'anon_write_child@5.8',
    fixture: 'hmm',
    since: '5.8',
    seed: 'same',
    today: false,
    note: 'The base [5.8] form: one private buffer of HMM_BUFFER_SIZE, no migration.',
    run: (ctx) => anonWriteChild(ctx, { shared: false, form619: false, migrate: false, useThp: false }),
  },
  {
    name: 'anon_write_child',
    fixture: 'hmm',
    since: '6.19',
    seed: 'same',
    note:
      'The [6.19] form: migrate ∈ {0,1} × use_thp ∈ {0,1}; with use_thp the buffer is a 2 MiB ' +
      'MADV_HUGEPAGE range, which the CPU stores fault in as one THP. The child opens device 0 ' +
      '(hmm_open(0)) in every variant.',
    run(ctx) {
      for (const migrate of [false, true]) {
        for (const useThp of [false, true]) {
          withContext(`migrate = ${Number(migrate)}, use_thp = ${Number(useThp)}`, () =>
            anonWriteChild(ctx, { shared: false, form619: true, migrate, useThp }),
          );
        }
      }
    },
  },
  {
    name: 'anon_write_child_shared',
    fixture: 'hmm',
    since: '5.8',
    seed: 'same',
    run: (ctx) => anonWriteChild(ctx, { shared: true, form619: false, migrate: false, useThp: false }),
  },
  {
    name: 'anon_write_huge',
    fixture: 'hmm',
    since: '5.8',
    seed: 'same',
    note: 'The device WRITE faults the MADV_HUGEPAGE range in as one THP (the test does not check that).',
    run(ctx) {
      const p = ctx.proc;
      let size = 2 * readPmdPagesize();
      const buffer = hmmBuffer(size);
      buffer.ptr = mmap(p, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      ASSERT_NE(buffer.ptr, MAP_FAILED, 'buffer->ptr');

      size /= 2;
      const npages = size / ctx.pageSize;
      const map = alignUp(buffer.ptr, size);
      const ret = madvise(p, map, size, MADV_HUGEPAGE);
      ASSERT_EQ(ret, 0, 'ret');
      const oldPtr = buffer.ptr;
      buffer.ptr = map;

      deviceWritesInts(ctx, buffer, npages);
      buffer.ptr = oldPtr;
      hmmBufferFree(p, buffer);
    },
  },
  {
    name: 'file_read',
    fixture: 'hmm',
    since: '5.8',
    seed: 'same',
    run(ctx) {
      const p = ctx.proc;
      const npages = bufferPages(ctx);
      const size = npages * ctx.pageSize;
      const buffer = hmmBuffer(size);
      buffer.file = hmmCreateFile(ctx, size);

      // Write initial contents of the file.
      fillInts(mirrorInts(buffer), (i) => i);
      const len = buffer.file.pwrite(buffer.mirror, 0);
      ASSERT_EQ(len, size, 'len');
      buffer.mirror.fill(0);

      buffer.ptr = mmap(p, size, PROT_READ, MAP_SHARED, buffer.file);
      ASSERT_NE(buffer.ptr, MAP_FAILED, 'buffer->ptr');

      // Simulate a device reading system memory.
      const ret = hmm_dmirror_cmd(ctx.fd, HMM_DMIRROR_READ, buffer, npages);
      assertCmd(ret, buffer, npages, 1);

      // Check what the device read.
      ASSERT_INTS(mirrorInts(buffer), (i) => i, 'mirror');
      hmmBufferFree(p, buffer);
    },
  },
  {
    name: 'file_write',
    fixture: 'hmm',
    since: '5.8',
    seed: 'same',
    run(ctx) {
      const p = ctx.proc;
      const npages = bufferPages(ctx);
      const size = npages * ctx.pageSize;
      const buffer = hmmBuffer(size);
      buffer.file = hmmCreateFile(ctx, size);

      buffer.ptr = mmap(p, size, PROT_READ | PROT_WRITE, MAP_SHARED, buffer.file);
      ASSERT_NE(buffer.ptr, MAP_FAILED, 'buffer->ptr');

      // Initialize data that the device will write to buffer->ptr.
      fillInts(mirrorInts(buffer), (i) => i);

      // Simulate a device writing system memory.
      const ret = hmm_dmirror_cmd(ctx.fd, HMM_DMIRROR_WRITE, buffer, npages);
      assertCmd(ret, buffer, npages, 1);

      // Check what the device wrote.
      ASSERT_INTS(readInts(p, buffer.ptr, size / INT), (i) => i, 'ptr');

      // Check that the device also wrote the file.
      const data = buffer.file.pread(size, 0);
      ASSERT_EQ(data.length, size, 'len');
      buffer.mirror.set(data);
      ASSERT_INTS(mirrorInts(buffer), (i) => i, 'mirror');
      hmmBufferFree(p, buffer);
    },
  },
  {
    name: 'migrate',
    fixture: 'hmm',
    since: '5.8',
    seed: 'same',
    run(ctx) {
      const p = ctx.proc;
      const npages = bufferPages(ctx);
      const size = npages * ctx.pageSize;
      const buffer = hmmBuffer(size);
      buffer.ptr = mmap(p, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      ASSERT_NE(buffer.ptr, MAP_FAILED, 'buffer->ptr');

      // Initialize buffer in system memory.
      writeInts(p, buffer.ptr, 0, size / INT, (i) => i);

      migrateInts(ctx, buffer, npages);
      hmmBufferFree(p, buffer);
    },
  },
  {
    name: 'migrate_file_private',
    fixture: 'hmm',
    since: 'after 6.19',
    seed: 'same',
    note: 'Every page is COWed into anonymous memory by the CPU stores, so migrate_vma can move it.',
    run(ctx) {
      const p = ctx.proc;
      const npages = bufferPages(ctx);
      const size = npages * ctx.pageSize;
      const buffer = hmmBuffer(size);
      buffer.file = hmmCreateFile(ctx, size);

      buffer.ptr = mmap(p, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, buffer.file);
      ASSERT_NE(buffer.ptr, MAP_FAILED, 'buffer->ptr');

      // Initialize buffer in system memory.
      writeInts(p, buffer.ptr, 0, size / INT, (i) => i);

      migrateInts(ctx, buffer, npages);
      hmmBufferFree(p, buffer);
    },
  },
  {
    name: 'migrate_fault@5.8',
    fixture: 'hmm',
    since: '5.8',
    seed: 'same',
    today: false,
    note: 'The [5.8] form: migrate, then the CPU reads every page back (migrate_to_ram per page).',
    run: (ctx) => migrateFault58(ctx),
  },
  {
    name: 'migrate_fault',
    fixture: 'hmm',
    since: '5.10',
    seed: 'diverges',
    fidelity: 'MIGRATE',
    note:
      'The [5.10+] form migrates a mix of system pages and the device’s own pages. v5.3 ' +
      'invalidations carry no owner, so the second migration erases the device’s entries for the pages ' +
      'it already holds and the read-back fails with -ENOENT (5.10+: 0, cpages 1024).',
    run: (ctx) => migrateFault510(ctx, false),
    upstream: (ctx) => migrateFault510(ctx, true),
  },
  {
    name: 'migrate_shared',
    fixture: 'hmm',
    since: '5.10',
    seed: 'same',
    run(ctx) {
      const p = ctx.proc;
      const npages = bufferPages(ctx);
      const size = npages * ctx.pageSize;
      const buffer = hmmBuffer(size);
      buffer.ptr = mmap(p, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
      ASSERT_NE(buffer.ptr, MAP_FAILED, 'buffer->ptr');

      // Migrate memory to device.
      const ret = hmm_migrate_sys_to_dev(ctx.fd, buffer, npages);
      ASSERT_EQ(ret, -ENOENT, 'ret');
      hmmBufferFree(p, buffer);
    },
  },
  {
    name: 'migrate_mixed',
    fixture: 'hmm2',
    since: '5.8',
    seed: 'same',
    run(ctx) {
      const p = ctx.proc;
      const ps = ctx.pageSize;
      const npages = 6;
      const size = npages * ps;
      const buffer = hmmBuffer(size);

      // Reserve a range of addresses.
      buffer.ptr = mmap(p, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS);
      ASSERT_NE(buffer.ptr, MAP_FAILED, 'buffer->ptr');
      const base = buffer.ptr;

      // Migrating a protected area should be an error.
      let ret = hmm_migrate_sys_to_dev(ctx.fd1, buffer, npages);
      ASSERT_EQ(ret, -EINVAL, 'ret');

      // Punch a hole after the first page address.
      ret = munmap(p, base + ps, ps);
      ASSERT_EQ(ret, 0, 'ret');

      // We expect an error if the vma doesn't cover the range.
      ret = hmm_migrate_sys_to_dev(ctx.fd1, buffer, 3);
      ASSERT_EQ(ret, -EINVAL, 'ret');

      // Page 2 will be a read-only zero page.
      ret = mprotect(p, base + 2 * ps, ps, PROT_READ);
      ASSERT_EQ(ret, 0, 'ret');
      const val = (readInts(p, base + 2 * ps, 1)[0] as number) + 3;
      ASSERT_EQ(val, 3, 'val');

      // Page 3 will be read-only.
      ret = mprotect(p, base + 3 * ps, ps, PROT_READ | PROT_WRITE);
      ASSERT_EQ(ret, 0, 'ret');
      writeInts(p, base + 3 * ps, 0, 1, () => val);
      ret = mprotect(p, base + 3 * ps, ps, PROT_READ);
      ASSERT_EQ(ret, 0, 'ret');

      // Page 4-5 will be read-write.
      ret = mprotect(p, base + 4 * ps, 2 * ps, PROT_READ | PROT_WRITE);
      ASSERT_EQ(ret, 0, 'ret');
      writeInts(p, base + 4 * ps, 0, 1, () => val);
      writeInts(p, base + 5 * ps, 0, 1, () => val);

      // Now try to migrate pages 2-5 to device 1.
      buffer.ptr = base + 2 * ps;
      ret = hmm_migrate_sys_to_dev(ctx.fd1, buffer, 4);
      assertCmd(ret, buffer, 4);

      // Page 5 won't be migrated to device 0 because it's on device 1.
      buffer.ptr = base + 5 * ps;
      ret = hmm_migrate_sys_to_dev(ctx.fd0, buffer, 1);
      ASSERT_EQ(ret, -ENOENT, 'ret');

      buffer.ptr = base;
      hmmBufferFree(p, buffer);
    },
  },
  {
    name: 'migrate_multiple',
    fixture: 'hmm',
    since: '5.8',
    seed: 'same',
    note: `NTIMES = ${NTIMES} rounds; the coherent variant migrates back with MIGRATE_TO_SYS (6.0).`,
    run(ctx) {
      const p = ctx.proc;
      const npages = bufferPages(ctx);
      const size = npages * ctx.pageSize;
      for (let c = 0; c < NTIMES; c++) {
        withContext(`c = ${c}`, () => {
          const buffer = hmmBuffer(size);
          buffer.ptr = mmap(p, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
          ASSERT_NE(buffer.ptr, MAP_FAILED, 'buffer->ptr');

          // Initialize buffer in system memory.
          writeInts(p, buffer.ptr, 0, size / INT, (i) => i);

          // Migrate memory to device.
          const ret = hmm_migrate_sys_to_dev(ctx.fd, buffer, npages);
          assertCmd(ret, buffer, npages);

          // Check what the device read.
          ASSERT_INTS(mirrorInts(buffer), (i) => i, 'mirror');

          // Migrate back to system memory and check them: the CPU faults device-private pages
          // back, while coherent pages, which the CPU maps, go back by MIGRATE_TO_SYS.
          if (ctx.coherent) {
            const back = hmm_migrate_dev_to_sys(ctx.fd, buffer, npages);
            assertCmd(back, buffer, npages);
          }
          ASSERT_INTS(readInts(p, buffer.ptr, size / INT), (i) => i, 'ptr');
          hmmBufferFree(p, buffer);
        });
      }
    },
  },
  {
    name: 'anon_read_multiple',
    fixture: 'hmm',
    since: '5.8',
    seed: 'same',
    note: `NTIMES = ${NTIMES} rounds.`,
    run(ctx) {
      const p = ctx.proc;
      const npages = bufferPages(ctx);
      const size = npages * ctx.pageSize;
      for (let c = 0; c < NTIMES; c++) {
        withContext(`c = ${c}`, () => {
          const buffer = hmmBuffer(size);
          buffer.ptr = mmap(p, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
          ASSERT_NE(buffer.ptr, MAP_FAILED, 'buffer->ptr');

          // Initialize buffer in system memory.
          writeInts(p, buffer.ptr, 0, size / INT, (i) => i + c);

          // Simulate a device reading system memory.
          const ret = hmm_dmirror_cmd(ctx.fd, HMM_DMIRROR_READ, buffer, npages);
          assertCmd(ret, buffer, npages, 1);

          // Check what the device read.
          ASSERT_INTS(mirrorInts(buffer), (i) => i + c, 'mirror');
          hmmBufferFree(p, buffer);
        });
      }
    },
  },
  {
    name: 'anon_teardown',
    fixture: 'hmm',
    since: '5.8',
    seed: 'same',
    note:
      `The READ and the munmap of the second half run as two simulated threads under RandomStrategy, ` +
      `for schedule seeds ${ANON_TEARDOWN_SEEDS.join(', ')}, NTIMES = ${NTIMES} rounds each. The ` +
      'unmap thread first sleeps hmm_random() % 32000 ns as one scheduling point per 500 ns. Any ' +
      'error return is accepted; a successful READ must report npages, one fault round and i + c. ' +
      `Both branches must be taken on the seed run (24 of the 80 rounds succeed). ${MODERN_TEARDOWN}`,
    run(ctx) {
      const rcs: number[] = [];
      for (const s of ANON_TEARDOWN_SEEDS) {
        const prng = new Prng(s);
        for (let c = 0; c < NTIMES; c++) {
          const strategy = new RandomStrategy(s * 1000 + c);
          rcs.push(
            anonTeardownRound(
              ctx,
              c,
              `RandomStrategy(${s * 1000 + c})`,
              strategy,
              Math.floor(prng.below(32000) / 500),
            ),
          );
        }
      }
      if (ctx.api === 'seed') assertEveryBranch(rcs);
    },
  },
  {
    name: 'anon_teardown@pct',
    fixture: 'hmm',
    since: '5.8',
    seed: 'same',
    note:
      'anon_teardown under PCT (depth 2: one priority change at a random step of the READ), round c ' +
      `with PctStrategy(c + 1), NTIMES = ${NTIMES} rounds, with no sleep in the unmap thread. ` +
      `Both branches must be taken on the seed run (1 of the 10 rounds succeeds). ${MODERN_TEARDOWN}`,
    run(ctx) {
      const rcs: number[] = [];
      for (let c = 0; c < NTIMES; c++) {
        rcs.push(
          anonTeardownRound(
            ctx,
            c,
            `PctStrategy(${c + 1}, 2)`,
            new PctStrategy(c + 1, 2, { estimatedSteps: 100 }),
            0,
          ),
        );
      }
      if (ctx.api === 'seed') assertEveryBranch(rcs);
    },
  },
  {
    name: 'anon_teardown@dfs',
    fixture: 'hmm',
    since: '5.8',
    seed: 'same',
    note:
      'One anon_teardown round for every schedule with at most one preemption (DfsStrategy(1)): the ' +
      'munmap lands at every scheduling point of the READ. Both branches must be taken (4 of the 55 ' +
      'executions succeed).',
    run(ctx) {
      const dfs = new DfsStrategy(1);
      const rcs: number[] = [];
      while (dfs.nextExecution()) {
        const label = `DfsStrategy(1) execution ${dfs.executions}`;
        rcs.push(anonTeardownRound(ctx, rcs.length % NTIMES, label, dfs, 0));
      }
      ASSERT_GE(rcs.length, 2, 'executions');
      assertEveryBranch(rcs);
    },
  },
  {
    name: 'mixedmap',
    fixture: 'hmm',
    since: '5.15',
    seed: 'diverges',
    fidelity: 'past the last VMA, IO/PFNMAP/MIXEDMAP VMAs (§2.8)',
    note:
      'The dmirror file mapping is a VM_MIXEDMAP VMA (mmapSpecial(..., "mixedmap")); v5.3 HMM refuses ' +
      'VM_MIXEDMAP with -EFAULT (so did 5.8–5.10). The kernel test expects 0 and READ.',
    run: (ctx) => mixedmap(ctx, false),
    upstream: (ctx) => mixedmap(ctx, true),
  },
  {
    name: 'snapshot',
    fixture: 'hmm2',
    since: '5.8',
    seed: 'diverges',
    fidelity: 'VMA without `VM_READ` (§2.8, §6 #8)',
    note:
      'v5.3 hmm_range_snapshot fails the whole range with -EPERM at the PROT_NONE VMA of page 0. From ' +
      'page 1 on hmmsim reports: the unmapped page NONE (5.8+: ERROR), the zero page ZERO|READ, ' +
      'READ, WRITE, this device’s page DEV_PRIVATE_LOCAL|WRITE and, as v5.3 has no owner, the other ' +
      'device’s page DEV_PRIVATE_REMOTE|WRITE (5.8+: NONE).',
    run(ctx) {
      const npages = 7;
      const buffer = hmmBuffer(npages * ctx.pageSize, npages);
      const base = snapshotLayout(ctx, buffer);

      // Simulate a device snapshotting CPU pagetables: page 0 is a PROT_NONE VMA.
      buffer.ptr = base;
      let ret = hmm_dmirror_cmd(ctx.fd0, HMM_DMIRROR_SNAPSHOT, buffer, npages);
      ASSERT_EQ(ret, -EPERM, 'ret');

      // The same pages without the PROT_NONE one.
      buffer.ptr = base + ctx.pageSize;
      ret = hmm_dmirror_cmd(ctx.fd0, HMM_DMIRROR_SNAPSHOT, buffer, npages - 1);
      assertCmd(ret, buffer, npages - 1);
      const m = buffer.mirror;
      ASSERT_EQ(m[0], HMM_DMIRROR_PROT_NONE, 'm[1]');
      ASSERT_EQ(m[1], HMM_DMIRROR_PROT_ZERO | HMM_DMIRROR_PROT_READ, 'm[2]');
      ASSERT_EQ(m[2], HMM_DMIRROR_PROT_READ, 'm[3]');
      ASSERT_EQ(m[3], HMM_DMIRROR_PROT_WRITE, 'm[4]');
      ASSERT_EQ(m[4], HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL | HMM_DMIRROR_PROT_WRITE, 'm[5]');
      ASSERT_EQ(m[5], HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE | HMM_DMIRROR_PROT_WRITE, 'm[6]');

      buffer.ptr = base;
      hmmBufferFree(ctx.proc, buffer);
    },
    upstream(ctx) {
      const npages = 7;
      const buffer = hmmBuffer(npages * ctx.pageSize, npages);
      const base = snapshotLayout(ctx, buffer);

      // Simulate a device snapshotting CPU pagetables.
      buffer.ptr = base;
      const ret = hmm_dmirror_cmd(ctx.fd0, HMM_DMIRROR_SNAPSHOT, buffer, npages);
      assertCmd(ret, buffer, npages);

      // Check what the device saw.
      const m = buffer.mirror;
      ASSERT_EQ(m[0], HMM_DMIRROR_PROT_ERROR, 'm[0]');
      ASSERT_EQ(m[1], HMM_DMIRROR_PROT_ERROR, 'm[1]');
      ASSERT_EQ(m[2], HMM_DMIRROR_PROT_ZERO | HMM_DMIRROR_PROT_READ, 'm[2]');
      ASSERT_EQ(m[3], HMM_DMIRROR_PROT_READ, 'm[3]');
      ASSERT_EQ(m[4], HMM_DMIRROR_PROT_WRITE, 'm[4]');
      if (!ctx.coherent) {
        ASSERT_EQ(m[5], HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL | HMM_DMIRROR_PROT_WRITE, 'm[5]');
        ASSERT_EQ(m[6], HMM_DMIRROR_PROT_NONE, 'm[6]');
      } else {
        ASSERT_EQ(m[5], HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL | HMM_DMIRROR_PROT_WRITE, 'm[5]');
        ASSERT_EQ(m[6], HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE | HMM_DMIRROR_PROT_WRITE, 'm[6]');
      }
      hmmBufferFree(ctx.proc, buffer);
    },
  },
  {
    name: 'double_map@5.8',
    fixture: 'hmm2',
    since: '5.8',
    seed: 'same',
    today: false,
    note:
      'The [5.8] form (two devices read the same pages, then page 1 is unmapped). The mirror is ' +
      '`size` bytes (the C test mallocs only `npages` bytes and overflows it; fixed by 6.14).',
    run: (ctx) => doubleMap(ctx, false),
  },
  {
    name: 'double_map',
    fixture: 'hmm2',
    since: '6.1',
    seed: 'diverges',
    fidelity: 'pages of another device',
    note:
      'The [6.1] form: after both reads, migrate to device 1, then device 0 reads. v5.3 reports device ' +
      '1’s pages to device 0 as VALID|DEVICE_PRIVATE; the driver re-requests them with DEVICE_PRIVATE, ' +
      'which migrates them back to RAM, so the 6.1 asserts hold.',
    run: (ctx) => doubleMap(ctx, true),
  },
  {
    name: 'hmm_cow_in_device',
    fixture: 'hmm',
    since: '6.1',
    seed: 'same',
    note:
      'The device-private variant. The child that spins until SIGTERM never runs here; "kill and ' +
      'waitpid" is its exit.',
    run(ctx) {
      const p = ctx.proc;
      const npages = 4;
      const size = npages * ctx.pageSize;
      const buffer = hmmBuffer(size);
      buffer.ptr = mmap(p, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      ASSERT_NE(buffer.ptr, MAP_FAILED, 'buffer->ptr');

      // Initialize buffer in system memory.
      writeInts(p, buffer.ptr, 0, size / INT, (i) => i);

      // Migrate memory to device.
      let ret = hmm_migrate_sys_to_dev(ctx.fd, buffer, npages);
      assertCmd(ret, buffer, npages);

      const child = p.fork();
      // The parent writes to the COW pages: each write migrates the page back to system memory
      // first, then copies it.
      writeInts(p, buffer.ptr, 0, size / INT, (i) => i);

      // Terminate the child and wait.
      child.exit();
      ASSERT_EQ(child.exited, true, 'WIFSIGNALED(status)');

      // Take snapshot to CPU pagetables.
      ret = hmm_dmirror_cmd(ctx.fd, HMM_DMIRROR_SNAPSHOT, buffer, npages);
      assertCmd(ret, buffer, npages);
      for (let i = 0; i < npages; i++) ASSERT_EQ(buffer.mirror[i], HMM_DMIRROR_PROT_WRITE, `m[${i}]`);
      hmmBufferFree(p, buffer);
    },
  },
];

function mixedmap(ctx: SelftestContext, upstream: boolean): void {
  const p = ctx.proc;
  const npages = 1;
  const size = npages * ctx.pageSize;
  const buffer = hmmBuffer(size, npages);

  // Reserve a range of addresses: mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, self->fd, 0).
  buffer.ptr = p.mmapSpecial(size, PROT_READ | PROT_WRITE, 'mixedmap');
  ASSERT_NE(buffer.ptr, MAP_FAILED, 'buffer->ptr');

  // Simulate a device snapshotting CPU pagetables.
  const ret = hmm_dmirror_cmd(ctx.fd, HMM_DMIRROR_SNAPSHOT, buffer, npages);
  if (upstream) {
    assertCmd(ret, buffer, npages);
    // Check what the device saw.
    ASSERT_EQ(buffer.mirror[0], HMM_DMIRROR_PROT_READ, 'm[0]');
  } else {
    ASSERT_EQ(ret, -EFAULT, 'ret');
  }
  hmmBufferFree(p, buffer);
}

function doubleMap(ctx: SelftestContext, form61: boolean): void {
  const p = ctx.proc;
  const npages = 6;
  const size = npages * ctx.pageSize;
  const buffer = hmmBuffer(size);

  // Reserve a range of addresses.
  buffer.ptr = mmap(p, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  ASSERT_NE(buffer.ptr, MAP_FAILED, 'buffer->ptr');

  // Initialize buffer in system memory.
  writeInts(p, buffer.ptr, 0, size / INT, (i) => i);

  // Make region read-only.
  let ret = mprotect(p, buffer.ptr, size, PROT_READ);
  ASSERT_EQ(ret, 0, 'ret');

  // Simulate device 0 reading system memory.
  ret = hmm_dmirror_cmd(ctx.fd0, HMM_DMIRROR_READ, buffer, npages);
  assertCmd(ret, buffer, npages, 1);
  ASSERT_INTS(mirrorInts(buffer), (i) => i, 'mirror');

  // Simulate device 1 reading system memory.
  fillInts(mirrorInts(buffer), () => -1);
  ret = hmm_dmirror_cmd(ctx.fd1, HMM_DMIRROR_READ, buffer, npages);
  assertCmd(ret, buffer, npages, 1);
  ASSERT_INTS(mirrorInts(buffer), (i) => i, 'mirror');

  if (form61) {
    // Migrate pages to device 1 and try to read from device 0.
    ret = hmm_migrate_sys_to_dev(ctx.fd1, buffer, npages);
    assertCmd(ret, buffer, npages);

    fillInts(mirrorInts(buffer), () => -1);
    ret = hmm_dmirror_cmd(ctx.fd0, HMM_DMIRROR_READ, buffer, npages);
    assertCmd(ret, buffer, npages, 1);
    // Check what device 0 read.
    ASSERT_INTS(mirrorInts(buffer), (i) => i, 'mirror');
  } else {
    // Punch a hole after the first page address.
    ret = munmap(p, buffer.ptr + ctx.pageSize, ctx.pageSize);
    ASSERT_EQ(ret, 0, 'ret');
  }
  hmmBufferFree(p, buffer);
}

/** Every TEST_F of today's hmm-tests.c, in the file's order (reference/kernel-hmm.md §5.2). */
export const HMM_KERNEL_TESTS: readonly string[] = [
  'open_close',
  'anon_read',
  'anon_read_prot',
  'anon_write',
  'anon_write_prot',
  'anon_write_child',
  'anon_write_child_shared',
  'anon_write_huge',
  'anon_write_hugetlbfs',
  'file_read',
  'file_write',
  'migrate',
  'migrate_file_private',
  'migrate_fault',
  'migrate_release',
  'migrate_shared',
  'migrate_mixed',
  'migrate_multiple',
  'anon_read_multiple',
  'anon_teardown',
  'mixedmap',
  'snapshot',
  'compound',
  'double_map',
  'exclusive',
  'exclusive_mprotect',
  'exclusive_cow',
  'hmm_gup_test',
  'hmm_cow_in_device',
  'migrate_anon_huge_empty',
  'migrate_anon_huge_zero',
  'migrate_anon_huge_free',
  'migrate_anon_huge_fault',
  'migrate_partial_unmap_fault',
  'migrate_remap_fault',
  'migrate_anon_huge_err',
  'migrate_anon_huge_zero_err',
  'benchmark_thp_migration',
];

/** The kernel test a table entry is a form of: `anon_teardown@dfs` is anon_teardown. */
export function kernelTestName(name: string): string {
  return name.split('@')[0] as string;
}

/** Table order: the kernel file's, each test's own form before its variants (stable otherwise). */
function inKernelOrder(tests: readonly Selftest[]): Selftest[] {
  const key = (t: Selftest): number =>
    HMM_KERNEL_TESTS.indexOf(kernelTestName(t.name)) * 2 + (t.name.includes('@') ? 1 : 0);
  return [...tests].sort((a, b) => key(a) - key(b));
}

/**
 * Every ported test and variant, in hmm-tests.c order: one body each, which the seed run runs
 * unless `seedCannot` says why not, and the modern run runs (its `upstream` where it has one)
 * unless it is an older kernel's form (`today: false`).
 */
export const HMM_SELFTESTS: readonly Selftest[] = inKernelOrder([
  ...FIRST_PORTS,
  anonWriteHugetlbfs,
  migrateRelease,
  compound,
  exclusive,
  exclusiveMprotect,
  exclusiveCow,
  hmmGupTest,
  ...HMM_THP_SELFTESTS,
  benchmarkThpMigration,
]);

/** The tests of hmm-tests.c that neither run runs, and why: none since benchmark_thp_migration's port. */
export const HMM_SELFTESTS_NOT_PORTED: { name: string; since: string; reason: string }[] = [];
