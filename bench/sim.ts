/**
 * Simulator side of the benchmarks: one function per operation, each doing the same work as its native
 * baseline in bench/native/baseline.c, timed with process.hrtime.bigint() around the measured call only.
 * Every operation runs `warmup` untimed repetitions (JIT warm-up) and then `reps` timed ones.
 */
import {
  type DeviceFile,
  type DeviceKernelContext,
  dmirror,
  HPAGE_PMD_NR,
  hmm,
  MADV_HUGEPAGE,
  MADV_POPULATE_WRITE,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MmuIntervalNotifier,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  mm as mmApi,
  mmuIntervalNotifierInsert,
  mmuIntervalReadBegin,
  mmuIntervalSetSeq,
  PROT_READ,
  PROT_WRITE,
  Simulator,
  type Task,
  testHmm,
} from '../src/index.js';
import { budgetOps } from './budgets.js';
import { type Measurement, repeat, time } from './stats.js';
import { thpMigrationOps } from './thp_migration.js';

const PAGE_SIZE = 4096;

export interface SimOpOptions {
  reps: number;
  warmup: number;
}

export type SimOp = (pages: number, opts: SimOpOptions) => Measurement;

function newProcess(pages: number) {
  const sim = new Simulator({ seed: 1, ramPages: pages + 4096, devices: [] });
  return sim.createProcess();
}

type Process = ReturnType<typeof newProcess>;

