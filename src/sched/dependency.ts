/**
 * The dependency relation of partial-order reduction: what one step touched (its footprint), and
 * when two steps' order matters.
 *
 * A step is one gen.next() of a thread (executor.ts). Its footprint is recorded while it runs:
 *   - every synchronisation object it operated on or looked at (a lock acquired, released, tried,
 *     queued on or tested with isLocked(); a completion or wait queue waited on or woken), by name;
 *   - the thread it woke (the woken thread's next step touches the same object, so a wake-up
 *     orders the two steps);
 *   - MEMORY: everything else: page tables, struct pages, device page tables, notifier and range
 *     state, the checkers' shadow. A step touches MEMORY unless it declared that it did not.
 *
 * Two steps are dependent when both touched MEMORY or when they share an object. So the relation
 * is exact for synchronisation and conservative for memory: every pair of memory-touching steps is
 * dependent, which makes the invariants checked after every step (coherence, integrity) sound under
 * the reduction: two independent steps change disjoint synchronisation state and no memory, so both
 * orders pass through states the checkers judge alike.
 *
 * A step declares that it touched no memory with declareStep(objects): the lock primitives do it
 * for a step that only queued on a lock (the code between `yield 'mutex_lock X'` and the wait); a
 * test driver may do it for its own steps. In check mode (FootprintRecorder.check) a declared step
 * that touches an object outside its declaration (or memory, as the explorer's watched state
 * reports it through noteMemory: src/explore/footprint_mem.ts) fails with a FootprintError naming it.
 *
 * Objects are named: two objects of one name are the same object to the relation, which only adds
 * dependencies, and a name means the same object in every execution of a deterministic scenario, so
 * footprints recorded in one execution (sleep sets) compare with those of the next.
 */

import { KernelBug } from '../core/assert.js';

/** What one step touched: object ids (sorted, distinct) and whether it touched memory. */
export interface Footprint {
  /**
   * The step touched MEMORY, the catch-all: with coarse recording (the default) true unless the
   * step declared it touched no memory; with precise recording true only if it touched state no
   * memory object names yet (noteMemory).
   */
  readonly memory: boolean;
  /** Ids of the objects it wrote: the synchronisation objects and memory objects (objectName gives their names). */
  readonly objects: readonly number[];
  /** Ids of the memory objects it only read (precise recording; sorted, distinct, none of objects). */
  readonly reads?: readonly number[];
  /** Ids of the counters it only added to (commute with each other; sorted, distinct, none of objects). */
  readonly adds?: readonly number[];
}

/** A step touched an object it did not declare (check mode). */
export class FootprintError extends KernelBug {
  constructor(message: string) {
    super(message, 'FOOTPRINT');
    this.name = 'FootprintError';
  }
}

const ids = new Map<string, number>();
const names: string[] = [];

/** The id of the object called `name` (the same in every execution). */
export function objectId(name: string): number {
  let id = ids.get(name);
  if (id === undefined) {
    id = names.length;
    names.push(name);
    ids.set(name, id);
  }
  return id;
}

/** The name of object `id`. */
export function objectName(id: number): string {
  return names[id] ?? `#${id}`;
}

const NONE: readonly number[] = [];

/**
 * True when the order of two steps with these footprints can matter: both touched MEMORY, or one
 * wrote an object the other wrote, read or added to, or one added to a counter the other read.
 */
export function dependent(a: Footprint, b: Footprint): boolean {
  if (a.memory && b.memory) return true;
  const ar = a.reads ?? NONE;
  const br = b.reads ?? NONE;
  const aa = a.adds ?? NONE;
  const ba = b.adds ?? NONE;
  return (
    intersects(a.objects, b.objects) ||
    (br.length > 0 && intersects(a.objects, br)) ||
    (ar.length > 0 && intersects(ar, b.objects)) ||
    (ba.length > 0 && (intersects(a.objects, ba) || intersects(ar, ba))) ||
    (aa.length > 0 && (intersects(aa, b.objects) || intersects(aa, br)))
  );
}

