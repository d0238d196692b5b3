/**
 * Model-based test of the mm core: random sequences of mmap (anonymous and file, private and
 * shared, sometimes MAP_FIXED over what is there), munmap, mprotect, MADV_DONTNEED, fork, exit,
 * reads, writes and pwrite, over up to four processes, against a reference model that knows
 * nothing of page tables: per process, a map from virtual page to { protection, backing, private
 * copy }, and the bytes of each file and shared-anonymous object.
 *
 * The model's rules are the user-visible semantics of Linux v5.3:
 * - an access outside every mapping, or one the protection forbids, is SIGSEGV (x86: any access
 *   but PROT_NONE may read); an access to a file page at or past EOF is SIGBUS;
 * - a private mapping sees the zero page (anonymous) or the file until it writes; the write gives
 *   it a copy of its own; fork copies every private page (COW) and shares every shared one;
 * - MADV_DONTNEED drops private copies (anonymous memory reads zeros again, a private file mapping
 *   reads the file again); shared data stays (it lives in the page cache or the shmem object);
 * - mprotect and madvise over a range with a hole fail with ENOMEM; madvise still treats every
 *   mapped part, mprotect the mapped part before the first hole (v5.3 do_mprotect_pkey).
 *
 * - MADV_FREE (anonymous private memory only, else EINVAL) leaves the bytes readable; after a
 *   reclaim a page MADV_FREE cleaned and nothing wrote since reads either as before or as zeros
 *   (which one depends on sharing and pins: the next access settles it); a write cancels;
 * - mremap shrinks, grows in place into a free range, or moves (MAYMOVE, FIXED, DONTUNMAP under
 *   'v6.19') carrying the bytes; the errno cases follow mm/mremap.c;
 * - pin_user_pages pins the pages up to the first one the access rules refuse (EFAULT if that is the
 *   first), a write pin breaks COW like a write; pins change no bytes.
 *
 * After every command the accounting checker must find nothing (with the references the test's
 * pins hold: one each under 'v5.3', GUP_PIN_COUNTING_BIAS under 'v6.19'), and every process's
 * mappings and every file's contents must match the model. At the end every pin is released, every
 * process exits and the only RAM still in use must be the page cache of the simulator's files.
 * The whole run is made under both kernel settings.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertAccounting, checkAccounting } from '../../src/check/accounting.js';
import {
  GUP_PIN_COUNTING_BIAS,
  HmmError,
  MADV_COLLAPSE,
  MADV_DONTNEED,
  MADV_FREE,
  MADV_HUGEPAGE,
  MADV_NOHUGEPAGE,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  type PinnedPages,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  type Process,
  type SimFile,
  Simulator,
  type SimulatorOptions,
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
const RAM_PAGES = 4096;
/** Where a process with no mapping aims its accesses: below the top-down mmap base, unmapped. */
const FILE_SIZES = [5 * PAGE, 2 * PAGE + 100];
/** Fixed, so CI is reproducible; HMMSIM_MODEL_SEED / HMMSIM_MODEL_RUNS soak it with other seeds. */
const SEED = Number(process.env.HMMSIM_MODEL_SEED ?? 0x5eed_2019);
const RUNS = Number(process.env.HMMSIM_MODEL_RUNS ?? 300);

// -- the reference model -------------------------------------------------------------------------

interface Model {
  procs: ProcModel[];
  files: Obj[];
}

interface Real {
  sim: Simulator;
  procs: Process[];
  files: SimFile[];
  /** Pins the test holds, oldest first. */
  pins: PinnedPages[];
}

/** The page references the held pins account for, as the accounting checker wants them. */
function pinRefs(r: Real): Map<number, number> {
  const v6 = r.sim.kernelVersion === 'v6.19';
  const refs = new Map<number, number>();
  for (const pin of r.pins)
    for (const pfn of pin.pfns) {
      const n = v6 ? (pfn === 0 ? 0 : GUP_PIN_COUNTING_BIAS) : 1;
      if (n > 0) refs.set(pfn, (refs.get(pfn) ?? 0) + n);
    }
  return refs;
}

/**
 * A page a reclaim may have dropped reads as its bytes or as zeros: read it through the simulator
 * (when the protection allows) and make the model say which. Afterwards the page is definite.
 */
function settle(pm: ProcModel, p: Process, addr: number, len: number): void {
  for (let v = Math.floor(addr / PAGE); v * PAGE < addr + len; v++) {
    const pg = pm.pages.get(v);
    if (pg === undefined || !pg.maybeZero || pg.prot === PROT_NONE || beyondEof(pg)) continue;
    const got = Buffer.from(p.read(v * PAGE, PAGE));
    const kept = got.equals(Buffer.from(readable(pg)));
    if (!kept) {
      expect(got.equals(Buffer.from(ZEROS)), `page 0x${v.toString(16)}: neither kept nor dropped`).toBe(true);
      pg.priv = null;
      pg.lazy = false;
    }
    pg.maybeZero = false;
  }
}

// -- checking the simulator against the model ---------------------------------------------------

/** Runs fn and returns the errno code it threw (null if it returned). */
function errnoOf(fn: () => void): string | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (e instanceof HmmError) return e.code;
    throw e;
  }
}

