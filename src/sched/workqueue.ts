/**
 * Workqueues for drivers: work items run later on a worker thread of their own, as
 * include/linux/workqueue.h's queue_work / flush_workqueue do, deterministically: the worker is an
 * ordinary thread of the running executor, so the explorer interleaves it with everything else.
 *
 * The model is an ordered workqueue (alloc_ordered_workqueue): one worker, items in queue order.
 * queue_work on an item already pending does nothing and returns false, as in the kernel; an item
 * may be queued again once it has started running. The worker exits when the queue is empty and a
 * later queue_work starts a new one.
 *
 * @see include/linux/workqueue.h, kernel/workqueue.c (Linux v6.19)
 */

import { ArgumentError } from '../core/errno.js';
import { Completion } from './completion.js';
import type { Task } from './task.js';
import { current } from './thread.js';

/** struct work_struct: a function to run later, pending from queue_work until it starts. */
export class WorkStruct {
  /** For thread names and reports. */
  readonly name: string;
  /** The work itself (it may sleep). */
  readonly func: (work: WorkStruct) => Task<void>;
  /** work_pending(): queued and not yet started. */
  pending = false;

  /** INIT_WORK. */
  constructor(name: string, func: (work: WorkStruct) => Task<void>) {
    if (typeof func !== 'function')
      throw new ArgumentError('func', `expected a generator function, got ${typeof func}`);
    this.name = name;
    this.func = func;
  }
}

/** An ordered workqueue (see the file comment). */
export class Workqueue {
  /** Its name (the worker thread is `<name>/worker`). */
  readonly name: string;
  private readonly queue: WorkStruct[] = [];
  private running = false;
  private idle: Completion;

  /** alloc_ordered_workqueue. */
  constructor(name: string) {
    this.name = name;
    this.idle = new Completion(`${name} idle`);
    this.idle.completeAll();
  }

  /** queue_work: false if `work` is already pending. Must be called from a running thread. */
  queueWork(work: WorkStruct): boolean {
    if (work.pending) return false;
    work.pending = true;
    this.queue.push(work);
    if (!this.running) {
      this.running = true;
      this.idle = new Completion(`${this.name} idle`);
      current().executor.spawn(`${this.name}/worker`, this.worker());
    }
    return true;
  }

  /** flush_workqueue: sleeps until every item queued so far has run. */
  *flushWorkqueue(): Task {
    yield* this.idle.waitForCompletion();
  }

  /** Items queued and not started. */
  get queued(): number {
    return this.queue.length;
  }

  private *worker(): Task {
    for (let work = this.queue.shift(); work !== undefined; work = this.queue.shift()) {
      work.pending = false;
      yield `work ${work.name}`;
      yield* work.func(work);
    }
    this.running = false;
    this.idle.completeAll();
  }
}
