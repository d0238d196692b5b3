/**
 * A sleeping mutual-exclusion lock.
 *
 * lock() first yields a scheduling point named 'mutex_lock <name>' (so the explorer can reorder
 * acquisitions), then takes the lock or queues FIFO and blocks. unlock() hands the lock straight to
 * the first waiter, like the kernel's MUTEX_FLAG_HANDOFF path: no waiter is starved and the owner
 * is always defined, which keeps deadlock reports exact. Optimistic spinning and lock stealing are
 * not modelled.
 *
 * Misuse throws LockdepBug inside the offending thread: unlocking a mutex it does not hold, taking
 * one it already holds, lock-order inversions (see lockdep.ts).
 *
 * @see kernel/locking/mutex.c, include/linux/mutex.h
 */

import { declareSyncOnly, SyncFootprint, touchSync } from './dependency.js';
import {
  badUnlockBug,
  heldIndex,
  noteAcquired,
  noteReleased,
  notHeldBug,
  recursiveLockBug,
} from './lockdep.js';
import type { Task } from './task.js';
import {
  blockOn,
  current,
  HELD_EXCLUSIVE,
  type LockInstance,
  type Thread,
  type Waitable,
  wakeThread,
} from './thread.js';

/** Options shared by Mutex, RwSem and SpinLock. */
export interface LockOptions {
  /**
   * false: lockdep does not track this lock (no order edges, no same-class check), like a bit
   * lock the kernel's lockdep cannot see. Recursion and unlock checks still apply.
   */
  lockdep?: boolean;
}

/**
 * struct mutex: a sleeping lock with one owner, handed to waiters in FIFO order.
 * @see kernel/locking/mutex.c (Linux v5.3)
 */
export class Mutex implements LockInstance, Waitable {
  readonly name: string;
  /** @internal what the dependency relation keeps of this lock (dependency.ts). */
  readonly footprint = new SyncFootprint();
  readonly kind = 'mutex' as const;
  private holder: Thread | null = null;
  private readonly waiters: Thread[] = [];
  private readonly waiterClasses: (string | null)[] = [];
  private readonly waiterSites: string[] = [];
  private readonly classes: string[];
  private readonly tracked: boolean;
  private readonly pointLock: string;
  private readonly pointWait: string;

  constructor(name: string, opts: LockOptions = {}) {
    this.name = name;
    this.classes = [name];
    this.tracked = opts.lockdep ?? true;
    this.pointLock = `mutex_lock ${name}`;
    this.pointWait = `mutex_lock ${name}: wait`;
  }

  /** The thread holding it, or null. */
  get owner(): Thread | null {
    touchSync(this, this.kind);
    return this.holder;
  }

  /** mutex_is_locked(). */
  isLocked(): boolean {
    touchSync(this, this.kind);
    return this.holder !== null;
  }

  /** mutex_lock. `site` names the call site in reports (default: the current step's label). */
  lock(site?: string): Task {
    return this.lockClass(0, site);
  }

  /** mutex_lock_nested: nest two mutexes of one class, the inner one with subclass > 0. */
  lockNested(subclass: number, site?: string): Task {
    return this.lockClass(subclass, site);
  }

  /** mutex_trylock: takes it if free; no lock-order edge for this lock (a trylock cannot deadlock). */
  trylock(): boolean {
    const t = current();
    touchSync(this, this.kind);
    if (this.holder !== null) return false;
    this.holder = t;
    noteAcquired(t, this, HELD_EXCLUSIVE, this.tracked ? this.name : null, t.lastPoint);
    return true;
  }

  /** mutex_unlock: hands the mutex to the first waiter, if any. */
  unlock(): void {
    const t = current();
    const i = this.holder === t ? heldIndex(t, this) : -1;
    if (i < 0) throw badUnlockBug(t, this, this.ownerText());
    noteReleased(t, i);
    this.holder = null;
    while (this.waiters.length > 0) {
      const w = this.waiters.shift()!;
      const cls = this.waiterClasses.shift()!;
      const site = this.waiterSites.shift()!;
      if (w.state !== 'blocked') continue;
      this.holder = w;
      noteAcquired(w, this, HELD_EXCLUSIVE, cls, site);
      wakeThread(w);
      return;
    }
  }

  /** lockdep_assert_held. */
  assertHeld(): void {
    const t = current();
    if (this.holder !== t) throw notHeldBug(t, this, '', this.ownerText());
  }

  describeWait(_t: Thread): string {
    return `mutex ${this.name} (${this.ownerText()})`;
  }

  private ownerText(): string {
    return this.holder === null ? 'not held' : `owner ${this.holder.name}`;
  }

  private *lockClass(subclass: number, site: string | undefined): Task {
    const t = current();
    const s = site ?? t.lastPoint;
    yield this.pointLock;
    touchSync(this, this.kind);
    if (this.holder === t) throw recursiveLockBug(t, this, s, heldIndex(t, this));
    const cls = this.tracked ? classOf(this.classes, this.name, subclass) : null;
    if (cls !== null) t.executor.lockdep.checkAcquire(t, this, cls, s);
    if (this.holder === null) {
      this.holder = t;
      noteAcquired(t, this, HELD_EXCLUSIVE, cls, s);
      return;
    }
    // nothing but the lock since the yield: the step is independent of every other lock's
    declareSyncOnly(this);
    blockOn(t, this, null);
    this.waiters.push(t);
    this.waiterClasses.push(cls);
    this.waiterSites.push(s);
    yield this.pointWait;
    // unlock() handed the mutex over: it is ours
  }
}

/** The lockdep class of `name` at `subclass` ('name', 'name/1', ...), cached in `cache`. */
export function classOf(cache: string[], name: string, subclass: number): string {
  if (!Number.isInteger(subclass) || subclass < 0 || subclass > 7) {
    throw new RangeError(
      `lock subclass must be an integer in 0..7 (MAX_LOCKDEP_SUBCLASSES), got ${subclass}`,
    );
  }
  let c = cache[subclass];
  if (c === undefined) {
    c = subclass === 0 ? name : `${name}/${subclass}`;
    cache[subclass] = c;
  }
  return c;
}
