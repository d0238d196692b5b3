/**
 * Lockdep-lite: held-lock bookkeeping and the lock-order graph.
 *
 * Lock classes are lock names, as in the kernel where every mm's mmap_sem is one class: the order
 * "mmap_sem then ptl" learnt from one mm applies to all of them. Each time a thread acquires class
 * B while holding class A, the edge A->B is recorded together with who took it where; if B->...->A
 * already exists the two orders can deadlock, and that is reported at once, even if this run did
 * not deadlock. The graph can be shared between executors so orders learnt in one execution are
 * checked in the next (the explorer runs thousands).
 *
 * Nesting two instances of one class needs an explicit subclass (lockNested), as with
 * mutex_lock_nested; otherwise it is reported as possible recursive locking. Trylocks add no edge
 * for the lock they take (they cannot deadlock) but the lock then counts as held.
 *
 * @see kernel/locking/lockdep.c, Documentation/locking/lockdep-design.rst
 */

import { KernelBug } from '../core/assert.js';
import { Tracepoints } from '../core/trace.js';
import { touchSync } from './dependency.js';
import { HELD_READ, HELD_WRITE, type LockInstance, type Thread } from './thread.js';

/** A misuse of a lock: bad unlock, recursion, inversion, lock held at exit. */
export class LockdepBug extends KernelBug {
  constructor(message: string) {
    super(message, 'LOCKDEP');
    this.name = 'LockdepBug';
  }
}

/** One recorded lock-order edge `from -> to`. */
export interface LockEdge {
  /** Lock class held first (the outer lock). */
  readonly from: string;
  /** Lock class taken while `from` was held (the inner lock). */
  readonly to: string;
  /** The thread that took `to` while holding `from`. */
  readonly thread: string;
  /** Yield point at which `from` was acquired. */
  readonly fromSite: string;
  /** Executor step at which `from` was acquired. */
  readonly fromStep: number;
  /** Yield point at which `to` was acquired. */
  readonly toSite: string;
  /** Executor step at which `to` was acquired. */
  readonly toStep: number;
}

/** A lock taken or released by a thread, in the mode it is held (HELD_EXCLUSIVE, HELD_READ, HELD_WRITE). */
export interface LockTraceEvent {
  /** The thread. */
  readonly thread: Thread;
  /** The lock. */
  readonly lock: LockInstance;
  /** How it is held. */
  readonly mode: number;
}

/**
 * Lockdep's tracepoints (LockdepGraph.trace), as include/trace/events/lock.h names them (v6.19,
 * CONFIG_LOCKDEP): a lock now held, a lock let go. Observation only.
 */
export interface LockTracepoints {
  /** The thread holds the lock from now (traced once it has it, not when it starts to wait). */
  lock_acquire: LockTraceEvent;
  /** The thread let go of the lock. */
  lock_release: LockTraceEvent;
}

/**
 * The lock-order graph over lock classes: records every held->acquired edge and reports a LockdepBug
 * when a new edge closes a cycle (a possible ABBA deadlock).
 * @see kernel/locking/lockdep.c (check_prev_add), v6.19
 */
export class LockdepGraph {
  /** When false no order is recorded or checked (recursion and unlock checks still apply). */
  enabled: boolean;
  private readonly out = new Map<string, Map<string, LockEdge>>();
  private count = 0;
  /** lock_acquire and lock_release of every thread whose executor uses this graph. */
  readonly trace = new Tracepoints<LockTracepoints>();

  constructor(opts: { enabled?: boolean } = {}) {
    this.enabled = opts.enabled ?? true;
  }

  /** Distinct lock-order edges recorded so far. */
  get edgeCount(): number {
    return this.count;
  }

  /** Whether class `to` has been taken while holding class `from`. */
  hasEdge(from: string, to: string): boolean {
    return this.out.get(from)?.has(to) ?? false;
  }

  /** Every edge, sorted by (from, to), for reports and tests. */
  edges(): LockEdge[] {
    const all: LockEdge[] = [];
    for (const m of this.out.values()) for (const e of m.values()) all.push(e);
    return all.sort((a, b) =>
      a.from < b.from ? -1 : a.from > b.from ? 1 : a.to < b.to ? -1 : a.to > b.to ? 1 : 0,
    );
  }

