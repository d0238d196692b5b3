/**
 * A simulated process: an mm_struct plus the system calls and CPU accesses a user program makes.
 * Methods run to completion on the scheduler; `task.*` are the same operations as generators for
 * multi-threaded scenarios (errors are thrown inside the thread that made the call).
 */

import { ADDR_LIMIT, PAGE_SIZE } from '../core/addr.js';
import { KernelWarning } from '../core/assert.js';
import {
  ArgumentError,
  CALL_PAGES_MAX,
  check,
  describeValue,
  ENOMEM,
  ESRCH,
  HmmError,
  SegvError,
} from '../core/errno.js';
import { dupMm } from '../mm/fork.js';
import { FOLL_LONGTERM, FOLL_WRITE, pinUserPages, unpinUserPages } from '../mm/gup.js';
import { doMadvise, isKnownAdvice, MADV_POPULATE_READ, MADV_POPULATE_WRITE } from '../mm/madvise.js';
import { MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES, MM_SWAPENTS, MmStruct, mmput } from '../mm/mm.js';
import {
  doMmap,
  doMunmap,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FLAGS_MASK,
  MAP_LOCKED,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_MASK,
  PROT_WRITE,
} from '../mm/mmap.js';
import { doMprotect } from '../mm/mprotect.js';
import { doMremap, MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE } from '../mm/mremap.js';
import { mincore, pagemapRead, walkPtes } from '../mm/pagemap.js';
import { LEVEL_PMD } from '../mm/pagetable.js';
import {
  describePte,
  isDeviceExclusiveType,
  isDevicePrivateType,
  isMigrationType,
  isWriteSwpType,
  pteDirty,
  ptePfn,
  ptePresent,
  pteProtnone,
  pteSpecial,
  pteWrite,
  SWP_HWPOISON,
  swpType,
} from '../mm/pte.js';
import type { SpecialMappingKind } from '../mm/special_mapping.js';
import { doMmapSpecial } from '../mm/special_mapping.js';
import { accessUser } from '../mm/uaccess.js';
import { VM_EXEC, VM_READ, VM_SHARED, VM_WRITE } from '../mm/vma.js';
import type { Task } from '../sched/index.js';
import {
  checkAddr,
  checkBufferLength,
  checkBytes,
  checkFlags,
  checkInt,
  checkLength,
  checkOptions,
  checkOut,
  checkPages,
} from './args.js';
import { SimFile } from './simfile.js';
import type { Simulator } from './simulator.js';

/** What `Process.pte` reports of one CPU page-table entry, decoded for tests and tools. */
export interface PteInfo {
  /** What the entry is: not present, a mapped page, or one of the swap-entry types. */
  kind:
    | 'none'
    | 'present'
    | 'protnone'
    | 'migration'
    | 'device-private'
    | 'device-exclusive'
    | 'swap'
    | 'hwpoison';
  /** The page frame it maps or points at; -1 for an empty entry. */
  pfn: number;
  /** Writable (for a swap entry: the writable migration or device-private type). */
  write: boolean;
  /** The hardware dirty bit. */
  dirty: boolean;
  /** pte_special: a mapping with no struct page behind it (zero page, VM_PFNMAP). */
  special: boolean;
  /** The entry in the kernel's own words, for messages and logs. */
  text: string;
  /** The mapping's order: 0 for a PTE, 9 for a huge PMD (THP, huge zero page or hugetlb). */
  order: 0 | 9;
}

/** One line of /proc/pid/maps, as `Process.vmas` lists them. */
export interface VmaInfo {
  /** First address of the area. */
  start: number;
  /** First address past the area. */
  end: number;
  /** `rwxp`/`rwxs` as /proc/pid/maps prints them. */
  perms: string;
  /** The raw VM_* flags. */
  flags: number;
  /** The backing SimFile's name, or null for anonymous memory. */
  file: string | null;
}

