/**
 * Memory footprints for the explorer's `dpor` (docs/explorer.md, "Memory footprints"): while a
 * schedule runs, every read and write of the machine's memory state by a step is recorded as a
 * memory object (src/sched/dependency.ts, MemKind), so two steps that touch different page-table
 * entries, pages or device entries commute.
 *
 * The state lives in typed arrays read and written in hundreds of places (`pt.lo[slot]`,
 * `store.refcount[pfn]`), so instead of a hook at each of them the arrays themselves are watched:
 * while each step of a schedule runs, the pool's and the page store's arrays are replaced by
 * proxies that record the index they are asked for (WatchedFields: the recorder arms them when a
 * step starts and disarms them when it ends; the arrays grow on their plain selves, see watchGrowth).
 * The rest is watched by wrapping the few methods that own it: the device page tables
 * and TLBs of the scenario's devices, the page allocator's free lists and page contents, the
 * integrity shadow. Notifier and range state comes from the tracepoints and hooks in
 * mmu_interval_notifier.ts and mmu_notifier.ts; VMA lists from mm.ts.
 *
 * Nothing here runs unless the explorer's strategy records precise footprints. The watch starts
 * after the scenario's setup and stops when its threads are done (MemoryFootprints.stop), so the
 * end checks and the teardown read plain arrays; so do the checkers' reads between steps.
 */

import { PAGE_SIZE } from '../core/addr.js';
import { FNV_OFFSET } from '../core/eventlog.js';
import { type DevicePageTable, dptEntryPfn } from '../device/device_pagetable.js';
import type { DeviceTlb } from '../device/tlb.js';
import { hmmObjectStates } from '../hmm/seed/footprint.js';
import { Hmm } from '../hmm/seed/types.js';
import type { PhysMem } from '../mm/page_alloc.js';
import type { PageTablePool } from '../mm/pagetable.js';
import { _PAGE_PRESENT, _PAGE_PSE, ptePfn } from '../mm/pte.js';
// the hooks every watched access calls
import * as hook from '../sched/index.js';
import {
  FootprintError,
  type FootprintRecorder,
  MemKind,
  Mutex,
  objectName,
  type StepWatch,
} from '../sched/index.js';
import type { ScenarioContext } from './scenario.js';

type Indexed = { [i: number]: number; readonly length: number };

/** A proxy of `target` that reports the index of every element read and written while recording. */
function watched<T extends object>(target: T, onRead: (i: number) => void, onWrite: (i: number) => void): T {
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(t, k) {
      if (typeof k === 'string' && hook.recordingMemory() && isIndex(k)) onRead(+k);
      const v = Reflect.get(t, k, t);
      if (typeof v !== 'function') return v;
      let b = bound.get(k);
      if (b === undefined) {
        // a bulk method (fill, set, subarray) reads or writes elements nobody names: catch-all
        const f = v as (...a: unknown[]) => unknown;
        b = (...a: unknown[]) => {
          if (hook.recordingMemory()) hook.noteMemory(`${String(k)} on a watched array`);
          return f.apply(t, a);
        };
        bound.set(k, b);
      }
      return b;
    },
    set(t, k, v) {
      if (typeof k === 'string' && hook.recordingMemory() && isIndex(k)) onWrite(+k);
      return Reflect.set(t, k, v, t);
    },
  });
}

function isIndex(k: string): boolean {
  const c = k.charCodeAt(0);
  return c >= 48 && c <= 57;
}

/**
 * The watched arrays of one schedule. A field holds its proxy only while a step runs (arm), and
 * its plain array otherwise (disarm), so the checkers between steps read plain arrays. The field
 * stays a data property: an accessor would turn the page-table pool and the page store into
 * dictionary-mode objects, which made every access to them, in and out of steps, ~2x slower.
 */
class WatchedFields implements StepWatch {
  private readonly fields: FieldWatch[] = [];
  /** Told when steps ran unwatched (replayed) since the last armed one. */
  private readonly onGap: (() => void)[] = [];

  /** Calls `f` when the watch is armed after steps that ran unwatched. */
  afterGap(f: () => void): void {
    this.onGap.push(f);
  }

  /** Watches obj[key]; `onReplace` hears of an array stored later (grown, re-carved). */
  add<O extends object>(
    obj: O,
    key: keyof O & string,
    onRead: (i: number) => void,
    onWrite: (i: number) => void,
    onReplace?: (a: object) => void,
  ): void {
    this.fields.push(new FieldWatch(obj as Record<string, object>, key, onRead, onWrite, onReplace));
  }

