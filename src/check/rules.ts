/**
 * The API-rules checker: the rules hmm.rst gives a mirroring driver, checked where they are broken.
 *
 * - hmm_range_valid() is called with the driver's update lock held (the lock its
 *   sync_cpu_device_pagetables() takes), and never on a range that was unregistered;
 * - every write to the device page table happens with that lock held;
 * - no mirror callback runs for a mirror that is no longer registered.
 *
 * The other rules are enforced by the model itself and arrive as errors thrown inside the
 * offending thread, which violationOfError() classifies as 'rules': sleeping in a non-blockable
 * callback (the scheduler's "sleeping function called from invalid context"), lockdep reports, and
 * using a range after hmm_range_unregister (a KernelBug at the call).
 *
 * The checker is an HmmObserver (install it with sim.hmm.observer) plus a hook on each
 * watched device page table. It records each broken rule with the thread, the executor step and the
 * step's label; it changes nothing, so the run goes on until the step ends and the explorer's step
 * hook stops it (takePending).
 */

import type { DevicePageTable, DevicePageTableWrite } from '../device/device_pagetable.js';
import type { HmmMirror, HmmObserver, HmmRange } from '../hmm/seed/types.js';
import { currentOrNull } from '../sched/index.js';

/** What the checker needs to know about one driver instance. */
export interface RulesDevice {
  readonly name: string;
  readonly mirror: HmmMirror;
  readonly pt: DevicePageTable;
  /** True if the current thread holds the driver's update lock. */
  updateLockHeld(): boolean;
}

export class RulesChecker implements HmmObserver {
  /** Every rule broken so far, in order, each with where it was broken. */
  readonly violations: string[] = [];
  private readonly byMirror = new Map<HmmMirror, RulesDevice>();
  private pending: string | null = null;

  /** Watch a driver instance: its range checks, its page-table writes and its callbacks. */
  watch(dev: RulesDevice): void {
    this.byMirror.set(dev.mirror, dev);
    dev.pt.onWrite = (op, vpn) => this.ptWrite(dev, op, vpn);
  }

  /** The first violation not yet taken, or null (the explorer's step hook). */
  takePending(): string | null {
    const p = this.pending;
    this.pending = null;
    return p;
  }

  rangeValid(range: HmmRange): void {
    const dev = range.mirror === null ? undefined : this.byMirror.get(range.mirror);
    if (range.poisoned) {
      this.report(`hmm_range_valid() on a range that was unregistered${dev ? ` (${dev.name})` : ''}`);
      return;
    }
    if (dev !== undefined && !dev.updateLockHeld()) {
      this.report(`${dev.name}: hmm_range_valid() called without the driver's update lock held`);
    }
  }

  mirrorCallback(mirror: HmmMirror, callback: 'sync_cpu_device_pagetables' | 'release'): void {
    if (mirror.registered) return;
    const dev = this.byMirror.get(mirror);
    this.report(`${callback}() called for ${dev?.name ?? 'a mirror'} after hmm_mirror_unregister()`);
  }

  private ptWrite(dev: RulesDevice, op: DevicePageTableWrite, vpn: number): void {
    if (currentOrNull() === null || dev.updateLockHeld()) return;
    const where = op === 'clear' ? 'clear' : `${op} of vpn 0x${vpn.toString(16)}`;
    this.report(`${dev.name}: device page-table write (${where}) without the driver's update lock held`);
  }

  private report(what: string): void {
    const t = currentOrNull();
    const at = t === null ? '' : ` [${t.name}, step ${t.executor.steps}, at '${t.lastPoint}']`;
    const message = `${what}${at}`;
    this.violations.push(message);
    this.pending ??= message;
  }
}