/** What `Process.pin` returns: the pages pin_user_pages pinned, and how to release them. */
export interface PinnedPages {
  /** How many pages were pinned (fewer than asked if the range stopped being pinnable). */
  readonly pages: number;
  /** Their pfns, in address order. */
  readonly pfns: readonly number[];
  /** unpin_user_pages; a second call is a WARN (KernelWarning), as a double unpin is a refcount underflow. */
  unpin(): void;
}

/** The FOLL_* flags `Process.pin` passes to pin_user_pages. */
export interface PinOptions {
  /** FOLL_WRITE: pin for the device to write (breaks COW first). */
  write?: boolean;
  /** FOLL_LONGTERM: a pin with no end in sight (RDMA, VFIO). */
  longterm?: boolean;
}

/** Resident set counters (mm->rss_stat), in pages, as /proc/pid/status reports them. */
export interface Rss {
  /** MM_ANONPAGES: private anonymous pages. */
  anon: number;
  /** MM_FILEPAGES: file-backed pages. */
  file: number;
  /** MM_SHMEMPAGES: shared anonymous (shmem) pages. */
  shmem: number;
  /** MM_SWAPENTS: swap entries in the page tables. */
  swapents: number;
}

/** A simulated user process: one mm, driven by synchronous system calls (or `task` generators). */
export class Process {
  /** The simulator the process runs in. */
  readonly sim: Simulator;
  /** Its process id, unique within the simulator. */
  readonly pid: number;
  /** Its address space, for checkers and driver authors who look below the facade. */
  readonly mm: MmStruct;
  /** Set by `exit`; every later call is HmmError ESRCH. */
  exited = false;
  /** Generator forms of every operation, for scenarios with several threads. */
  readonly task: ProcessTasks;

  constructor(sim: Simulator, pid: number, mm: MmStruct) {
    sim.own('mm', mm, MmStruct);
    if (mm.users <= 0) throw new ArgumentError('mm', `mm ${mm.id} has been torn down (its process exited)`);
    this.sim = sim;
    this.pid = pid;
    this.mm = mm;
    this.task = new ProcessTasks(this);
  }

  /** mmap(2) at an address the kernel picks; returns it. `file` maps a SimFile at `offset`. */
  mmap(length: number, prot: number, flags: number, file?: SimFile, offset = 0): number {
    return this.sim.run(`mmap[${this.pid}]`, this.task.mmap(length, prot, flags, file, offset));
  }

  /** munmap(2): unmaps [addr, addr + length). */
  munmap(addr: number, length: number): void {
    this.sim.run(`munmap[${this.pid}]`, this.task.munmap(addr, length));
  }

  /** mprotect(2): changes the protection of [addr, addr + length) to PROT_* `prot`. */
  mprotect(addr: number, length: number, prot: number): void {
    this.sim.run(`mprotect[${this.pid}]`, this.task.mprotect(addr, length, prot));
  }

  /** madvise(2) with a MADV_* `advice` on [addr, addr + length). */
  madvise(addr: number, length: number, advice: number): void {
    this.sim.run(`madvise[${this.pid}]`, this.task.madvise(addr, length, advice));
  }

  /**
   * mremap(2): resizes or moves [oldAddr, oldAddr+oldLen) and returns where it now is. `flags`:
   * MREMAP_MAYMOVE, MREMAP_FIXED (with `newAddr`), MREMAP_DONTUNMAP (kernel 'v6.19').
   */
  mremap(oldAddr: number, oldLen: number, newLen: number, flags: number, newAddr?: number): number {
    return this.sim.run(`mremap[${this.pid}]`, this.task.mremap(oldAddr, oldLen, newLen, flags, newAddr));
  }

  /**
   * pin_user_pages(addr, npages, FOLL_PIN [| FOLL_WRITE] [| FOLL_LONGTERM]) as a driver doing DMA
   * would. An unmapped or inaccessible first page is HmmError EFAULT.
   */
  pin(addr: number, npages: number, opts?: PinOptions): PinnedPages {
    return this.sim.run(`pin[${this.pid}]`, this.task.pin(addr, npages, opts));
  }

