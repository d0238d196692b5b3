/**
 * Policy decisions on the machine's trace: every migration a policy asks for, every prefetch,
 * eviction, throttle, pin and remote mapping is a `policy_decision` event with its reason, on the
 * simulator's stream (`sim.trace.subscribe('policy_decision', ...)`, core/trace.ts). The svm engine
 * emits them; CPU faults on device pages are recorded too ('migrate-back': the kernel moves those, a
 * policy only hears of it). `recordPolicyDecisions` keeps a run's events and `whyDidPageMove`
 * answers "why did page P move" from them.
 */

import { PAGE_SIZE } from '../core/addr.js';
import { ArgumentError } from '../core/errno.js';
import type { Tracepoints } from '../core/trace.js';

/** What a decision did. */
export type PolicyDecisionKind =
  | 'migrate' // the faulting pages, to device memory
  | 'prefetch' // pages a prefetcher added, to device memory
  | 'evict' // device pages moved back to make room
  | 'migrate-back' // a CPU fault moved a device page back (the kernel's, recorded for the story)
  | 'throttle' // a page's faults left unserviced for a nap
  | 'pin' // a thrashing page pinned where it is
  | 'remote' // a faulting page mapped where it is instead of migrated
  | 'map' // a whole range mirrored (a restore)
  | 'stall' // the device waited (a queue restore delay)
  | 'thrashing'; // a page detected thrashing

/** One policy decision, with why. */
export interface PolicyDecision {
  /** Device index (SimDevice.id). */
  readonly device: number;
  /** The deciding policy's name. */
  readonly policy: string;
  /** The device clock (µs). */
  readonly tUs: number;
  /** What was decided. */
  readonly kind: PolicyDecisionKind;
  /** The address range it concerns [start, end) (for 'evict': the lowest and past the highest victim). */
  readonly start: number;
  /** End of the range (exclusive). */
  readonly end: number;
  /** For 'evict': the virtual pages evicted (they need not be contiguous). */
  readonly vpns?: readonly number[];
  /** Why, in words. */
  readonly reason: string;
}

/** The tracepoints of the policy layer (part of the machine's SimTracepoints). */
export interface PolicyTracepoints {
  /** A policy decision and its reason. */
  policy_decision: PolicyDecision;
}

/** A subscription that keeps every decision; `stop()` unsubscribes. */
export interface PolicyRecording {
  /** The decisions so far, in order. */
  readonly events: PolicyDecision[];
  /** Stops recording. */
  stop(): void;
}

/** Records the `policy_decision` events of `trace` (a Simulator's `sim.trace`) from now on. */
export function recordPolicyDecisions(trace: Tracepoints<PolicyTracepoints>): PolicyRecording {
  const events: PolicyDecision[] = [];
  const stop = trace.subscribe('policy_decision', (e) => events.push(e));
  return { events, stop };
}

/** Whether decision `e` concerns the page at `vpn`. */
function touches(e: PolicyDecision, vpn: number): boolean {
  if (e.vpns !== undefined) return e.vpns.includes(vpn);
  return vpn * PAGE_SIZE >= e.start && vpn * PAGE_SIZE < e.end;
}

/**
 * The decisions of `events` (a recording) that concern the page holding `addr`, in order: each
 * move of the page and each decision not to move it, with its reason. Optionally for one device.
 */
export function whyDidPageMove(
  events: readonly PolicyDecision[],
  addr: number,
  device?: number,
): PolicyDecision[] {
  if (!Number.isSafeInteger(addr) || addr < 0)
    throw new ArgumentError('addr', `expected a non-negative address, got ${addr}`);
  const vpn = Math.floor(addr / PAGE_SIZE);
  return events.filter((e) => (device === undefined || e.device === device) && touches(e, vpn));
}
