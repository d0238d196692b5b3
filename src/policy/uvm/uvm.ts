/**
 * The UVM policy: NVIDIA's nvidia-uvm driver's decisions on a device fault batch, on hmmsim's svm
 * engine. Per 2 MiB VA block (the aligned 2 MiB window clipped to the VMA, as uvm_hmm.c sizes HMM
 * blocks) the faulting pages first get a thrashing hint (thrashing.ts: throttled pages are left
 * unserviced until their nap ends, pages pinned in system memory are mapped remotely); the rest
 * migrate, with what the density prefetcher adds around them (prefetch.ts: 64 KiB big pages grown
 * into the largest subtree more than `threshold`% resident-or-faulted). Eviction takes whole 2 MiB
 * root chunks, least recently allocated first (pmm.ts). The batch itself (≤ 256 entries, duplicates
 * coalesced, one replay per batch) is the device's fault buffer and the engine's de-duplication
 * (uvm_perf_fault_batch_count = 256, BATCH_FLUSH replay; docs/policies.md).
 *
 * Access-counter migration (`access_counters=on`; off by default, as on x86 + PCIe): the device's
 * accesses to system memory it maps remotely are counted per region (access_counters.ts), and a
 * region that reaches the threshold migrates its accessed pages still in system memory, with the
 * reason "access counter: N accesses to [a, b)".
 *
 * @see kernel-open/nvidia-uvm/uvm_gpu_replayable_faults.c (service_fault_batch),
 *      uvm_va_block.c (uvm_va_block_service_locked), uvm_hmm.c (open-gpu-kernel-modules)
 */

import { hex, PAGE_SIZE } from '../../core/addr.js';
import type {
  FaultBatchInfo,
  MigrationEvent,
  MigrationPolicy,
  PlannedMigration,
  PolicyNote,
  PolicyPlan,
  PolicyRange,
  VictimChoice,
  VictimRequest,
} from '../policy.js';
import { type AccessCounterNotification, UvmAccessCounters } from './access_counters.js';
import { UVM_ROOT_CHUNK_PAGES, UvmRootChunks } from './pmm.js';
import { uvmPrefetch } from './prefetch.js';
import { type Processor, type ThrashingParams, UvmThrashing } from './thrashing.js';

/** A VA block: 2 MiB = 512 pages (UVM_VA_BLOCK_SIZE). */
export const UVM_VA_BLOCK_PAGES = 512;

/** The UVM policy's parameters (module parameters, by their short names in `uvm:...`). */
export interface UvmParams extends ThrashingParams {
  /** uvm_perf_prefetch_enable (1). */
  prefetch: boolean;
  /** uvm_perf_prefetch_threshold (51, 1..100). */
  threshold: number;
  /** uvm_perf_access_counter_migration_enable (off: x86 + PCIe has no ATS). */
  accessCounters: boolean;
  /** uvm_perf_access_counter_threshold (256, 1..65535). */
  acThreshold: number;
  /** Access counter granularity in bytes (2 MiB; 64K, 2M, 16M, 16G). */
  acGranularity: number;
}

/** The UVM policy object: a MigrationPolicy with its state open for tests. */
export interface UvmPolicy extends MigrationPolicy {
  /** Its parameters. */
  readonly params: Readonly<UvmParams>;
  /** The thrashing detector's state. */
  readonly thrashing: UvmThrashing;
  /** The root-chunk LRU. */
  readonly chunks: UvmRootChunks;
  /** The access counters, or null when access-counter migration is off. */
  readonly accessCounters: UvmAccessCounters | null;
}

/** One block's faults: its key (vpn / 512), its clipped page span, and faults by page index. */
interface BlockFaults {
  key: number;
  firstVpn: number;
  pages: number;
  faults: Map<number, boolean>;
}

