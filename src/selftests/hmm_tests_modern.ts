/**
 * The tests of hmm-tests.c that need more than the seed API has, before the v6.19 THP ones
 * (hmm_tests_thp.ts): hugetlbfs (anon_write_hugetlbfs, compound), RELEASE (migrate_release),
 * device-exclusive access (exclusive, exclusive_mprotect, exclusive_cow) and GUP of device pages
 * (hmm_gup_test). HMM_SELFTESTS (hmm_tests.ts) puts each in its place in the kernel file's order.
 *
 * Each asserts what the kernel test asserts. Where the C test would SKIP or return for a machine
 * without a free huge page or the gup_test module, the port asserts that the fixture has them
 * instead (HUGETLB_SETUP_DEFAULT_PAGES(1) gives the huge page; gup_test.ts is the module), so a
 * broken setup fails rather than passing with nothing tested.
 *
 * @see tools/testing/selftests/mm/hmm-tests.c (torvalds tip after v6.19)
 */

import { alignUp } from '../core/addr.js';
import { EPERM } from '../core/errno.js';
import {
  HMM_DMIRROR_CHECK_EXCLUSIVE,
  HMM_DMIRROR_EXCLUSIVE,
  HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL,
  HMM_DMIRROR_PROT_PMD,
  HMM_DMIRROR_PROT_PUD,
  HMM_DMIRROR_PROT_READ,
  HMM_DMIRROR_PROT_WRITE,
  HMM_DMIRROR_RELEASE,
  HMM_DMIRROR_SNAPSHOT,
  HMM_DMIRROR_WRITE,
} from '../drivers/test_hmm/uapi.js';
import { MAP_ANONYMOUS, MAP_HUGETLB, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../mm/mmap.js';
import type { Process } from '../sim/process.js';
import {
  GUP_BASIC_TEST,
  GUP_FAST_BENCHMARK,
  GUP_TEST_FOLL_LONGTERM,
  GUP_TEST_FOLL_WRITE,
  gupTestIoctl,
  PIN_FAST_BENCHMARK,
  PIN_LONGTERM_BENCHMARK,
} from './gup_test.js';
import type { Selftest, SelftestContext } from './harness.js';
import { ASSERT_EQ, ASSERT_INTS, ASSERT_NE, withContext } from './harness.js';
import {
  assertCmd,
  bufferPages,
  deviceWritesInts,
  type HmmBuffer,
  hmm_dmirror_cmd,
  hmmBuffer,
  hmmBufferFree,
  INT,
  MAP_FAILED,
  migrateInts,
  mirrorInts,
  mmap,
  mprotect,
  munmap,
  readInts,
  TWOMEG,
  writeInts,
} from './hmm_helpers.js';

const HUGETLB_NEEDS =
  'hugetlb pages in hmm_range_fault (a PMD-level walk, v5.10 map order); the v5.3 seed API walks 4 KiB pages only';
const EXCLUSIVE_NEEDS =
  'HMM_DMIRROR_EXCLUSIVE needs make_device_exclusive (v5.14), which the seed API has not';

/** default_huge_page_size(): the simulator's one hugetlb size. */
const DEFAULT_HSIZE = TWOMEG;

/** hugetlb_free_default_pages() != 0, which the kernel test SKIPs without: asserted here. */
function assertFreeHugePage(ctx: SelftestContext): void {
  ASSERT_NE(ctx.sim.hugetlbFree(), 0, 'hugetlb_free_default_pages()');
}

/**
 * The hugetlb buffer of anon_write_hugetlbfs and compound: ALIGN(TWOMEG, default_hsize) bytes of
 * MAP_HUGETLB, which the kernel test SKIPs without (no free huge page, or the mmap fails).
 */
function hugetlbBuffer(
  ctx: SelftestContext,
  mirrorBytesPerPage: number,
): { buffer: HmmBuffer; npages: number } {
  assertFreeHugePage(ctx);
  const size = alignUp(TWOMEG, DEFAULT_HSIZE);
  const npages = size / ctx.pageSize;
  const buffer = hmmBuffer(size, npages * mirrorBytesPerPage);
  buffer.ptr = mmap(ctx.proc, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB);
  ASSERT_NE(buffer.ptr, MAP_FAILED, 'buffer->ptr');
  return { buffer, npages };
}

/** A test of FIXTURE(hmm) the seed run cannot run (`seedCannot` says why). */
function modernOnly(
  name: string,
  since: string,
  seedCannot: string,
  run: (ctx: SelftestContext) => void,
  note?: string,
): Selftest {
  return {
    name,
    fixture: 'hmm',
    since,
    seed: 'n/a',
    seedCannot,
    ...(note === undefined ? {} : { note }),
    run,
  };
}

/** A private anonymous read/write buffer of npages with `ptr[i] = i`. */
function initBuffer(ctx: SelftestContext, npages: number): HmmBuffer {
  const size = npages * ctx.pageSize;
  const buffer = hmmBuffer(size);
  buffer.ptr = mmap(ctx.proc, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  ASSERT_NE(buffer.ptr, MAP_FAILED, 'buffer->ptr');
  // Initialize buffer in system memory.
  writeInts(ctx.proc, buffer.ptr, 0, size / INT, (i) => i);
  return buffer;
}

/** `for (i...) ASSERT_EQ(ptr[i]++, i);` then `ASSERT_EQ(ptr[i], i + 1)`, page by page, by process p. */
function incrementAndCheck(ctx: SelftestContext, p: Process, buffer: HmmBuffer): void {
  const intsPerPage = ctx.pageSize / INT;
  const n = buffer.size / INT;
  for (let first = 0; first < n; first += intsPerPage) {
    const old = readInts(p, buffer.ptr + first * INT, intsPerPage);
    ASSERT_INTS(old, (i) => first + i, `ptr[${first}..]++`);
    writeInts(p, buffer.ptr, first, first + intsPerPage, (i) => i + 1);
  }
  ASSERT_INTS(readInts(p, buffer.ptr, n), (i) => i + 1, 'ptr');
}

/** EXCLUSIVE of the whole buffer: 0, cpages npages, and the mirror holds what was read. */
function mapExclusive(ctx: SelftestContext, buffer: HmmBuffer, npages: number): void {
  // Map memory exclusively for device access.
  const ret = hmm_dmirror_cmd(ctx.fd, HMM_DMIRROR_EXCLUSIVE, buffer, npages);
  assertCmd(ret, buffer, npages);
  // Check what the device read.
  ASSERT_INTS(mirrorInts(buffer), (i) => i, 'mirror');
}

/** The mapping level compound's SNAPSHOT reports, from m[0]; every byte must equal prot | it. */
function assertCompoundBytes(m: Uint8Array, npages: number, prot: number): void {
  const level = (m[0] as number) & HMM_DMIRROR_PROT_PUD ? HMM_DMIRROR_PROT_PUD : HMM_DMIRROR_PROT_PMD;
  for (let i = 0; i < npages; i++) ASSERT_EQ(m[i], prot | level, `m[${i}]`);
}

/** gup_test_exec: the ioctl with FOLL_WRITE | flags; 0 or the errno. */
function gupTestExec(
  p: Process,
  addr: number,
  cmd: number,
  npages: number,
  size: number,
  flags: number,
): number {
  const ret = p.sim.run(
    'gup_test',
    gupTestIoctl(p.mm, cmd, { addr, size, nrPagesPerCall: npages, gupFlags: GUP_TEST_FOLL_WRITE | flags }),
  );
  return ret < 0 ? -ret : 0;
}

export const anonWriteHugetlbfs: Selftest = {
  name: 'anon_write_hugetlbfs',
  fixture: 'hmm',
  since: '5.8',
  seed: 'same',
  note:
    'The latest form: default_huge_page_size() and MAP_HUGETLB (5.8: libhugetlbfs). The seed API ' +
    'faults and mirrors the huge page as 512 4 KiB entries, which is all the test looks at.',
  run(ctx) {
    const { buffer, npages } = hugetlbBuffer(ctx, ctx.pageSize);
    deviceWritesInts(ctx, buffer, npages);
    hmmBufferFree(ctx.proc, buffer);
  },
};

export const migrateRelease = modernOnly(
  'migrate_release',
  '6.1',
  'HMM_DMIRROR_RELEASE evicts device memory with migrate_device_range (v6.1)',
  (ctx) => {
    const p = ctx.proc;
    const npages = bufferPages(ctx);
    const buffer = initBuffer(ctx, npages);

    migrateInts(ctx, buffer, npages);

    // Release device memory.
    const ret = hmm_dmirror_cmd(ctx.fd, HMM_DMIRROR_RELEASE, buffer, npages);
    ASSERT_EQ(ret, 0, 'ret');

    // Fault pages back to system memory and check them.
    ASSERT_INTS(readInts(p, buffer.ptr, buffer.size / (2 * INT)), (i) => i, 'ptr');
    hmmBufferFree(p, buffer);
  },
);

export const compound = modernOnly(
  'compound',
  '5.10',
  HUGETLB_NEEDS,
  (ctx) => {
    const p = ctx.proc;
    const { buffer, npages } = hugetlbBuffer(ctx, 1);
    const size = buffer.size;

    // Initialize the pages the device will snapshot in buffer->ptr.
    writeInts(p, buffer.ptr, 0, size / INT, (i) => i);

    // Simulate a device snapshotting CPU pagetables.
    let ret = hmm_dmirror_cmd(ctx.fd, HMM_DMIRROR_SNAPSHOT, buffer, npages);
    assertCmd(ret, buffer, npages);
    // Check what the device saw: one huge page, at one level.
    assertCompoundBytes(buffer.mirror, npages, HMM_DMIRROR_PROT_WRITE);

    // Make the region read-only.
    ret = mprotect(p, buffer.ptr, size, PROT_READ);
    ASSERT_EQ(ret, 0, 'ret');

    // Simulate a device snapshotting CPU pagetables.
    ret = hmm_dmirror_cmd(ctx.fd, HMM_DMIRROR_SNAPSHOT, buffer, npages);
    assertCmd(ret, buffer, npages);
    assertCompoundBytes(buffer.mirror, npages, HMM_DMIRROR_PROT_READ);

    ret = munmap(p, buffer.ptr, buffer.size);
    ASSERT_EQ(ret, 0, 'ret');
    buffer.ptr = 0;
  },
  'The latest form: the level (PMD or PUD) is read from m[0] and every byte must match it. Where ' +
    'the C test returns without a word if MAP_HUGETLB fails, the port asserts the mmap succeeds.',
);

/** An exclusive test: ptr = i, EXCLUSIVE of it all → npages, mirror == i, then `rest`, then free. */
function exclusiveTest(
  name: string,
  rest: (ctx: SelftestContext, buffer: HmmBuffer, npages: number) => void,
  note?: string,
): Selftest {
  const run = (ctx: SelftestContext): void => {
    const npages = bufferPages(ctx);
    const buffer = initBuffer(ctx, npages);
    mapExclusive(ctx, buffer, npages);
    rest(ctx, buffer, npages);
    hmmBufferFree(ctx.proc, buffer);
  };
  return modernOnly(name, '5.14', EXCLUSIVE_NEEDS, run, note);
}

export const exclusive = exclusiveTest('exclusive', (ctx, buffer, npages) => {
  // Fault pages back to system memory and check them: each first touch restores the page.
  incrementAndCheck(ctx, ctx.proc, buffer);

  // Check atomic access revoked.
  const ret = hmm_dmirror_cmd(ctx.fd, HMM_DMIRROR_CHECK_EXCLUSIVE, buffer, npages);
  ASSERT_EQ(ret, 0, 'ret');
});

export const exclusiveMprotect = exclusiveTest('exclusive_mprotect', (ctx, buffer, npages) => {
  let ret = mprotect(ctx.proc, buffer.ptr, buffer.size, PROT_READ);
  ASSERT_EQ(ret, 0, 'ret');

  // Simulate a device writing system memory.
  ret = hmm_dmirror_cmd(ctx.fd, HMM_DMIRROR_WRITE, buffer, npages);
  ASSERT_EQ(ret, -EPERM, 'ret');
});

export const exclusiveCow = exclusiveTest(
  'exclusive_cow',
  (ctx, buffer) => {
    const p = ctx.proc;
    const child = p.fork();
    // Parent: also increment to verify COW works for both processes.
    incrementAndCheck(ctx, p, buffer);

    withContext('in the child', () => {
      // Child verifies COW independently, then _exit(0)s so it does not run the test teardown.
      incrementAndCheck(ctx, child, buffer);
      child.exit();
    });

    // Parent: wait for child and then free the buffer. waitpid() == pid, WIFEXITED, status 0.
    ASSERT_EQ(child.exited, true, 'WIFEXITED(status)');
  },
  'The latest form: the child increments and checks, then _exit(0)s; the parent increments, checks ' +
    'and waits. The parent runs its loops first, then the child (one of the schedules the kernel ' +
    'allows); a failed ASSERT in the child fails the test with the child named.',
);

export const hmmGupTest: Selftest = {
  name: 'hmm_gup_test',
  fixture: 'hmm',
  since: '6.1',
  seed: 'same',
  note:
    'On the seed run (v5.3, before FOLL_PIN) a pin is the plain get_user_pages reference it was ' +
    'then; GUP faults device-private pages back to RAM either way, so the private asserts hold. ' +
    "The gup_test module is src/selftests/gup_test.ts on the mm core's GUP; the test's FOLL_LONGTERM " +
    'is the user value 0x100 (v6.x numbering), which the module translates.',
  run(ctx) {
    const p = ctx.proc;
    const ps = ctx.pageSize;
    const npages = 4;
    const buffer = initBuffer(ctx, npages);

    migrateInts(ctx, buffer, npages);

    const gup = (page: number, cmd: number, flags: number, what: string): void =>
      ASSERT_EQ(gupTestExec(p, buffer.ptr + page * ps, cmd, 1, ps, flags), 0, `gup_test_exec(${what})`);
    gup(0, GUP_BASIC_TEST, 0, 'GUP_BASIC_TEST');
    gup(1, GUP_FAST_BENCHMARK, 0, 'GUP_FAST_BENCHMARK');
    gup(2, PIN_FAST_BENCHMARK, GUP_TEST_FOLL_LONGTERM, 'PIN_FAST_BENCHMARK');
    gup(3, PIN_LONGTERM_BENCHMARK, 0, 'PIN_LONGTERM_BENCHMARK');

    // Take snapshot to CPU pagetables.
    const ret = hmm_dmirror_cmd(ctx.fd, HMM_DMIRROR_SNAPSHOT, buffer, npages);
    assertCmd(ret, buffer, npages);
    const m = buffer.mirror;
    const shortTerm = ctx.coherent
      ? HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL | HMM_DMIRROR_PROT_WRITE
      : HMM_DMIRROR_PROT_WRITE;
    ASSERT_EQ(m[0], shortTerm, 'm[0]');
    ASSERT_EQ(m[1], shortTerm, 'm[1]');
    ASSERT_EQ(m[2], HMM_DMIRROR_PROT_WRITE, 'm[2]');
    ASSERT_EQ(m[3], HMM_DMIRROR_PROT_WRITE, 'm[3]');

    // Check again the content on the pages. Make sure there's no corrupted data.
    ASSERT_INTS(readInts(p, buffer.ptr, buffer.size / INT), (i) => i, 'ptr');
    hmmBufferFree(p, buffer);
  },
};
