/**
 * Model-based test of HMM through the dmirror driver: random sequences of CPU commands (mmap of
 * anonymous and file memory, private and shared, munmap, mprotect, MADV_DONTNEED, fork, exit, CPU
 * reads and writes, pwrite) and device commands on two devices — each process has one open
 * /dev/hmm_dmirror0 and one /dev/hmm_dmirror1 (`sim.openDevice(n, p)`) — device READ, device
 * WRITE, MIGRATE to device memory, and closing and reopening a device file, against a reference
 * model that knows nothing of page tables, mirrors or device memory: per process, a map from
 * virtual page to { protection, backing, private copy } (the model of test/mm/model.property.test.ts,
 * copied in its minimal form).
 *
 * The rules the model checks (Linux v5.3 semantics as hmmsim implements them, src/hmm/range.ts and
 * src/drivers/dmirror/populate.ts):
 * - Device READ and WRITE: the driver copies through its page table up to the first page it has
 *   no (writable) entry for, then faults the rest in 64-page batches. A batch fails at the first
 *   page hmm_range_fault cannot fault — a VMA without VM_READ (PROT_NONE, or PROT_WRITE alone):
 *   EPERM; a gap with no VMA: EPERM if the VMA after the gap lacks VM_READ (find_vma's VMA is
 *   checked before the gap is walked), else EFAULT; a file page past EOF: EFAULT (VM_FAULT_SIGBUS);
 *   for WRITE, a VMA without VM_WRITE: EPERM (the v5.4 check) — except that a device-private entry
 *   is never faulted in that first round, so a read-only one (in a read-only VMA) fails with EPERM
 *   only when the batch asks again with DEVICE_PRIVATE, after the rest of the batch succeeded.
 * - READ returns the model's bytes for every page. WRITE changes the process's view exactly as a
 *   CPU store would (private memory gets a copy of its own: a write through a child's file never
 *   shows in the parent). A failed WRITE has written some prefix of the range (the device writes
 *   page by page, faulting as it goes): the test finds which, without faulting, and every other
 *   page must be untouched; its write faults may have broken COW of private file pages it did not
 *   write (they become anonymous copies of the old bytes, which no longer follow the file).
 * - MIGRATE never changes data. The result is EINVAL if a page of the range lies in a gap or in a
 *   VMA without VM_READ; otherwise ENOENT if a page cannot move to this device — shared or
 *   file-backed memory, a page already in device memory (any device: the v5.3 core has no owner,
 *   and its invalidation erased this device's own entries) — or if the device has fewer free pages
 *   than the range needs; otherwise the bytes read back equal the model. Device memory is small
 *   (32 and 64 pages), so exhaustion happens.
 * - After every command: the accounting checker finds nothing (device-private entries count as
 *   mappings, device pages idle at refcount 1); every VMA matches the model; every page of every
 *   process holds the model's bytes, read WITHOUT faulting (the frame the PTE or device-private
 *   entry points at, or the page cache / zeros for an empty PTE), so pages stay where commands put
 *   them; every device page-table entry of every open device file maps exactly the frame the CPU
 *   page table maps there (hmm.h: a VA maps the same memory on both sides, or one side has no
 *   entry), and is writable only where the CPU entry is; every device page is either on its free
 *   list or mapped, and calloc - cfree is the number in use.
 * - At the end every process exits and every device file closes: the only RAM still in use is the
 *   files' page cache, every device page is back on its free list, and calloc === cfree.
 *
 * The modern flavour runs the same operations on `{ api: 'modern' }` device files (today's test_hmm)
 * on a v6.19 machine, with the same leak and byte checks, plus MIGRATE_TO_SYS, RELEASE and EXCLUSIVE. Its
 * READ/WRITE errors follow v6.19's hmm_range_fault (modernDeviceAccess), its MIGRATE the
 * migrate_vma_setup/read-back of MIGRATE_TO_DEV (MigrateCmd.migrateModern); device pages idle at
 * refcount 0 (today's rule), and RELEASE's evictions are not counted in cfree.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkAccounting } from '../../src/check/accounting.js';
import { coherenceViolations, type MirrorView } from '../../src/check/coherence.js';
import {
  type DeviceFile,
  dmirror,
  HmmError,
  MADV_DONTNEED,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  type Process,
  type SimFile,
  Simulator,
  testHmm,
} from '../../src/index.js';
import {
  accessModel,
  beyondEof,
  expectSegv,
  faultOf,
  type Kind,
  layoutOfModel,
  layoutOfReal,
  Obj,
  PAGE,
  type PageModel,
  type ProcModel,
  pattern,
  pick,
  readable,
  targetVpn,
  writableBytes,
  ZEROS,
} from '../model/vm-model.js';

const MAX_PROCS = 4;
type Api = 'seed' | 'modern';
const RAM_PAGES = 4096;
const DEVICES = [{ memoryPages: 32 }, { memoryPages: 64 }];
/** Small memory sections keep the machine small (the checker walks every struct page after every step). */
const SECTION_PAGES = 512;
/** Where a process with no mapping aims its accesses: below the top-down mmap base, unmapped. */
const FILE_SIZES = [5 * PAGE, 2 * PAGE + 100];
/**
 * Fixed, so CI is reproducible; HMMSIM_HMM_MODEL_SEED / _RUNS soak it with other seeds. 300 runs of
 * the seed API (500 before the suite hit its time budget) still catch every bug injected by hand
 * to size it, with the run that first fails (default seed):
 * - mdevice.ts allocPage giving out one device page fewer than it has: run 219 (a MIGRATE that
 *   fills the device reports ENOENT for the last page), the latest; hence 300, not 200;
 * - dmirror.ts erase leaving the last page of the range on the device: run 1;
 * - memory.ts copySwapEntry leaving a device-private entry writable at fork: run 13;
 * - memory.ts copySwapEntry not counting a device-private page in the child's rss: run 13.
 */
const SEED = Number(process.env.HMMSIM_HMM_MODEL_SEED ?? 0x4a5d_2019);
const RUNS = Number(process.env.HMMSIM_HMM_MODEL_RUNS ?? 300);
/**
 * Replay one failure: fast-check prints `path` and, in the counterexample, `replayPath`; run with
 * HMMSIM_HMM_MODEL_PATH=<path> HMMSIM_HMM_MODEL_REPLAY=<replayPath> (and the same seed).
 */
const PATH = process.env.HMMSIM_HMM_MODEL_PATH;
const REPLAY = process.env.HMMSIM_HMM_MODEL_REPLAY;

// -- the reference model -------------------------------------------------------------------------

/** What happened over all runs, to check at the end that the interesting cases were reached. */
interface Coverage {
  devReadOk: number;
  devReadErr: number;
  devWriteOk: number;
  devWritePartial: number;
  migrateOk: number;
  migrateExhausted: number;
  migrateEnoent: number;
  migrateEinval: number;
  cpuTouchedDevicePage: number;
  forkWithDevicePages: number;
  exitWithDevicePages: number;
  remoteDevicePage: number;
  /** Today's API only. */
  migrateToSysMoved: number;
  releaseEvicted: number;
  exclusiveOk: number;
}

const coverage: Coverage = {
  devReadOk: 0,
  devReadErr: 0,
  devWriteOk: 0,
  devWritePartial: 0,
  migrateOk: 0,
  migrateExhausted: 0,
  migrateEnoent: 0,
  migrateEinval: 0,
  cpuTouchedDevicePage: 0,
  forkWithDevicePages: 0,
  exitWithDevicePages: 0,
  remoteDevicePage: 0,
  migrateToSysMoved: 0,
  releaseEvicted: 0,
  exclusiveOk: 0,
};

