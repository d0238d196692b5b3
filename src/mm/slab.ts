/**
 * kmalloc / kzalloc / kfree for the kernel's and the drivers' own structs, with KASAN's reports:
 * a use after free, a double free and an invalid free, each naming the object, where it was
 * allocated, where it was freed and where it was used (task, executor step, the task's last
 * scheduling point, and the kernel function that allocated or freed it).
 *
 * A JS object is never freed, so a freed struct stays readable and a driver that kept a pointer
 * reads stale state silently. With KASAN on (`Slab.kasan`, the explorer's default), kmalloc records
 * the object and kfree poisons it in place: its fields move to a shadow and its prototype becomes
 * its class's reporting Proxy, so plain `this.pt` in a driver's own method, a saved pointer or a
 * closure's `this` is caught after `kfree(this)`, while a live object stays a plain one (no trap on
 * any path). The `in` operator on a freed object is not a report (its trap cannot tell which object
 * was asked). KASAN reports the access and lets it go on (kasan.fault=report); the checker
 * (src/check/kasan.ts) stops the schedule after the step. With KASAN off (the default outside the
 * explorer) kmalloc and kfree do nothing (docs/performance.md, "KASAN").
 *
 * Only accesses made by a simulated task are reports: setup code, tests and checkers, which run
 * outside the executor or inside `quiet`, are not kernel code (a KASAN report comes from a task).
 * A struct embedded in another (struct dmirror's hmm_mirror, dmirror_chunk's dev_pagemap) is
 * registered with `kmallocMember` and poisoned with its container; freeing it alone is an invalid
 * free, as kfree of a pointer into the middle of an object is.
 *
 * Not modelled (docs/fidelity.md): shadow memory and redzones (there are no out-of-bounds accesses
 * to see: a JS property outside the struct is not memory), the quarantine's size (freed memory is
 * never reused here, so the quarantine is in effect unbounded), and reports of accesses by IRQs.
 *
 * @see mm/slub.c (kmalloc, kfree), mm/kasan/common.c (__kasan_slab_free, kasan_report_invalid_free),
 *      mm/kasan/report.c (print_report: "BUG: KASAN: slab-use-after-free in ...") (Linux v6.19)
 */

import { ArgumentError, describeValue } from '../core/errno.js';
import { currentOrNull } from '../sched/thread.js';

/** KASAN's bug types, as its report's first line names them. */
export type KasanBugType = 'slab-use-after-free' | 'double-free' | 'invalid-free';

/** One KASAN report. */
export interface KasanReport {
  /** What went wrong. */
  readonly bug: KasanBugType;
  /** The object, e.g. 'struct dmirror dev0.0'. */
  readonly object: string;
  /** The access: 'read of .pt', 'write of .closed', or 'kfree' for a bad free. */
  readonly access: string;
  /** Where: the task, its step and its last scheduling point, and the function for a free. */
  readonly usedAt: string;
  /** Where the object was freed ('' for an invalid free). */
  readonly freedAt: string;
  /** Where it was allocated ('' for an invalid free). */
  readonly allocatedAt: string;
  /** The report as one line: "BUG: KASAN: <bug>: ...". */
  readonly message: string;
}

/** The allocator's record of one object (KASAN's alloc and free tracks). */
interface SlabObject {
  readonly type: string;
  readonly describe: (() => string) | undefined;
  readonly allocated: Site;
  freed: Site | null;
  /**
   * How reports name it, set at the first report: describe() then reads the fields the object had
   * when it was freed (its shadow), since a use is reported before a write lands there. Not named
   * at every free: that formatted a description for each of the many objects nobody reports.
   */
  label: string | null;
  reported: boolean;
  /** The container of an embedded member, or null. */
  readonly container: SlabObject | null;
  /** The embedded members (kmallocMember), poisoned with it. */
  readonly members: object[];
}

/** Most reports kept; the first is the one that counts (KASAN without kasan_multi_shot stops there). */
export const KASAN_REPORTS_MAX = 64;

/** The kmalloc caches of one machine and its KASAN state. */
export class Slab {
  /** Objects allocated and not yet freed (tracked only with KASAN on). */
  live = 0;
  /** Objects freed (tracked only with KASAN on). */
  freed = 0;
  /** Every report so far, in order (at most KASAN_REPORTS_MAX). */
  readonly reports: KasanReport[] = [];
  private kasanOn = false;
  private quietDepth = 0;
  private pending: KasanReport | null = null;
  /** Object -> its record (the alloc track KASAN keeps in the object's metadata). */
  private readonly objects = new WeakMap<object, SlabObject>();