function mapAnon(p: Process, pages: number): number {
  return p.mmap(pages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
}

function mapPopulated(p: Process, pages: number): number {
  const a = mapAnon(p, pages);
  p.madvise(a, pages * PAGE_SIZE, MADV_POPULATE_WRITE);
  return a;
}

/** Fault-in of `pages` missing anonymous pages for write, on a fresh mapping each rep. */
export function populateWrite(pages: number, opts: SimOpOptions): Measurement {
  const p = newProcess(pages);
  return repeat(pages, opts, () => {
    const a = mapAnon(p, pages);
    const ns = time(() => p.madvise(a, pages * PAGE_SIZE, MADV_POPULATE_WRITE));
    p.munmap(a, pages * PAGE_SIZE);
    return ns;
  });
}

/** A 2 MiB-aligned address for the THP benchmark's MAP_FIXED mapping. */
const THP_BASE = 0x4000_0000_0000;

/**
 * Fault-in of `pages` missing pages of a 2 MiB-aligned MADV_HUGEPAGE mapping (thp 'madvise', the
 * default): MADV_POPULATE_WRITE takes one PMD fault per 2 MiB, as the native baseline's kernel does.
 */
export function populateWriteThp(pages: number, opts: SimOpOptions): Measurement {
  const p = newProcess(pages + HPAGE_PMD_NR);
  const len = pages * PAGE_SIZE;
  return repeat(pages, opts, () => {
    const a = p.sim.run(
      'mmap',
      p.task.mmapAt(THP_BASE, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED),
    );
    p.madvise(a, len, MADV_HUGEPAGE);
    const ns = time(() => p.madvise(a, len, MADV_POPULATE_WRITE));
    p.munmap(a, len);
    return ns;
  });
}

/** A page-table walk of `pages` resident pages producing one 64-bit pagemap entry per page. */
export function walk(pages: number, opts: SimOpOptions): Measurement {
  const p = newProcess(pages);
  const a = mapPopulated(p, pages);
  const out = new Uint32Array(2 * pages);
  return repeat(pages, opts, () => {
    out.fill(0);
    const ns = time(() => p.pagemap(a, pages, out));
    // Bit 63 (present) is bit 31 of the high word: the walk must have seen resident pages.
    if (out[1]! >>> 31 !== 1 || out[2 * pages - 1]! >>> 31 !== 1) {
      throw new Error('pagemap walk reported a populated page as not present');
    }
    return ns;
  });
}

/**
 * The pure walk: the raw 64-bit PTE of each of `pages` resident pages (p.walkPtes), the same work
 * as mincore() — which reads the same entries and reports a byte each — without pagemap's
 * struct-page lookups (PM_FILE, PM_MMAP_EXCLUSIVE).
 */
export function walkPtes(pages: number, opts: SimOpOptions): Measurement {
  const p = newProcess(pages);
  const a = mapPopulated(p, pages);
  const out = new Uint32Array(2 * pages);
  return repeat(pages, opts, () => {
    out.fill(0);
    const ns = time(() => p.walkPtes(a, pages, out));
    if ((out[0]! & 1) !== 1 || (out[2 * pages - 2]! & 1) !== 1) {
      throw new Error('walkPtes reported a populated page as not present');
    }
    return ns;
  });
}

/** mprotect(PROT_READ) of `pages` resident pages, on a fresh populated mapping each rep. */
export function mprotect(pages: number, opts: SimOpOptions): Measurement {
  const p = newProcess(pages);
  return repeat(pages, opts, () => {
    const a = mapPopulated(p, pages);
    const ns = time(() => p.mprotect(a, pages * PAGE_SIZE, PROT_READ));
    p.munmap(a, pages * PAGE_SIZE);
    return ns;
  });
}

/** munmap of `pages` resident pages, on a fresh populated mapping each rep. */
export function munmap(pages: number, opts: SimOpOptions): Measurement {
  const p = newProcess(pages);
  return repeat(pages, opts, () => {
    const a = mapPopulated(p, pages);
    return time(() => p.munmap(a, pages * PAGE_SIZE));
  });
}

/**
 * mremap(MREMAP_MAYMOVE | MREMAP_FIXED) of `pages` resident pages to a free range, on a fresh populated
 * mapping each rep; the destination is off the source's 2 MiB alignment, as in the native baseline.
 */
export function mremap(pages: number, opts: SimOpOptions): Measurement {
  const p = newProcess(pages);
  const len = pages * PAGE_SIZE;
  return repeat(pages, opts, () => {
    const a = mapPopulated(p, pages);
    const dst = a - len - 2 * 2 ** 21 - 2 * PAGE_SIZE;
    const ns = time(() => p.mremap(a, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst));
    if (p.pte(dst + len - PAGE_SIZE).kind !== 'present') throw new Error('mremap left the last page behind');
    p.munmap(dst, len);
    return ns;
  });
}

// -- HMM ------------------------------------------------------------------------------------------

const PAGE_SHIFT = 12;
/** A driver's entry format for the hmm_range benchmarks: VALID 1, WRITE 2, DEVICE_PRIVATE 4. */
const RANGE_TABLES = { flags: [1, 2, 4], values: [8, 0, 16], pfnShift: 6 };
/** Device READs that fill the device page table go in chunks of this many pages (bounce buffers). */
const READ_CHUNK = 4096;

/** Runs a generator on the simulator's scheduler, to completion. */
function run<T>(sim: Simulator, name: string, task: Task<T>): T {
  return sim.run(name, task);
}

/**
 * A process with `pages` resident anonymous pages, each holding data (a page never written has no
 * bytes in the simulator, and would make a copy free), and one dmirror device with room for them.
 */
function dataProcess(pages: number, devicePages: number, kernel: 'v5.3' | 'v6.19' = 'v5.3') {
  const sim = new Simulator({
    seed: 1,
    ramPages: pages + 4096,
    kernel,
    devices: [{ memoryPages: devicePages }],
  });
  const p = sim.createProcess();
  const a = mapAnon(p, pages);
  const chunk = new Uint8Array(READ_CHUNK * PAGE_SIZE);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31 + 7) & 0xff;
  for (let done = 0; done < pages; done += READ_CHUNK) {
    const n = Math.min(READ_CHUNK, pages - done);
    p.write(a + done * PAGE_SIZE, chunk.subarray(0, n * PAGE_SIZE));
  }
  return { sim, p, a, pattern: chunk };
}

/**
 * migrate_vma of `pages` pages to device memory and back, `batch` pages per migrate_vma call, with
 * data: the dmirror driver's migrate functions, called directly (HMM_DMIRROR_MIGRATE without its
 * read-back, then the range form of its migrate-to-RAM path), so the time is the migration's. Both
 * directions copy every page through the device's DMA engine: 2 x 4 KiB per page.
 */