function verify(m: Model, r: Real): void {
  expect(checkAccounting(r.sim.kernel, pinRefs(r))).toEqual([]);
  m.procs.forEach((pm, i) => {
    expect(layoutOfReal(r.procs[i] as Process)).toEqual(layoutOfModel(pm));
  });
  m.files.forEach((obj, i) => {
    const f = r.files[i] as SimFile;
    expect(Buffer.from(f.pread(f.size, 0)).equals(Buffer.from(obj.bytes.subarray(0, f.size)))).toBe(true);
  });
}

// -- commands ------------------------------------------------------------------------------------

type Cmd = fc.Command<Model, Real>;

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

interface Fixed {
  anchorSel: number;
  delta: number;
}

class MmapCmd extends ProcCmd {
  constructor(
    procSel: number,
    readonly kind: Kind,
    readonly fileSel: number,
    readonly offPages: number,
    readonly npages: number,
    readonly prot: number,
    readonly fixed: Fixed | null,
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
    for (let k = 0; k < this.npages; k++) {
      if (this.fixed === null) expect(pm.pages.has(vpn + k), 'mmap chose a mapped page').toBe(false);
      pm.pages.delete(vpn + k);
    }
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
    const got = errnoOf(() => p.mprotect(addr, len, this.prot));
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
  constructor(
    procSel: number,
    anchorSel: number,
    delta: number,
    npages: number,
    readonly free = false,
  ) {
    super(procSel, anchorSel, delta, npages);
  }
  /** MADV_FREE aims at private anonymous pages when the process has some (else it is mostly EINVAL). */
  override range(pm: ProcModel): { vpn: number; addr: number; len: number } {
    const anon = [...pm.pages].filter(([, pg]) => !pg.shared && pg.obj === null).map(([v]) => v);
    if (!this.free || anon.length === 0) return super.range(pm);
    anon.sort((a, b) => a - b);
    const vpn = pick(anon, this.anchorSel) + this.delta;
    return { vpn, addr: vpn * PAGE, len: this.npages * PAGE };
  }
  apply(pm: ProcModel, p: Process): void {
    const { vpn, addr, len } = this.range(pm);
    const got = errnoOf(() => p.madvise(addr, len, this.free ? MADV_FREE : MADV_DONTNEED));
    let hole = false;
    let want: string | null = null;
    for (let v = vpn; v < vpn + this.npages; v++) {
      const pg = pm.pages.get(v);
      if (pg === undefined) hole = true;
      else if (!this.free) {
        if (!pg.shared) {
          pg.priv = null;
          pg.lazy = false;
          pg.maybeZero = false;
        }
      } else if (pg.shared || pg.obj !== null) {
        want = 'EINVAL'; // madvise_free_single_vma: not an anonymous VMA; the walk stops there
        break;
      } else if (pg.priv !== null) pg.lazy = true;
    }
    expect(got).toBe(want ?? (hole ? 'ENOMEM' : null));
  }
  toString(): string {
    return `madvise[p${this.procSel}](${this.where()} ${this.free ? 'FREE' : 'DONTNEED'})`;
  }
}

/** sim.reclaim(): every page MADV_FREE cleaned and nothing wrote since may now read as zeros. */
class ReclaimCmd implements Cmd {
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    r.sim.reclaim();
    for (const pm of m.procs)
      for (const pg of pm.pages.values()) if (pg.lazy && pg.priv !== null) pg.maybeZero = true;
    verify(m, r);
  }
  toString(): string {
    return 'reclaim';
  }
}

/**
 * The lazyfree life of one private anonymous page, which random commands rarely line up: write it,
 * MADV_FREE it, maybe write it again (cancelling), reclaim, read it back. Each step is the ordinary
 * command, checked as usual.
 */
class LazyCycleCmd implements Cmd {
  constructor(
    readonly procSel: number,
    readonly anchorSel: number,
    readonly rewrite: boolean,
    readonly seed: number,
  ) {}
  check(m: Readonly<Model>): boolean {
    return m.procs.length > 0;
  }
  run(m: Model, r: Real): void {
    const i = this.procSel % m.procs.length;
    const pm = m.procs[i] as ProcModel;
    const p = r.procs[i] as Process;
    const all = [...pm.pages.keys()].sort((a, b) => a - b);
    const anon = all.filter((v) => !pm.pages.get(v)?.shared && pm.pages.get(v)?.obj === null);
    if (anon.length === 0) return;
    const at = all.indexOf(pick(anon, this.anchorSel));
    const write = (seed: number) => new WriteCmd(i, at, 0, 0, PAGE, seed).apply(pm, p);
    write(this.seed);
    new MadviseCmd(i, anon.indexOf(all[at] as number), 0, 1, true).apply(pm, p);
    if (this.rewrite) write(this.seed + 1);
    new ReclaimCmd().run(m, r);
    new ReadCmd(i, at, 0, 0, PAGE).apply(pm, p);
    verify(m, r);
  }
  toString(): string {
    return `lazycycle[p${this.procSel}](@${this.anchorSel}${this.rewrite ? ' rewrite' : ''} seed ${this.seed})`;
  }
}