  /** Forgets every learnt lock order (lockdep_reset()). */
  reset(): void {
    this.out.clear();
    this.count = 0;
  }

  /**
   * Called before `t` blocks to acquire class `cls`: records held->cls for every held class and
   * throws LockdepBug if that closes a cycle or nests the class in itself.
   */
  checkAcquire(t: Thread, lock: LockInstance, cls: string, site: string): void {
    if (!this.enabled) return;
    const n = t.heldLocks.length;
    for (let i = 0; i < n; i++) {
      const held = t.heldClasses[i];
      if (held === null || held === undefined) continue;
      if (held === cls) throw classRecursionBug(t, lock, site, i);
      let outs = this.out.get(held);
      if (outs?.has(cls)) continue;
      const path = this.findPath(cls, held);
      if (path !== null) throw circularBug(t, cls, site, i, path);
      if (outs === undefined) {
        outs = new Map();
        this.out.set(held, outs);
      }
      outs.set(cls, {
        from: held,
        to: cls,
        thread: t.name,
        fromSite: t.heldSites[i]!,
        fromStep: t.heldSteps[i]!,
        toSite: site,
        toStep: t.executor.steps,
      });
      this.count++;
    }
  }

  /** Edges of a path from -> ... -> to (breadth first, so the shortest), or null. */
  private findPath(from: string, to: string): LockEdge[] | null {
    const via = new Map<string, LockEdge | null>([[from, null]]);
    const queue = [from];
    for (let qi = 0; qi < queue.length; qi++) {
      const node = queue[qi]!;
      const outs = this.out.get(node);
      if (outs === undefined) continue;
      for (const e of outs.values()) {
        if (via.has(e.to)) continue;
        via.set(e.to, e);
        if (e.to === to) return unwind(via, to);
        queue.push(e.to);
      }
    }
    return null;
  }
}

function unwind(via: Map<string, LockEdge | null>, to: string): LockEdge[] {
  const path: LockEdge[] = [];
  for (let e = via.get(to); e; e = via.get(e.from)) path.push(e);
  return path.reverse();
}

/** 'step 12 in 'fault 0x1000'' */
export function describeSite(site: string, step: number): string {
  return `step ${step} in '${site}'`;
}

/** 'mutex A', 'rwsem mmap_sem (read)'. */
export function describeLock(lock: LockInstance, mode: number): string {
  if (mode === HELD_READ) return `${lock.kind} ${lock.name} (read)`;
  if (mode === HELD_WRITE) return `${lock.kind} ${lock.name} (write)`;
  return `${lock.kind} ${lock.name}`;
}

/** Short descriptions of every lock `t` holds, oldest first. */
export function describeHeld(t: Thread): string[] {
  const out: string[] = [];
  for (let i = 0; i < t.heldLocks.length; i++) out.push(describeLock(t.heldLocks[i]!, t.heldModes[i]!));
  return out;
}

/** '  mutex A, taken at step 3 in 'x'' lines, or '  (none)'. */
export function describeHeldLong(t: Thread): string {
  if (t.heldLocks.length === 0) return '  (none)';
  const lines: string[] = [];
  for (let i = 0; i < t.heldLocks.length; i++) {
    lines.push(
      `  ${describeLock(t.heldLocks[i]!, t.heldModes[i]!)}, taken at ${describeSite(t.heldSites[i]!, t.heldSteps[i]!)}`,
    );
  }
  return lines.join('\n');
}

/** Index of `lock` in t's held list (newest first), -1 if not held. */
export function heldIndex(t: Thread, lock: LockInstance): number {
  for (let i = t.heldLocks.length - 1; i >= 0; i--) if (t.heldLocks[i] === lock) return i;
  return -1;
}

/** Record that `t` now holds `lock`. */
export function noteAcquired(
  t: Thread,
  lock: LockInstance,
  mode: number,
  cls: string | null,
  site: string,
): void {
  // an rwsem tells read holds from write holds itself (rwsem.ts)
  if (lock.kind !== 'rwsem') touchSync(lock, lock.kind);
  t.heldLocks.push(lock);
  t.heldModes.push(mode);
  t.heldClasses.push(cls);
  t.heldSites.push(site);
  t.heldSteps.push(t.executor.steps);
  const trace = t.executor.lockdep.trace;
  if (trace.enabled) trace.emit('lock_acquire', { thread: t, lock, mode });
}