function migrateRoundTrip(batch: number): SimOp {
  return (pages, opts) => {
    const { sim, p, a, pattern } = dataProcess(pages, pages);
    const fd = sim.openDevice(0, p);
    const end = a + pages * PAGE_SIZE;
    const dev = sim.device(0);
    return repeat(pages, opts, () => {
      let r1 = 0;
      let r2 = 0;
      let onDevice = 0;
      const ns = time(() => {
        r1 = run(sim, 'migrate', dmirror.dmirrorMigrateRange(fd.dmirror, a, end, batch));
        onDevice = pages - dev.freeCount;
        r2 = run(sim, 'migrate back', dmirror.dmirrorMigrateRangeToRam(fd.dmirror, a, end, batch));
      });
      checkRoundTrip({ p, a, pattern }, pages, [r1, r2], onDevice, dev.freeCount);
      return ns;
    });
  };
}

/**
 * After a round trip: both directions returned 0, every page went to the device, every device page
 * is free again, page 0 is a present PTE and the last page holds its data.
 */
function checkRoundTrip(
  w: { p: Process; a: number; pattern: Uint8Array },
  pages: number,
  rets: number[],
  onDevice: number,
  freeAfter: number,
): void {
  if (rets.some((r) => r !== 0) || onDevice !== pages || freeAfter !== pages)
    throw new Error(`migration failed: ${rets}, ${onDevice} of ${pages} pages moved to the device`);
  const last = w.p.read(w.a + (pages - 1) * PAGE_SIZE, PAGE_SIZE);
  const want = w.pattern.subarray(
    ((pages - 1) % READ_CHUNK) * PAGE_SIZE,
    (((pages - 1) % READ_CHUNK) + 1) * PAGE_SIZE,
  );
  if (w.p.pte(w.a).kind !== 'present' || !Buffer.from(last).equals(Buffer.from(want)))
    throw new Error('the data did not come back from device memory');
}

/**
 * Today's API (v6.19): migrate_vma_setup / pages / finalize of `pages` pages to device-private memory
 * and back, with data, PTRS_PER_PTE (512) pages per call, on today's test_hmm device (its memremap'd
 * memory, DMA engine and device page table). To the device, the driver's part is written here on the
 * API itself (test_hmm's MIGRATE_TO_DEV reads the range back through a bounce buffer afterwards, which
 * is not the migration): under mmap_read_lock, per batch, migrateVmaSetup (SELECT_SYSTEM, owner the
 * device), a device page per entry and one DMA copy, migrateVmaPages, map under dmirror->mutex,
 * migrateVmaFinalize. Back: test_hmm's own HMM_DMIRROR_MIGRATE_TO_SYS (dmirror_migrate_to_system),
 * which has no read-back. 2 x 4 KiB copied per page, as the seed bench.
 */
export function modernMigrateRoundTrip(pages: number, opts: SimOpOptions): Measurement {
  const { sim, p, a, pattern } = dataProcess(pages, pages);
  const fd = sim.openDevice(0, p, { api: 'modern' });
  const dmirror = fd.driver as testHmm.TestHmmDmirror;
  const mdevice = sim.modernDevice(0);
  return repeat(pages, opts, () => {
    let r1 = 0;
    let r2 = 0 as testHmm.DmirrorCmdResult | number;
    let onDevice = 0;
    const ns = time(() => {
      r1 = run(sim, 'migrate_vma to device', modernMigrateToDevice(dmirror, a, pages));
      onDevice = pages - mdevice.freeCount;
      r2 = run(sim, 'HMM_DMIRROR_MIGRATE_TO_SYS', testHmm.dmirrorMigrateToSystem(dmirror, a, pages));
    });
    const back = typeof r2 === 'number' ? r2 : r2.cpages === pages ? 0 : -r2.cpages;
    checkRoundTrip({ p, a, pattern }, pages, [r1, back], onDevice, mdevice.freeCount);
    return ns;
  });
}