/** pin_user_pages over npages from a page: as many as the access rules allow in a row. */
class PinCmd extends RangeCmd {
  constructor(
    procSel: number,
    anchorSel: number,
    delta: number,
    npages: number,
    readonly write: boolean,
    readonly longterm: boolean,
  ) {
    super(procSel, anchorSel, delta, npages);
  }
  apply(pm: ProcModel, p: Process, _m: Model, r: Real): void {
    const { vpn, addr, len } = this.range(pm);
    if (this.write) settle(pm, p, addr, len);
    let n = 0;
    for (; n < this.npages; n++) {
      const pg = pm.pages.get(vpn + n);
      if (pg === undefined || beyondEof(pg)) break;
      if (!(pg.prot & (this.write ? PROT_WRITE : PROT_READ))) break;
    }
    if (n === 0) {
      expect(errnoOf(() => p.pin(addr, this.npages, { write: this.write }))).toBe('EFAULT');
      return;
    }
    const pin = p.pin(addr, this.npages, { write: this.write, longterm: this.longterm });
    expect(pin.pages).toBe(n);
    r.pins.push(pin);
    if (this.write) for (let k = 0; k < n; k++) writableBytes(pm.pages.get(vpn + k) as PageModel);
  }
  toString(): string {
    return `pin[p${this.procSel}](${this.where()}${this.write ? ' write' : ''}${this.longterm ? ' longterm' : ''})`;
  }
}

class UnpinCmd implements Cmd {
  constructor(readonly sel: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    if (r.pins.length > 0) r.pins.splice(this.sel % r.pins.length, 1)[0]?.unpin();
    verify(m, r);
  }
  toString(): string {
    return `unpin(${this.sel})`;
  }
}

type RemapMode = 'at' | 'maymove' | 'fixed' | 'dontunmap';

/**
 * mremap of oldPages from a page to newPages: in place, MAYMOVE, FIXED to a target near some
 * mapping, or DONTUNMAP (same size). The expected result follows mm/mremap.c step by step, with
 * the VMA bounds read from the process (they are /proc/pid/maps, already checked page by page).
 */
class MremapCmd extends RangeCmd {
  constructor(
    procSel: number,
    anchorSel: number,
    delta: number,
    readonly oldPages: number,
    readonly newPages: number,
    readonly mode: RemapMode,
    readonly to: Fixed,
  ) {
    super(procSel, anchorSel, delta, oldPages);
  }

  apply(pm: ProcModel, p: Process, _m: Model, r: Real): void {
    const v6 = r.sim.kernelVersion === 'v6.19';
    if (this.mode === 'dontunmap' && !v6) return;
    const addr = this.range(pm).addr;
    const newPages = this.mode === 'dontunmap' ? this.oldPages : this.newPages;
    const flags = {
      at: 0,
      maymove: MREMAP_MAYMOVE,
      fixed: MREMAP_MAYMOVE | MREMAP_FIXED,
      dontunmap: MREMAP_MAYMOVE | MREMAP_DONTUNMAP,
    }[this.mode];
    const dst = this.mode === 'fixed' ? targetVpn(pm, this.to.anchorSel, this.to.delta) * PAGE : undefined;
    const vma = p.vmas().find((v) => v.start <= addr && addr < v.end);
    let got: number | string;
    try {
      got = p.mremap(addr, this.oldPages * PAGE, newPages * PAGE, flags, dst);
    } catch (e) {
      if (!(e instanceof HmmError)) throw e;
      got = e.code;
    }
    const want = this.expect(pm, addr, newPages, vma, dst, v6, typeof got === 'number' ? got : -1);
    expect(got).toBe(want);
  }

  /** Applies the model's side of the call and returns what it must return (address or errno code). */
  private expect(
    pm: ProcModel,
    addr: number,
    newPages: number,
    vma: { start: number; end: number } | undefined,
    dst: number | undefined,
    v6: boolean,
    got: number,
  ): number | string {
    const vpn = addr / PAGE;
    let oldPages = this.oldPages;
    // the facade refuses an overlapping MREMAP_FIXED (ArgumentError, EINVAL) before the kernel runs
    const d = dst === undefined ? -1 : dst / PAGE;
    if (dst !== undefined && vpn + oldPages > d && d + newPages > vpn) return 'EINVAL';
    if (v6 && vma === undefined) return 'EFAULT';
    if (this.mode === 'fixed' || this.mode === 'dontunmap') {
      if (dst !== undefined) unmap(pm, d, newPages);
      if (oldPages > newPages) {
        unmap(pm, vpn + newPages, oldPages - newPages);
        oldPages = newPages;
      }
      if (vma === undefined || !pm.pages.has(vpn)) return 'EFAULT';
      let end = vpn;
      while (end < vma.end / PAGE && pm.pages.has(end)) end++;
      if (oldPages > end - vpn) return 'EFAULT';
      const to = dst ?? got;
      move(pm, vpn, oldPages, to / PAGE, newPages, this.mode === 'dontunmap');
      return to;
    }
    if (newPages === oldPages) return addr;
    if (newPages < oldPages) {
      unmap(pm, vpn + newPages, oldPages - newPages);
      return addr;
    }
    if (vma === undefined || oldPages > (vma.end - addr) / PAGE) return 'EFAULT';
    const endVpn = vpn + oldPages;
    let free = vma.end === addr + oldPages * PAGE;
    for (let v = endVpn; free && v < vpn + newPages; v++) if (pm.pages.has(v)) free = false;
    if (free) {
      grow(pm, vpn, oldPages, vpn, newPages);
      return addr;
    }
    if (this.mode === 'at') return 'ENOMEM';
    move(pm, vpn, oldPages, got / PAGE, newPages, false);
    return got;
  }