/**
 * Why two dependent steps are: the first object that makes them so ('memory' for the catch-all),
 * or null if they are independent. For profiles of what still forces dependence.
 */
export function whyDependent(a: Footprint, b: Footprint): string | null {
  if (a.memory && b.memory) return 'memory';
  const ar = a.reads ?? NONE;
  const br = b.reads ?? NONE;
  const aa = a.adds ?? NONE;
  const ba = b.adds ?? NONE;
  const pairs: [readonly number[], readonly number[], string][] = [
    [a.objects, b.objects, 'write/write'],
    [a.objects, br, 'write/read'],
    [ar, b.objects, 'read/write'],
    [a.objects, ba, 'write/add'],
    [ar, ba, 'read/add'],
    [aa, b.objects, 'add/write'],
    [aa, br, 'add/read'],
  ];
  for (const [x, y, how] of pairs) {
    const o = x.find((v) => y.includes(v));
    if (o !== undefined) return `${objectName(o)} (${how})`;
  }
  return null;
}

/** Whether two sorted id lists share an id. */
function intersects(x: readonly number[], y: readonly number[]): boolean {
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    const u = x[i]!;
    const v = y[j]!;
    if (u === v) return true;
    if (u < v) i++;
    else j++;
  }
  return false;
}

/** A footprint as text: 'memory, mutex dmirror.mutex, read pte 1:0x100'. */
export function describeFootprint(f: Footprint): string {
  const parts = f.objects.map(objectName);
  for (const r of f.reads ?? NONE) parts.push(`read ${objectName(r)}`);
  for (const r of f.adds ?? NONE) parts.push(`add ${objectName(r)}`);
  if (f.memory) parts.unshift('memory');
  return parts.length === 0 ? 'nothing' : parts.join(', ');
}

/**
 * What a precise recorder switches on for each step and off after it: the explorer's watched
 * arrays (src/explore/footprint_mem.ts), which are proxies only while a step runs.
 */
export interface StepWatch {
  /** A step starts: watch. `gap`: steps ran unwatched since the last (replayed: FootprintRecorder.begin). */
  arm(gap: boolean): void;
  /** The step ended: stop. Throws FootprintError if the step left something unwatched. */
  disarm(): void;
}

/**
 * Records the footprint of the running step. One is installed (recorderStart) while a strategy
 * that needs footprints runs; with none installed the hooks below cost one comparison.
 */
export class FootprintRecorder {
  /** Fail a declared step that touches anything it did not declare. */
  readonly check: boolean;
  /**
   * Memory is recorded by object (the explorer's memory footprints, footprint_mem.ts): MEMORY is
   * then only what noteMemory reports, not every undeclared step.
   */
  readonly precise: boolean;
  /** The step's objects, each once (a step reads a PTE or a lock many times): see IdSet. */
  private readonly touched = new IdSet();
  private readonly readSet = new IdSet();
  private readonly addSet = new IdSet();
  private touchedMemory = false;
  private declared: number[] | null = null;
  private declaredBy = '';
  private stepWatch: StepWatch | null = null;
  /** The running step's memory is recorded, and the stepWatch armed: precise, and not a replay (begin). */
  memoryOn = false;
  /** Steps ran with the watch disarmed since it was last armed. */
  private gap = false;

  constructor(check = false, precise = false) {
    this.check = check;
    this.precise = precise;
  }

  /** Installs (or with null removes) what begin() arms and disarm() disarms: one per execution. */
  setStepWatch(w: StepWatch | null): void {
    this.stepWatch = w;
    this.gap = false;
  }