/** The to-device half of modernMigrateRoundTrip: 0, or the first error of migrate_vma_setup. */
function* modernMigrateToDevice(dmirror: testHmm.TestHmmDmirror, start: number, pages: number): Task<number> {
  const { mm } = dmirror;
  const src = new Float64Array(testHmm.DMIRROR_MIGRATE_BATCH);
  const dst = new Float64Array(testHmm.DMIRROR_MIGRATE_BATCH);
  const end = start + pages * PAGE_SIZE;
  yield* mm.mmapSem.downRead();
  try {
    for (let addr = start; addr < end; addr += testHmm.DMIRROR_MIGRATE_BATCH * PAGE_SIZE) {
      const vma = mm.vmaAt(addr);
      const next = Math.min(end, addr + testHmm.DMIRROR_MIGRATE_BATCH * PAGE_SIZE);
      const args: mmApi.MigrateVma = {
        vma,
        src,
        dst,
        start: addr,
        end: next,
        pgmapOwner: dmirror.mdevice,
        flags: mmApi.MIGRATE_VMA_SELECT_SYSTEM,
        cpages: 0,
        npages: 0,
      };
      const ret = yield* mmApi.migrateVmaSetup(args);
      if (ret !== 0) return ret;
      const given = deviceAllocAndCopy(dmirror, args);
      yield* mmApi.migrateVmaPages(args);
      yield* deviceMap(dmirror, args, given);
      mmApi.migrateVmaFinalize(args);
    }
  } finally {
    mm.mmapSem.upRead();
  }
  return 0;
}

/**
 * A device page for every entry to move (writable iff the source was), one DMA copy for the batch.
 * Returns the indices that got one.
 */
function deviceAllocAndCopy(dmirror: testHmm.TestHmmDmirror, args: mmApi.MigrateVma): number[] {
  const src = args.src as Float64Array;
  const dst = args.dst as Float64Array;
  const given: number[] = [];
  const to: number[] = [];
  const from: number[] = [];
  for (let i = 0; i < args.npages; i++) {
    const f = mmApi.migratePfnFlags(src[i] as number);
    const dpage = f & mmApi.MIGRATE_PFN_MIGRATE ? dmirror.mdevice.allocPage(dmirror) : -1;
    if (dpage < 0) continue;
    dst[i] = mmApi.migratePfnSet(mmApi.migratePfn(dpage), f & mmApi.MIGRATE_PFN_WRITE);
    given.push(i);
    to.push(dpage);
    from.push(mmApi.migratePfnToPage(src[i] as number));
  }
  dmirror.mdevice.device.dma.submit(to, from);
  return given;
}

/** Under dmirror->mutex: map in the device page table each given page that migrate_vma_pages moved. */
function* deviceMap(dmirror: testHmm.TestHmmDmirror, args: mmApi.MigrateVma, given: number[]): Task {
  const { src, dst } = args as { src: Float64Array; dst: Float64Array };
  const first = args.start / PAGE_SIZE;
  yield* dmirror.mutex.lock();
  for (const i of given)
    if (mmApi.migratePfnFlags(src[i] as number) & mmApi.MIGRATE_PFN_MIGRATE)
      dmirror.mmu.map(
        first + i,
        mmApi.migratePfnToPage(dst[i] as number),
        (mmApi.migratePfnFlags(dst[i] as number) & mmApi.MIGRATE_PFN_WRITE) !== 0,
      );
  dmirror.mutex.unlock();
}

/** A registered mirror and range over `pages` resident pages (mirror callbacks do nothing). */
function mirroredRange(pages: number, defaultFlags: number) {
  const sim = new Simulator({ seed: 1, ramPages: pages + 4096, devices: [] });
  const p = sim.createProcess();
  const a = mapPopulated(p, pages);
  const mirror = new hmm.HmmMirror({ syncCpuDevicePagetables: () => 0 });
  run(sim, 'register', registerMirror(mirror, p));
  const range = new hmm.HmmRange({ pfns: new Float64Array(pages), ...RANGE_TABLES, defaultFlags });
  const ret = run(sim, 'register', registerRange(range, mirror, a, a + pages * PAGE_SIZE));
  if (ret !== 0) throw new Error(`hmm_range_register: ${ret}`);
  return { sim, p, range };
}

// biome-ignore lint/correctness/useYield: a task, so it runs in a thread (the range lock needs one)
function* registerRange(
  range: hmm.HmmRange,
  mirror: hmm.HmmMirror,
  start: number,
  end: number,
): Task<number> {
  return hmm.hmmRangeRegister(range, mirror, start, end, PAGE_SHIFT);
}