  toString(): string {
    const to =
      this.mode === 'fixed'
        ? ` to @${this.to.anchorSel}${this.to.delta >= 0 ? '+' : ''}${this.to.delta}`
        : '';
    return `mremap[p${this.procSel}](${this.where()} -> x${this.newPages} ${this.mode}${to})`;
  }
}

function unmap(pm: ProcModel, vpn: number, n: number): void {
  for (let k = 0; k < n; k++) pm.pages.delete(vpn + k);
}

/** Pages [vpn+oldPages, vpn+newPages) extend the mapping whose last page is at vpn+oldPages-1. */
function grow(pm: ProcModel, from: number, oldPages: number, vpn: number, newPages: number): void {
  const last = pm.pages.get(from + oldPages - 1) as PageModel;
  for (let k = oldPages; k < newPages; k++) {
    expect(pm.pages.has(vpn + k), 'mremap grew over a mapped page').toBe(false);
    pm.pages.set(vpn + k, {
      prot: last.prot,
      shared: last.shared,
      obj: last.obj,
      index: last.index + k - oldPages + 1,
      priv: null,
    });
  }
}

/** The pages move (bytes, lazy state and all); DONTUNMAP leaves the old range mapped and empty. */
function move(
  pm: ProcModel,
  from: number,
  oldPages: number,
  to: number,
  newPages: number,
  keepOld: boolean,
): void {
  const moved: PageModel[] = [];
  for (let k = 0; k < oldPages; k++) moved.push(pm.pages.get(from + k) as PageModel);
  for (let k = 0; k < oldPages; k++) {
    const pg = moved[k] as PageModel;
    if (keepOld)
      pm.pages.set(from + k, { ...pg, priv: pg.shared ? pg.priv : null, lazy: false, maybeZero: false });
    else pm.pages.delete(from + k);
  }
  for (let k = 0; k < oldPages; k++) {
    expect(pm.pages.has(to + k), 'mremap moved onto a mapped page').toBe(false);
    pm.pages.set(to + k, moved[k] as PageModel);
  }
  grow(pm, to, oldPages, to, newPages);
}

class ReadCmd extends RangeCmd {
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
    settle(pm, p, addr, this.len);
    const want = new Uint8Array(this.len);
    const fault = accessModel(pm, addr, this.len, false, (pg, pageOff, bufOff, n) => {
      want.set(readable(pg).subarray(pageOff, pageOff + n), bufOff);
    });
    if (fault !== null) {
      expectSegv(() => p.read(addr, this.len), fault, false);
      return;
    }
    const got = p.read(addr, this.len);
    expect(Buffer.from(got).equals(Buffer.from(want)), `bytes read at 0x${addr.toString(16)}`).toBe(true);
  }
  toString(): string {
    return `read[p${this.procSel}](@${this.anchorSel}${this.delta >= 0 ? '+' : ''}${this.delta} +${this.off} len ${this.len})`;
  }
}

class WriteCmd extends RangeCmd {
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
    settle(pm, p, addr, this.len);
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

class ForkCmd extends ProcCmd {
  override check(m: Readonly<Model>): boolean {
    return m.procs.length > 0 && m.procs.length < MAX_PROCS;
  }
  apply(pm: ProcModel, p: Process, m: Model, r: Real): void {
    const child = p.fork();
    const pages = new Map<number, PageModel>();
    for (const [vpn, pg] of pm.pages) pages.set(vpn, { ...pg, priv: pg.priv?.slice() ?? null });
    m.procs.push({ pages });
    r.procs.push(child);
  }
  toString(): string {
    return `fork[p${this.procSel}]`;
  }
}

class ExitCmd extends ProcCmd {
  apply(_pm: ProcModel, p: Process, m: Model, r: Real, i: number): void {
    p.exit();
    m.procs.splice(i, 1);
    r.procs.splice(i, 1);
  }
  toString(): string {
    return `exit[p${this.procSel}]`;
  }
}

class SpawnCmd implements Cmd {
  check(m: Readonly<Model>): boolean {
    return m.procs.length < MAX_PROCS;
  }
  run(m: Model, r: Real): void {
    r.procs.push(r.sim.createProcess());
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
const anchorSel = fc.nat({ max: 63 });
const delta = fc.oneof(
  { weight: 3, arbitrary: fc.constant(0) },
  { weight: 2, arbitrary: fc.constantFrom(-1, 1, 2, -2, 3) },
);
const npages = fc.integer({ min: 1, max: 8 });
const prot = fc.oneof(
  { weight: 4, arbitrary: fc.constant(PROT_READ | PROT_WRITE) },
  { weight: 1, arbitrary: fc.constantFrom(PROT_READ, PROT_NONE, PROT_WRITE) },
);
const kind = fc.constantFrom<Kind>('anon-private', 'file-private', 'file-shared', 'anon-shared');
const pageOff = fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: PAGE - 64, max: PAGE - 1 }));
const accessLen = fc.oneof(fc.integer({ min: 1, max: 128 }), fc.integer({ min: 1, max: PAGE + 200 }));
const byteSeed = fc.nat({ max: 254 });