/** The faults of a batch grouped by VA block (clipped to the faulting VMA); faults with no VMA drop. */
function byBlock(batch: FaultBatchInfo): BlockFaults[] {
  const out = new Map<string, BlockFaults>();
  for (const f of batch.faults) {
    const vma = batch.vma(f.addr);
    if (vma === null) continue;
    const vpn = f.addr / PAGE_SIZE;
    const key = Math.floor(vpn / UVM_VA_BLOCK_PAGES);
    const firstVpn = Math.max(key * UVM_VA_BLOCK_PAGES, vma.start / PAGE_SIZE);
    const endVpn = Math.min((key + 1) * UVM_VA_BLOCK_PAGES, vma.end / PAGE_SIZE);
    const id = `${key}:${firstVpn}`;
    let b = out.get(id);
    if (b === undefined) {
      b = { key, firstVpn, pages: endVpn - firstVpn, faults: new Map() };
      out.set(id, b);
    }
    b.faults.set(vpn - firstVpn, f.write);
  }
  return [...out.values()];
}

/** Runs of consecutive page indexes (ascending input). */
function runs(idx: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const i of idx) {
    const last = out[out.length - 1];
    if (last !== undefined && last[1] === i) last[1] = i + 1;
    else out.push([i, i + 1]);
  }
  return out;
}