  arm(gap: boolean): void {
    if (gap) for (const f of this.onGap) f();
    for (const f of this.fields) f.arm();
  }

  disarm(): void {
    for (const f of this.fields) f.disarm();
  }
}

/** One watched field: its plain array and that array's proxy. */
class FieldWatch {
  private raw: object;
  private view: object;

  constructor(
    private readonly obj: Record<string, object>,
    private readonly key: string,
    private readonly onRead: (i: number) => void,
    private readonly onWrite: (i: number) => void,
    private readonly onReplace?: (a: object) => void,
  ) {
    this.raw = obj[key] as object;
    this.view = watched(this.raw, onRead, onWrite);
  }

  arm(): void {
    const a = this.obj[this.key] as object;
    if (a !== this.raw) this.replaced(a);
    this.obj[this.key] = this.view;
  }

  disarm(): void {
    const a = this.obj[this.key] as object;
    // a new array stored by anything but a watched growth (watchGrowth): the rest of the step
    // went unrecorded
    if (a !== this.view)
      throw new FootprintError(`footprint_mem: ${this.key} was replaced within a step, unwatched`);
    this.obj[this.key] = this.raw;
  }

  private replaced(a: object): void {
    this.raw = a;
    this.view = watched(a, this.onRead, this.onWrite);
    this.onReplace?.(a);
  }
}

/** What recordMemoryFootprints changed, undone in reverse order when the threads are done. */
type Undo = (() => void)[];

/** Where each page table sits: its mm (pgd table), level and first virtual address. */
class TableIndex {
  private readonly where = new Map<number, { pgd: number; level: number; base: number }>();
  private stale = true;
  private raw: { lo: Indexed; hi: Indexed } = { lo: [], hi: [] };

  constructor(private readonly pool: PageTablePool) {}

  /** The arrays behind the proxies (the index reads them without recording). */
  setRaw(lo: Indexed, hi: Indexed): void {
    this.raw = { lo, hi };
    this.stale = true;
  }

  /** Tables may have moved unseen (steps ran unwatched). */
  invalidate(): void {
    this.stale = true;
  }

  levelOfTable(t: number): number {
    return this.pool.level[t] ?? 0;
  }

  /** Records a read (or write) of the entry at `slot` as the object it is. */
  touch(slot: number, write: boolean): void {
    const t = slot >>> 9;
    // stale: an upper-level entry changed, so a table may have moved (one freed and linked again
    // elsewhere keeps its number); the index is rebuilt before it names any slot
    if (this.stale) this.rebuild();
    const w = this.where.get(t);
    const touch = write ? hook.memWrite : hook.memRead;
    if (w === undefined) {
      touch(MemKind.ptslot, slot, 0);
      return;
    }
    const i = slot & 511;
    if (w.level === 1) {
      const vpn = w.base / PAGE_SIZE + i;
      touch(MemKind.pte, w.pgd, vpn);
      if (write) {
        // the coherence checker couples a virtual page's CPU entry with the devices' entries
        // for it and reads the in-flight invalidations: a write joins the page's coupling object
        hook.memWrite(MemKind.coh, 0, vpn);
        inflightRead(vpn, 0);
      }
    } else if (w.level === 2) {
      const span = w.base / PAGE_SIZE / 512 + i;
      touch(MemKind.pmd, w.pgd, span);
      if (write) {
        hook.memWrite(MemKind.coh2m, 0, span);
        inflightRead(span, 2);
        this.stale = true;
      }
    } else {
      touch(MemKind.upper, w.pgd, slot);
      if (write) this.stale = true;
    }
  }

  /** Calls visit(object, lo, hi) for every entry of every linked PTE and PMD table (raw, unrecorded). */
  forEachEntry(visit: (id: number, lo: number, hi: number) => void): void {
    this.rebuild();
    const { lo, hi } = this.raw;
    for (const [t, w] of this.where) {
      if (w.level > 2) continue;
      const first = w.base / PAGE_SIZE / (w.level === 1 ? 1 : 512);
      const kind = w.level === 1 ? MemKind.pte : MemKind.pmd;
      for (let i = 0; i < 512; i++) {
        const l = lo[t * 512 + i] as number;
        const h = hi[t * 512 + i] as number;
        if (l !== 0 || h !== 0) visit(hook.memObject(kind, w.pgd, first + i), l, h);
      }
    }
  }

  private rebuild(): void {
    this.where.clear();
    this.stale = false;
    const level = this.pool.level;
    for (let t = 1; t < level.length; t++) if (level[t] === 4) this.visit(t, t, 4, 0);
  }