/** One command of the base mix (the mm helpers' property tests add their own arbitraries beside it). */
const mmCommand = fc.oneof(
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
    weight: 2,
    arbitrary: fc.tuple(procSel, anchorSel, delta, npages).map(([p, a, d, n]) => new MunmapCmd(p, a, d, n)),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(procSel, anchorSel, delta, npages, prot)
      .map(([p, a, d, n, pr]) => new MprotectCmd(p, a, d, n, pr)),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(procSel, anchorSel, delta, npages).map(([p, a, d, n]) => new MadviseCmd(p, a, d, n)),
  },
  {
    weight: 6,
    arbitrary: fc
      .tuple(procSel, anchorSel, delta, npages)
      .map(([p, a, d, n]) => new MadviseCmd(p, a, d, n, true)),
  },
  { weight: 4, arbitrary: fc.constant(new ReclaimCmd()) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(procSel, anchorSel, fc.boolean(), byteSeed)
      .map(([p, a, w, s]) => new LazyCycleCmd(p, a, w, s)),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(procSel, anchorSel, delta, fc.integer({ min: 1, max: 4 }), fc.boolean(), fc.boolean())
      .map(([p, a, d, n, w, l]) => new PinCmd(p, a, d, n, w, l)),
  },
  { weight: 1, arbitrary: fc.nat({ max: 7 }).map((i) => new UnpinCmd(i)) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        procSel,
        anchorSel,
        delta,
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom<RemapMode>('at', 'maymove', 'fixed', 'dontunmap'),
        anchorSel,
        fc.constantFrom(-8, -4, 4, 9, 12),
      )
      .map(
        ([p, a, d, o, n, mode, ta, td]) => new MremapCmd(p, a, d, o, n, mode, { anchorSel: ta, delta: td }),
      ),
  },
  {
    weight: 5,
    arbitrary: fc
      .tuple(procSel, anchorSel, delta, pageOff, accessLen)
      .map(([p, a, d, o, l]) => new ReadCmd(p, a, d, o, l)),
  },
  {
    weight: 6,
    arbitrary: fc
      .tuple(procSel, anchorSel, delta, pageOff, accessLen, byteSeed)
      .map(([p, a, d, o, l, s]) => new WriteCmd(p, a, d, o, l, s)),
  },
  { weight: 3, arbitrary: procSel.map((p) => new ForkCmd(p)) },
  { weight: 2, arbitrary: procSel.map((p) => new ExitCmd(p)) },
  { weight: 1, arbitrary: fc.constant(new SpawnCmd()) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.nat({ max: 1 }), fc.nat({ max: 6 * PAGE }), fc.integer({ min: 1, max: 300 }), byteSeed)
      .map(([f, o, l, s]) => new PwriteCmd(f, o, l, s)),
  },
);

const commands = fc.commands([mmCommand], { maxCommands: 60, size: 'large' });

// -- the setup ------------------------------------------------------------------------------------