interface Model {
  /** As Real.api: which flavour this run is. */
  api: Api;
  procs: ProcModel[];
  files: Obj[];
}

interface Real {
  /** The HMM API the device files are opened on: the seed's dmirror, or today's test_hmm (v6.19). */
  api: Api;
  sim: Simulator;
  /** Devices a RELEASE has emptied. */
  released: Set<number>;
  procs: Process[];
  /** Each process's /dev/hmm_dmirror0 and /dev/hmm_dmirror1. */
  fds: DeviceFile[][];
  files: SimFile[];
}

/** The first mapped page above vpn (what find_vma returns for an address in a gap), or undefined. */
function nextMapped(pm: ProcModel, vpn: number): PageModel | undefined {
  let best = Number.POSITIVE_INFINITY;
  for (const v of pm.pages.keys()) if (v > vpn && v < best) best = v;
  return pm.pages.get(best);
}

/** The driver's fault batch: pages per hmm_range. */
const FAULT_BATCH = dmirror.DMIRROR_FAULT_BATCH;

/**
 * The error a device READ or WRITE of [vpn, vpn + n) must fail with, or null for success. The
 * driver copies through its page table up to the first page it has no (writable) entry for, `m`,
 * then faults [m, n) in batches of 64 pages, and each batch in rounds:
 * 1. hmm_range_fault with the plain request (VALID, | WRITE): the walk stops at the first page it
 *    cannot fault — a gap (EFAULT; EPERM if the VMA after the gap lacks VM_READ: find_vma's VMA is
 *    checked before the gap is walked), a VMA without VM_READ (EPERM), a write into a VMA without
 *    VM_WRITE (EPERM, the v5.4 check), a file page past EOF (EFAULT). A device-private entry is
 *    never faulted in this round (v5.3 faults it only if the request says DEVICE_PRIVATE).
 * 2. the device-private pages this device cannot use (another device's, or read-only for a write)
 *    are requested again with DEVICE_PRIVATE, which migrates them back: a write to one in a VMA
 *    without VM_WRITE is EPERM here.
 * The first batch that fails decides.
 */
