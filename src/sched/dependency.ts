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
 * that touches an object outside its declaration (or memory, seen through the tracepoints the
 * explorer forwards to noteMemory) fails with a FootprintError naming the object.
 *
 * Objects are named: two objects of one name are the same object to the relation, which only adds
 * dependencies, and a name means the same object in every execution of a deterministic scenario, so
 * footprints recorded in one execution (sleep sets) compare with those of the next.
 */

import { KernelBug } from '../core/assert.js';

/** What one step touched: object ids (sorted, distinct) and whether it touched memory. */
export interface Footprint {
  /** True unless the step declared it touched no memory. */
  readonly memory: boolean;
  /** Ids of the synchronisation objects it touched (objectName gives their names). */
  readonly objects: readonly number[];
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

/** True when the order of two steps with these footprints can matter. */
export function dependent(a: Footprint, b: Footprint): boolean {
  if (a.memory && b.memory) return true;
  const x = a.objects;
  const y = b.objects;
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

/** A footprint as text: 'memory, mutex dmirror.mutex'. */
export function describeFootprint(f: Footprint): string {
  const parts = f.objects.map(objectName);
  if (f.memory) parts.unshift('memory');
  return parts.length === 0 ? 'nothing' : parts.join(', ');
}

/**
 * Records the footprint of the running step. One is installed (recorderStart) while a strategy
 * that needs footprints runs; with none installed the hooks below cost one comparison.
 */
export class FootprintRecorder {
  /** Fail a declared step that touches anything it did not declare. */
  readonly check: boolean;
  private touched: number[] = [];
  private declared: number[] | null = null;
  private declaredBy = '';

  constructor(check = false) {
    this.check = check;
  }

  /** Starts a new step. */
  begin(): void {
    this.touched = [];
    this.declared = null;
  }

  /** Ends the step: its footprint. */
  end(): Footprint {
    const objects = this.touched.sort((a, b) => a - b).filter((v, i, a) => i === 0 || a[i - 1] !== v);
    return { memory: this.declared === null, objects };
  }

  /** The step touched object `id`; in check mode a declared step may touch only what it declared. */
  touch(id: number): void {
    const d = this.declared;
    if (d !== null && this.check && !d.includes(id))
      throw new FootprintError(
        `step declared by ${this.declaredBy} as touching only ${d.map(objectName).join(', ')} touched ${objectName(id)}`,
      );
    this.touched.push(id);
  }

  /** The step touches no memory, only `objects` (and `by` names who said so, for the check's report). */
  declare(objects: readonly number[], by: string): void {
    this.declared = objects.slice();
    this.declaredBy = by;
    for (const o of objects) this.touched.push(o);
  }

  /** The step touched memory (`what`: a tracepoint's name); in check mode a declared step fails. */
  memory(what: string): void {
    if (this.declared !== null && this.check)
      throw new FootprintError(
        `step declared by ${this.declaredBy} as touching only ${this.declared.map(objectName).join(', ')} touched memory: ${what}`,
      );
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

/** Records that the running step touched lock or waitable `o` (by its name). */
export function touchSync(o: { readonly name?: string }, kind: string): void {
  if (recorder !== null) recorder.touch(objectId(`${kind} ${o.name ?? '?'}`));
}

/** The lock primitives' declaration: the step since `yield 'mutex_lock X'` only queued on `lock`. */
export function declareSyncOnly(lock: { readonly kind: string; readonly name: string }): void {
  if (recorder !== null) {
    const key = `${lock.kind} ${lock.name}`;
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
