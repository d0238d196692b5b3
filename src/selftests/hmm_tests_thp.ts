/**
 * The device-private THP tests of hmm-tests.c (Linux v6.19): migrating a PMD-sized anonymous range
 * (empty, the huge zero page, a THP) to device memory and back, with MADV_FREE, MADV_COLLAPSE,
 * partial munmap, mremap and injected allocation failures (HMM_DMIRROR_FLAGS). Each asserts what
 * the kernel test asserts, under its kernel name; HMM_SELFTESTS (hmm_tests.ts) lists them after
 * hmm_cow_in_device, as the kernel file does (benchmark_thp_migration after them: hmm_tests_benchmark.ts).
 *
 * @see tools/testing/selftests/mm/hmm-tests.c (Linux v6.19)
 */

import { alignUp } from '../core/addr.js';
import { HmmError } from '../core/errno.js';
import {
  HMM_DMIRROR_FLAG_FAIL_ALLOC,
  HMM_DMIRROR_FLAGS,
  HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL,
  HMM_DMIRROR_PROT_PMD,
  HMM_DMIRROR_PROT_WRITE,
  HMM_DMIRROR_SNAPSHOT,
} from '../drivers/test_hmm/uapi.js';
import { MADV_COLLAPSE, MADV_FREE, MADV_HUGEPAGE, MADV_NOHUGEPAGE } from '../mm/madvise.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../mm/mmap.js';
import { MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE } from '../mm/mremap.js';
import type { Selftest, SelftestContext } from './harness.js';
import { ASSERT_EQ, ASSERT_INTS, ASSERT_NE, withContext } from './harness.js';
import {
  assertCmd,
  type HmmBuffer,
  hmm_dmirror_cmd,
  hmm_migrate_dev_to_sys,
  hmmBuffer,
  hmmBufferFree,
  INT,
  MAP_FAILED,
  madvise,
  migrateToDev,
  mirrorInts,
  mmap,
  munmap,
  readInts,
  readPmdPagesize,
  writeInts,
} from './hmm_helpers.js';

const SEED_CANNOT =
  'device-private THP migration (MIGRATE_PFN_COMPOUND, PMD device-private entries) is v6.19';
/** What the seed run of a THP test does that the test cannot tell from today's. */
const SEED_SPLITS =
  "On the seed run, v5.3's migrate_vma moves the range as 4 KiB pages (splitting a THP first); " +
  'the test looks only at return codes, cpages and bytes, which are the same.';

/** /proc/self/pagemap bits of vm_util.h, in the entry's high 32-bit word: PM_SWAP (62), PM_PRESENT (63). */
const PM_SWAP_HI = 1 << 30;
const PM_PRESENT_HI = 1 << 31;

/**
 * The common opening of the THP tests: mmap 2 * size with `prot`, the mirror of `mirrorSize` bytes
 * filled with 0xFF, buffer->ptr the size-aligned map inside, given `advice` (none: no madvise).
 * buffer.size stays 2 * size, so hmmBufferFree unmaps it all once ptr is back at the start.
 */
function thpBuffer(
  ctx: SelftestContext,
  size: number,
  prot: number,
  advice: number | null,
  mirrorSize = size,
): { buffer: HmmBuffer; oldPtr: number } {
  const buffer = hmmBuffer(2 * size, mirrorSize);
  buffer.mirror.fill(0xff);
  buffer.ptr = mmap(ctx.proc, 2 * size, prot, MAP_PRIVATE | MAP_ANONYMOUS);
  ASSERT_NE(buffer.ptr, MAP_FAILED, 'buffer->ptr');
  const oldPtr = buffer.ptr;
  const map = alignUp(buffer.ptr, size);
  if (advice !== null) {
    const ret = madvise(ctx.proc, map, size, advice);
    ASSERT_EQ(ret, 0, 'ret');
  }
  buffer.ptr = map;
  return { buffer, oldPtr };
}