  /** A CPU store of `bytes` at addr (faults as needed; SegvError if not allowed). */
  write(addr: number, bytes: Uint8Array): void {
    this.sim.run(`write[${this.pid}]`, this.task.write(addr, bytes));
  }

  /** A CPU load of `length` bytes at addr. */
  read(addr: number, length: number): Uint8Array {
    return this.sim.run(`read[${this.pid}]`, this.task.read(addr, length));
  }

  /** fork(2): a child with a copy-on-write copy of this address space. */
  fork(): Process {
    return this.sim.run(`fork[${this.pid}]`, this.task.fork());
  }

  /** exit(2): tears the address space down (notifiers see the release). */
  exit(): void {
    this.sim.run(`exit[${this.pid}]`, this.task.exit());
  }

  /** A driver mapping HMM must refuse: VM_IO|VM_PFNMAP ('pfnmap', read-only zeros) or VM_MIXEDMAP. */
  mmapSpecial(length: number, prot: number, kind: SpecialMappingKind): number {
    return this.sim.run(`mmap[${this.pid}]`, this.task.mmapSpecial(length, prot, kind));
  }

  /**
   * /proc/pid/pagemap for npages (1..CALL_PAGES_MAX) at addr: two u32 words per page (low, high),
   * into `out` if given (at least 2 * npages words), else into a new array.
   */
  pagemap(addr: number, npages: number, out?: Uint32Array): Uint32Array {
    const buf = this.wordsOut(addr, npages, out);
    pagemapRead(this.mm, addr, npages, buf);
    return buf;
  }

  /** The raw 64-bit PTE of each page (two u32 words, layout of src/mm/pte.ts); no side effects. */
  walkPtes(addr: number, npages: number, out?: Uint32Array): Uint32Array {
    const buf = this.wordsOut(addr, npages, out);
    walkPtes(this.mm, addr, npages, buf);
    return buf;
  }

  /** Checks pagemap's and walkPtes's arguments before anything is allocated, then the output. */
  private wordsOut(addr: number, npages: number, out: Uint32Array | undefined): Uint32Array {
    checkAddr('addr', addr, true);
    checkPages('npages', npages);
    if (addr + npages * PAGE_SIZE > ADDR_LIMIT)
      throw new ArgumentError('npages', 'the range passes the end of the address space');
    if (out !== undefined) checkOut('out', out, Uint32Array, 2 * npages);
    this.alive();
    return out ?? new Uint32Array(2 * npages);
  }

  /** mincore: a byte per page of [addr, addr + length), at most CALL_PAGES_MAX pages. */
  mincore(addr: number, length: number, vec?: Uint8Array): Uint8Array {
    checkAddr('addr', addr, true);
    checkLength('length', length, false);
    const npages = Math.ceil(length / PAGE_SIZE);
    if (npages > CALL_PAGES_MAX)
      throw new ArgumentError(
        'length',
        `${npages} pages is more than one call may report (${CALL_PAGES_MAX})`,
      );
    if (vec !== undefined) checkOut('vec', vec, Uint8Array, npages);
    this.alive();
    const buf = vec ?? new Uint8Array(npages);
    check(mincore(this.mm, addr, length, buf), 'mincore');
    return buf;
  }

  /** The CPU page-table entry for addr. */
  pte(addr: number): PteInfo {
    checkAddr('addr', addr, false);
    this.alive();
    const { pt } = this.mm.kernel;
    // A PMD's entry (huge, migration or device-private) comes narrowed to the page at addr.
    const entry = new Uint32Array(2);
    const level = pt.pageEntry(this.mm.pgd, addr, entry);
    const lo = entry[0] as number;
    const hi = entry[1] as number;
    return {
      kind: pteKind(lo, hi),
      pfn: level === 0 ? -1 : ptePfn(lo, hi),
      order: level === LEVEL_PMD ? 9 : 0,
      write: ptePresent(lo) ? pteWrite(lo) : isWriteSwp(lo),
      dirty: pteDirty(lo),
      special: pteSpecial(lo),
      text: describePte(lo, hi),
    };
  }

