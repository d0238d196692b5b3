/**
 * The replayable fault buffer: a device thread whose access misses the device page table writes
 * an entry and stalls; the driver's fault handler fetches entries in batches, services them through
 * HMM and replays, and the stalled accesses retry (docs/costs.md, "Fault batching and replay"; nouveau_svm.c
 * nouveau_svm_fault; UVM's replayable faults).
 *
 * Divergence: one buffer per address space (per DeviceMmu) rather than one per GPU with entries
 * tagged by instance, so entries need no routing. A batch holds at most FAULT_BATCH_MAX entries
 * (uvm_perf_fault_batch_count); the buffer holds one entry per device thread at most, so it cannot
 * overflow.
 */

import type { Task } from '../sched/index.js';
import { WaitQueue } from '../sched/index.js';
import type { DeviceCounters } from './device.js';

/** Entries fetched per batch (UVM's uvm_perf_fault_batch_count default). */
export const FAULT_BATCH_MAX = 256;

/** One replayable fault: the page a stalled device access missed, and the driver's verdict. */
export interface FaultEntry {
  /** Device virtual page number of the missed access (address / 4096). */
  readonly vpn: number;
  /** The access was a write. */
  readonly write: boolean;
  /** Set by the driver: 0, or -errno to cancel the access (a fatal fault). */
  status: number;
  /** Set when the batch holding the entry is replayed; the stalled access then retries. */
  replayed: boolean;
}

/** The replayable fault buffer of one device address space (see the file comment). */
export class FaultBuffer {
  /** Name for its wait queues and logs: <device>.faults. */
  readonly name: string;
  private readonly counters: DeviceCounters;
  private pending: FaultEntry[] = [];
  private notified = false;
  /** Device threads wait here for their replay; fault handlers wait here for entries. */
  private readonly replayWq: WaitQueue;
  private readonly faultWq: WaitQueue;

  constructor(name: string, counters: DeviceCounters) {
    this.name = name;
    this.counters = counters;
    this.replayWq = new WaitQueue(`${name}.replay`);
    this.faultWq = new WaitQueue(`${name}.pending`);
  }

  /** Entries written and not yet fetched. */
  get size(): number {
    return this.pending.length;
  }

  /**
   * Device side: writes the entry and wakes the fault handler. The faulting access then stalls
   * (`while (!entry.replayed) yield faults.stall()`, in the launch's access path: a loop in the
   * caller, not a generator of its own per fault) and reads the driver's `status`.
   */
  post(vpn: number, write: boolean): FaultEntry {
    const entry: FaultEntry = { vpn, write, status: 0, replayed: false };
    this.pending.push(entry);
    this.counters.faults++;
    this.faultWq.wakeUp();
    return entry;
  }

  /** Device side: sleeps until the next replay (the point to yield); the caller re-checks its entry. */
  stall(): string {
    return this.replayWq.sleep();
  }

  /**
   * Driver side: sleep until there are entries or a notification (true), or `done()` holds with
   * neither pending (false).
   */
  *waitForFaults(done: () => boolean): Task<boolean> {
    yield* this.faultWq.waitEvent(() => this.pending.length > 0 || this.notified || done());
    return this.pending.length > 0 || this.notified;
  }

  /**
   * Device side: an access-counter notification is pending; the fault handler wakes to service it
   * (UVM services notifications in its own bottom half; here the fault handler thread does).
   */
  notify(): void {
    this.notified = true;
    this.faultWq.wakeUp();
  }

  /** Driver side: whether a notification was pending, clearing it. */
  takeNotified(): boolean {
    const n = this.notified;
    this.notified = false;
    return n;
  }

  /** Wakes a handler waiting in waitForFaults so it re-checks `done()`. */
  kick(): void {
    this.faultWq.wakeUp();
  }

  /** Takes up to FAULT_BATCH_MAX entries, oldest first. */
  fetch(): FaultEntry[] {
    const batch = this.pending.slice(0, FAULT_BATCH_MAX);
    this.pending = this.pending.slice(batch.length);
    return batch;
  }

  /** Replays a serviced batch: every stalled access in it retries (or dies, if cancelled). */
  replay(batch: readonly FaultEntry[]): void {
    for (const e of batch) e.replayed = true;
    this.counters.replays++;
    this.replayWq.wakeUp();
  }
}