/** HMM_DMIRROR_FLAGS(HMM_DMIRROR_FLAG_FAIL_ALLOC) == 0. */
function failNextAlloc(ctx: SelftestContext, buffer: HmmBuffer): void {
  const ret = hmm_dmirror_cmd(ctx.fd, HMM_DMIRROR_FLAGS, buffer, HMM_DMIRROR_FLAG_FAIL_ALLOC);
  ASSERT_EQ(ret, 0, 'ret');
}

/** The int at ptr[i], read by the test process. */
function intAt(ctx: SelftestContext, ptr: number, i: number): number {
  return readInts(ctx.proc, ptr + i * INT, 1)[0] as number;
}

/** mremap(old, size, size, flags, new): the new address or MAP_FAILED. */
function mremapFixed(ctx: SelftestContext, from: number, size: number, flags: number, to: number): number {
  try {
    return ctx.proc.mremap(from, size, size, flags, to);
  } catch (e) {
    if (e instanceof HmmError) return MAP_FAILED;
    throw e;
  }
}

/** A v6.19 THP test of FIXTURE(hmm); without `seedCannot` the seed run runs it too. */
function thpTest(
  name: string,
  about: { seedCannot?: string; note?: string },
  run: (ctx: SelftestContext) => void,
): Selftest {
  const seed = about.seedCannot === undefined ? 'same' : 'n/a';
  return { name, fixture: 'hmm', since: '6.19', seed, ...about, run };
}

/** What a migrate_anon_huge_* test does around its MIGRATE_TO_DEV of one PMD-sized range. */
interface HugeMigration {
  prot: number;
  /** The madvise before anything touches the range (null: none). */
  advice: number | null;
  /** Before the migration (the test's initialisation). */
  init(buffer: HmmBuffer, size: number): void;
  /** What the mirror must hold after it. */
  mirror(i: number): number;
  /** After the mirror check. */
  after?(buffer: HmmBuffer, size: number, npages: number): void;
}

/** mmap 2 * size, align, advise, init, MIGRATE_TO_DEV → npages, mirror check, after, free. */
function migrateHuge(ctx: SelftestContext, m: HugeMigration): void {
  const size = readPmdPagesize();
  const { buffer, oldPtr } = thpBuffer(ctx, size, m.prot, m.advice);
  const npages = size / ctx.pageSize;
  m.init(buffer, size);

  // Migrate memory to device.
  migrateToDev(ctx, buffer, npages);
  // Check what the device read.
  ASSERT_INTS(mirrorInts(buffer), m.mirror, 'mirror');
  m.after?.(buffer, size, npages);
  buffer.ptr = oldPtr;
  hmmBufferFree(ctx.proc, buffer);
}

/** Initialize buffer in system memory: ptr[i] = i. */
function initInts(ctx: SelftestContext): (buffer: HmmBuffer, size: number) => void {
  return (buffer, size) => writeInts(ctx.proc, buffer.ptr, 0, size / INT, (i) => i);
}

/** Fault pages back to system memory and check them: every int of the range is f(i). */
function faultBack(
  ctx: SelftestContext,
  f: (i: number) => number,
): (buffer: HmmBuffer, size: number) => void {
  return (buffer, size) => ASSERT_INTS(readInts(ctx.proc, buffer.ptr, size / INT), f, 'ptr');
}

export const migrateAnonHugeEmpty = thpTest('migrate_anon_huge_empty', { note: SEED_SPLITS }, (ctx) =>
  migrateHuge(ctx, { prot: PROT_READ, advice: MADV_HUGEPAGE, init: () => {}, mirror: () => 0 }),
);

export const migrateAnonHugeZero = thpTest('migrate_anon_huge_zero', { note: SEED_SPLITS }, (ctx) =>
  migrateHuge(ctx, {
    prot: PROT_READ,
    advice: MADV_HUGEPAGE,
    // Initialize a read-only zero huge page.
    init: (buffer) => ASSERT_EQ(intAt(ctx, buffer.ptr, 0), 0, 'val'),
    mirror: () => 0,
    after: faultBack(ctx, () => 0),
  }),
);