  private visit(t: number, pgd: number, level: number, base: number): void {
    this.where.set(t, { pgd, level, base });
    if (level === 1) return;
    const span = 2 ** (12 + 9 * (level - 1));
    const { lo, hi } = this.raw;
    for (let i = 0; i < 512; i++) {
      const l = lo[t * 512 + i] as number;
      if ((l & (_PAGE_PRESENT | _PAGE_PSE)) !== _PAGE_PRESENT) continue;
      this.visit(ptePfn(l, hi[t * 512 + i] as number), pgd, level - 1, base + i * span);
    }
  }
}

/** Watches the CPU page tables of `pool`: entries by (mm, vpn), and each table's count of entries. */
function watchPageTables(undo: Undo, fields: WatchedFields, pool: PageTablePool): TableIndex {
  const index = new TableIndex(pool);
  const raw = { lo: pool.lo as Indexed, hi: pool.hi as Indexed };
  const read = (i: number) => index.touch(i, false);
  const write = (i: number) => index.touch(i, true);
  for (const key of ['lo', 'hi'] as const)
    fields.add(pool, key, read, write, (a) => {
      raw[key] = a as Indexed;
      index.setRaw(raw.lo, raw.hi);
    });
  index.setRaw(raw.lo, raw.hi);
  // replayed steps change the tables unwatched
  fields.afterGap(() => index.invalidate());
  // set() keeps `used` exact on every none <-> present change: an add, which commutes with the
  // others; the readers (free_pgd_range, freeTable) say so in pagetable.ts
  fields.add(
    pool,
    'used',
    () => {},
    (t) => hook.memAdd(MemKind.ptused, t, 0),
  );
  watchGrowth(undo, fields, pool, 'growTo');
  return index;
}

/** Where a growing method finds the schedule's watched fields (watchGrowth). */
const FIELDS = Symbol('footprint_mem fields');
type Growing = Record<string, unknown> & { [FIELDS]?: WatchedFields | undefined };
type Method = (this: Growing, ...a: unknown[]) => unknown;

/** The installed function of each growing method, by name: one for every schedule (watchGrowth). */
const growers = new Map<string, Method>();

function grower(name: string): Method {
  let g = growers.get(name);
  if (g === undefined) {
    g = function (this: Growing, ...a: unknown[]): unknown {
      const grow = (Object.getPrototypeOf(this) as Record<string, Method>)[name] as Method;
      const fields = this[FIELDS];
      if (fields === undefined || !hook.recordingMemory()) return grow.apply(this, a);
      fields.disarm();
      try {
        return grow.apply(this, a);
      } finally {
        fields.arm(false);
      }
    };
    growers.set(name, g);
  }
  return g;
}

/**
 * `obj[name]` replaces watched arrays with larger ones (PageTablePool.growTo, as a fork allocating
 * the child's tables calls it). Within a step it runs on the plain
 * arrays, so that copying the old entries is no read of them (it changes none; through the proxies
 * it was a trap and a recorded read per slot, a third of a dpor search of migrate-cpufault-fork),
 * and the watch adopts the new arrays for the rest of the step. Only for growth that creates no
 * object: PageStore.grow (memory hot-plug) creates struct pages, which would have to be recorded as
 * written, and no built-in hot-plugs within a step, so it fails the search in FieldWatch.disarm.
 *
 * The installed function is one per method name for every schedule, and finds the schedule's
 * fields on the object: a closure per schedule installed on the pool, reaching the whole machine
 * through the fields, kept every finished schedule's machine alive through the minor GCs that
 * followed (~40 KB a schedule promoted, a third of dpor's time in the scavenger). It stays
 * installed, and does nothing more once the fields are gone.
 */
function watchGrowth(undo: Undo, fields: WatchedFields, obj: object, name: string): void {
  const o = obj as Growing;
  if (typeof (Object.getPrototypeOf(o) as Record<string, unknown>)[name] !== 'function')
    throw new Error(`footprint_mem: no method ${name}`);
  o[name] = grower(name);
  o[FIELDS] = fields;
  undo.push(() => {
    o[FIELDS] = undefined;
  });
}