/** One process and two files: 5 pages with holes at pages 1, 3 and 4, and 2 pages + 100 bytes. */
function setup(opts: SimulatorOptions = {}): { model: Model; real: Real } {
  const sim = new Simulator({ seed: 1, ramPages: RAM_PAGES, ...opts });
  const real: Real = { sim, procs: [sim.createProcess()], files: [], pins: [] };
  const model: Model = { procs: [{ pages: new Map() }], files: [] };
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

/** Every process exits: only the files' page cache may still hold RAM. */
function exitAll(m: Model, r: Real): void {
  for (const pin of r.pins.splice(0)) pin.unpin();
  for (const p of r.procs) p.exit();
  m.procs.length = 0;
  r.procs.length = 0;
  verify(m, r);
  const { mem } = r.sim.kernel;
  const cached = r.files.reduce((n, f) => n + f.mapping.pages.size, 0);
  expect(mem.ramPages - mem.freePages, 'RAM pages in use after every process exited').toBe(cached);
}

describe.each(['v5.3', 'v6.19'] as const)('mm model under %s', (kernel) => {
  it(
    'random mmap/munmap/mprotect/madvise/mremap/pin/reclaim/fork/exit/read/write sequences match the reference model',
    () => {
      fc.assert(
        fc.property(commands, (cmds) => {
          const { model, real } = setup({ kernel });
          fc.modelRun(() => ({ model, real }), cmds);
          exitAll(model, real);
        }),
        { seed: SEED, numRuns: RUNS },
      );
    },
    60_000 + RUNS * 200,
  );
});

// -- transparent huge pages -------------------------------------------------------------------------

/** Where THP regions go: 2 MiB aligned slots of 4 MiB, far from the top-down mmap area. */
const HUGE_BASE = 0x6000_0000_0000;
const HUGE_SLOT = 4 * 1024 * 1024;
const HPAGE = 2 * 1024 * 1024;
const HPAGE_PAGES = HPAGE / PAGE;

/**
 * An anonymous private mapping at a 2 MiB-aligned slot (MAP_FIXED: it replaces what is there) of
 * one or two huge pages plus a few small pages, with MADV_HUGEPAGE unless `advise` is false. Its
 * first write fault in an aligned 2 MiB takes a THP (or the huge zero page on a read).
 */
class HugeMmapCmd extends ProcCmd {
  constructor(
    procSel: number,
    readonly slot: number,
    readonly npmds: number,
    readonly extraPages: number,
    readonly advise: boolean,
  ) {
    super(procSel);
  }
  apply(pm: ProcModel, p: Process, _m: Model, r: Real): void {
    const addr = HUGE_BASE + this.slot * HUGE_SLOT;
    const len = this.npmds * HPAGE + this.extraPages * PAGE;
    const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
    expect(r.sim.run('mmap', p.task.mmapAt(addr, len, PROT_READ | PROT_WRITE, flags))).toBe(addr);
    if (this.advise) p.madvise(addr, len, MADV_HUGEPAGE);
    for (let k = 0; k < len / PAGE; k++)
      pm.pages.set(addr / PAGE + k, {
        prot: PROT_READ | PROT_WRITE,
        shared: false,
        obj: null,
        index: k,
        priv: null,
      });
  }
  toString(): string {
    return `hugeMmap[p${this.procSel}](slot ${this.slot} x${this.npmds} +${this.extraPages}${this.advise ? ' HUGEPAGE' : ''})`;
  }
}

/**
 * MADV_HUGEPAGE / MADV_NOHUGEPAGE / MADV_COLLAPSE over a range: no byte changes. The advice fails
 * with ENOMEM over a hole (after advising the mapped parts); a collapse may also refuse (EINVAL:
 * not eligible or read-only; EAGAIN: pinned; ENOMEM: a hole or no free huge page).
 */
class HugeAdviceCmd extends RangeCmd {
  constructor(
    procSel: number,
    anchorSel: number,
    delta: number,
    npages: number,
    readonly advice: number,
  ) {
    super(procSel, anchorSel, delta, npages);
  }
  apply(pm: ProcModel, p: Process): void {
    const { vpn, addr, len } = this.range(pm);
    const got = errnoOf(() => p.madvise(addr, len, this.advice));
    let hole = false;
    for (let v = vpn; v < vpn + this.npages; v++) if (!pm.pages.has(v)) hole = true;
    if (this.advice === MADV_COLLAPSE) expect([null, 'EINVAL', 'EAGAIN', 'ENOMEM']).toContain(got);
    else expect(got).toBe(hole ? 'ENOMEM' : null);
  }
  toString(): string {
    const name: Record<number, string> = {
      [MADV_HUGEPAGE]: 'HUGEPAGE',
      [MADV_NOHUGEPAGE]: 'NOHUGEPAGE',
      [MADV_COLLAPSE]: 'COLLAPSE',
    };
    return `madvise[p${this.procSel}](${this.where()} ${name[this.advice]})`;
  }
}

/** A range command aimed inside a THP region: a partial munmap, mprotect or DONTNEED that splits. */
function hugeTarget(slot: number, pageSel: number): { anchor: number } {
  return { anchor: (HUGE_BASE + slot * HUGE_SLOT) / PAGE + pageSel };
}

/** Reads every readable page of [vpn, vpn+n) that the model maps and compares it with the model. */
function verifyBytes(pm: ProcModel, p: Process, vpn: number, n: number): void {
  for (let v = vpn; v < vpn + n; v++) {
    const pg = pm.pages.get(v);
    if (pg === undefined || faultOf(pg, false) !== null) continue;
    settle(pm, p, v * PAGE, PAGE); // a page reclaim may have dropped: the model learns which
    const got = p.read(v * PAGE, PAGE);
    expect(Buffer.from(got).equals(Buffer.from(readable(pg))), `p${p.pid} page 0x${v.toString(16)}`).toBe(
      true,
    );
  }
}

/** Every page of every process, once per run. */
function verifyAllBytes(m: Model, r: Real): void {
  m.procs.forEach((pm, i) => {
    for (const vpn of pm.pages.keys()) verifyBytes(pm, r.procs[i] as Process, vpn, 1);
  });
}

function alignDown(x: number, n: number): number {
  return x - (x % n);
}

/** Range commands whose target is a page inside a THP slot (found by address, not by anchor). */
class HugeRangeCmd extends ProcCmd {
  constructor(
    procSel: number,
    readonly slot: number,
    readonly pageSel: number,
    readonly npages: number,
    readonly op: 'munmap' | 'mprotect' | 'dontneed' | 'write' | 'read' | 'collapse',
    readonly arg: number,
  ) {
    super(procSel);
  }
  apply(pm: ProcModel, p: Process): void {
    const vpn = hugeTarget(this.slot, this.pageSel).anchor;
    const addr = vpn * PAGE;
    const len = this.npages * PAGE;
    const op = this.op;
    if (op === 'munmap') {
      p.munmap(addr, len);
      for (let k = 0; k < this.npages; k++) pm.pages.delete(vpn + k);
      return;
    }
    if (op === 'collapse') {
      // MADV_COLLAPSE never changes bytes; it may refuse (see HugeAdviceCmd).
      expect([null, 'EINVAL', 'EAGAIN', 'ENOMEM']).toContain(
        errnoOf(() => p.madvise(addr, len, MADV_COLLAPSE)),
      );
      return;
    }
    if (op === 'read' || op === 'write') {
      const write = op === 'write';
      const bytes = pattern(len, this.arg);
      const want = new Uint8Array(len);
      const fault = accessModel(pm, addr, len, write, (pg, pageOff, bufOff, n) => {
        if (write) writableBytes(pg).set(bytes.subarray(bufOff, bufOff + n), pageOff);
        else want.set(readable(pg).subarray(pageOff, pageOff + n), bufOff);
      });
      if (fault !== null) expectSegv(() => (write ? p.write(addr, bytes) : p.read(addr, len)), fault, write);
      else if (write) p.write(addr, bytes);
      else expect(Buffer.from(p.read(addr, len)).equals(Buffer.from(want))).toBe(true);
      return;
    }
    const got = errnoOf(() =>
      op === 'mprotect' ? p.mprotect(addr, len, this.arg) : p.madvise(addr, len, MADV_DONTNEED),
    );
    let v = vpn;
    let hole = false;
    for (; v < vpn + this.npages; v++) {
      const pg = pm.pages.get(v);
      if (pg === undefined) {
        hole = true;
        if (op === 'mprotect') break;
        continue;
      }
      if (op === 'mprotect') pg.prot = this.arg;
      else if (!pg.shared) pg.priv = null;
    }
    expect(got).toBe(hole ? 'ENOMEM' : null);
    verifyBytes(pm, p, alignDown(vpn, HPAGE_PAGES), 2 * HPAGE_PAGES);
  }
  toString(): string {
    return `${this.op}[p${this.procSel}](huge slot ${this.slot} +${this.pageSel} x${this.npages} arg ${this.arg})`;
  }
}

const hugeSlot = fc.nat({ max: 2 });
/** Pages near the edges of a THP region's 2 MiB halves, where splits happen. */
const hugePage = fc.oneof(
  fc.integer({ min: 0, max: 8 }),
  fc.integer({ min: HPAGE_PAGES - 8, max: HPAGE_PAGES + 8 }),
  fc.integer({ min: 0, max: 2 * HPAGE_PAGES + 3 }),
);
const hugeCommand = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        procSel,
        hugeSlot,
        fc.integer({ min: 1, max: 2 }),
        fc.nat({ max: 3 }),
        fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      )
      .map(([p, s, n, x, a]) => new HugeMmapCmd(p, s, n, x, a)),
  },
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        procSel,
        hugeSlot,
        hugePage,
        fc.integer({ min: 1, max: 16 }),
        fc.oneof(
          { weight: 3, arbitrary: fc.constant('write') },
          { weight: 1, arbitrary: fc.constant('read') },
        ),
        byteSeed,
      )
      .map(([p, s, g, n, op, a]) => new HugeRangeCmd(p, s, g, n, op as 'write' | 'read', a)),
  },
  {
    weight: 4,
    arbitrary: fc
      .tuple(procSel, hugeSlot, hugePage, npages, fc.constantFrom('munmap', 'dontneed'))
      .map(([p, s, g, n, op]) => new HugeRangeCmd(p, s, g, n, op as 'munmap' | 'dontneed', 0)),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(procSel, hugeSlot, hugePage, npages, prot)
      .map(([p, s, g, n, pr]) => new HugeRangeCmd(p, s, g, n, 'mprotect', pr)),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        procSel,
        anchorSel,
        delta,
        fc.oneof(npages, fc.constant(HPAGE_PAGES), fc.constant(2 * HPAGE_PAGES)),
      )
      .chain(([p, a, d, n]) =>
        fc
          .constantFrom(MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_COLLAPSE)
          .map((adv) => new HugeAdviceCmd(p, a, d, n, adv)),
      ),
  },
);