function deviceAccess(
  pm: ProcModel,
  vpn: number,
  n: number,
  write: boolean,
  m: number,
  devicePrivate: (k: number) => boolean,
): 'EPERM' | 'EFAULT' | null {
  for (let b = m; b < n; b += FAULT_BATCH) {
    let second = false;
    for (let k = b; k < Math.min(n, b + FAULT_BATCH); k++) {
      const pg = pm.pages.get(vpn + k);
      if (pg === undefined) {
        const next = nextMapped(pm, vpn + k);
        return next !== undefined && !(next.prot & PROT_READ) ? 'EPERM' : 'EFAULT';
      }
      if (!(pg.prot & PROT_READ)) return 'EPERM';
      if (write && !(pg.prot & PROT_WRITE)) {
        if (!devicePrivate(k)) return 'EPERM';
        second = true;
      }
      if (beyondEof(pg)) return 'EFAULT';
    }
    if (second) return 'EPERM';
  }
  return null;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

/** What a write walk of today's hmm_range_fault finds at one page, from its CPU entry. */
type WriteWalk = 'ok' | 'fault' | 'own-read-only';

/**
 * Today's READ and WRITE (test_hmm's dmirror_fault on v6.19's hmm_range_fault, src/hmm/modern/hmm.ts),
 * faulting from the first page `m` the device page table lacks, 32 pages per hmm_range: in each, the
 * first page hmm_range_fault cannot fault fails it — a gap, a VMA without VM_READ or a file page past
 * EOF is -EFAULT, a write fault in a VMA without VM_WRITE -EPERM (device-private pages are faulted
 * in the same walk, v6.1+). This device's own read-only device-private page is reported as it is,
 * never faulted, and dmirror_do_fault then fails the write with -EFAULT (the kernel WARNs) — unless
 * an earlier page of its walk span (same VMA, same PMD) needed a fault: hmm_vma_fault faults from
 * there to the end of the span, that page included (do_swap_page migrates it back and breaks COW).
 */
function modernDeviceAccess(
  pm: ProcModel,
  vpn: number,
  n: number,
  write: boolean,
  m: number,
  walk: (k: number) => { at: WriteWalk; newSpan: boolean },
): 'EPERM' | 'EFAULT' | null {
  for (let b = m; b < n; b += testHmm.DMIRROR_RANGE_BATCH) {
    const end = Math.min(n, b + testHmm.DMIRROR_RANGE_BATCH);
    let faulting = false;
    let ownReadOnly = false;
    for (let k = b; k < end; k++) {
      const pg = pm.pages.get(vpn + k);
      if (pg === undefined || !(pg.prot & PROT_READ)) return 'EFAULT';
      if (write) {
        const { at, newSpan } = walk(k);
        if (newSpan || k === b) faulting = false;
        if (at === 'own-read-only' && !faulting) ownReadOnly = true;
        else if (at !== 'ok') {
          // hmm_vma_fault checks VM_WRITE before handle_mm_fault runs.
          if (!(pg.prot & PROT_WRITE)) return 'EPERM';
          faulting = true;
        }
      }
      if (beyondEof(pg)) return 'EFAULT';
    }
    if (ownReadOnly) return 'EFAULT';
  }
  return null;
}

/** The write walk at vpn for `fd`: what hmm_range_fault does with the CPU entry, and whether a span starts. */
function writeWalk(p: Process, fd: DeviceFile, vpn: number): { at: WriteWalk; newSpan: boolean } {
  const pte = p.pte(vpn * PAGE);
  const newSpan = vpn % 512 === 0 || p.mm.vmaAt(vpn * PAGE) !== p.mm.vmaAt((vpn - 1) * PAGE);
  if (pte.kind === 'device-private' && fd.driver.owns(pte.pfn))
    return { at: pte.write ? 'ok' : 'own-read-only', newSpan };
  return { at: pte.kind === 'present' && pte.write ? 'ok' : 'fault', newSpan };
}

/** The fd is open on today's test_hmm (a modern driver has no hmm_mirror). */
function isModern(fd: DeviceFile): boolean {
  return fd.driver.mirror === undefined;
}

/** The device an fd is open on, as either driver names it. */
function deviceName(fd: DeviceFile): string {
  return (fd.driver as unknown as { mdevice: { device: { name: string } } }).mdevice.device.name;
}

/** What the checks need of device n, whichever API drives it. */
function deviceOf(r: Real, n: number) {
  if (r.api === 'seed') {
    const d = r.sim.device(n);
    const first = d.devmem.pfnFirst;
    return {
      d,
      owns: (pfn: number) => d.owns(pfn),
      pfns: [first, first + (DEVICES[n] as { memoryPages: number }).memoryPages],
      idle: 1,
    };
  }
  const d = r.sim.modernDevice(n);
  const chunk = d.chunks[0];
  return {
    d,
    owns: (pfn: number) => d.owns(pfn),
    pfns: chunk === undefined ? [0, 0] : [chunk.pagemap.pfnFirst, chunk.pagemap.pfnLast],
    idle: 0,
  };
}

// -- looking at the simulator without changing it -----------------------------------------------

/**
 * The bytes the CPU would read at page vpn of p, found WITHOUT faulting: the frame a present PTE
 * or a device-private entry points at, else the page cache page (file or shmem) or zeros. The
 * result is the frame's own storage: read it, never write it.
 */
function cpuView(r: Real, p: Process, vpn: number): Uint8Array {
  const addr = vpn * PAGE;
  const { store } = r.sim.kernel.mem;
  const pte = p.pte(addr);
  if (
    pte.kind === 'present' ||
    pte.kind === 'protnone' ||
    pte.kind === 'device-private' ||
    pte.kind === 'device-exclusive'
  )
    return store.contents[pte.pfn] ?? ZEROS;
  if (pte.kind !== 'none')
    throw new Error(`unexpected ${pte.text} at 0x${addr.toString(16)} between commands`);
  const vma = p.mm.vmaAt(addr);
  if (vma?.file) {
    const pfn = vma.file.findPage(vma.linearPageIndex(addr));
    if (pfn >= 0) return store.contents[pfn] ?? ZEROS;
  }
  return ZEROS;
}

/** The page at vpn is an anonymous page (a private copy), in RAM or in device memory. */
function anonAt(r: Real, p: Process, vpn: number): boolean {
  const pte = p.pte(vpn * PAGE);
  if (pte.kind === 'device-private' || pte.kind === 'device-exclusive') return true;
  return pte.kind === 'present' && r.sim.page(pte.pfn).flags.includes('anon');
}

function devicePages(p: Process, vpn: number, n: number): number {
  let c = 0;
  for (let k = 0; k < n; k++) if (p.pte((vpn + k) * PAGE).kind === 'device-private') c++;
  return c;
}

// -- checking the simulator against the model ---------------------------------------------------

/** Runs fn and returns the errno code it threw (null if it returned). */
function errnoOf<T>(fn: () => T): { code: string | null; value: T | null } {
  try {
    return { code: null, value: fn() };
  } catch (e) {
    if (e instanceof HmmError) return { code: e.code, value: null };
    throw e;
  }
}

/** hmm.h's invariant: a device entry maps the frame the CPU entry maps, writable only if it is. */
function checkDeviceTables(r: Real, p: Process, i: number): string[] {
  const out: string[] = [];
  for (const fd of r.fds[i] as DeviceFile[]) {
    for (const m of fd.driver.pt.mappings()) {
      const addr = m.vpn * PAGE;
      const pte = p.pte(addr);
      const where = `p${i} ${deviceName(fd)} 0x${addr.toString(16)}`;
      if (pte.kind !== 'present' && pte.kind !== 'device-private' && pte.kind !== 'device-exclusive')
        out.push(`${where}: device maps pfn ${m.pfn}, the CPU entry is ${pte.text}`);
      else if (pte.pfn !== m.pfn) out.push(`${where}: device maps pfn ${m.pfn}, the CPU maps pfn ${pte.pfn}`);
      else if (m.write && !pte.write) out.push(`${where}: device entry writable, the CPU entry is not`);
    }
  }
  return out;
}

/** Every device page is free or in use (mapped), and the driver's counters agree. */
function checkDeviceMemory(r: Real): string[] {
  const out: string[] = [];
  const { store } = r.sim.kernel.mem;
  DEVICES.forEach((_, n) => {
    const { d: dev, pfns, idle } = deviceOf(r, n);
    const [first, last] = pfns as [number, number];
    let used = 0;
    for (let pfn = first; pfn < last; pfn++) if ((store.refcount[pfn] as number) > idle) used++;
    if (used + dev.freeCount !== last - first)
      out.push(`device ${n}: ${used} pages in use + ${dev.freeCount} free != ${last - first}`);
    // RELEASE frees the pages it evicts without counting them in cfree (dmirror_devmem_free).
    if (!r.released.has(n) && dev.calloc - dev.cfree !== used)
      out.push(`device ${n}: calloc ${dev.calloc} - cfree ${dev.cfree} != ${used} pages in use`);
  });
  return out;
}

function verify(m: Model, r: Real): void {
  expect(checkAccounting(r.sim.kernel)).toEqual([]);
  expect(checkDeviceMemory(r)).toEqual([]);
  m.procs.forEach((pm, i) => {
    const p = r.procs[i] as Process;
    expect(layoutOfReal(p)).toEqual(layoutOfModel(pm));
    for (const [vpn, pg] of pm.pages) {
      if (beyondEof(pg)) continue;
      if (!same(cpuView(r, p, vpn), readable(pg)))
        expect.fail(
          `p${i} page 0x${(vpn * PAGE).toString(16)} (${p.pte(vpn * PAGE).text}) differs from the model`,
        );
    }
    expect(checkDeviceTables(r, p, i)).toEqual([]);
  });
  const mirrors: MirrorView[] = r.fds.flatMap((fds, i) =>
    fds.map((fd) => ({
      name: `p${i} ${deviceName(fd)}`,
      mm: fd.driver.mm,
      pt: fd.driver.pt,
      owns: (pfn: number) => fd.driver.owns(pfn),
    })),
  );
  expect(coherenceViolations(r.sim.kernel, mirrors)).toEqual([]);
  m.files.forEach((obj, i) => {
    const f = r.files[i] as SimFile;
    expect(same(f.pread(f.size, 0), obj.bytes.subarray(0, f.size))).toBe(true);
  });
}

// -- commands ------------------------------------------------------------------------------------

type Cmd = fc.Command<Model, Real>;

function openFds(r: Pick<Real, 'sim' | 'api'>, p: Process): DeviceFile[] {
  return DEVICES.map((_, n) => r.sim.openDevice(n, p, { api: r.api }));
}

abstract class ProcCmd implements Cmd {
  readonly procSel: number;
  constructor(procSel: number) {
    this.procSel = procSel;
  }
  check(m: Readonly<Model>): boolean {
    return m.procs.length > 0;
  }
  run(m: Model, r: Real): void {
    const i = this.procSel % m.procs.length;
    this.apply(m.procs[i] as ProcModel, r.procs[i] as Process, m, r, i);
    verify(m, r);
  }
  abstract apply(pm: ProcModel, p: Process, m: Model, r: Real, i: number): void;
  abstract toString(): string;
}

class MmapCmd extends ProcCmd {
  constructor(
    procSel: number,
    readonly kind: Kind,
    readonly fileSel: number,
    readonly offPages: number,
    readonly npages: number,
    readonly prot: number,
    readonly fixed: { anchorSel: number; delta: number } | null,
  ) {
    super(procSel);
  }

  apply(pm: ProcModel, p: Process, m: Model, r: Real): void {
    const shared = this.kind.endsWith('shared');
    const isFile = this.kind.startsWith('file');
    const flags = (shared ? MAP_SHARED : MAP_PRIVATE) | (isFile ? 0 : MAP_ANONYMOUS);
    const file = isFile ? pick(r.files, this.fileSel) : undefined;
    const off = isFile ? this.offPages * PAGE : 0;
    const len = this.npages * PAGE;
    let addr: number;
    if (this.fixed !== null) {
      const want = targetVpn(pm, this.fixed.anchorSel, this.fixed.delta) * PAGE;
      addr = r.sim.run('mmap', p.task.mmapAt(want, len, this.prot, flags | MAP_FIXED, file, off));
      expect(addr).toBe(want);
    } else {
      addr = p.mmap(len, this.prot, flags, file, off);
    }
    const vpn = addr / PAGE;
    for (let k = 0; k < this.npages; k++) pm.pages.delete(vpn + k);
    const obj = isFile ? pick(m.files, this.fileSel) : shared ? new Obj('/dev/zero (deleted)', len) : null;
    for (let k = 0; k < this.npages; k++) {
      const index = isFile ? this.offPages + k : k;
      pm.pages.set(vpn + k, { prot: this.prot, shared, obj, index, priv: null });
    }
  }

  toString(): string {
    const where = this.fixed
      ? ` MAP_FIXED@${this.fixed.anchorSel}${this.fixed.delta >= 0 ? '+' : ''}${this.fixed.delta}`
      : '';
    return `mmap[p${this.procSel}](${this.kind} file${this.fileSel} off ${this.offPages} x${this.npages} prot ${this.prot}${where})`;
  }
}

abstract class RangeCmd extends ProcCmd {
  /** Accesses and range operations go to the processes that map something, if any does. */
  override run(m: Model, r: Real): void {
    const busy = m.procs.flatMap((pm, i) => (pm.pages.size > 0 ? [i] : []));
    const i = busy.length > 0 ? pick(busy, this.procSel) : this.procSel % m.procs.length;
    this.apply(m.procs[i] as ProcModel, r.procs[i] as Process, m, r, i);
    verify(m, r);
  }
  constructor(
    procSel: number,
    readonly anchorSel: number,
    readonly delta: number,
    readonly npages: number,
  ) {
    super(procSel);
  }
  range(pm: ProcModel): { vpn: number; addr: number; len: number } {
    const vpn = targetVpn(pm, this.anchorSel, this.delta);
    return { vpn, addr: vpn * PAGE, len: this.npages * PAGE };
  }
  where(): string {
    return `@${this.anchorSel}${this.delta >= 0 ? '+' : ''}${this.delta} x${this.npages}`;
  }
}

class MunmapCmd extends RangeCmd {
  apply(pm: ProcModel, p: Process): void {
    const { vpn, addr, len } = this.range(pm);
    p.munmap(addr, len);
    for (let k = 0; k < this.npages; k++) pm.pages.delete(vpn + k);
  }
  toString(): string {
    return `munmap[p${this.procSel}](${this.where()})`;
  }
}

class MprotectCmd extends RangeCmd {
  constructor(
    procSel: number,
    anchorSel: number,
    delta: number,
    npages: number,
    readonly prot: number,
  ) {
    super(procSel, anchorSel, delta, npages);
  }
  apply(pm: ProcModel, p: Process): void {
    const { vpn, addr, len } = this.range(pm);
    const got = errnoOf(() => p.mprotect(addr, len, this.prot)).code;
    let v = vpn;
    for (; v < vpn + this.npages; v++) {
      const pg = pm.pages.get(v);
      if (pg === undefined) break;
      pg.prot = this.prot;
    }
    expect(got).toBe(v < vpn + this.npages ? 'ENOMEM' : null);
  }
  toString(): string {
    return `mprotect[p${this.procSel}](${this.where()} prot ${this.prot})`;
  }
}

class MadviseCmd extends RangeCmd {
  apply(pm: ProcModel, p: Process): void {
    const { vpn, addr, len } = this.range(pm);
    const got = errnoOf(() => p.madvise(addr, len, MADV_DONTNEED)).code;
    let hole = false;
    for (let v = vpn; v < vpn + this.npages; v++) {
      const pg = pm.pages.get(v);
      if (pg === undefined) hole = true;
      else if (!pg.shared) pg.priv = null;
    }
    expect(got).toBe(hole ? 'ENOMEM' : null);
  }
  toString(): string {
    return `madvise[p${this.procSel}](${this.where()} DONTNEED)`;
  }
}

class CpuReadCmd extends RangeCmd {
  constructor(
    procSel: number,
    anchorSel: number,
    delta: number,
    readonly off: number,
    readonly len: number,
  ) {
    super(procSel, anchorSel, delta, 1);
  }
  apply(pm: ProcModel, p: Process): void {
    const addr = this.range(pm).addr + this.off;
    if (devicePages(p, Math.floor(addr / PAGE), Math.ceil(((addr % PAGE) + this.len) / PAGE)) > 0)
      coverage.cpuTouchedDevicePage++;
    const want = new Uint8Array(this.len);
    const fault = accessModel(pm, addr, this.len, false, (pg, pageOff, bufOff, n) => {
      want.set(readable(pg).subarray(pageOff, pageOff + n), bufOff);
    });
    if (fault !== null) {
      expectSegv(() => p.read(addr, this.len), fault, false);
      return;
    }
    expect(same(p.read(addr, this.len), want), `bytes read at 0x${addr.toString(16)}`).toBe(true);
  }
  toString(): string {
    return `read[p${this.procSel}](@${this.anchorSel}${this.delta >= 0 ? '+' : ''}${this.delta} +${this.off} len ${this.len})`;
  }
}

class CpuWriteCmd extends RangeCmd {
  constructor(
    procSel: number,
    anchorSel: number,
    delta: number,
    readonly off: number,
    readonly len: number,
    readonly seed: number,
  ) {
    super(procSel, anchorSel, delta, 1);
  }
  apply(pm: ProcModel, p: Process): void {
    const addr = this.range(pm).addr + this.off;
    if (devicePages(p, Math.floor(addr / PAGE), Math.ceil(((addr % PAGE) + this.len) / PAGE)) > 0)
      coverage.cpuTouchedDevicePage++;
    const bytes = pattern(this.len, this.seed);
    const fault = accessModel(pm, addr, this.len, true, (pg, pageOff, bufOff, n) => {
      writableBytes(pg).set(bytes.subarray(bufOff, bufOff + n), pageOff);
    });
    if (fault !== null) expectSegv(() => p.write(addr, bytes), fault, true);
    else p.write(addr, bytes);
  }
  toString(): string {
    return `write[p${this.procSel}](@${this.anchorSel}${this.delta >= 0 ? '+' : ''}${this.delta} +${this.off} len ${this.len} seed ${this.seed})`;
  }
}

/**
 * A command of one process's device file over a range. With `fit`, the range is cut to end at the
 * first page the process does not map (most device commands then succeed); without, it may run
 * past mappings, into gaps and other protections.
 */
abstract class DeviceCmd extends ProcCmd {
  constructor(
    procSel: number,
    readonly dev: number,
    readonly anchorSel: number,
    readonly delta: number,
    readonly npages: number,
    readonly fit: boolean,
  ) {
    super(procSel);
  }
  /** Device commands go to the processes that map something, if any does. */
  override run(m: Model, r: Real): void {
    const busy = m.procs.flatMap((pm, i) => (pm.pages.size > 0 ? [i] : []));
    const i = busy.length > 0 ? pick(busy, this.procSel) : this.procSel % m.procs.length;
    this.apply(m.procs[i] as ProcModel, r.procs[i] as Process, m, r, i);
    verify(m, r);
  }
  range(pm: ProcModel): { vpn: number; addr: number; n: number } {
    const vpn = targetVpn(pm, this.anchorSel, this.delta);
    let n = this.npages;
    if (this.fit && pm.pages.has(vpn)) {
      let run = 1;
      while (run < n && pm.pages.has(vpn + run)) run++;
      n = run;
    }
    return { vpn, addr: vpn * PAGE, n };
  }
  fd(r: Real, i: number): DeviceFile {
    return (r.fds[i] as DeviceFile[])[this.dev] as DeviceFile;
  }
  /** Coverage: a page of the range sits in the other device's memory. */
  noteRemote(r: Real, p: Process, vpn: number, n: number): void {
    for (let k = 0; k < n; k++) {
      const pte = p.pte((vpn + k) * PAGE);
      if (pte.kind === 'device-private' && !deviceOf(r, this.dev).owns(pte.pfn)) {
        coverage.remoteDevicePage++;
        return;
      }
    }
  }
  where(): string {
    return `dev${this.dev} @${this.anchorSel}${this.delta >= 0 ? '+' : ''}${this.delta} x${this.npages}${this.fit ? ' fit' : ''}`;
  }
}

/** HMM_DMIRROR_READ of [vpn, vpn + n): the model's bytes, or the error of the first page it cannot read. */
function devRead(pm: ProcModel, fd: DeviceFile, vpn: number, n: number): void {
  const addr = vpn * PAGE;
  const { pt } = fd.driver;
  let m = 0;
  while (m < n && pt.pfnOf(vpn + m) >= 0) m++;
  const want = isModern(fd)
    ? modernDeviceAccess(pm, vpn, n, false, m, () => ({ at: 'ok', newSpan: false }))
    : deviceAccess(pm, vpn, n, false, m, () => false);
  const got = errnoOf(() => fd.read(addr, n));
  expect(got.code, `device READ error at 0x${addr.toString(16)}`).toBe(want);
  if (want !== null) {
    coverage.devReadErr++;
    return;
  }
  coverage.devReadOk++;
  expectModelData(got.value as NonNullable<typeof got.value>, pm, vpn, n, `${deviceName(fd)} read`);
}

/** A result that read all n pages, each holding the model's bytes. */
function expectModelData(
  res: { cpages: number; data: Uint8Array },
  pm: ProcModel,
  vpn: number,
  n: number,
  what: string,
): void {
  expect(res.cpages).toBe(n);
  for (let k = 0; k < n; k++) {
    if (!same(res.data.subarray(k * PAGE, (k + 1) * PAGE), readable(pm.pages.get(vpn + k) as PageModel)))
      expect.fail(`${what} wrong bytes at 0x${((vpn + k) * PAGE).toString(16)}`);
  }
}

class DevReadCmd extends DeviceCmd {
  apply(pm: ProcModel, p: Process, _m: Model, r: Real, i: number): void {
    const { vpn, n } = this.range(pm);
    this.noteRemote(r, p, vpn, n);
    devRead(pm, this.fd(r, i), vpn, n);
  }
  toString(): string {
    return `devread[p${this.procSel}](${this.where()})`;
  }
}

/**
 * HMM_DMIRROR_WRITE: a store of whole pages (the pattern fills all but the last `short` bytes, which
 * the caller pads with zeros: the ioctl copies whole pages). On failure, the device wrote some
 * prefix of the pages before the failing one.
 */
class DevWriteCmd extends DeviceCmd {
  constructor(
    procSel: number,
    dev: number,
    anchorSel: number,
    delta: number,
    npages: number,
    fit: boolean,
    readonly short: number,
    readonly seed: number,
  ) {
    super(procSel, dev, anchorSel, delta, npages, fit);
  }
  apply(pm: ProcModel, p: Process, _m: Model, r: Real, i: number): void {
    const { vpn, addr, n } = this.range(pm);
    this.noteRemote(r, p, vpn, n);
    const bytes = pattern(n * PAGE - this.short, this.seed);
    const padded = new Uint8Array(n * PAGE);
    padded.set(bytes);
    const newPage = (k: number): Uint8Array => padded.subarray(k * PAGE, (k + 1) * PAGE);
    const fd = this.fd(r, i);
    let m = 0;
    while (m < n && fd.driver.pt.isWritable(vpn + m)) m++;
    const want = isModern(fd)
      ? modernDeviceAccess(pm, vpn, n, true, m, (k) => writeWalk(p, fd, vpn + k))
      : deviceAccess(pm, vpn, n, true, m, (k) => p.pte((vpn + k) * PAGE).kind === 'device-private');
    const got = errnoOf(() => fd.write(addr, padded));
    expect(got.code, `device WRITE error at 0x${addr.toString(16)}`).toBe(want);
    let written = n;
    if (want !== null) {
      // Which prefix did the device write before it failed? Each page holds the new bytes or the old.
      written = 0;
      while (
        written < n &&
        pm.pages.has(vpn + written) &&
        same(cpuView(r, p, vpn + written), newPage(written))
      )
        written++;
      for (let k = written; k < n; k++) {
        const pg = pm.pages.get(vpn + k);
        if (pg === undefined || beyondEof(pg)) continue;
        if (!same(cpuView(r, p, vpn + k), readable(pg)))
          expect.fail(`failed device WRITE: page ${k} of ${n} is neither old nor new (prefix ${written})`);
      }
      if (written > 0) coverage.devWritePartial++;
      // The write faults it made before failing broke COW: a private file page the device did not
      // write may now be an anonymous copy of the old bytes, which no longer follows the file.
      for (let k = 0; k < n; k++) {
        const pg = pm.pages.get(vpn + k);
        if (pg !== undefined && pg.priv === null && !pg.shared && anonAt(r, p, vpn + k))
          pg.priv = readable(pg).slice();
      }
    } else {
      coverage.devWriteOk++;
      expect(got.value?.cpages).toBe(n);
    }
    for (let k = 0; k < written; k++) writableBytes(pm.pages.get(vpn + k) as PageModel).set(newPage(k));
  }
  toString(): string {
    return `devwrite[p${this.procSel}](${this.where()} short ${this.short} seed ${this.seed})`;
  }
}

const READBACKS = ['none', 'cpu', 'dev0', 'dev1', 'all'] as const;

/**
 * HMM_DMIRROR_MIGRATE: never changes data. EINVAL / ENOENT / success as the file comment says,
 * decided from the model and from where each page is before the command. Then, maybe, the range
 * is read back through the CPU or a device (which brings pages back).
 */
class MigrateCmd extends DeviceCmd {
  constructor(
    procSel: number,
    dev: number,
    anchorSel: number,
    delta: number,
    npages: number,
    fit: boolean,
    readonly readback: (typeof READBACKS)[number],
  ) {
    super(procSel, dev, anchorSel, delta, npages, fit);
  }
  apply(pm: ProcModel, p: Process, m: Model, r: Real, i: number): void {
    const { vpn, n } = this.range(pm);
    this.noteRemote(r, p, vpn, n);
    if (r.api === 'modern') this.migrateModern(pm, p, r, i, vpn, n);
    else this.migrateSeed(pm, p, r, i, vpn, n);
    if (this.readback === 'none') return;
    verify(m, r);
    if (this.readback === 'cpu' || this.readback === 'all') {
      for (let k = 0; k < n; k++) {
        const pg = pm.pages.get(vpn + k);
        if (faultOf(pg, false) !== null) continue;
        if (!same(p.read((vpn + k) * PAGE, PAGE), readable(pg as PageModel)))
          expect.fail(`CPU read after MIGRATE: wrong bytes at 0x${((vpn + k) * PAGE).toString(16)}`);
      }
    }
    (r.fds[i] as DeviceFile[]).forEach((fd, d) => {
      if (this.readback === `dev${d}` || this.readback === 'all') devRead(pm, fd, vpn, n);
    });
  }

  /** The v5.3 MIGRATE: the outcome decided from the model and where each page was. */
  migrateSeed(pm: ProcModel, p: Process, r: Real, i: number, vpn: number, n: number): void {
    const addr = vpn * PAGE;
    let einval = false;
    let stuck = false;
    let movable = 0;
    for (let k = 0; k < n; k++) {
      const pg = pm.pages.get(vpn + k);
      if (pg === undefined || !(pg.prot & PROT_READ)) einval = true;
      else if (pg.shared || (pg.obj !== null && pg.priv === null)) stuck = true;
      else if (p.pte((vpn + k) * PAGE).kind === 'device-private') stuck = true;
      else movable++;
    }
    const exhausted = movable > r.sim.device(this.dev).freeCount;
    const want = einval ? 'EINVAL' : stuck || exhausted ? 'ENOENT' : null;
    const got = errnoOf(() => this.fd(r, i).migrate(addr, n));
    expect(got.code, `MIGRATE result at 0x${addr.toString(16)}`).toBe(want);
    if (want === 'EINVAL') coverage.migrateEinval++;
    else if (want === 'ENOENT') {
      coverage.migrateEnoent++;
      if (exhausted && !stuck) coverage.migrateExhausted++;
    } else {
      coverage.migrateOk++;
      expectModelData(got.value as NonNullable<typeof got.value>, pm, vpn, n, 'MIGRATE read back');
      expect(devicePages(p, vpn, n), 'pages in device memory after MIGRATE').toBe(n);
    }
  }

  /**
   * Today's MIGRATE_TO_DEV (migrate_vma_setup with SELECT_SYSTEM, then dmirror_do_read through the
   * device page table): EINVAL exactly when a page lies in a gap or a VMA without VM_READ. Else
   * shared and file-backed pages never move, and a range of anonymous private pages all in system
   * memory (migrate_vma_collect skips device-private and device-exclusive entries) that fits the free device memory moves whole and succeeds; otherwise the read-back
   * succeeds iff every page is mapped on the device afterwards (a page that stayed may still be
   * mirrored from an earlier READ), ENOENT if not.
   */
  migrateModern(pm: ProcModel, p: Process, r: Real, i: number, vpn: number, n: number): void {
    const addr = vpn * PAGE;
    const fd = this.fd(r, i);
    let einval = false;
    let stuck = false;
    let elsewhere = false;
    for (let k = 0; k < n; k++) {
      const pg = pm.pages.get(vpn + k);
      if (pg === undefined || !(pg.prot & PROT_READ)) einval = true;
      else if (pg.shared || (pg.obj !== null && pg.priv === null)) stuck = true;
      else if (['device-private', 'device-exclusive'].includes(p.pte((vpn + k) * PAGE).kind))
        elsewhere = true;
    }
    const d = r.sim.modernDevice(this.dev);
    const free =
      d.chunks.length === 0 ? (DEVICES[this.dev] as { memoryPages: number }).memoryPages : d.freeCount;
    const fits = !stuck && !elsewhere && n <= free;
    const got = errnoOf(() => fd.migrate(addr, n));
    if (einval) {
      expect(got.code, `MIGRATE result at 0x${addr.toString(16)}`).toBe('EINVAL');
      coverage.migrateEinval++;
      return;
    }
    for (let k = 0; k < n; k++) {
      const pg = pm.pages.get(vpn + k) as PageModel;
      if (
        (pg.shared || (pg.obj !== null && pg.priv === null)) &&
        p.pte((vpn + k) * PAGE).kind === 'device-private'
      )
        expect.fail(`MIGRATE moved a shared or file page at 0x${((vpn + k) * PAGE).toString(16)}`);
    }
    let mapped = 0;
    while (mapped < n && fd.driver.pt.pfnOf(vpn + mapped) >= 0) mapped++;
    expect(got.code, `MIGRATE result at 0x${addr.toString(16)}`).toBe(mapped === n ? null : 'ENOENT');
    if (fits) {
      expect(got.code, `MIGRATE of ${n} movable pages with ${free} free`).toBe(null);
      expect(devicePages(p, vpn, n), 'pages in device memory after MIGRATE').toBe(n);
    }
    if (got.code === 'ENOENT') {
      coverage.migrateEnoent++;
      if (!stuck && !elsewhere) coverage.migrateExhausted++;
      return;
    }
    coverage.migrateOk++;
    expectModelData(got.value as NonNullable<typeof got.value>, pm, vpn, n, 'MIGRATE read back');
  }
  toString(): string {
    return `migrate[p${this.procSel}](${this.where()} then ${this.readback})`;
  }
}

/**
 * HMM_DMIRROR_MIGRATE_TO_SYS (today's API): never changes data. EINVAL exactly when a page of the
 * range lies in a gap or a VMA without VM_READ; otherwise `cpages` is the number of the range's pages
 * that were in this device's memory, and none is left there.
 */
class MigrateToSysCmd extends DeviceCmd {
  override check(m: Readonly<Model>): boolean {
    return m.api === 'modern' && m.procs.length > 0;
  }
  apply(pm: ProcModel, p: Process, _m: Model, r: Real, i: number): void {
    const { vpn, addr, n } = this.range(pm);
    const owns = deviceOf(r, this.dev).owns;
    let einval = false;
    let here = 0;
    for (let k = 0; k < n; k++) {
      const pg = pm.pages.get(vpn + k);
      if (pg === undefined || !(pg.prot & PROT_READ)) einval = true;
      const pte = p.pte((vpn + k) * PAGE);
      if (pte.kind === 'device-private' && owns(pte.pfn)) here++;
    }
    const got = errnoOf(() => this.fd(r, i).migrateToSys(addr, n));
    expect(got.code, `MIGRATE_TO_SYS result at 0x${addr.toString(16)}`).toBe(einval ? 'EINVAL' : null);
    if (einval) return;
    expect(got.value?.cpages).toBe(here);
    if (here > 0) coverage.migrateToSysMoved++;
    for (let k = 0; k < n; k++) {
      const pte = p.pte((vpn + k) * PAGE);
      if (pte.kind === 'device-private' && owns(pte.pfn))
        expect.fail(`MIGRATE_TO_SYS left 0x${((vpn + k) * PAGE).toString(16)} in device memory`);
    }
  }
  toString(): string {
    return `migrate_to_sys[p${this.procSel}](${this.where()})`;
  }
}

/**
 * HMM_DMIRROR_EXCLUSIVE (today's API): make_device_exclusive page by page, which faults each page in
 * for writing (GUP with FOLL_WRITE) and takes anonymous pages only; then the range is read back
 * through the device page table. The first page that fails decides: a gap or a VMA without
 * VM_WRITE (or without VM_READ and VM_WRITE) is EFAULT, a file page past EOF EFAULT, a shared page
 * (shmem or a shared file) EOPNOTSUPP. The write fault breaks COW of a private file page, which
 * becomes an anonymous copy; data never changes.
 */
class ExclusiveCmd extends DeviceCmd {
  override check(m: Readonly<Model>): boolean {
    return m.api === 'modern' && m.procs.length > 0;
  }
  apply(pm: ProcModel, _p: Process, _m: Model, r: Real, i: number): void {
    const { vpn, addr, n } = this.range(pm);
    let want: 'EFAULT' | 'EOPNOTSUPP' | null = null;
    let taken = 0;
    for (; taken < n && want === null; taken++) {
      const pg = pm.pages.get(vpn + taken);
      if (pg === undefined || !(pg.prot & PROT_WRITE) || beyondEof(pg)) want = 'EFAULT';
      else if (pg.shared) want = 'EOPNOTSUPP';
    }
    if (want !== null) taken--;
    const got = errnoOf(() => this.fd(r, i).exclusive(addr, n));
    for (let k = 0; k < taken; k++) {
      const pg = pm.pages.get(vpn + k) as PageModel;
      if (pg.priv === null) pg.priv = readable(pg).slice();
    }
    expect(got.code, `EXCLUSIVE result at 0x${addr.toString(16)}`).toBe(want);
    if (want !== null) return;
    coverage.exclusiveOk++;
    expectModelData(got.value as NonNullable<typeof got.value>, pm, vpn, n, 'EXCLUSIVE read back');
  }
  toString(): string {
    return `exclusive[p${this.procSel}](${this.where()})`;
  }
}

/**
 * HMM_DMIRROR_RELEASE (today's API): every page of the device, in every process, goes back to system
 * memory, and its memory is removed (the next allocation adds it again); data never changes.
 */
class ReleaseCmd extends ProcCmd {
  override check(m: Readonly<Model>): boolean {
    return m.api === 'modern' && m.procs.length > 0;
  }
  constructor(
    procSel: number,
    readonly dev: number,
  ) {
    super(procSel);
  }
  apply(_pm: ProcModel, _p: Process, m: Model, r: Real, i: number): void {
    const owns = deviceOf(r, this.dev).owns;
    const fd = (r.fds[i] as DeviceFile[])[this.dev] as DeviceFile;
    const resident = (): number =>
      r.procs.reduce((c, q, j) => {
        for (const vpn of (m.procs[j] as ProcModel).pages.keys()) {
          const pte = q.pte(vpn * PAGE);
          if (pte.kind === 'device-private' && owns(pte.pfn)) c++;
        }
        return c;
      }, 0);
    if (resident() > 0) coverage.releaseEvicted++;
    expect(fd.release(PAGE, 1).cpages).toBe(0);
    r.released.add(this.dev);
    expect(resident(), 'device pages left after RELEASE').toBe(0);
  }
  toString(): string {
    return `release[p${this.procSel} dev${this.dev}]`;
  }
}

/**
 * Today's test_hmm leaves a device page's zone_device_data pointing at the dmirror that allocated
 * it, after that file is closed too; the page's later migration back erases that (closed) dmirror's
 * entries only, and skips the MMU_NOTIFY_MIGRATE it issues with the device as owner, so a second
 * open of the device by the same process keeps a stale entry for it (the kernel frees the dmirror:
 * a use-after-free; docs/fidelity.md). Before closing, the modern flavour moves the process's pages
 * of the device back, as a careful user of test_hmm does.
 */
function migrateAllToSys(pm: ProcModel, fd: DeviceFile): void {
  const vpns = [...pm.pages.keys()]
    .filter((v) => (pm.pages.get(v) as PageModel).prot & PROT_READ)
    .sort((a, b) => a - b);
  for (let k = 0; k < vpns.length; ) {
    let j = k + 1;
    while (j < vpns.length && vpns[j] === (vpns[j - 1] as number) + 1) j++;
    expect(errnoOf(() => fd.migrateToSys((vpns[k] as number) * PAGE, j - k)).code).toBe(null);
    k = j;
  }
}

/** close() and open() again one device file of a process. */
class ReopenCmd extends ProcCmd {
  constructor(
    procSel: number,
    readonly dev: number,
  ) {
    super(procSel);
  }
  apply(pm: ProcModel, p: Process, _m: Model, r: Real, i: number): void {
    const fds = r.fds[i] as DeviceFile[];
    if (r.api === 'modern') migrateAllToSys(pm, fds[this.dev] as DeviceFile);
    (fds[this.dev] as DeviceFile).close();
    fds[this.dev] = r.sim.openDevice(this.dev, p, { api: r.api });
  }
  toString(): string {
    return `reopen[p${this.procSel} dev${this.dev}]`;
  }
}

class ForkCmd extends ProcCmd {
  override check(m: Readonly<Model>): boolean {
    return m.procs.length > 0 && m.procs.length < MAX_PROCS;
  }
  apply(pm: ProcModel, p: Process, m: Model, r: Real): void {
    if ([...pm.pages.keys()].some((v) => p.pte(v * PAGE).kind === 'device-private'))
      coverage.forkWithDevicePages++;
    const child = p.fork();
    const pages = new Map<number, PageModel>();
    for (const [vpn, pg] of pm.pages) pages.set(vpn, { ...pg, priv: pg.priv?.slice() ?? null });
    m.procs.push({ pages });
    r.procs.push(child);
    r.fds.push(openFds(r, child));
  }
  toString(): string {
    return `fork[p${this.procSel}]`;
  }
}

/** exit(), with the device files closed before (the driver unregisters first) or after (release first). */
class ExitCmd extends ProcCmd {
  constructor(
    procSel: number,
    readonly closeFirst: boolean,
  ) {
    super(procSel);
  }
  apply(pm: ProcModel, p: Process, m: Model, r: Real, i: number): void {
    if ([...pm.pages.keys()].some((v) => p.pte(v * PAGE).kind === 'device-private'))
      coverage.exitWithDevicePages++;
    const fds = r.fds[i] as DeviceFile[];
    if (this.closeFirst) for (const fd of fds) fd.close();
    p.exit();
    if (!this.closeFirst) for (const fd of fds) fd.close();
    m.procs.splice(i, 1);
    r.procs.splice(i, 1);
    r.fds.splice(i, 1);
  }
  toString(): string {
    return `exit[p${this.procSel}${this.closeFirst ? ' close first' : ''}]`;
  }
}

class SpawnCmd implements Cmd {
  check(m: Readonly<Model>): boolean {
    return m.procs.length < MAX_PROCS;
  }
  run(m: Model, r: Real): void {
    const p = r.sim.createProcess();
    r.procs.push(p);
    r.fds.push(openFds(r, p));
    m.procs.push({ pages: new Map() });
    verify(m, r);
  }
  toString(): string {
    return 'spawn';
  }
}

class PwriteCmd implements Cmd {
  constructor(
    readonly fileSel: number,
    readonly offSel: number,
    readonly len: number,
    readonly seed: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const f = pick(r.files, this.fileSel);
    const obj = pick(m.files, this.fileSel);
    const off = this.offSel % f.size;
    const bytes = pattern(Math.min(this.len, f.size - off), this.seed);
    f.pwrite(bytes, off);
    obj.bytes.set(bytes, off);
    verify(m, r);
  }
  toString(): string {
    return `pwrite(file${this.fileSel} @${this.offSel} len ${this.len} seed ${this.seed})`;
  }
}

// -- arbitraries ----------------------------------------------------------------------------------

const procSel = fc.nat({ max: 7 });
const dev = fc.nat({ max: 1 });
const anchorSel = fc.nat({ max: 63 });
const delta = fc.oneof(
  { weight: 4, arbitrary: fc.constant(0) },
  { weight: 2, arbitrary: fc.constantFrom(-1, 1, 2, -2, 3) },
);
const npages = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 8 }) },
  { weight: 3, arbitrary: fc.integer({ min: 9, max: 40 }) },
  { weight: 1, arbitrary: fc.integer({ min: 41, max: 96 }) },
);
/** Device commands: mostly small, sometimes past a 64-page driver batch. */
const devPages = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: 1, max: 12 }) },
  { weight: 2, arbitrary: fc.integer({ min: 13, max: 48 }) },
  { weight: 1, arbitrary: fc.integer({ min: 60, max: 80 }) },
);
/** Device ranges: mostly cut to the mapping they start in. */
const fit = fc.oneof(
  { weight: 3, arbitrary: fc.constant(true) },
  { weight: 1, arbitrary: fc.constant(false) },
);
const prot = fc.oneof(
  { weight: 5, arbitrary: fc.constant(PROT_READ | PROT_WRITE) },
  { weight: 1, arbitrary: fc.constantFrom(PROT_READ, PROT_NONE, PROT_WRITE) },
);
const kind = fc.oneof(
  { weight: 5, arbitrary: fc.constant<Kind>('anon-private') },
  { weight: 1, arbitrary: fc.constantFrom<Kind>('file-private', 'file-shared', 'anon-shared') },
);
const pageOff = fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: PAGE - 64, max: PAGE - 1 }));
const accessLen = fc.oneof(fc.integer({ min: 1, max: 128 }), fc.integer({ min: 1, max: PAGE + 200 }));
const byteSeed = fc.nat({ max: 254 });