/** Watches the struct pages (every per-pfn array and the contents) and the page allocator. */
function watchPages(undo: Undo, fields: WatchedFields, mem: PhysMem): void {
  const s = mem.store;
  const read = (pfn: number) => hook.memRead(MemKind.page, pfn, 0);
  const write = (pfn: number) => hook.memWrite(MemKind.page, pfn, 0);
  for (const key of ['flags', 'refcount', 'mapcount', 'mapping', 'index', 'memcg', 'contents'] as const)
    fields.add(s, key, read, write);
  for (const m of [s.entireMapcount, s.drvdata] as Map<number, unknown>[]) {
    wrap(undo, m, 'get', (pfn: number) => read(pfn));
    wrap(undo, m, 'has', (pfn: number) => read(pfn));
    wrap(undo, m, 'set', (pfn: number) => write(pfn));
    wrap(undo, m, 'delete', (pfn: number) => write(pfn));
  }
  // page contents are changed in place behind contents[pfn]
  wrap(undo, mem, 'pageBytes', (pfn: number) => write(pfn));
  wrap(undo, mem, 'writeBytes', (pfn: number) => write(pfn));
  wrap(undo, mem, 'copyPage', (dst: number, src: number) => {
    write(dst);
    read(src);
  });
  wrap(undo, mem, 'clearPage', (pfn: number) => write(pfn));
  // the free lists, their counts and the memcg charges: one object, the allocator
  const buddy = () => hook.memWrite(MemKind.buddy, 0, 0);
  for (const m of [
    'allocPage',
    'allocCompound',
    'freePage',
    'charge',
    'chargeCompound',
    'uncharge',
    'migrateCharge',
  ] as const)
    wrap(undo, mem, m, buddy);
}

/** Replaces obj[name] with a function that calls `before` with the arguments, then the original. */
function wrap<O extends object, A extends unknown[]>(
  undo: Undo,
  obj: O,
  name: string,
  before: (...a: A) => void,
): void {
  const o = obj as Record<string, (...a: unknown[]) => unknown>;
  const f = o[name];
  if (typeof f !== 'function') throw new Error(`footprint_mem: no method ${name}`);
  const own = Object.hasOwn(o, name);
  o[name] = function (this: unknown, ...a: unknown[]) {
    if (hook.recordingMemory()) before(...(a as A));
    return f.apply(this, a);
  };
  undo.push(() => {
    if (own) o[name] = f;
    else delete o[name];
  });
}

/** Watches device `d`'s page table: entries by (device, vpn), and what the coherence checker couples with them. */
function watchDevicePageTable(undo: Undo, pt: DevicePageTable, d: number): void {
  const entry = (vpn: number, write: boolean) => {
    hook.memRead(MemKind.devptAll, d, 0);
    if (!write) {
      hook.memRead(MemKind.devpt, d, vpn);
      return;
    }
    hook.memWrite(MemKind.devpt, d, vpn);
    coupled(vpn, rawPfn(pt, vpn));
  };
  // a write changes what the checker compares with the CPU's entry for vpn, the page it maps
  // (free or not) and the device's TLB. It only reads the page's coupling object: the checker
  // judges each device's entry against the CPU's alone, never two devices' entries together, so
  // two devices' writes for one page commute for it (the CPU's writes write the object)
  const coupled = (vpn: number, pfn: number) => {
    hook.memRead(MemKind.coh, 0, vpn);
    hook.memRead(MemKind.coh2m, 0, Math.floor(vpn / 512));
    inflightRead(vpn, 0);
    hook.memRead(MemKind.tlb, d, 0);
    if (pfn >= 0) hook.memRead(MemKind.page, pfn, 0);
  };
  const lookup = pt.lookup;
  const rawPfn = (t: DevicePageTable, vpn: number) => {
    const e = lookup.call(t, vpn);
    return e < 0 ? -1 : dptEntryPfn(e);
  };
  wrap(undo, pt, 'lookup', (vpn: number) => entry(vpn, false));
  wrap(undo, pt, 'store', (vpn: number, pfn: number) => {
    entry(vpn, true);
    hook.memRead(MemKind.page, pfn, 0);
  });
  wrap(undo, pt, 'storeAtomic', (vpn: number, pfn: number) => {
    entry(vpn, true);
    hook.memRead(MemKind.page, pfn, 0);
  });
  wrap(undo, pt, 'erase', (vpn: number) => entry(vpn, true));
  const whole = (start: number, end: number) => {
    hook.memWrite(MemKind.devptAll, d, 0);
    pt.forEach((vpn, pfn) => {
      if (vpn < start || vpn >= end) return;
      hook.memWrite(MemKind.devpt, d, vpn);
      coupled(vpn, pfn);
    });
  };
  wrap(undo, pt, 'eraseRange', (start: number, end: number) => whole(start, end));
  wrap(undo, pt, 'clear', () => whole(0, Number.POSITIVE_INFINITY));
  wrap(undo, pt, 'forEach', () => hook.memRead(MemKind.devptAll, d, 0));
  wrap(undo, pt, 'mappings', () => hook.memRead(MemKind.devptAll, d, 0));
}

