/**
 * A spinlock.
 *
 * It never sleeps, and contention cannot happen: code between two yields is atomic, and a thread
 * holding a spinlock across a yield is itself the bug (the executor reports "sleeping function
 * called from invalid context" at that yield). What remains to check is misuse: recursion, unlock
 * by a non-owner, lock order (lockdep), and a lock found held by a thread that already failed.
 *
 * @see kernel/locking/spinlock.c, kernel/locking/spinlock_debug.c, include/linux/spinlock.h
 */

import { KernelBug } from '../core/assert.js';
import { recordByProtectedData, SyncFootprint, touchSync } from './dependency.js';
import {
  badUnlockBug,
  heldIndex,
  noteAcquired,
  noteReleased,
  notHeldBug,
  recursiveLockBug,
} from './lockdep.js';
import { classOf, type LockOptions } from './mutex.js';
import { current, HELD_EXCLUSIVE, type LockInstance, type Thread } from './thread.js';

/**
 * spinlock_t: a lock that must not be held across a sleep; sleeping under it is a KernelBug.
 * @see kernel/locking/spinlock.c (Linux v5.3)
 */
export class SpinLock implements LockInstance {
  readonly name: string;
  /** @internal what the dependency relation keeps of this lock (dependency.ts). */
  readonly footprint = new SyncFootprint();
  readonly kind = 'spinlock' as const;
  private holder: Thread | null = null;
  private readonly classes: string[];
  private readonly tracked: boolean;

  constructor(name: string, opts: LockOptions = {}) {
    this.name = name;
    this.classes = [name];
    this.tracked = opts.lockdep ?? true;
  }

  /**
   * To partial-order reduction, this lock is the data it protects, which its users record
   * (dependency.ts recordByProtectedData): its own acquisitions are no accesses. Sound because a
   * spinlock is never held across a yield (the executor fails such a run), so no step but the
   * holder's own ever sees it taken. Returns the lock.
   */
  recordedByData(): this {
    recordByProtectedData(this);
    return this;
  }

  /** The thread holding it, or null. */
  get owner(): Thread | null {
    touchSync(this, this.kind);
    return this.holder;
  }

  /** spin_is_locked(). */
  isLocked(): boolean {
    touchSync(this, this.kind);
    return this.holder !== null;
  }

  /** spin_lock. `site` names the call site in reports (default: the current step's label). */
  lock(site?: string): void {
    this.lockClass(0, site);
  }

  /** spin_lock_nested: nest two spinlocks of one class, the inner one with subclass > 0. */
  lockNested(subclass: number, site?: string): void {
    this.lockClass(subclass, site);
  }

  /** spin_trylock: no lock-order edge for this lock. */
  trylock(): boolean {
    const t = current();
    touchSync(this, this.kind);
    if (this.holder !== null) return false;
    this.take(t, this.tracked ? this.name : null, t.lastPoint);
    return true;
  }

  /** spin_unlock(); unlocking a lock this thread does not hold is a KernelBug. */
  unlock(): void {
    const t = current();
    const i = this.holder === t ? heldIndex(t, this) : -1;
    if (i < 0) throw badUnlockBug(t, this, this.holder === null ? 'not held' : `owner ${this.holder.name}`);
    noteReleased(t, i);
    this.holder = null;
    t.spinDepth--;
  }

  /** lockdep_assert_held. */
  assertHeld(): void {
    const t = current();
    if (this.holder !== t) {
      throw notHeldBug(t, this, '', this.holder === null ? 'not held' : `owner ${this.holder.name}`);
    }
  }

  private lockClass(subclass: number, site: string | undefined): void {
    const t = current();
    const s = site ?? t.lastPoint;
    if (this.holder === t) throw recursiveLockBug(t, this, s, heldIndex(t, this));
    if (this.holder !== null) {
      throw new KernelBug(
        `BUG: spinlock lockup suspected: ${t.name} spins on spinlock ${this.name} held by ${this.holder.name} ` +
          `(${this.holder.state}), which cannot release it`,
      );
    }
    const cls = this.tracked ? classOf(this.classes, this.name, subclass) : null;
    if (cls !== null) t.executor.lockdep.checkAcquire(t, this, cls, s);
    this.take(t, cls, s);
  }

  private take(t: Thread, cls: string | null, site: string): void {
    this.holder = t;
    t.spinDepth++;
    noteAcquired(t, this, HELD_EXCLUSIVE, cls, site);
  }
}