const commands = fc.commands(
  [
    fc.oneof(
      {
        weight: 4,
        arbitrary: fc
          .tuple(procSel, kind, fc.nat({ max: 1 }), fc.nat({ max: 3 }), npages, prot)
          .map(([p, k, f, o, n, pr]) => new MmapCmd(p, k, f, o, n, pr, null)),
      },
      {
        weight: 1,
        arbitrary: fc
          .tuple(procSel, kind, fc.nat({ max: 1 }), fc.nat({ max: 3 }), npages, prot, anchorSel, delta)
          .map(([p, k, f, o, n, pr, a, d]) => new MmapCmd(p, k, f, o, n, pr, { anchorSel: a, delta: d })),
      },
      {
        weight: 1,
        arbitrary: fc
          .tuple(procSel, anchorSel, delta, npages)
          .map(([p, a, d, n]) => new MunmapCmd(p, a, d, n)),
      },
      {
        weight: 2,
        arbitrary: fc
          .tuple(procSel, anchorSel, delta, npages, prot)
          .map(([p, a, d, n, pr]) => new MprotectCmd(p, a, d, n, pr)),
      },
      {
        weight: 1,
        arbitrary: fc
          .tuple(procSel, anchorSel, delta, npages)
          .map(([p, a, d, n]) => new MadviseCmd(p, a, d, n)),
      },
      {
        weight: 4,
        arbitrary: fc
          .tuple(procSel, anchorSel, delta, pageOff, accessLen)
          .map(([p, a, d, o, l]) => new CpuReadCmd(p, a, d, o, l)),
      },
      {
        weight: 4,
        arbitrary: fc
          .tuple(procSel, anchorSel, delta, pageOff, accessLen, byteSeed)
          .map(([p, a, d, o, l, s]) => new CpuWriteCmd(p, a, d, o, l, s)),
      },
      {
        weight: 4,
        arbitrary: fc
          .tuple(procSel, dev, anchorSel, delta, devPages, fit)
          .map(([p, v, a, d, n, f]) => new DevReadCmd(p, v, a, d, n, f)),
      },
      {
        weight: 4,
        arbitrary: fc
          .tuple(
            procSel,
            dev,
            anchorSel,
            delta,
            devPages,
            fit,
            fc.constantFrom(0, 0, 1, 100, PAGE - 1),
            byteSeed,
          )
          .map(([p, v, a, d, n, f, sh, s]) => new DevWriteCmd(p, v, a, d, n, f, sh, s)),
      },
      {
        weight: 6,
        arbitrary: fc
          .tuple(procSel, dev, anchorSel, delta, devPages, fit, fc.constantFrom(...READBACKS, 'none', 'none'))
          .map(([p, v, a, d, n, f, rb]) => new MigrateCmd(p, v, a, d, n, f, rb)),
      },
      { weight: 2, arbitrary: procSel.map((p) => new ForkCmd(p)) },
      {
        weight: 1,
        arbitrary: fc.tuple(procSel, fc.boolean()).map(([p, c]) => new ExitCmd(p, c)),
      },
      { weight: 1, arbitrary: fc.tuple(procSel, dev).map(([p, v]) => new ReopenCmd(p, v)) },
      { weight: 1, arbitrary: fc.constant(new SpawnCmd()) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.nat({ max: 1 }), fc.nat({ max: 6 * PAGE }), fc.integer({ min: 1, max: 300 }), byteSeed)
          .map(([f, o, l, s]) => new PwriteCmd(f, o, l, s)),
      },
      // Today's commands (MIGRATE_TO_SYS, RELEASE): their check() keeps them to the modern flavour.
      {
        weight: 2,
        arbitrary: fc
          .tuple(procSel, dev, anchorSel, delta, devPages, fit)
          .map(([p, v, a, d, n, f]) => new MigrateToSysCmd(p, v, a, d, n, f)),
      },
      { weight: 1, arbitrary: fc.tuple(procSel, dev).map(([p, v]) => new ReleaseCmd(p, v)) },
      {
        weight: 2,
        arbitrary: fc
          .tuple(procSel, dev, anchorSel, delta, devPages, fit)
          .map(([p, v, a, d, n, f]) => new ExclusiveCmd(p, v, a, d, n, f)),
      },
    ),
  ],
  { maxCommands: 80, size: 'large', ...(REPLAY ? { replayPath: REPLAY } : {}) },
);