/** Watches device `d`'s TLB: one object (a lookup updates the LRU). */
function watchTlb(undo: Undo, tlb: DeviceTlb, d: number): void {
  const w = () => hook.memWrite(MemKind.tlb, d, 0);
  for (const m of ['lookup', 'fill', 'invalidateRange', 'flush', 'cached'] as const) wrap(undo, tlb, m, w);
}

/** Watches the integrity shadow: each virtual page's shadow, and whole address spaces at fork and exit. */
function watchShadow(undo: Undo, ctx: ScenarioContext): void {
  const sh = ctx.shadow;
  const pages = (addr: number, length: number, write = true) => {
    const first = Math.floor(addr / PAGE_SIZE);
    const last = Math.floor((addr + Math.max(length, 1) - 1) / PAGE_SIZE);
    const touch = write ? hook.memWrite : hook.memRead;
    for (let v = first; v <= last; v++) touch(MemKind.shadow, 0, v);
  };
  const space = (mm: object, write = true) => {
    const spaces = (sh as unknown as { spaces: Map<object, Map<number, unknown>> }).spaces;
    const touch = write ? hook.memWrite : hook.memRead;
    for (const v of spaces.get(mm)?.keys() ?? []) touch(MemKind.shadow, 0, v);
  };
  // a read compares with the shadow and changes nothing in it (its verdict is the step's own)
  for (const m of ['beginWrite', 'beginDrop', 'beginRead'] as const)
    wrap(undo, sh, m, (_mm: object, addr: number, length: number | Uint8Array) =>
      pages(addr, typeof length === 'number' ? length : length.length, m !== 'beginRead'),
    );
  for (const m of ['endWrite', 'endDrop', 'endRead'] as const)
    wrap(undo, sh, m, (tok: { addr: number; length: number }) =>
      pages(tok.addr, tok.length, m !== 'endRead'),
    );
  wrap(undo, sh, 'markFork', (mm: object) => space(mm, false));
  wrap(undo, sh, 'fork', (mm: object) => space(mm));
  wrap(undo, sh, 'exit', (mm: object) => space(mm));
}

/** FNV-1a over a few words. */
function mix(h: number, w: number): number {
  return Math.imul(h ^ (w >>> 0), 0x01000193) >>> 0;
}

/**
 * The state of every memory object the check can see, by object id: each CPU PTE and PMD entry,
 * each struct page (its fields and a sample of its bytes), each device page-table entry.
 */
function digest(ctx: ScenarioContext, index: TableIndex): Map<number, number> {
  const out = new Map<number, number>();
  index.forEachEntry((id, lo, hi) => out.set(id, mix(mix(FNV_OFFSET, lo), hi)));
  const s = ctx.sim.kernel.mem.store;
  const { flags, refcount, mapcount, mapping, index: pageIndex, memcg, contents } = s;
  for (let pfn = 0; pfn < s.size; pfn++) {
    let h = mix(mix(mix(FNV_OFFSET, flags[pfn] as number), refcount[pfn] as number), mapcount[pfn] as number);
    h = mix(mix(mix(h, mapping[pfn] as number), pageIndex[pfn] as number), memcg[pfn] as number);
    const b = contents[pfn];
    if (b !== undefined) for (let i = 0; i < b.length; i += 64) h = mix(h, b[i]! | (b[i + 1]! << 8));
    if (h !== FNV_OFFSET) out.set(hook.memObject(MemKind.page, pfn, 0), h);
  }
  ctx.devices.forEach((dev, d) => {
    dev.pt.forEach((vpn, pfn, write) => {
      out.set(hook.memObject(MemKind.devpt, d, vpn), mix(pfn, write ? 1 : 0));
    });
  });
  // what the seed HMM's ranges_lock protects: the lock is recorded by this data (hmm/seed/footprint.ts)
  for (const mm of ctx.sim.kernel.mms) {
    if (!(mm.hmm instanceof Hmm)) continue;
    for (const [name, values] of hmmObjectStates(mm.hmm)) {
      out.set(hook.objectId(name), values.reduce(mix, FNV_OFFSET));
    }
  }
  return out;
}

