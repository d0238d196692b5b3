/**
 * What every caller of a policy does with its answers, whichever driver and API serve it: put the
 * decision on the trace with its reason (trace.ts), count it (stats.ts), and tell the policy what
 * moved (its onMigrated / onCpuFault hooks, whose notes go on the trace too). The svm engine calls
 * these for device faults and evictions; the drivers' CPU-fault paths call `policyCpuFault`.
 */

import { PAGE_SIZE } from '../core/addr.js';
import type { Tracepoints } from '../core/trace.js';
import type { MigrationEvent, MigrationPolicy, MovedPage } from './policy.js';
import { policyStats, unusedPrefetches } from './stats.js';
import type { PolicyDecisionKind, PolicyTracepoints } from './trace.js';

/** Where a policy's decisions are reported: the machine's stream, the device and its clock. */
export interface DecisionSink {
  /** The machine's event stream (null: nobody can listen). */
  readonly trace: Tracepoints<PolicyTracepoints> | null;
  /** The device's index. */
  readonly device: number;
  /** The device's clock (µs). */
  nowUs(): number;
}

/** Emits one decision of `policy` if anyone listens (a reason given as a function is built only then). */
export function emitDecision(
  sink: DecisionSink,
  policy: MigrationPolicy,
  kind: PolicyDecisionKind,
  start: number,
  end: number,
  reason: string | (() => string),
  vpns?: readonly number[],
): void {
  const t = sink.trace;
  if (t === null || !t.enabled) return;
  if (typeof reason === 'function') reason = reason();
  t.emit('policy_decision', {
    device: sink.device,
    policy: policy.name,
    tUs: sink.nowUs(),
    kind,
    start,
    end,
    reason,
    ...(vpns === undefined ? {} : { vpns }),
  });
}

/**
 * Pages moved: the policy hears of it (onMigrated) and its notes go on the trace; prefetched pages
 * join the watch for their first device access, pages leaving the device leave it.
 */
export function policyMigrated(sink: DecisionSink, policy: MigrationPolicy, ev: MigrationEvent): void {
  if (ev.pages.length === 0) return;
  const unused = unusedPrefetches(policy);
  if (ev.toDevice && ev.cause === 'prefetch') {
    policyStats(policy).prefetchedPages += ev.pages.length;
    for (const p of ev.pages) unused.add(p.vpn);
  } else if (ev.cause === 'access-counter') policyStats(policy).accessCounterPages += ev.pages.length;
  else if (!ev.toDevice && unused.size > 0) for (const p of ev.pages) unused.delete(p.vpn);
  const notes = policy.onMigrated?.(ev);
  if (notes === undefined) return;
  for (const n of notes) {
    if (n.kind === 'thrashing') policyStats(policy).thrashingEvents++;
    emitDecision(sink, policy, n.kind, n.addr, n.addr + PAGE_SIZE, n.reason);
  }
}

/**
 * A CPU fault on a device page of a file served by `policy` (the kernel migrates it back, the
 * driver's migrate_to_ram): on the trace, and told to the policy as a CPU fault and a migration.
 */
export function policyCpuFault(sink: DecisionSink, policy: MigrationPolicy, addr: number, pfn: number): void {
  const page = addr - (addr % PAGE_SIZE);
  emitDecision(
    sink,
    policy,
    'migrate-back',
    page,
    page + PAGE_SIZE,
    'CPU fault on a device page (migrate_to_ram)',
  );
  const nowUs = sink.nowUs();
  policy.onCpuFault?.({ addr: page, pfn, nowUs });
  policyMigrated(sink, policy, {
    toDevice: false,
    cause: 'cpu-fault',
    nowUs,
    pages: [{ vpn: page / PAGE_SIZE, pfn }],
  });
}

/**
 * The sink of a driver whose device page table traces on `trace` (the machine's stream, whose map
 * holds the policy tracepoints: SimTracepoints) for device `device`.
 */
export function policySink(
  trace: Tracepoints<object> | null,
  device: { readonly id: number; readonly cost: { readonly nowUs: number } },
): DecisionSink {
  return {
    trace: trace as Tracepoints<PolicyTracepoints> | null,
    device: device.id,
    nowUs: () => device.cost.nowUs,
  };
}

/**
 * A group of victims was evicted (`moved` pages moved): counted as a chunk if the policy chose the
 * group, and the pages that left (`stillThere(i)`: victim i did not) told to the policy.
 */
export function policyEvicted(
  sink: DecisionSink,
  policy: MigrationPolicy,
  victims: readonly MovedPage[],
  moved: number,
  chosen: boolean,
  stillThere: (i: number) => boolean,
): void {
  if (chosen && moved > 0) policyStats(policy).evictedChunks++;
  if (policy.onMigrated === undefined) return;
  const pages = victims.filter((_, i) => !stillThere(i)).map((v) => ({ vpn: v.vpn, pfn: v.pfn }));
  policyMigrated(sink, policy, { toDevice: false, cause: 'eviction', nowUs: sink.nowUs(), pages });
}

/** The eviction decision: the victims' pages and the span they lie in. */
export function emitEviction(
  sink: DecisionSink,
  policy: MigrationPolicy,
  victims: readonly { vpn: number }[],
  reason: string,
): void {
  let lo = Number.POSITIVE_INFINITY;
  let hi = -1;
  for (const v of victims) {
    lo = Math.min(lo, v.vpn);
    hi = Math.max(hi, v.vpn);
  }
  const vpns = victims.map((v) => v.vpn);
  emitDecision(sink, policy, 'evict', lo * PAGE_SIZE, (hi + 1) * PAGE_SIZE, reason, vpns);
}
