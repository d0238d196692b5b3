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
 * The checker subscribes to the tracepoints (core/trace.ts) of each watched driver's machine:
 * hmm_range_valid, hmm_mirror_callback and the device page-table writes. It records each broken rule with the thread, the executor step and the
 * step's label; it changes nothing, so the run goes on until the step ends and the explorer's step
 * hook stops it (takePending).
 */

import type { Tracepoints } from '../core/trace.js';
import type { DevicePageTable, DevicePageTableTracepoints } from '../device/device_pagetable.js';
import type { DriverView } from '../drivers/driver.js';
import type { HmmMirror, HmmRange, HmmTracepoints } from '../hmm/seed/types.js';
import { currentOrNull } from '../sched/index.js';

/** What the checker needs to know about one driver instance: a narrow view of a driver. */
export type RulesDevice = Pick<DriverView, 'mirror' | 'pt' | 'updateLockHeld'> & {
  /** For messages, e.g. 'dev0'. */
  readonly name: string;
};

/** Which device page-table write broke the rule. */
type DevicePageTableWrite = 'store' | 'erase' | 'clear';

/** Checks that drivers follow the HMM API's rules (locks held, no use after unregister) as they run. */
export class RulesChecker {
  /** Every rule broken so far, in order, each with where it was broken. */
  readonly violations: string[] = [];
  private readonly byMirror = new Map<HmmMirror, RulesDevice>();
  private readonly byPt = new Map<DevicePageTable, RulesDevice>();
  /** The streams subscribed to (HMM's, the page tables'), and how to unsubscribe. */
  private readonly hmmStreams = new Set<Tracepoints<HmmTracepoints>>();
  private readonly ptStreams = new Set<Tracepoints<DevicePageTableTracepoints>>();
  private readonly unsubscribe: (() => void)[] = [];
  private pending: string | null = null;

  /**
   * Watch a driver instance: its range checks, its page-table writes and its callbacks, on the
   * streams its mirror's hmm and its page table emit to (each stream subscribed once).
   */
  watch(dev: RulesDevice): void {
    // A modern-API driver has no hmm_mirror: only its page-table writes are checked.
    if (dev.mirror !== undefined) {
      this.byMirror.set(dev.mirror, dev);
      const machine = dev.mirror.hmm?.machine ?? dev.mirror.machine;
      if (machine !== null) this.subscribeHmm(machine.trace);
    }
    this.byPt.set(dev.pt, dev);
    if (dev.pt.trace !== null) this.subscribePt(dev.pt.trace);
  }

  /** Unsubscribes from every stream (the checker sees nothing more). */
  detach(): void {
    for (const u of this.unsubscribe.splice(0)) u();
    this.hmmStreams.clear();
    this.ptStreams.clear();
  }

  private subscribeHmm(trace: Tracepoints<HmmTracepoints>): void {
    if (this.hmmStreams.has(trace)) return;
    this.hmmStreams.add(trace);
    this.unsubscribe.push(
      trace.subscribe('hmm_range_valid', (e) => this.rangeValid(e.range)),
      trace.subscribe('hmm_mirror_callback', (e) => this.mirrorCallback(e.mirror, e.callback)),
    );
  }

  private subscribePt(trace: Tracepoints<DevicePageTableTracepoints>): void {
    if (this.ptStreams.has(trace)) return;
    this.ptStreams.add(trace);
    this.unsubscribe.push(
      trace.subscribe('device_pt_store', (e) => this.ptWrite(e.pt, 'store', e.vpn)),
      trace.subscribe('device_pt_erase', (e) => this.ptWrite(e.pt, 'erase', e.vpn)),
      trace.subscribe('device_pt_clear', (e) => this.ptWrite(e.pt, 'clear', -1)),
    );
  }

  /** The first violation not yet taken, or null (the explorer's step hook). */
  takePending(): string | null {
    const p = this.pending;
    this.pending = null;
    return p;
  }

  /** Hook for hmm_range_valid(): the range must still be registered and the driver's update lock held. */
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

  /** Hook for a mirror callback: HMM must not call one after hmm_mirror_unregister(). */
  mirrorCallback(mirror: HmmMirror, callback: 'sync_cpu_device_pagetables' | 'release'): void {
    if (mirror.registered) return;
    const dev = this.byMirror.get(mirror);
    this.report(`${callback}() called for ${dev?.name ?? 'a mirror'} after hmm_mirror_unregister()`);
  }

  private ptWrite(pt: DevicePageTable, op: DevicePageTableWrite, vpn: number): void {
    const dev = this.byPt.get(pt);
    if (dev === undefined || currentOrNull() === null || dev.updateLockHeld()) return;
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