/** An invalidation wider than this many pages is one object to the coherence coupling. */
const INFLIGHT_PAGES_MAX = 64;

/**
 * The coherence checker reads whether an invalidation covering a page is in flight (hmm.inflight):
 * a CPU or device entry written for `n` (a vpn, or with `kind` 2 a 2 MiB span) reads that, and
 * the registry of mmu notifiers.
 */
function inflightRead(n: number, kind: 0 | 2): void {
  hook.memRead(MemKind.inflight, kind, n);
  hook.memRead(MemKind.inflight, 1, 0);
  hook.memRead(MemKind.notifier, 0, 0);
}

/**
 * An invalidation of `range` starts (an add: two starts commute, and one more invalidation in
 * flight can only excuse an entry, never condemn one, so the checker's verdict after the other
 * start alone holds after both) or ends (a write: it can condemn).
 */
function inflightChange(range: { readonly start: number; readonly end: number }, end: boolean): void {
  const touch = end ? hook.memWrite : hook.memAdd;
  const first = Math.floor(range.start / PAGE_SIZE);
  const last = Math.ceil(range.end / PAGE_SIZE);
  if (last - first > INFLIGHT_PAGES_MAX) {
    touch(MemKind.inflight, 1, 0);
    return;
  }
  for (let v = first; v < last; v++) touch(MemKind.inflight, 0, v);
  for (let sp = Math.floor(first / 512); sp <= Math.floor((last - 1) / 512); sp++)
    touch(MemKind.inflight, 2, sp);
}

/**
 * The footprint check's coverage test (check mode): call it after every step, before the recorder
 * ends the step. It fails with a FootprintError naming the first object whose state changed in the
 * step although the step's footprint does not write it.
 */
export type CoverageCheck = (recorder: FootprintRecorder) => void;

/** The memory footprints of one schedule (recordMemoryFootprints). */
export interface MemoryFootprints {
  /** The footprint check's coverage test, or null when the check is off. */
  readonly coverage: CoverageCheck | null;
  /**
   * Stops watching: the arrays and methods are plain again, so the end-of-schedule checks and the
   * teardown (nothing of which is recorded) do not pay a proxy on every page-table entry they read.
   */
  stop(): void;
}

/**
 * Records the memory footprints of ctx's machine until stop() (the explorer calls it after the
 * scenario's setup, before its threads run, and stops it when they are done). With `check`, the
 * coverage test is returned too; it digests the machine after every step, so it is built only then.
 */
export function recordMemoryFootprints(ctx: ScenarioContext, recorder: FootprintRecorder): MemoryFootprints {
  const undo: Undo = [];
  const fields = new WatchedFields();
  const kernel = ctx.sim.kernel;
  const index = watchPageTables(undo, fields, kernel.pt);
  watchPages(undo, fields, kernel.mem);
  recorder.setStepWatch(fields);
  undo.push(() => recorder.setStepWatch(null));
  ctx.devices.forEach((dev, d) => {
    watchDevicePageTable(undo, dev.pt, d);
    if (dev.tlb !== undefined) watchTlb(undo, dev.tlb, d);
    // every dmirror's mutex is called 'dmirror.mutex': one per device to the relation
    const lock = dev.driverLock;
    if (lock instanceof Mutex) hook.nameForFootprints(lock, `${lock.name} ${dev.name}`);
  });
  watchShadow(undo, ctx);
  const trace = ctx.sim.trace;
  trace.subscribe('mmu_notifier_invalidate_range_start', (e) => inflightChange(e.range, false));
  trace.subscribe('mmu_notifier_invalidate_range_end', (e) => inflightChange(e.range, true));
  trace.subscribe('hmm_range_valid', () => hook.memRead(MemKind.notifier, 0, 0));
  return {
    coverage: recorder.check ? coverageCheck(ctx, index) : null,
    stop: () => {
      for (let i = undo.length - 1; i >= 0; i--) (undo[i] as () => void)();
      undo.length = 0;
    },
  };
}

function coverageCheck(ctx: ScenarioContext, index: TableIndex): CoverageCheck {
  let before = digest(ctx, index);
  return (recorder) => {
    const after = digest(ctx, index);
    for (const [id, h] of after) if (before.get(id) !== h) uncovered(recorder, id);
    for (const id of before.keys()) if (!after.has(id)) uncovered(recorder, id);
    before = after;
  };
}

function uncovered(recorder: FootprintRecorder, id: number): void {
  if (!recorder.changes(id))
    throw new FootprintError(`a step changed ${objectName(id)} but its footprint does not write it`);
}
