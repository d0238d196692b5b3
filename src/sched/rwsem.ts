/**
 * A reader-writer semaphore (mmap_sem).
 *
 * Many readers or one writer. Waiters queue FIFO, and once anyone waits, new readers queue behind
 * it instead of joining the current readers, so a stream of readers cannot starve a writer. When
 * the lock is released the front of the queue is granted: one writer, or every reader up to the
 * first writer (as __rwsem_mark_wake does in v5.3). downgradeWrite() turns the write hold into a
 * read hold and grants the readers at the front.
 *
 * down_*() first yield a point ('down_read mmap_sem'), then take or queue; grants are handed to
 * the woken waiters directly. Recursive read acquisition is reported like any recursion: with a
 * writer queued in between it deadlocks.
 *
 * @see kernel/locking/rwsem.c, include/linux/rwsem.h
 */

import { declareSyncOnly, SyncFootprint, touchSync, touchSyncAdd, touchSyncRead } from './dependency.js';
import {
  badUnlockBug,
  heldIndex,
  noteAcquired,
  noteReleased,
  notHeldBug,
  recursiveLockBug,
} from './lockdep.js';
import { classOf, type LockOptions } from './mutex.js';
import type { Task } from './task.js';
import {
  blockOn,
  current,
  HELD_READ,
  HELD_WRITE,
  type LockInstance,
  removeFromList,
  type Thread,
  type Waitable,
  wakeThread,
} from './thread.js';

/** The footprint object of an rwsem's reader count (dependency.ts): `rwsem <name>#readers`. */
const READERS = 'rwsem#readers';

/**
 * struct rw_semaphore: many readers or one writer, FIFO, writers not starved (mmap_sem).
 * @see kernel/locking/rwsem.c (Linux v5.3)
 */
export class RwSem implements LockInstance, Waitable {
  readonly name: string;
  /** @internal what the dependency relation keeps of this lock (dependency.ts). */
  readonly footprint = new SyncFootprint();
  readonly kind = 'rwsem' as const;
  private writer: Thread | null = null;
  /** Read holders, one entry per hold. */
  private readonly readHolders: Thread[] = [];
  private readonly queue: Thread[] = [];
  private readonly queueModes: number[] = [];
  private readonly queueClasses: (string | null)[] = [];
  private readonly queueSites: string[] = [];
  private readonly classes: string[];
  private readonly tracked: boolean;
  private readonly points: string[];

  constructor(name: string, opts: LockOptions = {}) {
    this.name = name;
    this.classes = [name];
    this.tracked = opts.lockdep ?? true;
    this.points = [
      `down_read ${name}`,
      `down_read ${name}: wait`,
      `down_write ${name}`,
      `down_write ${name}: wait`,
    ];
  }

  /** Number of read holds. */
  get readers(): number {
    return this.readHolders.length;
  }

  /** True if anyone holds it, for read or write. */
  isLocked(): boolean {
    touchSyncRead(this, this.kind);
    touchSyncRead(this, READERS);
    return this.writer !== null || this.readHolders.length > 0;
  }

  /** True if a writer holds it. */
  isWriteLocked(): boolean {
    return this.writer !== null;
  }

  /** Threads waiting, in queue order (for tests and reports). */
  get waiting(): readonly Thread[] {
    return this.queue;
  }

  /**
   * down_read(): joins the readers, or queues FIFO if a writer holds it or anyone already waits.
   * @see kernel/locking/rwsem.c (Linux v5.3)
   */
  downRead(site?: string): Task {
    return this.down(HELD_READ, 0, site);
  }

  /**
   * down_write(): waits for exclusive ownership.
   * @see kernel/locking/rwsem.c (Linux v5.3)
   */
  downWrite(site?: string): Task {
    return this.down(HELD_WRITE, 0, site);
  }

  /** down_read_nested */
  downReadNested(subclass: number, site?: string): Task {
    return this.down(HELD_READ, subclass, site);
  }

  /** down_write_nested */
  downWriteNested(subclass: number, site?: string): Task {
    return this.down(HELD_WRITE, subclass, site);
  }

  /** Succeeds only if no writer holds it and nobody waits (RWSEM_READ_FAILED_MASK). */
  downReadTrylock(): boolean {
    const t = current();
    touchSyncRead(this, this.kind);
    if (this.writer !== null || this.queue.length > 0) return false;
    this.grant(t, HELD_READ, this.tracked ? this.name : null, t.lastPoint);
    return true;
  }

  /**
   * down_write_trylock(): takes it for write only if nobody holds it.
   * @see kernel/locking/rwsem.c (Linux v5.3)
   */
  downWriteTrylock(): boolean {
    const t = current();
    if (this.isLocked()) return false;
    this.grant(t, HELD_WRITE, this.tracked ? this.name : null, t.lastPoint);
    return true;
  }