  /**
   * Starts a new step. `replay`: the strategy already has this step's footprint (it replays a prefix
   * of an earlier execution, Strategy.replaying), so its memory is not recorded and the watch stays
   * off; synchronisation objects and wake-ups still are, so the flags they leave on threads hold.
   */
  begin(replay = false): void {
    this.touched.clear();
    this.readSet.clear();
    this.addSet.clear();
    this.touchedMemory = false;
    this.declared = null;
    this.memoryOn = this.precise && !replay;
    if (this.stepWatch === null) return;
    if (!this.memoryOn) {
      this.gap = true;
      return;
    }
    this.stepWatch.arm(this.gap);
    this.gap = false;
  }

  /** The step has run: the watch stops, before the checkers read. */
  disarm(): void {
    if (!this.memoryOn) return;
    this.memoryOn = false;
    this.stepWatch?.disarm();
  }

  /** Ends the step: its footprint. */
  end(): Footprint {
    const memory = this.precise ? this.touchedMemory : this.declared === null;
    const touched = this.touched;
    const read = this.readSet;
    if (read.ids.length === 0 && this.addSet.ids.length === 0)
      return { memory, objects: sorted(touched.ids) };
    // handed out, not copied: begin() gives the set a new list
    const objects = touched.ids;
    const reads: number[] = [];
    const adds: number[] = [];
    let both = 0;
    for (const o of read.ids) if (!touched.has(o)) reads.push(o);
    for (const o of this.addSet.ids) {
      if (touched.has(o)) continue;
      // a counter added to and read is a plain write
      if (read.has(o)) {
        objects.push(o);
        both++;
      } else adds.push(o);
    }
    const plainReads = both === 0 ? reads : reads.filter((o) => !this.addSet.has(o));
    return { memory, objects: sorted(objects), reads: sorted(plainReads), adds: sorted(adds) };
  }

  /** The step touched object `id`; in check mode a declared step may touch only what it declared. */
  touch(id: number): void {
    const d = this.declared;
    if (d !== null && this.check && !d.includes(id))
      throw new FootprintError(
        `step declared by ${this.declaredBy} as touching only ${d.map(objectName).join(', ')} touched ${objectName(id)}`,
      );
    this.touched.add(id);
  }

  /** The step read memory object `id`. */
  read(id: number): void {
    if (this.declared !== null) this.undeclared(id);
    this.readSet.add(id);
  }

  /** The step wrote memory object `id`. */
  write(id: number): void {
    if (this.declared !== null) this.undeclared(id);
    this.touched.add(id);
  }

  /** The step added to counter `id` (adds commute with each other, not with reads or writes). */
  add(id: number): void {
    if (this.declared !== null) this.undeclared(id);
    this.addSet.add(id);
  }

  /** Whether the running step wrote or added to object `id` (the explorer's coverage check asks). */
  changes(id: number): boolean {
    return this.touched.has(id) || this.addSet.has(id);
  }

  /** The step touches no memory, only `objects` (and `by` names who said so, for the check's report). */
  declare(objects: readonly number[], by: string): void {
    this.declared = objects.slice();
    this.declaredBy = by;
    for (const o of objects) this.touched.add(o);
  }

  /** The step touched memory (`what`: a tracepoint's name); in check mode a declared step fails. */
  memory(what: string): void {
    this.touchedMemory = true;
    if (this.declared !== null && this.check)
      throw new FootprintError(
        `step declared by ${this.declaredBy} as touching only ${this.declared.map(objectName).join(', ')} touched memory: ${what}`,
      );
  }

  /** A declared step touched memory object `id` (check mode: it fails). */
  private undeclared(id: number): void {
    if (this.check && this.declared !== null && !this.declared.includes(id))
      throw new FootprintError(
        `step declared by ${this.declaredBy} as touching only ${this.declared.map(objectName).join(', ')} touched memory: ${objectName(id)}`,
      );
  }
}