function* registerMirror(mirror: hmm.HmmMirror, p: Process): Task {
  yield* p.mm.mmapSem.downWrite();
  try {
    const ret = hmm.hmmMirrorRegister(mirror, p.mm);
    if (ret !== 0) throw new Error(`hmm_mirror_register: ${ret}`);
  } finally {
    p.mm.mmapSem.upWrite();
  }
}

/** down_read(mmap_sem); hmm_range_fault or hmm_range_snapshot; up_read. */
function* walkRange(p: Process, range: hmm.HmmRange, fault: boolean): Task<number> {
  yield* p.mm.mmapSem.downRead();
  try {
    return fault ? yield* hmm.hmmRangeFault(range, true) : yield* hmm.hmmRangeSnapshot(range);
  } finally {
    p.mm.mmapSem.upRead();
  }
}

function checkWalk(ret: number, range: hmm.HmmRange, pages: number): void {
  // Every entry VALID|WRITE (the pages are resident and writable), and the full count.
  if (ret !== pages || range.pfns[0]! % 64 !== 3 || range.pfns[pages - 1]! % 64 !== 3)
    throw new Error(`the walk did not report ${pages} resident writable pages (returned ${ret})`);
}

/** hmm_range_fault (read request everywhere) over `pages` pages that are already resident. */
export function hmmRangeFaultPopulated(pages: number, opts: SimOpOptions): Measurement {
  const { sim, p, range } = mirroredRange(pages, RANGE_TABLES.flags[0]!);
  return repeat(pages, opts, () => {
    range.pfns.fill(0);
    let ret = 0;
    const ns = time(() => {
      ret = run(sim, 'hmm_range_fault', walkRange(p, range, true));
    });
    checkWalk(ret, range, pages);
    return ns;
  });
}

/**
 * Today's hmm_range_fault (hmm.modern, v6.19) with HMM_PFN_REQ_FAULT over `pages` resident pages, the
 * way a driver calls it: mmu_interval_read_begin, mmap_read_lock, hmm_range_fault, unlock.
 */
export function hmmRangeFaultModernPopulated(pages: number, opts: SimOpOptions): Measurement {
  const sim = new Simulator({ seed: 1, ramPages: pages + 4096, devices: [] });
  const p = sim.createProcess();
  const a = mapPopulated(p, pages);
  const sub = new MmuIntervalNotifier();
  const invalidate = (s: MmuIntervalNotifier, _r: unknown, seq: number) => {
    mmuIntervalSetSeq(s, seq);
    return true;
  };
  run(sim, 'insert', mmuIntervalNotifierInsert(sub, p.mm, a, pages * PAGE_SIZE, { invalidate }));
  const { HMM_PFN_REQ_FAULT, HMM_PFN_VALID, HMM_PFN_WRITE } = hmm.modern;
  const range: hmm.modern.HmmRange = {
    notifier: sub,
    notifierSeq: 0,
    start: a,
    end: a + pages * PAGE_SIZE,
    hmmPfns: new Float64Array(pages),
    defaultFlags: HMM_PFN_REQ_FAULT,
    pfnFlagsMask: 0,
    devPrivateOwner: null,
  };
  const rw = HMM_PFN_VALID + HMM_PFN_WRITE;
  return repeat(pages, opts, () => {
    range.hmmPfns.fill(0);
    let ret = 0;
    const ns = time(() => {
      ret = run(sim, 'hmm_range_fault', modernWalk(p, range));
    });
    const last = range.hmmPfns[pages - 1]!;
    if (ret !== 0 || hmm.modern.hmmPfnFlags(range.hmmPfns[0]!) !== rw || hmm.modern.hmmPfnFlags(last) !== rw)
      throw new Error(`hmm_range_fault did not report ${pages} resident writable pages (returned ${ret})`);
    return ns;
  });
}

function* modernWalk(p: Process, range: hmm.modern.HmmRange): Task<number> {
  range.notifierSeq = yield* mmuIntervalReadBegin(range.notifier);
  yield* p.mm.mmapSem.downRead();
  try {
    return yield* hmm.modern.hmmRangeFault(range);
  } finally {
    p.mm.mmapSem.upRead();
  }
}