  /** Whether KASAN is on: kmalloc then records each object, and kfree poisons it. */
  get kasan(): boolean {
    return this.kasanOn;
  }

  /**
   * Turns KASAN on or off for the objects allocated from now on (as booting with or without
   * CONFIG_KASAN: objects allocated before are not watched).
   */
  set kasan(on: boolean) {
    if (typeof on !== 'boolean')
      throw new ArgumentError('kasan', `expected a boolean, got ${describeValue(on)}`);
    this.kasanOn = on;
  }

  /** Runs `fn` with reports off: the checkers' and the explorer's reads are not the kernel's. */
  quiet<T>(fn: () => T): T {
    this.quietDepth++;
    try {
      return fn();
    } finally {
      this.quietDepth--;
    }
  }

  /** The first report not yet taken, or null (the kasan checker's step hook). */
  takePending(): KasanReport | null {
    const p = this.pending;
    this.pending = null;
    return p;
  }

  /** @internal kmalloc's body: see the module function. */
  alloc<T extends object>(obj: T, type: string, caller: string, describe?: () => string): T {
    if (!this.kasanOn) return obj;
    this.objects.set(obj, {
      type,
      describe,
      allocated: siteNow(caller),
      freed: null,
      label: null,
      reported: false,
      container: null,
      members: [],
    });
    this.live++;
    return obj;
  }

  /** @internal kmallocMember's body. */
  member<T extends object>(container: object, obj: T, field: string): T {
    const parent = this.objects.get(container);
    if (parent === undefined || parent.container !== null) return obj;
    parent.members.push(obj);
    this.objects.set(obj, {
      type: `${parent.type}.${field}`,
      describe: parent.describe === undefined ? undefined : () => `${parent.describe?.()}.${field}`,
      allocated: parent.allocated,
      freed: null,
      label: null,
      reported: false,
      container: parent,
      members: [],
    });
    return obj;
  }

  /** @internal kfree's body. */
  free(obj: object, caller: string): void {
    if (!this.kasanOn) return;
    const rec = this.objects.get(obj);
    if (rec === undefined || rec.container !== null) {
      const what = rec === undefined ? `${typeName(obj)} not from kmalloc` : `${rec.type}, a member`;
      this.report('invalid-free', what, 'kfree', siteNow(caller), null, null);
      return;
    }
    if (rec.freed !== null) {
      this.report('double-free', this.labelOf(rec), 'kfree', siteNow(caller), rec.freed, rec.allocated);
      return;
    }
    const members = rec.members.map((m) => [m, this.objects.get(m) as SlabObject] as const);
    rec.freed = siteNow(caller);
    this.live--;
    this.freed++;
    poison(this, obj, rec);
    for (const [m, mrec] of members) {
      mrec.freed = rec.freed;
      poison(this, m, mrec);
    }
  }

  /** @internal a poisoned object was read or written: report it, once, if a task did it. */
  access(rec: SlabObject, op: string, key: string | symbol): void {
    if (rec.freed === null || rec.reported || this.quietDepth > 0) return;
    if (currentOrNull() === null) return;
    rec.reported = true;
    this.report(
      'slab-use-after-free',
      this.labelOf(rec),
      `${op} of .${String(key)}`,
      siteNow(null),
      rec.freed,
      rec.allocated,
    );
  }

  /** rec's name in reports; describe() reads the freed object's fields quietly (not a use). */
  private labelOf(rec: SlabObject): string {
    rec.label ??= this.quiet(() => labelOf(rec));
    return rec.label;
  }

  private report(
    bug: KasanBugType,
    object: string,
    access: string,
    used: Site,
    freedSite: Site | null,
    allocatedSite: Site | null,
  ): void {
    const usedAt = formatSite(used);
    const freedAt = freedSite === null ? '' : formatSite(freedSite);
    const allocatedAt = allocatedSite === null ? '' : formatSite(allocatedSite);
    const freed = freedAt === '' ? '' : `; freed ${freedAt}`;
    const allocated = allocatedAt === '' ? '' : `; allocated ${allocatedAt}`;
    const message = `BUG: KASAN: ${bug}: ${access} of ${object} ${usedAt}${freed}${allocated}`;
    const r: KasanReport = { bug, object, access, usedAt, freedAt, allocatedAt, message };
    if (this.reports.length < KASAN_REPORTS_MAX) this.reports.push(r);
    this.pending ??= r;
  }
}