// -- the setup ------------------------------------------------------------------------------------

/** One process with its two device files, and two files (5 pages with holes, 2 pages + 100 bytes). */
function setup(api: Api): { model: Model; real: Real } {
  const kernel = api === 'modern' ? 'v6.19' : undefined;
  const sim = new Simulator({
    seed: 1,
    ramPages: RAM_PAGES,
    kernel,
    devices: DEVICES,
    sectionPages: SECTION_PAGES,
  });
  const p = sim.createProcess();
  const real: Real = {
    api,
    sim,
    released: new Set(),
    procs: [p],
    fds: [openFds({ sim, api }, p)],
    files: [],
  };
  const model: Model = { api, procs: [{ pages: new Map() }], files: [] };
  FILE_SIZES.forEach((size, i) => {
    real.files.push(sim.createFile(size));
    model.files.push(new Obj(real.files[i]!.name, size));
  });
  const seedData = (i: number, off: number, len: number, seed: number): void => {
    const bytes = pattern(len, seed);
    real.files[i]!.pwrite(bytes, off);
    model.files[i]!.bytes.set(bytes, off);
  };
  seedData(0, 0, PAGE, 10);
  seedData(0, 2 * PAGE + 100, 500, 20);
  seedData(1, 50, 2 * PAGE + 50, 30);
  return { model, real };
}