/** hmm_range_snapshot over `pages` resident pages. */
export function hmmRangeSnapshot(pages: number, opts: SimOpOptions): Measurement {
  const { sim, p, range } = mirroredRange(pages, 0);
  return repeat(pages, opts, () => {
    range.pfns.fill(0);
    let ret = 0;
    const ns = time(() => {
      ret = run(sim, 'hmm_range_snapshot', walkRange(p, range, false));
    });
    checkWalk(ret, range, pages);
    return ns;
  });
}

/** HMM_DMIRROR_READ of the whole range, in chunks: the device maps every page. */
function deviceMapAll(fd: DeviceFile, a: number, pages: number): void {
  for (let done = 0; done < pages; done += READ_CHUNK)
    fd.read(a + done * PAGE_SIZE, Math.min(READ_CHUNK, pages - done));
  if (fd.dmirror.pt.size !== pages)
    throw new Error(`the device maps ${fd.dmirror.pt.size} of ${pages} pages`);
}

/**
 * munmap or mprotect(PROT_READ) of `pages` resident pages that a live dmirror mirror maps (a device
 * READ of the range first, untimed): the mmu notifier reaches the mirror, which erases its entries.
 */
function invalidateMirrored(op: 'munmap' | 'mprotect'): SimOp {
  return (pages, opts) => {
    const sim = new Simulator({ seed: 1, ramPages: pages + 4096, devices: [{ memoryPages: 1 }] });
    const p = sim.createProcess();
    const fd = sim.openDevice(0, p);
    return repeat(pages, opts, () => {
      const a = mapPopulated(p, pages);
      deviceMapAll(fd, a, pages);
      const ns = time(() => {
        if (op === 'munmap') p.munmap(a, pages * PAGE_SIZE);
        else p.mprotect(a, pages * PAGE_SIZE, PROT_READ);
      });
      if (fd.dmirror.pt.size !== 0) throw new Error(`the device still maps ${fd.dmirror.pt.size} pages`);
      if (op === 'mprotect') p.munmap(a, pages * PAGE_SIZE);
      return ns;
    });
  };
}

/** Device threads in the device-fault benchmark (the batch size the fault handler sees). */
const DEVICE_FAULT_THREADS = 64;

/**
 * A device kernel touching each of `pages` resident pages once (DEVICE_FAULT_THREADS threads, one
 * byte per page): every page is a replayable fault that the driver services through
 * hmm_range_fault and maps, then a replay. A fresh open (empty device page table and TLB) per rep.
 */
export function deviceFaultIn(pages: number, opts: SimOpOptions): Measurement {
  const sim = new Simulator({ seed: 1, ramPages: pages + 4096, devices: [{ memoryPages: 1 }] });
  const p = sim.createProcess();
  const a = mapPopulated(p, pages);
  const kernel = function* (ctx: DeviceKernelContext): Task<number> {
    let sum = 0;
    for (let i = ctx.threadId; i < pages; i += ctx.threads) sum += yield* ctx.load8(a + i * PAGE_SIZE);
    return sum;
  };
  return repeat(pages, opts, () => {
    const fd = sim.openDevice(0, p);
    const ns = time(() => {
      fd.launch(kernel, { threads: DEVICE_FAULT_THREADS });
    });
    if (fd.dmirror.pt.size !== pages)
      throw new Error(`the device maps ${fd.dmirror.pt.size} of ${pages} pages`);
    fd.close();
    return ns;
  });
}

/** Keyed by `BenchmarkSpec.sim` (bench/registry.ts). */
export const simOps: Readonly<Record<string, SimOp>> = {
  'populate-write': populateWrite,
  'populate-write-thp': populateWriteThp,
  walk,
  'walk-ptes': walkPtes,
  mprotect,
  munmap,
  mremap,
  'migrate-b1': migrateRoundTrip(1),
  'migrate-b64': migrateRoundTrip(64),
  'migrate-b512': migrateRoundTrip(512),
  'migrate-vma-modern': modernMigrateRoundTrip,
  'hmm-range-fault': hmmRangeFaultPopulated,
  'hmm-range-fault-modern': hmmRangeFaultModernPopulated,
  'hmm-range-snapshot': hmmRangeSnapshot,
  'invalidate-munmap': invalidateMirrored('munmap'),
  'invalidate-mprotect': invalidateMirrored('mprotect'),
  'device-fault-in': deviceFaultIn,
  ...budgetOps,
  ...thpMigrationOps,
};
