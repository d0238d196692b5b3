/**
 * A simulated kernel thread and `current`.
 *
 * A Thread is a generator plus the per-task state the scheduler's rules need: what it is blocked
 * on (for deadlock reports), the locks it holds (lockdep's held_locks), its atomic-context depth
 * (preempt count / non_block count) and its timer. The fields marked internal are written only by
 * src/sched; they are public so the primitives in sibling files can reach them without a getter
 * on the hot path.
 *
 * @see include/linux/sched.h (struct task_struct), include/asm-generic/current.h
 */

import { KernelBug } from '../core/assert.js';
import { currentRecorder, touchObject, touchSync } from './dependency.js';
import type { Executor } from './executor.js';
import type { Task } from './task.js';

/** Where a simulated thread is in its life: done and failed are final. */
export type ThreadState = 'runnable' | 'blocked' | 'sleeping' | 'done' | 'failed';

/** Something a thread can block on; says what it is for deadlock reports. */
export interface Waitable {
  /** What `t` is waiting for, in words, for deadlock reports. */
  describeWait(t: Thread): string;
}

/** A lock as the held-lock list sees it. */
export interface LockInstance {
  /** The lock's name, as lockdep and reports print it. */
  readonly name: string;
  /** Which lock type it is, so reports and lockdep can tell a sleeping lock from a spinning one. */
  readonly kind: 'mutex' | 'rwsem' | 'spinlock';
}

/** How a held lock is held (the mode recorded next to it in Thread.heldModes). */
export const HELD_EXCLUSIVE = 0;
export const HELD_READ = 1;
export const HELD_WRITE = 2;

/** A simulated kernel or user thread: a generator the Executor steps, with its held locks. */
export class Thread {
  /** Creation order, 0-based, per Executor. */
  readonly id: number;
  /** Name given to spawn(), used in logs, replay reports and lockdep messages. */
  readonly name: string;
  /** Where the thread is now. */
  state: ThreadState = 'runnable';
  /** What its generator returned, once `state` is 'done'. */
  result: unknown = undefined;
  /** What it threw, once `state` is 'failed'. */
  error: unknown = undefined;
  /** Free slot for the layer above (mm stores the task: { mm, process }). */
  task: unknown = undefined;
  /** Steps this thread has taken. */
  steps = 0;
  /** A daemon (kthread) blocked or sleeping forever does not keep run() from finishing. */
  readonly daemon: boolean;

  /** @internal */ readonly executor: Executor;
  /** @internal */ readonly gen: Task<unknown>;
  /** @internal the last point this thread yielded: the label of the step it is executing. */
  lastPoint = '<start>';
  /** @internal the object a wake-up of this thread touches (wakeObjectName), once asked for. */
  wakeName: string | undefined = undefined;
  /** @internal woken while footprints are recorded: its next step touches wakeObjectName(this). */
  woken = false;
  /** @internal the executor step number of this thread's last step. */
  lastStep = 0;
  /** @internal spinlocks held (preempt_count). */
  spinDepth = 0;
  /** @internal non_block_start() nesting. */
  nonBlockDepth = 0;
  /** @internal held_locks, as parallel arrays so taking a lock allocates nothing. */
  readonly heldLocks: LockInstance[] = [];
  /** @internal HELD_EXCLUSIVE / HELD_READ / HELD_WRITE. */
  readonly heldModes: number[] = [];
  /** @internal lockdep class (null: not tracked). */
  readonly heldClasses: (string | null)[] = [];
  /** @internal the step label the lock was taken in (or an explicit site). */
  readonly heldSites: string[] = [];
  /** @internal executor step at which the lock was taken. */
  readonly heldSteps: number[] = [];
  /** @internal what a blocked thread waits for. */
  waitingOn: Waitable | null = null;
  /** @internal the wait list a timed waiter is on, so a firing timer can unlink it. */
  waitList: Thread[] | null = null;
  /** @internal virtual time of the armed timer, -1 if none. */
  timerAtNs = -1;
  /** @internal set when the timer fired (the wait timed out). */
  timedOut = false;

  /** @internal use Executor.spawn. */
  constructor(executor: Executor, id: number, name: string, gen: Task<unknown>, daemon: boolean) {
    this.executor = executor;
    this.id = id;
    this.name = name;
    this.gen = gen;
    this.daemon = daemon;
  }

  /** True while sleeping is forbidden: a spinlock is held or inside non_block_start/end. */
  get atomic(): boolean {
    return this.spinDepth !== 0 || this.nonBlockDepth !== 0;
  }

  /** The thread's name and id, for messages. */
  toString(): string {
    return `${this.name}#${this.id}`;
  }
}

let cur: Thread | null = null;

/** The running thread; KernelBug if no simulated thread is running. */
export function current(): Thread {
  if (cur === null) throw new KernelBug('BUG: current() called outside a running thread');
  return cur;
}

/** The running thread, or null outside the executor (the facade checks this). */
export function currentOrNull(): Thread | null {
  return cur;
}

/** @internal the executor's context switch. */
export function setCurrent(t: Thread | null): void {
  cur = t;
}

/** @internal mark `t` blocked on `what`, appending it to `list` if given (a timed wait's list). */
export function blockOn(t: Thread, what: Waitable, list: Thread[] | null): void {
  const w = what as { name?: string; kind?: string };
  touchSync(w, w.kind ?? 'wait');
  t.state = 'blocked';
  t.waitingOn = what;
  if (list !== null) {
    list.push(t);
    t.waitList = list;
  }
}

/** @internal the object a wake-up of `t` touches (dependency.ts). */
export function wakeObjectName(t: Thread): string {
  // built once: the recorder hashes a string made afresh at every lookup
  t.wakeName ??= `wake ${t.name}#${t.id}`;
  return t.wakeName;
}

/** @internal make a blocked or sleeping thread runnable and disarm its timer. */
export function wakeThread(t: Thread): void {
  // the waker and the woken thread's next step touch one object: the wake-up orders them
  if (currentRecorder() !== null) {
    touchObject(wakeObjectName(t));
    t.woken = true;
  }
  t.state = 'runnable';
  t.waitingOn = null;
  t.waitList = null;
  t.timerAtNs = -1;
  t.executor.wakeups++;
}

/** @internal remove `t` from `list` without allocating (splice returns an array). */
export function removeFromList(list: Thread[], t: Thread): boolean {
  const i = list.indexOf(t);
  if (i < 0) return false;
  for (let j = i; j < list.length - 1; j++) list[j] = list[j + 1]!;
  list.pop();
  return true;
}