/**
 * A set of object ids for one step: the ids in the order first added, each once, and a stamp per
 * id saying which generation (step) added it, so that a step's many reads of one PTE or lock cost a
 * comparison each and clear() costs nothing. Ids are small integers (objectId hands them out in
 * order), so the stamps are an array indexed by id.
 */
class IdSet {
  /** The ids added this generation, each once. */
  ids: number[] = [];
  private stamps = new Int32Array(1024);
  private generation = 1;

  add(id: number): void {
    if (id >= this.stamps.length) this.grow(id);
    if (this.stamps[id] === this.generation) return;
    this.stamps[id] = this.generation;
    this.ids.push(id);
  }

  has(id: number): boolean {
    return id < this.stamps.length && this.stamps[id] === this.generation;
  }

  clear(): void {
    this.ids = [];
    this.generation++;
  }

  private grow(id: number): void {
    const stamps = new Int32Array(Math.max(id + 1, this.stamps.length * 2));
    stamps.set(this.stamps);
    this.stamps = stamps;
  }
}

/** `a` sorted ascending, in place (a footprint's lists are short: insertion sort, no comparator calls). */
function sorted(a: number[]): number[] {
  for (let i = 1; i < a.length; i++) {
    const v = a[i]!;
    let j = i - 1;
    while (j >= 0 && a[j]! > v) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = v;
  }
  return a;
}

/**
 * The kinds of memory object (precise recording): what each names and what its two numbers are.
 * The explorer's docs/explorer.md "Memory footprints" says which state each covers and why.
 */
export const MemKind = {
  /** A CPU leaf page-table entry: (pgd table, vpn). */
  pte: 0,
  /** A CPU PMD entry (a huge page or the pointer to a PTE table): (pgd table, vpn >> 9). */
  pmd: 1,
  /** A CPU PUD or PGD entry: (pgd table, slot). */
  upper: 2,
  /** A page-table slot whose table is not linked into any mm (yet): (slot, 0). */
  ptslot: 3,
  /** A page table's count of non-none entries: (table, 0). */
  ptused: 4,
  /** A struct page and its contents: (pfn, 0). */
  page: 5,
  /** A device page-table entry: (device, vpn). */
  devpt: 6,
  /** A device's whole page table (clear, walks, range erases): (device, 0). */
  devptAll: 7,
  /** A device's TLB: (device, 0). */
  tlb: 8,
  /** The coherence checker's coupling of a virtual page: (0, vpn). */
  coh: 9,
  /** The coupling of a 2 MiB span (huge PMDs): (0, vpn >> 9). */
  coh2m: 10,
  /** The mmu notifiers' and HMM's subscriptions, ranges, sequence counts and in-flight invalidations. */
  notifier: 11,
  /** The page allocator's free lists and counts. */
  buddy: 12,
  /** An mm's VMA list: (mm id, 0). */
  vma: 13,
  /** The integrity shadow of a virtual page: (0, vpn). */
  shadow: 14,
  /**
   * The invalidations in flight over a virtual page, as the coherence checker sees them: (0, vpn);
   * over a 2 MiB span: (2, vpn >> 9); one wider than INFLIGHT_PAGES_MAX: (1, 0).
   */
  inflight: 15,
} as const;

const KIND_NAMES = [
  'pte',
  'pmd',
  'upper',
  'ptslot',
  'ptused',
  'page',
  'devpt',
  'devpt',
  'tlb',
  'coh',
  'coh2m',
  'notifier',
  'buddy',
  'vma',
  'shadow',
  'inflight',
];

const memIds = new Map<number, Map<number, number>>();

/** The id of memory object (kind, a, b) (MemKind), the same in every execution. */
export function memObject(kind: number, a: number, b: number): number {
  const outer = kind * 2 ** 27 + a;
  let inner = memIds.get(outer);
  if (inner === undefined) {
    inner = new Map();
    memIds.set(outer, inner);
  }
  let id = inner.get(b);
  if (id === undefined) {
    id = objectId(memName(kind, a, b));
    inner.set(b, id);
  }
  return id;
}