/**
 * kasan_poison of a freed object: its fields move to a shadow object, and its prototype becomes the
 * reporting Proxy of its class, so every read, write or lookup of the same object, however it is
 * reached (a saved pointer, a closure's `this`), goes through a trap from here on and still sees
 * the old values; a live object is a plain one, and costs nothing.
 *
 * The Proxy is shared by every freed object of one prototype, and finds the object's shadow and
 * record by the receiver. A Proxy per object made V8 give each freed object a hidden class of its
 * own, allocated in the old generation and pointing at the young Proxy: every minor GC then kept
 * the whole schedule's machine alive, and the explorer spent most of its time collecting them.
 */
function poison(slab: Slab, obj: object, rec: SlabObject): void {
  const proto = Reflect.getPrototypeOf(obj);
  const fields = Object.keys(obj);
  // Symbols or non-enumerable properties besides the fields? Two cheap counts (V8 caches a class's
  // keys) where Reflect.ownKeys builds the list afresh: 0.15 µs against 0.4 µs for 16 fields.
  const others =
    Object.getOwnPropertyNames(obj).length !== fields.length || Object.getOwnPropertySymbols(obj).length > 0;
  const keys: readonly PropertyKey[] = others ? Reflect.ownKeys(obj) : fields;
  // A prototype-less copy (a field write lands in it as in a plain record): a spread, then no
  // prototype, ~0.1 µs for 16 fields, where Object.assign into Object.create(null) takes ~0.4 µs
  // and Object.create(proto, descriptors) ~7 µs. The traps below look in the shadow first and then
  // in the class's prototype.
  const shadow: Record<PropertyKey, unknown> = Object.setPrototypeOf({ ...obj }, null);
  // The state and the prototype first, while the object's hidden class is still its class's: V8
  // shares those transitions; once the deletes make it a dictionary it would copy one per object.
  (obj as { [POISONED]?: Poisoned })[POISONED] = { slab, rec, shadow };
  Reflect.setPrototypeOf(obj, poisonedPrototypeOf(proto));
  // Every field is an enumerable string key: a plain delete each, the fast path.
  let rest = others;
  try {
    for (let i = 0; i < fields.length; i++) delete (obj as Record<string, unknown>)[fields[i] as string];
  } catch {
    rest = true; // a non-configurable field (strict mode's delete throws): left, as below
  }
  if (rest) poisonRest(obj, keys, shadow);
}

/** The rare keys: symbols and non-enumerable properties move with their descriptors; what cannot be deleted stays. */
function poisonRest(obj: object, keys: readonly PropertyKey[], shadow: Record<PropertyKey, unknown>): void {
  for (const key of keys) {
    const d = Reflect.getOwnPropertyDescriptor(obj, key);
    if (d === undefined) continue;
    if (!d.enumerable) Reflect.defineProperty(shadow, key, d);
    Reflect.deleteProperty(obj, key);
  }
}

/** A freed object's state: its allocator, its record, and the shadow holding its fields. */
interface Poisoned {
  readonly slab: Slab;
  readonly rec: SlabObject;
  readonly shadow: Record<PropertyKey, unknown>;
}

/**
 * Where a freed object keeps its Poisoned state: on itself, not in a table. A module-level table
 * lives in V8's old generation, and its values pointing at young objects would be roots for every
 * minor GC, keeping each schedule's machine alive as a WeakMap's values do.
 */
const POISONED = Symbol('kasan poisoned');
/** Prototype (null for Object.create(null)) -> the shared reporting Proxy that replaces it. */
const poisonedPrototypes = new Map<object | null, object>();

function poisonedOf(receiver: unknown): Poisoned | undefined {
  if (typeof receiver !== 'object' || receiver === null || !Object.hasOwn(receiver, POISONED))
    return undefined;
  return (receiver as { [POISONED]: Poisoned })[POISONED];
}

/** The setter `key` has on `o` or its prototype chain, if any (a class's `set x()`). */
function setterOf(o: object | null, key: PropertyKey): ((v: unknown) => void) | undefined {
  for (let x = o; x !== null; x = Reflect.getPrototypeOf(x)) {
    const d = Reflect.getOwnPropertyDescriptor(x, key);
    if (d !== undefined) return d.set;
  }
  return undefined;
}