  /** The resident set counters, to check what a fault or migration did to accounting. */
  rss(): Rss {
    this.alive();
    const r = this.mm.rss;
    return {
      anon: r[MM_ANONPAGES] as number,
      file: r[MM_FILEPAGES] as number,
      shmem: r[MM_SHMEMPAGES] as number,
      swapents: r[MM_SWAPENTS] as number,
    };
  }

  /** The memory areas, as /proc/pid/maps lists them. */
  vmas(): VmaInfo[] {
    this.alive();
    return this.mm.vmas.map((v) => ({
      start: v.start,
      end: v.end,
      perms: `${v.flags & VM_READ ? 'r' : '-'}${v.flags & VM_WRITE ? 'w' : '-'}${v.flags & VM_EXEC ? 'x' : '-'}${v.flags & VM_SHARED ? 's' : 'p'}`,
      flags: v.flags,
      file: v.file?.name ?? null,
    }));
  }

  /**
   * Throws HmmError ESRCH if the process has exited, or if its mm was torn down under it (another
   * Process adopted the same mm and exited): every call checks it first.
   */
  alive(): void {
    if (this.exited) throw new HmmError(ESRCH, `process ${this.pid} has exited`);
    if (this.mm.users <= 0)
      throw new HmmError(ESRCH, `process ${this.pid}: its mm ${this.mm.id} was torn down by another process`);
  }
}

function pteKind(lo: number, hi: number): PteInfo['kind'] {
  if (lo === 0 && hi === 0) return 'none';
  if (pteProtnone(lo)) return 'protnone';
  if (ptePresent(lo)) return 'present';
  const t = swpType(lo);
  if (isMigrationType(t)) return 'migration';
  if (isDevicePrivateType(t)) return 'device-private';
  if (isDeviceExclusiveType(t)) return 'device-exclusive';
  return t === SWP_HWPOISON ? 'hwpoison' : 'swap';
}

function isWriteSwp(lo: number): boolean {
  return isWriteSwpType(swpType(lo));
}

/** The generator forms. Each validates its arguments before the first scheduling point. */
export class ProcessTasks {
  private readonly p: Process;

  constructor(p: Process) {
    this.p = p;
  }

  /** Generator form of `Process.mmap`. */
  *mmap(length: number, prot: number, flags: number, file?: SimFile, offset = 0): Task<number> {
    this.checkMmap(length, prot, flags, file, offset);
    if (flags & MAP_FIXED) throw new ArgumentError('flags', 'MAP_FIXED needs an address; use mmapAt');
    return yield* this.mmapAt(0, length, prot, flags, file, offset);
  }

  private checkMmap(
    length: number,
    prot: number,
    flags: number,
    file: SimFile | undefined,
    offset: number,
  ): void {
    checkLength('length', length, false);
    checkFlags('prot', prot, PROT_MASK);
    checkFlags('flags', flags, MAP_FLAGS_MASK);
    const type = flags & (MAP_SHARED | MAP_PRIVATE);
    if (type !== MAP_SHARED && type !== MAP_PRIVATE)
      throw new ArgumentError('flags', 'needs exactly one of MAP_SHARED and MAP_PRIVATE');
    if (flags & MAP_ANONYMOUS && file !== undefined)
      throw new ArgumentError('file', 'a file cannot be mapped with MAP_ANONYMOUS');
    if (!(flags & MAP_ANONYMOUS)) {
      if (file === undefined) throw new ArgumentError('file', 'needs a file, or MAP_ANONYMOUS');
      this.p.sim.own('file', file, SimFile);
    }
    checkAddr('offset', offset, true);
  }