function memName(kind: number, a: number, b: number): string {
  const k = KIND_NAMES[kind] ?? `kind${kind}`;
  switch (kind) {
    case MemKind.pte:
    case MemKind.pmd:
    case MemKind.devpt:
      return `${k} ${a}:0x${b.toString(16)}`;
    case MemKind.upper:
      return `${k} ${a}:${b}`;
    case MemKind.coh:
    case MemKind.coh2m:
    case MemKind.shadow:
      return `${k} 0x${b.toString(16)}`;
    case MemKind.notifier:
    case MemKind.buddy:
      return k;
    case MemKind.devptAll:
      return `${k} ${a}`;
    case MemKind.inflight:
      return a === 1 ? 'inflight wide' : `${a === 2 ? 'inflight2m' : k} 0x${b.toString(16)}`;
    default:
      return `${k} ${a}`;
  }
}

let recorder: FootprintRecorder | null = null;

/** @internal installs (or with null removes) the recorder of the running execution. */
export function setRecorder(r: FootprintRecorder | null): void {
  recorder = r;
}

/** The installed recorder, or null. */
export function currentRecorder(): FootprintRecorder | null {
  return recorder;
}

/** Records that the running step touched the synchronisation object called `name`. */
export function touchObject(name: string): void {
  if (recorder !== null) recorder.touch(objectId(name));
}

/**
 * What the relation keeps of a lock, on the lock (Mutex, RwSem and SpinLock hold one as
 * `footprint`): its footprint name, its by-data mark and the id of its first kind touched. Any
 * other waitable is kept in the tables below; a module-level table with an entry per schedule's
 * lock would be an old-to-young ephemeron each minor GC has to process.
 */
export class SyncFootprint {
  /** The name nameForFootprints gave the lock (undefined: its own). */
  name: string | undefined = undefined;
  /** recordByProtectedData marked it. */
  byData = false;
  /** The kind whose id `id` caches (the lock's own kind: most touches are of it). */
  kind: string | undefined = undefined;
  id = 0;
}

/** The SyncFootprint `o` holds, if it is a lock. */
function lockFootprint(o: object): SyncFootprint | undefined {
  return (o as { footprint?: SyncFootprint }).footprint;
}

const renamed = new WeakMap<object, string>();

/**
 * Gives lock `o` its own name in footprints (not in lockdep or messages): two instances of one
 * name (every driver's 'dmirror.mutex') are otherwise one object to the relation. The name must
 * be the same in every execution (the explorer uses the device's name).
 */
export function nameForFootprints(o: object, name: string): void {
  const f = lockFootprint(o);
  if (f === undefined) renamed.set(o, name);
  else {
    f.name = name;
    f.kind = undefined;
  }
  // a name given after the object was touched: its next touch finds the new one
  for (const ids of syncIds.values()) ids.delete(o);
}

function syncKey(o: { readonly name?: string }, kind: string): string {
  return `${kind} ${lockFootprint(o)?.name ?? renamed.get(o) ?? o.name ?? '?'}`;
}

/**
 * The id of each lock or waitable by kind, found once per object: a lock is touched several times
 * a step, and its key is a string to build and hash each time. A lock caches the id of its first
 * kind in its SyncFootprint; other kinds and objects use these tables, numbers as values, so the
 * tables keep nothing of a schedule alive (see the eventlog's and KASAN's notes on old-to-young
 * pointers).
 */
const syncIds = new Map<string, WeakMap<object, number>>();

function syncId(o: { readonly name?: string }, kind: string): number {
  const f = lockFootprint(o);
  if (f?.kind === kind) return f.id;
  if (f !== undefined && f.kind === undefined) {
    f.kind = kind;
    f.id = objectId(syncKey(o, kind));
    return f.id;
  }
  let ids = syncIds.get(kind);
  if (ids === undefined) {
    ids = new WeakMap();
    syncIds.set(kind, ids);
  }
  let id = ids.get(o);
  if (id === undefined) {
    id = objectId(syncKey(o, kind));
    ids.set(o, id);
  }
  return id;
}