function poisonedPrototypeOf(proto: object | null): object {
  const known = poisonedPrototypes.get(proto);
  if (known !== undefined) return known;
  const p = new Proxy(Object.create(proto) as object, new PoisonedPrototype(proto));
  poisonedPrototypes.set(proto, p);
  return p;
}

/**
 * The traps of a freed object's prototype: a lookup that reaches it is a use of the object. `get`
 * and `set` name the object by their receiver. `has` (the `in` operator) gets no receiver, so it
 * cannot tell which freed object was asked: it answers from the class's prototype and reports
 * nothing (no kernel code here tests a struct's fields with `in`).
 */
class PoisonedPrototype implements ProxyHandler<object> {
  constructor(private readonly proto: object | null) {}

  get(target: object, key: string | symbol, receiver: unknown): unknown {
    const p = poisonedOf(receiver);
    if (p === undefined) return Reflect.get(target, key, receiver);
    p.slab.access(p.rec, 'read', key);
    return Object.hasOwn(p.shadow, key) ? p.shadow[key] : Reflect.get(target, key, receiver);
  }

  /** A write lands in the shadow, where the freed object's fields now live. */
  set(target: object, key: string | symbol, value: unknown, receiver: unknown): boolean {
    const p = poisonedOf(receiver);
    if (p === undefined) return Reflect.set(target, key, value, receiver);
    p.slab.access(p.rec, 'write', key);
    if (!Object.hasOwn(p.shadow, key) && setterOf(target, key) !== undefined)
      return Reflect.set(target, key, value, receiver);
    p.shadow[key] = value;
    return true;
  }

  /** The class's prototype stays in the chain, so instanceof still holds. */
  getPrototypeOf(): object | null {
    return this.proto;
  }
}

function labelOf(rec: SlabObject): string {
  const d = rec.describe?.();
  return d === undefined || d === '' ? rec.type : `${rec.type} ${d}`;
}

function typeName(obj: object): string {
  const c = (obj as { constructor?: { name?: string } }).constructor?.name;
  return c === undefined || c === '' ? 'an object' : `a ${c}`;
}

/** Where an allocation, free or use happened: kept raw, and formatted only for a report. */
interface Site {
  readonly fn: string | null;
  readonly task: string | null;
  readonly step: number;
  readonly point: string;
}

function siteNow(fn: string | null): Site {
  const t = currentOrNull();
  return t === null
    ? { fn, task: null, step: 0, point: '' }
    : { fn, task: t.name, step: t.executor.steps, point: t.lastPoint };
}

/** "in <fn> by task <t> [step n, after '<point>']", or "outside any task" outside the executor. */
function formatSite(s: Site): string {
  const by = s.task === null ? 'outside any task' : `by task ${s.task} [step ${s.step}, after '${s.point}']`;
  return s.fn === null ? by : `in ${s.fn} ${by}`;
}

/**
 * kmalloc(): `obj`, the struct the caller built, from the machine's slab as `type` (e.g. 'struct
 * dmirror'); `caller` names the kernel function that allocates it (the report's "Allocated by");
 * `describe` names the instance at its free (e.g. the device and context number). Returns `obj`
 * itself (the call reads as the kernel's `p = kmalloc(...)`).
 */
export function kmalloc<T extends object>(
  slab: Slab,
  obj: T,
  type: string,
  caller: string,
  describe?: () => string,
): T {
  if (typeof obj !== 'object' || obj === null)
    throw new ArgumentError('obj', `kmalloc needs an object, got ${describeValue(obj)}`);
  return slab.alloc(obj, type, caller, describe);
}

/** kzalloc(): kmalloc of a zeroed struct. A JS struct is initialised by its constructor, so the same. */
export const kzalloc = kmalloc;

/**
 * A struct embedded in a kmalloc'ed one (`container.field`): poisoned with its container, and
 * freeing it alone is an invalid free. Returns `obj` itself.
 */
export function kmallocMember<T extends object>(slab: Slab, container: object, obj: T, field: string): T {
  return slab.member(container, obj, field);
}

/**
 * kfree(): poisons `obj` (an object kmalloc returned), so any later access is a use after free;
 * freeing it again is a double free, and freeing anything kmalloc did not return an invalid free.
 * kfree(null) does nothing, as the kernel's. `caller` names the kernel function that frees it.
 */
export function kfree(slab: Slab, obj: object | null | undefined, caller: string): void {
  if (obj === null || obj === undefined) return;
  slab.free(obj, caller);
}