export const migrateAnonHugeFree = thpTest('migrate_anon_huge_free', { note: SEED_SPLITS }, (ctx) =>
  migrateHuge(ctx, {
    prot: PROT_READ | PROT_WRITE,
    advice: MADV_HUGEPAGE,
    init: initInts(ctx),
    mirror: (i) => i,
    // Try freeing it.
    after: (buffer, size) => ASSERT_EQ(madvise(ctx.proc, buffer.ptr, size, MADV_FREE), 0, 'ret'),
  }),
);

export const migrateAnonHugeFault = thpTest(
  'migrate_anon_huge_fault',
  {
    seedCannot: SEED_CANNOT,
    note: 'The private variant checks SNAPSHOT (PMD device-private entries) and /proc/self/pagemap.',
  },
  (ctx) =>
    migrateHuge(ctx, {
      prot: PROT_READ | PROT_WRITE,
      advice: null,
      init(buffer, size) {
        initInts(ctx)(buffer, size);
        ASSERT_EQ(madvise(ctx.proc, buffer.ptr, size, MADV_COLLAPSE), 0, 'ret');
      },
      mirror: (i) => i,
      after(buffer, size, npages) {
        if (!ctx.coherent) assertPmdDevicePrivate(ctx, buffer, npages);
        faultBack(ctx, (i) => i)(buffer, size);
      },
    }),
);

/** migrate_anon_huge_fault's private-variant checks: SNAPSHOT and /proc/self/pagemap of the range. */
function assertPmdDevicePrivate(ctx: SelftestContext, buffer: HmmBuffer, npages: number): void {
  const ret = hmm_dmirror_cmd(ctx.fd, HMM_DMIRROR_SNAPSHOT, buffer, npages);
  assertCmd(ret, buffer, npages);
  const want = HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL | HMM_DMIRROR_PROT_WRITE | HMM_DMIRROR_PROT_PMD;
  for (let i = 0; i < npages; i++) ASSERT_EQ(buffer.mirror[i], want, `m[${i}]`);

  const words = ctx.proc.pagemap(buffer.ptr, npages);
  for (let i = 0; i < npages; i++) {
    const hi = words[2 * i + 1] as number;
    ASSERT_NE(hi & PM_SWAP_HI, 0, `pagemap[${i}] & PM_SWAP`);
    ASSERT_EQ((hi & PM_PRESENT_HI) !== 0, false, `PAGEMAP_PRESENT(pagemap[${i}])`);
  }
}

export const migratePartialUnmapFault = thpTest(
  'migrate_partial_unmap_fault',
  { note: `use_thp ∈ {0, 1} × offset ∈ {0, size/4, size/2}: 6 rounds. ${SEED_SPLITS}` },
  (ctx) => {
    const size = readPmdPagesize();
    for (const useThp of [false, true]) {
      for (const offset of [0, size / 4, size / 2]) {
        withContext(`use_thp = ${Number(useThp)}, offset = ${offset}`, () =>
          migrateHuge(ctx, {
            prot: PROT_READ | PROT_WRITE,
            advice: useThp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE,
            init: initInts(ctx),
            mirror: (i) => i,
            after: (buffer) => unmapPartAndFault(ctx, buffer, size, offset),
          }),
        );
      }
    }
  },
);

/** munmap(ptr + offset, size / 2), then every int outside the hole still reads back as i. */
function unmapPartAndFault(ctx: SelftestContext, buffer: HmmBuffer, size: number, offset: number): void {
  const p = ctx.proc;
  const unmapSize = size / 2;
  munmap(p, buffer.ptr + offset, unmapSize);
  const before = offset / INT;
  const after = (offset + unmapSize) / INT;
  if (before > 0) ASSERT_INTS(readInts(p, buffer.ptr, before), (i) => i, 'ptr');
  if (after < size / INT) {
    const tail = readInts(p, buffer.ptr + offset + unmapSize, size / INT - after);
    ASSERT_INTS(tail, (i) => after + i, `ptr[${after}..]`);
  }
}