const byData = new WeakSet<object>();

/**
 * Records lock `o` by the data it protects instead of as an object: its acquisitions, releases and
 * tests stop being accesses (touchSync skips it), and the code under it records what it reads and
 * writes with namedRead/namedWrite. Sound only for a lock that is never held across a step boundary,
 * so that no other thread can see it taken: a spinlock, since the executor fails a run that yields
 * with one held (in_atomic), and a step that takes it takes and drops it. Two critical sections
 * touching disjoint data are then independent, which the lock as an object would hide.
 */
export function recordByProtectedData(o: object): void {
  const f = lockFootprint(o);
  if (f === undefined) byData.add(o);
  else f.byData = true;
}

/** Records that the running step touched lock or waitable `o` (by its name). */
export function touchSync(o: { readonly name?: string }, kind: string): void {
  if (recorder !== null && lockFootprint(o)?.byData !== true && !byData.has(o))
    recorder.touch(syncId(o, kind));
}

/** Records that the running step looked at lock or waitable `o` without changing it (an rwsem's state to a reader). */
export function touchSyncRead(o: { readonly name?: string }, kind: string): void {
  if (recorder !== null) recorder.read(syncId(o, kind));
}

/** Records that the running step added to counter `kind` of `o` (an rwsem's readers): adds commute. */
export function touchSyncAdd(o: { readonly name?: string }, kind: string): void {
  if (recorder !== null) recorder.add(syncId(o, kind));
}

/** The lock primitives' declaration: the step since `yield 'mutex_lock X'` only queued on `lock`. */
export function declareSyncOnly(lock: { readonly kind: string; readonly name: string }): void {
  if (recorder !== null) {
    const key = syncKey(lock, lock.kind);
    recorder.declare([objectId(key)], key);
  }
}

/**
 * Declares that the running step touches no memory, only `objects` (names as given to
 * touchObject) and what it touches later through the primitives: every such touch is checked in
 * check mode.
 */
export function declareStep(objects: readonly string[], by: string): void {
  if (recorder !== null) recorder.declare(objects.map(objectId), by);
}

/** Tells the recorder the running step touched memory (a tracepoint); in check mode a declared step fails. */
export function noteMemory(what: string): void {
  if (recorder !== null) recorder.memory(what);
}

/** True while a recorder with precise memory recording is installed (the explorer's proxies ask). */
export function recordingMemory(): boolean {
  return recorder?.memoryOn === true;
}

/** Records that the running step read memory object (kind, a, b) (MemKind; precise recording only). */
export function memRead(kind: number, a: number, b: number): void {
  if (recorder?.memoryOn) recorder.read(memObject(kind, a, b));
}

/** Records that the running step wrote memory object (kind, a, b) (MemKind; precise recording only). */
export function memWrite(kind: number, a: number, b: number): void {
  if (recorder?.memoryOn) recorder.write(memObject(kind, a, b));
}

/** Records that the running step added to counter (kind, a, b) (MemKind; precise recording only). */
export function memAdd(kind: number, a: number, b: number): void {
  if (recorder?.memoryOn) recorder.add(memObject(kind, a, b));
}

/** Records that the running step read the memory object called `name` (precise recording only). */
export function namedRead(name: string): void {
  if (recorder?.memoryOn) recorder.read(objectId(name));
}

/** Records that the running step wrote the memory object called `name` (precise recording only). */
export function namedWrite(name: string): void {
  if (recorder?.memoryOn) recorder.write(objectId(name));
}

/** Records that the running step added to the counter called `name` (precise recording only). */
export function namedAdd(name: string): void {
  if (recorder?.memoryOn) recorder.add(objectId(name));
}