  /**
   * up_read(): releases a read hold; a thread that holds none is a KernelBug.
   * @see kernel/locking/rwsem.c (Linux v5.3)
   */
  upRead(): void {
    const t = current();
    const i = this.heldAs(t, HELD_READ);
    if (i < 0) throw badUnlockBug(t, this, this.holdersText());
    noteReleased(t, i);
    // readers leaving commute with each other and with readers arriving: only the last one, with
    // someone queued, looks at the count
    touchSyncRead(this, this.kind);
    touchSyncAdd(this, READERS);
    removeFromList(this.readHolders, t);
    if (this.queue.length > 0 && this.readHolders.length === 0) {
      touchSyncRead(this, READERS);
      this.wakeFront();
    }
  }

  /**
   * up_write(): releases the write hold; anyone else's release is a KernelBug.
   * @see kernel/locking/rwsem.c (Linux v5.3)
   */
  upWrite(): void {
    const t = current();
    const i = this.writer === t ? this.heldAs(t, HELD_WRITE) : -1;
    if (i < 0) throw badUnlockBug(t, this, this.holdersText());
    noteReleased(t, i);
    touchSync(this, this.kind);
    this.writer = null;
    this.wakeFront();
  }

  /** downgrade_write: keep holding, for read, and let the queued readers at the front in. */
  downgradeWrite(): void {
    const t = current();
    const i = this.writer === t ? this.heldAs(t, HELD_WRITE) : -1;
    if (i < 0) throw badUnlockBug(t, this, this.holdersText());
    t.heldModes[i] = HELD_READ;
    touchSync(this, this.kind);
    touchSyncAdd(this, READERS);
    this.writer = null;
    this.readHolders.push(t);
    this.wakeFront();
  }

  /** How `t` holds this rwsem, or null. */
  heldBy(t: Thread): 'read' | 'write' | null {
    const i = heldIndex(t, this);
    if (i < 0) return null;
    return t.heldModes[i] === HELD_WRITE ? 'write' : 'read';
  }

  /** lockdep_assert_held (mode 'any'), lockdep_assert_held_read ('read'), _write ('write'). */
  assertHeld(mode: 'read' | 'write' | 'any' = 'any'): void {
    const t = current();
    const held = this.heldBy(t);
    if (held !== null && (mode === 'any' || mode === held)) return;
    throw notHeldBug(t, this, mode === 'any' ? '' : ` for ${mode}`, this.holdersText());
  }

  describeWait(t: Thread): string {
    const i = this.queue.indexOf(t);
    const mode = i >= 0 && this.queueModes[i] === HELD_WRITE ? 'write' : 'read';
    return `rwsem ${this.name} for ${mode} (${this.holdersText()})`;
  }

  private *down(mode: number, subclass: number, site: string | undefined): Task {
    const t = current();
    const s = site ?? t.lastPoint;
    const w = mode === HELD_WRITE ? 2 : 0;
    yield this.points[w]!;
    // a reader only looks at the writer and the queue (and adds itself to the count in grant)
    if (mode === HELD_WRITE) touchSync(this, this.kind);
    else touchSyncRead(this, this.kind);
    const i = heldIndex(t, this);
    if (i >= 0) throw recursiveLockBug(t, this, s, i);
    const cls = this.tracked ? classOf(this.classes, this.name, subclass) : null;
    if (cls !== null) t.executor.lockdep.checkAcquire(t, this, cls, s);
    const free = mode === HELD_WRITE ? !this.isLocked() : this.writer === null && this.queue.length === 0;
    if (free) {
      this.grant(t, mode, cls, s);
      return;
    }
    // nothing but the rwsem since the yield (see mutex.ts)
    declareSyncOnly(this);
    touchSync(this, this.kind);
    blockOn(t, this, null);
    this.queue.push(t);
    this.queueModes.push(mode);
    this.queueClasses.push(cls);
    this.queueSites.push(s);
    yield this.points[w + 1]!;
    // wakeFront() granted it to us
  }

  private grant(t: Thread, mode: number, cls: string | null, site: string): void {
    if (mode === HELD_WRITE) touchSync(this, this.kind);
    else touchSyncAdd(this, READERS);
    if (mode === HELD_WRITE) this.writer = t;
    else this.readHolders.push(t);
    noteAcquired(t, this, mode, cls, site);
  }

  /** Grants the front of the queue: one writer, or the readers up to the first writer. */
  private wakeFront(): void {
    while (this.queue.length > 0 && this.writer === null) {
      const mode = this.queueModes[0]!;
      if (mode === HELD_WRITE && this.readHolders.length > 0) return;
      const t = this.queue.shift()!;
      this.queueModes.shift();
      const cls = this.queueClasses.shift()!;
      const site = this.queueSites.shift()!;
      if (t.state !== 'blocked') continue;
      this.grant(t, mode, cls, site);
      wakeThread(t);
      if (mode === HELD_WRITE) return;
    }
  }

  private heldAs(t: Thread, mode: number): number {
    for (let i = t.heldLocks.length - 1; i >= 0; i--)
      if (t.heldLocks[i] === this && t.heldModes[i] === mode) return i;
    return -1;
  }

  private holdersText(): string {
    if (this.writer !== null) return `held for write by ${this.writer.name}`;
    if (this.readHolders.length > 0)
      return `held for read by ${this.readHolders.map((r) => r.name).join(', ')}`;
    return 'not held';
  }
}