/** Drop entry `i` of t's held list (order of the others kept, nothing allocated). */
export function noteReleased(t: Thread, i: number): void {
  const lock = t.heldLocks[i];
  if (lock !== undefined && lock.kind !== 'rwsem') touchSync(lock, lock.kind);
  const trace = t.executor.lockdep.trace;
  if (trace.enabled && lock !== undefined)
    trace.emit('lock_release', { thread: t, lock, mode: t.heldModes[i] as number });
  const n = t.heldLocks.length - 1;
  for (let j = i; j < n; j++) {
    t.heldLocks[j] = t.heldLocks[j + 1]!;
    t.heldModes[j] = t.heldModes[j + 1]!;
    t.heldClasses[j] = t.heldClasses[j + 1]!;
    t.heldSites[j] = t.heldSites[j + 1]!;
    t.heldSteps[j] = t.heldSteps[j + 1]!;
  }
  // pop() stays on V8's fast path; assigning .length does not
  t.heldLocks.pop();
  t.heldModes.pop();
  t.heldClasses.pop();
  t.heldSites.pop();
  t.heldSteps.pop();
}

/** The same lock instance taken again by its holder: a certain self-deadlock. */
export function recursiveLockBug(t: Thread, lock: LockInstance, site: string, heldAt: number): LockdepBug {
  return new LockdepBug(
    `WARNING: possible recursive locking detected\n` +
      `${t.name} is trying to acquire ${lock.kind} ${lock.name} at ${describeSite(site, t.executor.steps)}\n` +
      `but already holds it, taken at ${describeSite(t.heldSites[heldAt]!, t.heldSteps[heldAt]!)}`,
  );
}

function classRecursionBug(t: Thread, lock: LockInstance, site: string, heldAt: number): LockdepBug {
  const other = t.heldLocks[heldAt]!;
  return new LockdepBug(
    `WARNING: possible recursive locking detected\n` +
      `${t.name} is trying to acquire ${lock.kind} ${lock.name} at ${describeSite(site, t.executor.steps)}\n` +
      `but already holds another lock of the same class, ${other.kind} ${other.name}, taken at ` +
      `${describeSite(t.heldSites[heldAt]!, t.heldSteps[heldAt]!)}\n` +
      `(nesting two locks of one class needs lockNested(subclass), as mutex_lock_nested does)`,
  );
}

function circularBug(t: Thread, cls: string, site: string, heldAt: number, path: LockEdge[]): LockdepBug {
  const held = t.heldClasses[heldAt]!;
  const chain = path.map(
    (e) =>
      `  ${e.from} -> ${e.to}: ${e.thread} took ${e.to} at ${describeSite(e.toSite, e.toStep)} ` +
      `while holding ${e.from}, taken at ${describeSite(e.fromSite, e.fromStep)}`,
  );
  const first = path[0]!;
  return new LockdepBug(
    `WARNING: possible circular locking dependency detected\n` +
      `${t.name} is trying to acquire lock ${cls} at ${describeSite(site, t.executor.steps)}\n` +
      `but already holds lock ${held}, taken at ${describeSite(t.heldSites[heldAt]!, t.heldSteps[heldAt]!)}\n` +
      `which lock already depends on the new lock; the existing dependency chain is:\n` +
      `${chain.join('\n')}\n` +
      `Possible unsafe locking scenario:\n` +
      `  ${first.thread}: lock(${cls}); lock(${first.to})\n` +
      `  ${t.name}: lock(${held}); lock(${cls})`,
  );
}

/** Unlocking a lock the current thread does not hold. */
export function badUnlockBug(t: Thread, lock: LockInstance, state: string): LockdepBug {
  return new LockdepBug(
    `WARNING: bad unlock balance detected!\n` +
      `${t.name} is trying to release ${lock.kind} ${lock.name} at ${describeSite(t.lastPoint, t.executor.steps)} ` +
      `but does not hold it (${state})`,
  );
}

/** lockdep_assert_held failing. */
export function notHeldBug(t: Thread, lock: LockInstance, wanted: string, state: string): LockdepBug {
  return new LockdepBug(
    `WARNING: lockdep_assert_held failed: ${t.name} does not hold ${lock.kind} ${lock.name}${wanted} ` +
      `at ${describeSite(t.lastPoint, t.executor.steps)} (${state})`,
  );
}