const collapseCommand = fc
  .tuple(procSel, hugeSlot, fc.constantFrom(0, HPAGE_PAGES), fc.constantFrom(HPAGE_PAGES, 2 * HPAGE_PAGES))
  .map(([p, s, g, n]) => new HugeRangeCmd(p, s, g, n, 'collapse', 0));

/*
 * Bugs injected by hand into the THP code while building this test, each caught by it (default
 * seed and runs unless said otherwise):
 * - huge_memory.ts splitHugePmd adding 510 folio references instead of 511: the accounting check
 *   after a MADV_HUGEPAGE whose VMA split cut a PMD ("compound pfn ...: refcount").
 * - huge_memory.ts copyHugePmd leaving the parent's PMD writable at fork: the accounting check right
 *   after the fork ("writable huge PMD ... COW not broken").
 * - memory.ts zapPmd zapping a whole huge PMD for a partial MADV_DONTNEED: the bytes of the 4 MiB
 *   around the DONTNEED (a page written before reads zeros).
 * - khugepaged.ts collapse forgetting the rss of the none PTEs it filled: the accounting check after
 *   the collapse ("rss MM_ANONPAGES").
 * - huge_memory.ts doHugePmdWpPage reusing a PMD when its entire mapcount is 1 (ignoring the PTE
 *   mappings of a child that split it): caught with HMMSIM_MODEL_THP_RUNS=400 (a five-command
 *   sequence); the unit test of fork/COW catches it directly.
 */
const thpCommands = fc.commands([mmCommand, hugeCommand, hugeCommand, hugeCommand, collapseCommand], {
  maxCommands: 50,
  size: 'large',
});
const THP_RUNS = Number(process.env.HMMSIM_MODEL_THP_RUNS ?? 100);

describe('mm model with transparent huge pages', () => {
  const seen: Record<string, number> = {
    thp_fault_alloc: 0,
    thp_split_pmd: 0,
    thp_zero_page_alloc: 0,
    thp_collapse_alloc: 0,
    cow: 0,
  };
  it(
    'THP faults in MADV_HUGEPAGE regions, partial operations that split, fork/COW and collapse match the model',
    () => {
      fc.assert(
        fc.property(
          thpCommands,
          fc.constantFrom<'madvise' | 'always'>('madvise', 'always'),
          fc.constantFrom<'v5.3' | 'v6.19'>('v5.3', 'v6.19'),
          (cmds, thp, kernel) => {
            const { model, real } = setup({ thp, kernel });
            fc.modelRun(() => ({ model, real }), cmds);
            verifyAllBytes(model, real);
            exitAll(model, real);
            for (const k of Object.keys(seen))
              seen[k] = (seen[k] as number) + real.sim.kernel.counters.get(k);
          },
        ),
        { seed: SEED, numRuns: THP_RUNS },
      );
      // The runs reached what this test is about.
      for (const [k, n] of Object.entries(seen)) expect(n, k).toBeGreaterThan(0);
    },
    60_000 + THP_RUNS * 1000,
  );
});