/**
 * Every process exits and every device file closes: only the files' page cache may still hold RAM,
 * and every device page is back on its free list.
 */
function exitAll(m: Model, r: Real): void {
  r.procs.forEach((p, i) => {
    p.exit();
    for (const fd of r.fds[i] as DeviceFile[]) fd.close();
  });
  m.procs.length = 0;
  r.procs.length = 0;
  r.fds.length = 0;
  verify(m, r);
  const { mem } = r.sim.kernel;
  const cached = r.files.reduce((n, f) => n + f.mapping.pages.size, 0);
  expect(mem.ramPages - mem.freePages, 'RAM pages in use after every process exited').toBe(cached);
  DEVICES.forEach((_, n) => {
    const { d: dev, pfns } = deviceOf(r, n);
    expect(dev.freeCount, `device ${n} free pages`).toBe((pfns[1] as number) - (pfns[0] as number));
    if (!r.released.has(n)) expect(dev.calloc, `device ${n} calloc`).toBe(dev.cfree);
  });
}

/** Today's flavour runs fewer sequences (the suite's time budget); HMMSIM_HMM_MODEL_MODERN_RUNS soaks it. */
const MODERN_RUNS = Number(process.env.HMMSIM_HMM_MODEL_MODERN_RUNS ?? 100);
const MODERN_ONLY: readonly (keyof Coverage)[] = ['migrateToSysMoved', 'releaseEvicted', 'exclusiveOk'];

describe('hmm model', () => {
  it.each([
    ['seed', RUNS],
    ['modern', MODERN_RUNS],
  ] as const)(
    'device READ/WRITE/MIGRATE on two devices, mixed with CPU commands, match the reference model (%s API)',
    (api, runs) => {
      for (const k of Object.keys(coverage) as (keyof Coverage)[]) coverage[k] = 0;
      fc.assert(
        fc.property(commands, (cmds) => {
          const { model, real } = setup(api);
          fc.modelRun(() => ({ model, real }), cmds);
          exitAll(model, real);
        }),
        { seed: SEED, numRuns: runs, ...(PATH ? { path: PATH, verbose: 2 } : {}) },
      );
      // The runs reached the cases this test exists for.
      if (process.env.HMMSIM_HMM_MODEL_COVERAGE) console.log(api, coverage);
      if (PATH === undefined)
        for (const [what, n] of Object.entries(coverage))
          if (api === 'modern' || !MODERN_ONLY.includes(what as keyof Coverage))
            expect(n, `coverage: ${what}`).toBeGreaterThan(0);
    },
    60_000 + RUNS * 1000,
  );
});