/** Makes a UVM policy with `params` (defaults: the module parameters' defaults). */
export function uvmPolicy(name: string, params: UvmParams): UvmPolicy {
  const thrashing = new UvmThrashing(params);
  const chunks = new UvmRootChunks();
  const counters = params.accessCounters
    ? new UvmAccessCounters(params.acGranularity, params.acThreshold)
    : null;

  function planBlock(
    batch: FaultBatchInfo,
    b: BlockFaults,
    plan: Required<Omit<PolicyPlan, 'map' | 'stall'>>,
  ): void {
    const migrate = new Set<number>();
    const addr = (i: number): number => (b.firstVpn + i) * PAGE_SIZE;
    const offset = b.firstVpn - b.key * UVM_VA_BLOCK_PAGES;
    for (const i of [...b.faults.keys()].sort((x, y) => x - y)) {
      const h = thrashing.hint(b.key, i + offset, batch.nowUs, batch.resident(b.firstVpn + i));
      if (h.type === 'throttle')
        plan.throttle.push({
          addr: addr(i),
          untilUs: h.untilUs,
          reason: `page thrashing: throttled until ${Math.round(h.untilUs * 1000) / 1000} µs (throttling period ${h.throttlingCount})`,
        });
      else if (h.type === 'pin' && !h.local) {
        const reason = 'thrashing page pinned in system memory, mapped remotely';
        plan.pin.push({ addr: addr(i), remote: true, reason });
        plan.remote.push({ addr: addr(i), reason });
      } else {
        if (h.type === 'pin')
          plan.pin.push({ addr: addr(i), remote: false, reason: 'thrashing page pinned on the device' });
        migrate.add(i);
      }
    }
    const block: PolicyRange = { start: addr(0), end: addr(b.pages) };
    for (const [s, e] of runs([...migrate].sort((x, y) => x - y)))
      plan.migrate.push({
        start: addr(s),
        end: addr(e),
        addr: addr(s),
        cause: 'fault',
        reason: `faulted, VA block [${hex(block.start)}, ${hex(block.end)})`,
      });
    if (!params.prefetch || migrate.size === 0) return;
    plan.migrate.push(...prefetchPlan(batch, b, migrate));
  }

  function prefetchPlan(
    batch: FaultBatchInfo,
    b: BlockFaults,
    faulted: ReadonlySet<number>,
  ): PlannedMigration[] {
    const resident = new Set<number>();
    for (let i = 0; i < b.pages; i++) if (batch.resident(b.firstVpn + i)) resident.add(i);
    const offset = b.firstVpn - b.key * UVM_VA_BLOCK_PAGES;
    const thrash = new Set([...thrashing.thrashingPages(b.key)].map((i) => i - offset).filter((i) => i >= 0));
    const r = uvmPrefetch(
      { firstVpn: b.firstVpn, pages: b.pages, resident, faulted, thrashing: thrash },
      params.threshold,
    );
    const out: PlannedMigration[] = [];
    const addr = (i: number): number => (b.firstVpn + i) * PAGE_SIZE;
    for (const [s, e] of runs(r.pages.filter((i) => !resident.has(i)))) {
      const reg =
        r.regions.find((g) => s >= g.first && s < g.outer) ?? (r.regions[0] as (typeof r.regions)[number]);
      const pct = Math.floor((reg.count * 100) / reg.size);
      out.push({
        start: addr(s),
        end: addr(e),
        addr: addr(s),
        cause: 'prefetch',
        reason: `subtree [${hex(addr(reg.first))}, ${hex(addr(reg.outer))}) ${reg.count}/${reg.size} = ${pct}% resident or faulted > ${params.threshold}% (fault at ${hex(addr(reg.fault))})`,
      });
    }
    return out;
  }

  /** The pages of a notification to migrate: in a VMA, not on the device (stale), not thrashing. */
  function notified(batch: FaultBatchInfo, n: AccessCounterNotification): PlannedMigration[] {
    const take = n.vpns.filter((vpn) => {
      const key = Math.floor(vpn / UVM_VA_BLOCK_PAGES);
      return (
        !batch.resident(vpn) &&
        batch.vma(vpn * PAGE_SIZE) !== null &&
        !thrashing.thrashingPages(key).has(vpn - key * UVM_VA_BLOCK_PAGES)
      );
    });
    const reason = `access counter: ${n.count} accesses to [${hex(n.start)}, ${hex(n.end)})`;
    return runs(take).map(([s, e]) => ({
      start: s * PAGE_SIZE,
      end: e * PAGE_SIZE,
      addr: s * PAGE_SIZE,
      cause: 'access-counter' as const,
      reason,
    }));
  }

  const accessCounterHooks =
    counters === null
      ? {}
      : {
          onRemoteAccess: (vpn: number): boolean => counters.access(vpn),
          onAccessCounters: (batch: FaultBatchInfo): PolicyPlan => ({
            migrate: counters.take().flatMap((n) => notified(batch, n)),
          }),
        };

  return {
    name,
    params,
    thrashing,
    chunks,
    accessCounters: counters,
    ...accessCounterHooks,
    // Per-fault answer for callers that do not batch: the faulting 64 KiB big page.
    onDeviceFault: ({ addr }) => {
      const big = 16 * PAGE_SIZE;
      const start = Math.floor(addr / big) * big;
      return { start, end: start + big };
    },
    onFaultBatch(batch: FaultBatchInfo): PolicyPlan {
      const plan = { migrate: [], throttle: [], remote: [], pin: [] };
      for (const b of byBlock(batch)) planBlock(batch, b, plan);
      return plan;
    },
    chooseVictims: (req: VictimRequest): VictimChoice[] => chunks.choose(req),
    onMigrated(ev: MigrationEvent): readonly PolicyNote[] | undefined {
      if (ev.toDevice) for (const p of ev.pages) chunks.allocated(p.pfn, ev.nowUs);
      else for (const p of ev.pages) chunks.freed(p.pfn);
      if (ev.cause === 'eviction') return undefined;
      return thrashingEvents(thrashing, ev, ev.toDevice ? 'gpu' : 'cpu');
    },
  };
}

/** Feeds a migration to the thrashing detector, block by block; notes the pages detected thrashing. */
function thrashingEvents(t: UvmThrashing, ev: MigrationEvent, dst: Processor): PolicyNote[] {
  const byKey = new Map<number, number[]>();
  for (const p of ev.pages) {
    const key = Math.floor(p.vpn / UVM_VA_BLOCK_PAGES);
    const list = byKey.get(key) ?? [];
    list.push(p.vpn - key * UVM_VA_BLOCK_PAGES);
    byKey.set(key, list);
  }
  const notes: PolicyNote[] = [];
  for (const [key, idx] of byKey)
    for (const i of t.onMigration(key, idx, dst, ev.nowUs))
      notes.push({
        kind: 'thrashing',
        addr: (key * UVM_VA_BLOCK_PAGES + i) * PAGE_SIZE,
        reason: `${t.params.thrashingThreshold} migrations each within ${t.params.lapseUs} µs of the last`,
      });
  return notes;
}

/** Root chunk size, re-exported for docs and tests. */
export { UVM_ROOT_CHUNK_PAGES };