/**
 * The checker is this test's oracle, so it must see a broken book when there is one: each case
 * corrupts one count of a healthy machine by hand (the test mutates, the checker only reads).
 */
describe('the accounting checker catches corruption', () => {
  function healthy(): { sim: Simulator; p: Process; anon: number; f: SimFile } {
    const sim = new Simulator({ ramPages: 256 });
    const p = sim.createProcess();
    const f = sim.createFile(2 * PAGE);
    const anon = p.mmap(4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    p.write(anon, pattern(2 * PAGE, 1));
    p.read(anon + 2 * PAGE, 10);
    const shared = p.mmap(2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
    p.write(shared, pattern(10, 2));
    p.fork();
    expect(checkAccounting(sim.kernel)).toEqual([]);
    return { sim, p, anon, f };
  }

  function pfnAt(p: Process, addr: number): number {
    return p.pte(addr).pfn;
  }

  function slotAt(p: Process, addr: number): number {
    return p.sim.kernel.pt.pteSlot(p.mm.pgd, addr);
  }

  it('a wrong mapcount, rss, refcount or memcg usage', () => {
    const { sim, p, anon } = healthy();
    const { store } = sim.kernel.mem;
    const pfn = pfnAt(p, anon);
    store.mapcount[pfn] = (store.mapcount[pfn] as number) + 1;
    p.mm.rss[1] = (p.mm.rss[1] as number) - 1;
    sim.kernel.mem.getPage(pfn);
    sim.kernel.mem.memcgs.root.usagePages++;
    const v = checkAccounting(sim.kernel).join('\n');
    expect(v).toContain(`pfn ${pfn}: mapcount 3, but 2 mappings`);
    expect(v).toMatch(/rss MM_ANONPAGES is \d+, the page tables hold \d+/);
    expect(v).toContain(`pfn ${pfn}: refcount 3, expected 2`);
    expect(v).toMatch(/memcg root: usage \d+, but \d+ pages charged to it/);
  });

  it('GUP pins are expected only when the caller declares them', () => {
    const { sim, p, anon } = healthy();
    const pfn = pfnAt(p, anon + PAGE);
    sim.kernel.mem.getPage(pfn);
    expect(checkAccounting(sim.kernel).join('\n')).toContain(`pfn ${pfn}: refcount 3, expected 2`);
    expect(checkAccounting(sim.kernel, new Map([[pfn, 1]]))).toEqual([]);
    expect(() => assertAccounting(sim.kernel)).toThrow(/accounting check failed/);
  });

  it('a leaked page, a PTE to a free page, a stale used count', () => {
    const { sim, p, anon } = healthy();
    const { mem, pt } = sim.kernel;
    const leaked = mem.allocPage();
    const free = mem.allocPage();
    mem.putPage(free);
    const slot = slotAt(p, anon + 3 * PAGE);
    pt.set(slot, (free * PAGE + 0x25) >>> 0, 0);
    pt.used[slot >>> 9] = (pt.used[slot >>> 9] as number) + 1;
    const v = checkAccounting(sim.kernel).join('\n');
    expect(v).toContain(`pfn ${leaked}: leaked`);
    expect(v).toContain(`maps free pfn ${free}`);
    expect(v).toMatch(/has used \d+, but \d+ entries/);
  });

  it('a writable PTE onto a page COW still shares, and a stale i_mmap link', () => {
    const { sim, p, anon, f } = healthy();
    const slot = slotAt(p, anon);
    sim.kernel.pt.lo[slot] = ((sim.kernel.pt.lo[slot] as number) | 2) >>> 0;
    const stale = p.mm.vmas.find((v) => v.file === f.mapping);
    p.munmap(stale!.start, stale!.end - stale!.start);
    f.mapping.mmaps.add(stale!);
    const v = checkAccounting(sim.kernel).join('\n');
    expect(v).toContain('does not own (COW not broken)');
    expect(v).toContain(`i_mmap of ${f.name} links`);
  });
});

describe('regressions found while building the model', () => {
  it('a mapping in the last page below TASK_SIZE leaves no page table behind at munmap or exit', () => {
    const sim = new Simulator({ ramPages: 64 });
    const p = sim.createProcess();
    const top = 2 ** 47 - 2 * PAGE;
    const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
    expect(sim.run('mmap', p.task.mmapAt(top, PAGE, PROT_READ | PROT_WRITE, flags))).toBe(top);
    p.write(top, pattern(10, 1));
    p.munmap(top, PAGE);
    expect(checkAccounting(sim.kernel)).toEqual([]);
    sim.run('mmap', p.task.mmapAt(top, PAGE, PROT_READ | PROT_WRITE, flags));
    p.write(top, pattern(10, 2));
    p.exit();
    expect(checkAccounting(sim.kernel)).toEqual([]);
    expect(sim.kernel.pt.live).toBe(0);
  });
});