export const migrateRemapFault = thpTest(
  'migrate_remap_fault',
  {
    seedCannot: `${SEED_CANNOT}; MREMAP_DONTUNMAP is v5.7`,
    note: 'before × dont_unmap × use_thp × offset: 2 × 2 × 2 × 3 = 24 rounds.',
  },
  (ctx) => {
    const size = readPmdPagesize();
    for (const before of [false, true]) {
      for (const dontUnmap of [false, true]) {
        for (const useThp of [false, true]) {
          for (const offset of [0, size / 4, size / 2]) {
            const label = `before = ${Number(before)}, dont_unmap = ${Number(dontUnmap)}, use_thp = ${Number(useThp)}, offset = ${offset}`;
            withContext(label, () => remapRound(ctx, size, { before, dontUnmap, useThp, offset }));
          }
        }
      }
    }
  },
);

function remapRound(
  ctx: SelftestContext,
  size: number,
  o: { before: boolean; dontUnmap: boolean; useThp: boolean; offset: number },
): void {
  const p = ctx.proc;
  const flags = MREMAP_MAYMOVE | MREMAP_FIXED | (o.dontUnmap ? MREMAP_DONTUNMAP : 0);
  const buffer = hmmBuffer(8 * size, size);
  buffer.mirror.fill(0xff);
  buffer.ptr = mmap(p, buffer.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  ASSERT_NE(buffer.ptr, MAP_FAILED, 'buffer->ptr');
  const npages = size / ctx.pageSize;
  const map = alignUp(buffer.ptr, size);
  const ret = madvise(p, map, size, o.useThp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  ASSERT_EQ(ret, 0, 'ret');
  const oldPtr = buffer.ptr;
  munmap(p, map + size, size * 2);
  buffer.ptr = map;

  // Initialize buffer in system memory.
  writeInts(p, buffer.ptr, 0, size / INT, (i) => i);

  let newPtr = 0;
  const remap = (): void => {
    newPtr = mremapFixed(ctx, map, size, flags, map + size + o.offset);
    ASSERT_NE(newPtr, MAP_FAILED, 'new_ptr');
    buffer.ptr = newPtr;
  };
  if (o.before) remap();

  // Migrate memory to device.
  migrateToDev(ctx, buffer, npages);
  // Check what the device read.
  ASSERT_INTS(mirrorInts(buffer), (i) => i, 'mirror');

  if (!o.before) remap();

  // Fault pages back to system memory and check them.
  ASSERT_INTS(readInts(p, buffer.ptr, size / INT), (i) => i, 'ptr');
  munmap(p, newPtr, size);
  buffer.ptr = oldPtr;
  hmmBufferFree(p, buffer);
}

export const migrateAnonHugeErr = thpTest(
  'migrate_anon_huge_err',
  { seedCannot: `${SEED_CANNOT}; HMM_DMIRROR_FLAGS and MIGRATE_TO_SYS are v6.19 and v6.1` },
  (ctx) => {
    const p = ctx.proc;
    const size = readPmdPagesize();
    const npages = size / ctx.pageSize;
    let { buffer, oldPtr } = thpBuffer(ctx, size, PROT_READ | PROT_WRITE, MADV_HUGEPAGE, 2 * size);

    // Initialize buffer in system memory.
    writeInts(p, buffer.ptr, 0, size / INT, (i) => i);

    // Migrate memory to device but force a THP allocation error.
    failNextAlloc(ctx, buffer);
    migrateToDev(ctx, buffer, npages);
    // Check what the device read (the C loop stops at the first mismatch).
    ASSERT_INTS(mirrorInts(buffer), (i) => i, 'mirror', 0, size / INT);

    // Try faulting back a single (PAGE_SIZE) page.
    ASSERT_EQ(intAt(ctx, buffer.ptr, 2048), 2048, 'ptr[2048]');

    // unmap and remap the region to reset things.
    const ret = munmap(p, oldPtr, 2 * size);
    ASSERT_EQ(ret, 0, 'ret');
    ({ buffer, oldPtr } = remapped(ctx, buffer, size, PROT_READ | PROT_WRITE));

    // Initialize buffer in system memory.
    writeInts(p, buffer.ptr, 0, size / INT, (i) => i);

    // Migrate THP to device.
    migrateToDev(ctx, buffer, npages);

    // Force an allocation error when faulting back a THP resident in the device.
    failNextAlloc(ctx, buffer);
    const back = hmm_migrate_dev_to_sys(ctx.fd, buffer, npages);
    ASSERT_EQ(back, 0, 'ret');
    ASSERT_EQ(intAt(ctx, buffer.ptr, 2048), 2048, 'ptr[2048]');
    buffer.ptr = oldPtr;
    hmmBufferFree(p, buffer);
  },
);

/** The remap half of the _err tests: a fresh 2 * size mapping, aligned and MADV_HUGEPAGE, same mirror. */
function remapped(
  ctx: SelftestContext,
  buffer: HmmBuffer,
  size: number,
  prot: number,
): { buffer: HmmBuffer; oldPtr: number } {
  const oldPtr = mmap(ctx.proc, 2 * size, prot, MAP_PRIVATE | MAP_ANONYMOUS);
  ASSERT_NE(oldPtr, MAP_FAILED, 'old_ptr');
  const map = alignUp(oldPtr, size);
  const ret = madvise(ctx.proc, map, size, MADV_HUGEPAGE);
  ASSERT_EQ(ret, 0, 'ret');
  buffer.ptr = map;
  return { buffer, oldPtr };
}

export const migrateAnonHugeZeroErr = thpTest(
  'migrate_anon_huge_zero_err',
  {
    seedCannot: `${SEED_CANNOT}; HMM_DMIRROR_FLAGS is v6.19`,
    note:
      "After the remap the C test reads `ptr[0]` through the pointer to the first mapping's aligned " +
      'address (ptr still holds it); the port reads there too, which is the new mapping only if mmap ' +
      'gave the same address back, as it does here and on Linux.',
  },
  (ctx) => {
    const p = ctx.proc;
    const size = readPmdPagesize();
    const npages = size / ctx.pageSize;
    let { buffer, oldPtr } = thpBuffer(ctx, size, PROT_READ, MADV_HUGEPAGE, 2 * size);

    // Migrate memory to device but force a THP allocation error.
    failNextAlloc(ctx, buffer);
    migrateToDev(ctx, buffer, npages);
    // Check what the device read.
    ASSERT_INTS(mirrorInts(buffer), () => 0, 'mirror', 0, size / INT);

    // Try faulting back a single (PAGE_SIZE) page.
    const ptr = buffer.ptr;
    ASSERT_EQ(intAt(ctx, ptr, 2048), 0, 'ptr[2048]');

    // unmap and remap the region to reset things.
    const ret = munmap(p, oldPtr, 2 * size);
    ASSERT_EQ(ret, 0, 'ret');
    ({ buffer, oldPtr } = remapped(ctx, buffer, size, PROT_READ));

    // Initialize buffer in system memory (zero THP page): ret = ptr[0] through the old pointer.
    ASSERT_EQ(intAt(ctx, ptr, 0), 0, 'ret');

    // Migrate memory to device but force a THP allocation error.
    failNextAlloc(ctx, buffer);
    migrateToDev(ctx, buffer, npages);

    // Fault the device memory back and check it.
    ASSERT_INTS(readInts(p, buffer.ptr, size / INT), () => 0, 'ptr');
    buffer.ptr = oldPtr;
    hmmBufferFree(p, buffer);
  },
);

/** The v6.19 THP tests, in hmm-tests.c order. */
export const HMM_THP_SELFTESTS: readonly Selftest[] = [
  migrateAnonHugeEmpty,
  migrateAnonHugeZero,
  migrateAnonHugeFree,
  migrateAnonHugeFault,
  migratePartialUnmapFault,
  migrateRemapFault,
  migrateAnonHugeErr,
  migrateAnonHugeZeroErr,
];