  /** mmap with an address hint (or a fixed address with MAP_FIXED). */
  *mmapAt(
    addr: number,
    length: number,
    prot: number,
    flags: number,
    file?: SimFile,
    offset = 0,
  ): Task<number> {
    this.checkMmap(length, prot, flags, file, offset);
    checkAddr('addr', addr, (flags & MAP_FIXED) !== 0);
    const mm = this.p.mm;
    this.p.alive();
    yield* mm.mmapSem.downWrite();
    let a: number;
    try {
      a = check(
        yield* doMmap(mm, { addr, len: length, prot, flags, file: file?.mapping ?? null, offset }),
        'mmap',
      );
    } finally {
      mm.mmapSem.upWrite();
    }
    // do_mmap asks for population with MAP_POPULATE, and for VM_LOCKED mappings (mlock semantics).
    if (flags & (MAP_POPULATE | MAP_LOCKED)) {
      const write = (flags & MAP_SHARED) === 0 && (prot & PROT_WRITE) !== 0;
      yield* doMadvise(mm, a, length, write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
    }
    return a;
  }

  /** Generator form of `Process.mmapSpecial`. */
  *mmapSpecial(length: number, prot: number, kind: SpecialMappingKind): Task<number> {
    checkLength('length', length, false);
    checkFlags('prot', prot, PROT_MASK);
    if (kind !== 'pfnmap' && kind !== 'mixedmap')
      throw new ArgumentError('kind', `expected 'pfnmap' or 'mixedmap', got ${describeValue(kind)}`);
    const mm = this.p.mm;
    this.p.alive();
    yield* mm.mmapSem.downWrite();
    try {
      return check(yield* doMmapSpecial(mm, length, prot, kind), 'mmap');
    } finally {
      mm.mmapSem.upWrite();
    }
  }

  /** Generator form of `Process.munmap`. */
  *munmap(addr: number, length: number): Task {
    checkAddr('addr', addr, true);
    checkLength('length', length, false);
    const mm = this.p.mm;
    this.p.alive();
    yield* mm.mmapSem.downWrite();
    try {
      check(yield* doMunmap(mm, addr, length), 'munmap');
    } finally {
      mm.mmapSem.upWrite();
    }
  }

  /** Generator form of `Process.mprotect`. */
  *mprotect(addr: number, length: number, prot: number): Task {
    checkAddr('addr', addr, true);
    checkLength('length', length, true);
    checkFlags('prot', prot, PROT_MASK);
    this.p.alive();
    check(yield* doMprotect(this.p.mm, addr, length, prot), 'mprotect');
  }

  /** Generator form of `Process.madvise`. */
  *madvise(addr: number, length: number, advice: number): Task {
    checkAddr('addr', addr, true);
    checkLength('length', length, true);
    if (typeof advice !== 'number' || !isKnownAdvice(advice))
      throw new ArgumentError('advice', `unknown advice ${describeValue(advice)}`);
    this.p.alive();
    check(yield* doMadvise(this.p.mm, addr, length, advice), 'madvise');
  }

  /** Generator form of `Process.mremap`. */
  *mremap(oldAddr: number, oldLen: number, newLen: number, flags: number, newAddr?: number): Task<number> {
    checkAddr('oldAddr', oldAddr, true);
    checkLength('oldLen', oldLen, true);
    checkLength('newLen', newLen, false);
    checkMremapFlags(this.p, flags);
    const to = flags & (MREMAP_FIXED | MREMAP_DONTUNMAP);
    if (flags & MREMAP_FIXED && newAddr === undefined)
      throw new ArgumentError('newAddr', 'MREMAP_FIXED needs a new address');
    if (newAddr !== undefined) checkAddr('newAddr', newAddr, to !== 0);
    if (flags & MREMAP_DONTUNMAP && pageUp(oldLen) !== pageUp(newLen))
      throw new ArgumentError('newLen', 'MREMAP_DONTUNMAP cannot resize');
    if (flags & MREMAP_FIXED && newAddr !== undefined) {
      const [a, b, c, d] = [oldAddr, oldAddr + pageUp(oldLen), newAddr, newAddr + pageUp(newLen)];
      if (b > c && d > a) throw new ArgumentError('newAddr', 'the new range overlaps the old one');
    }
    this.p.alive();
    const r = yield* doMremap(this.p.mm, oldAddr, oldLen, newLen, flags, to ? (newAddr ?? 0) : 0);
    return check(r, 'mremap');
  }

  /** Generator form of `Process.pin`. */
  *pin(addr: number, npages: number, options?: PinOptions): Task<PinnedPages> {
    checkAddr('addr', addr, false);
    checkInt('npages', npages, 1, 2 ** 26);
    const opts = checkOptions<PinOptions>('opts', options, ['write', 'longterm']);
    for (const k of ['write', 'longterm'] as const)
      if (opts[k] !== undefined && typeof opts[k] !== 'boolean')
        throw new ArgumentError(`opts.${k}`, `expected a boolean, got ${String(opts[k])}`);
    this.p.alive();
    const mm = this.p.mm;
    const flags = (opts.write ? FOLL_WRITE : 0) | (opts.longterm ? FOLL_LONGTERM : 0);
    const pfns: number[] = [];
    yield* mm.mmapSem.downRead();
    let n: number;
    try {
      n = yield* pinUserPages(mm, addr, npages, flags, pfns);
    } finally {
      mm.mmapSem.upRead();
    }
    check(n, 'pin_user_pages');
    return pinnedPages(mm, pfns);
  }

  /** Generator form of `Process.write`. */
  *write(addr: number, bytes: Uint8Array): Task {
    checkAddr('addr', addr, false);
    checkBytes('bytes', bytes);
    this.p.alive();
    const r = yield* accessUser(this.p.mm, addr, bytes, true);
    raiseFault(r.result, r.addr, true);
  }

  /** Generator form of `Process.read`. */
  *read(addr: number, length: number): Task<Uint8Array> {
    checkAddr('addr', addr, false);
    checkBufferLength('length', length);
    this.p.alive();
    // the machine's, as a device read's bytes are: valid until the machine is released
    const buf = this.p.mm.kernel.mem.arrays.u8(length);
    const r = yield* accessUser(this.p.mm, addr, buf, false);
    raiseFault(r.result, r.addr, false);
    return buf;
  }

  /** Generator form of `Process.fork`. */
  *fork(): Task<Process> {
    this.p.alive();
    const mm = yield* dupMm(this.p.mm);
    if (typeof mm === 'number') throw new HmmError(mm, 'fork');
    return this.p.sim.adoptProcess(mm);
  }

  /** Generator form of `Process.exit`. */
  *exit(): Task {
    this.p.alive();
    this.p.exited = true;
    yield* mmput(this.p.mm);
  }
}

function pageUp(len: number): number {
  return Math.ceil(len / PAGE_SIZE) * PAGE_SIZE;
}

function checkMremapFlags(p: Process, flags: number): void {
  const dontunmap = p.mm.kernel.behaviour.mremapDontunmap;
  checkFlags('flags', flags, MREMAP_MAYMOVE | MREMAP_FIXED | (dontunmap ? MREMAP_DONTUNMAP : 0));
  if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP) && !(flags & MREMAP_MAYMOVE))
    throw new ArgumentError('flags', 'MREMAP_FIXED and MREMAP_DONTUNMAP need MREMAP_MAYMOVE');
}

/** The handle of one pin_user_pages call. */
function pinnedPages(mm: MmStruct, pfns: number[]): PinnedPages {
  let pinned = true;
  return {
    pages: pfns.length,
    pfns: [...pfns],
    unpin(): void {
      if (!pinned) throw new KernelWarning('unpin_user_pages: these pages are already unpinned');
      pinned = false;
      unpinUserPages(mm.kernel, pfns);
    },
  };
}

/** What a failed user access raises (OOM: HmmError ENOMEM; SIGBUS or SIGSEGV: SegvError); nothing for 'ok'. */
export function raiseFault(result: string, addr: number, write: boolean): void {
  if (result === 'ok') return;
  if (result === 'OOM') throw new HmmError(ENOMEM, `page fault at 0x${addr.toString(16)}`);
  throw new SegvError(addr, write, result === 'SIGBUS' ? 'SIGBUS' : 'SIGSEGV');
}
