/**
 * The simulated cost of what the device and its driver did: a clock in microseconds that each
 * fault batch, DMA transfer, invalidation, CPU fault on a device page and device access to system
 * memory it maps remotely advances, and a trace of
 * those events on it. Every term and default is explained, with its source, in docs/costs.md (profile
 * "pcie4-a100"; "pcie3-v100" and "pcie5-h100" change the link bandwidth), with its source there.
 *
 * The model is serial: events are charged one after another on one timeline, with no overlap of
 * DMA and fault servicing, and device compute time (TLB hits, ALU work) is not charged. It ranks
 * policies by their memory-system overheads; it does not predict a kernel's run time.
 */

import { ArgumentError } from '../core/errno.js';
import type { TimelineEvent, TimelineKind } from '../schema/events.js';

/** The simulated times (µs) of one GPU and link generation, that turn counters into a cost estimate. */
export interface CostProfile {
  /** The profile's name, as `--cost-profile` and SimulatorOptions take it. */
  readonly name: string;
  /** GPU fault batch fixed service cost (fetch, sort, lock, replay). */
  readonly faultBatchUs: number;
  /** Marginal cost per fault inside a batch. */
  readonly perFaultUs: number;
  /** DMA transfer: fixed latency + bytes / bandwidth. */
  readonly dmaLatencyUs: number;
  /** DMA link bandwidth in GB/s. */
  readonly linkGBps: number;
  /** CPU-side migrate_vma bookkeeping: per 4 KiB page and per call. */
  readonly migratePerPageUs: number;
  /** migrate_vma bookkeeping per call. */
  readonly migratePerCallUs: number;
  /** GPU TLB invalidate, per invalidation that dropped device mappings. */
  readonly tlbInvalidateUs: number;
  /** CPU page fault on a device-private page (migrate_to_ram), before its DMA. */
  readonly cpuFaultUs: number;
  /** GPU page-table walk after a TLB miss. */
  readonly ptWalkUs: number;
  /**
   * A device access to a page in system memory (mapped remotely, zero-copy): the link's read round
   * trip, before its bytes cross the link in REMOTE_ACCESS_GRANULE-byte requests.
   */
  readonly remoteAccessUs: number;
}

/**
 * Bytes a remote access moves at least: a GPU reads system memory in 128-byte cache lines (one L2
 * line, the request size zero-copy reads coalesce to; docs/costs.md).
 */
export const REMOTE_ACCESS_GRANULE = 128;

const PCIE4_A100: CostProfile = {
  name: 'pcie4-a100',
  faultBatchUs: 20,
  perFaultUs: 0.5,
  dmaLatencyUs: 1.5,
  linkGBps: 25,
  migratePerPageUs: 0.25,
  migratePerCallUs: 2,
  tlbInvalidateUs: 3,
  cpuFaultUs: 5,
  ptWalkUs: 0.07,
  remoteAccessUs: 1,
};

/** The built-in cost profiles by name: pcie4-a100 (default), pcie3-v100, pcie5-h100. */
export const COST_PROFILES: Readonly<Record<string, CostProfile>> = {
  'pcie4-a100': PCIE4_A100,
  // The round trip is the root complex's and DRAM's more than the link generation's: 1 µs on each.
  'pcie3-v100': { ...PCIE4_A100, name: 'pcie3-v100', linkGBps: 12, remoteAccessUs: 1 },
  'pcie5-h100': { ...PCIE4_A100, name: 'pcie5-h100', linkGBps: 50, remoteAccessUs: 1 },
};

/** The cost profile used when none is named: a PCIe 4 link to an A100-class GPU (docs/costs.md). */
export const COST_PROFILE_DEFAULT = 'pcie4-a100';

/** The profile named `name`; ArgumentError naming costProfile otherwise. */
export function costProfile(name: string): CostProfile {
  const p = Object.hasOwn(COST_PROFILES, name) ? COST_PROFILES[name] : undefined;
  if (p === undefined)
    throw new ArgumentError(
      'costProfile',
      `expected one of ${Object.keys(COST_PROFILES).join(', ')}, got '${name}'`,
    );
  return p;
}

/**
 * Simulated µs as printed: to the nanosecond. The sums stay exact inside (they are what the clock
 * is); only what reaches a reader is rounded, so 23281.190479999965 prints as 23281.19.
 */
export function roundUs(us: number): number {
  return Math.round(us * 1000) / 1000;
}

/** Every term of a costs() record rounded with roundUs. */
export function roundCosts<K extends string>(costs: Readonly<Record<K, number>>): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const k of Object.keys(costs) as K[]) out[k] = roundUs(costs[k]);
  return out;
}

/** The model's parameters with their sources (docs/costs.md has the links), for reports. */
export function costModelTerms(p: CostProfile): {
  /** The parameter, as the report labels it. */
  name: string;
  /** Its value in `p`, with units. */
  value: string;
  /** Where the value comes from (measurement or paper). */
  source: string;
}[] {
  return [
    {
      name: 'fault batch',
      value: `${p.faultBatchUs} µs`,
      source: 'nvprof fault groups 9-29 µs (elalish/manifold#120); UVMSmart (ISCA 2019) 45 µs',
    },
    {
      name: 'per fault in a batch',
      value: `${p.perFaultUs} µs`,
      source: 'assumption: a 256-fault batch (UVM uvm_perf_fault_batch_count) ≈ 150 µs',
    },
    {
      name: 'DMA transfer',
      value: `${p.dmaLatencyUs} µs + bytes / ${p.linkGBps} GB/s`,
      source:
        'fits the UVMSmart curve within ~10 %; link BW from NVIDIA/nvbandwidth#42, #15, #24 and ZaidQureshi/bam#54',
    },
    {
      name: 'migrate_vma bookkeeping',
      value: `${p.migratePerPageUs} µs/page + ${p.migratePerCallUs} µs/call`,
      source: 'assumption, to calibrate (Allen & Ge, IPDPS 2021: host unmapping is significant)',
    },
    {
      name: 'GPU TLB invalidate',
      value: `${p.tlbInvalidateUs} µs`,
      source: 'batching rule from NVIDIA uvm_tlb_batch.h; cost an assumption',
    },
    {
      name: 'CPU fault on a device page',
      value: `${p.cpuFaultUs} µs + DMA`,
      source: 'assumption; nouveau/KFD migrate back synchronously',
    },
    {
      name: 'GPU page-table walk',
      value: `${p.ptWalkUs * 1000} ns`,
      source: 'UVMSmart config (100/66 cycles)',
    },
    {
      name: 'device access to system memory',
      value: `${p.remoteAccessUs} µs + ${REMOTE_ACCESS_GRANULE}-byte lines / ${p.linkGBps} GB/s`,
      source:
        'assumption from PCIe read round trips (Neugebauer et al., SIGCOMM 2018); 128 B lines (Min et al., EMOGI, VLDB 2021)',
    },
  ];
}

/** The run timeline's event kinds (src/schema/events.ts); `TraceKind` is the public API's name. */
export type TraceKind = TimelineKind;

/** One event of a run's timeline, as the report draws it; `TraceEvent` is the public API's name. */
export type TraceEvent = Readonly<TimelineEvent>;

/** Events kept in the trace; later ones are counted in `traceDropped` (a limit on everything). */
export const TRACE_EVENTS_MAX = 1 << 20;

/** Cost terms, in µs, in the order reports show them. */
export const COST_TERMS = [
  'faultService',
  'dma',
  'migrateBookkeeping',
  'tlbInvalidate',
  'cpuFault',
  'ptWalk',
  'remoteAccess',
] as const;
/** One of the COST_TERMS a CostModel keeps a µs total for. */
export type CostTerm = (typeof COST_TERMS)[number];

/** Each term's index in COST_TERMS (and in a CostModel's totals). */
const TERM_INDEX = Object.fromEntries(COST_TERMS.map((t, i) => [t, i])) as Record<CostTerm, number>;
const FAULT_SERVICE = TERM_INDEX.faultService;
const DMA = TERM_INDEX.dma;
const MIGRATE_BOOKKEEPING = TERM_INDEX.migrateBookkeeping;
const TLB_INVALIDATE = TERM_INDEX.tlbInvalidate;
const CPU_FAULT = TERM_INDEX.cpuFault;
const PT_WALK = TERM_INDEX.ptWalk;
const REMOTE_ACCESS = TERM_INDEX.remoteAccess;

/**
 * The simulated clock (µs) of one device and the per-term totals and trace of what advanced it (see the
 * file comment).
 */
export class CostModel {
  /** The GPU and link generation whose times are charged. */
  readonly profile: CostProfile;
  /** µs per term, by index in COST_TERMS (charged on every device access: no Map lookup). */
  private readonly terms = new Float64Array(COST_TERMS.length);
  private now = 0;
  /** Every charged event in time order, up to TRACE_EVENTS_MAX. */
  readonly trace: TraceEvent[] = [];
  /** Events past TRACE_EVENTS_MAX, counted instead of kept. */
  traceDropped = 0;

  constructor(profile: string = COST_PROFILE_DEFAULT) {
    this.profile = costProfile(profile);
  }

  /** The simulated clock, µs. */
  get nowUs(): number {
    return this.now;
  }

  /** Advances the clock by `us` microseconds and adds them to `term`'s total. */
  charge(term: CostTerm, us: number): void {
    this.add(TERM_INDEX[term], us);
  }

  private add(i: number, us: number): void {
    this.terms[i] = (this.terms[i] as number) + us;
    this.now += us;
  }

  /** Records an event at the current simulated time. */
  record(kind: TraceKind, pages: number): void {
    if (this.trace.length < TRACE_EVENTS_MAX) this.trace.push({ tUs: this.now, kind, pages });
    else this.traceDropped++;
  }

  /** Charges servicing one GPU fault batch of `faults` faults: the batch cost plus a per-fault cost. */
  faultBatch(faults: number): void {
    this.add(FAULT_SERVICE, this.profile.faultBatchUs + faults * this.profile.perFaultUs);
  }

  /** Charges one DMA of `bytes` over the link: its latency plus bytes at the link bandwidth. */
  dmaTransfer(bytes: number): void {
    this.add(DMA, this.profile.dmaLatencyUs + bytes / (this.profile.linkGBps * 1e3));
  }

  /** Charges the kernel bookkeeping of one migrate_vma call over `pages` pages. */
  migrateCall(pages: number): void {
    this.add(MIGRATE_BOOKKEEPING, this.profile.migratePerCallUs + pages * this.profile.migratePerPageUs);
  }

  /** Charges one device TLB invalidation (after an mmu notifier invalidation). */
  tlbInvalidate(): void {
    this.add(TLB_INVALIDATE, this.profile.tlbInvalidateUs);
  }

  /** Charges one CPU fault on a device-private page (the migrate-to-RAM path). */
  cpuFault(): void {
    this.add(CPU_FAULT, this.profile.cpuFaultUs);
  }

  /** Charges one device page-table walk after a TLB miss (DeviceMmu translation). */
  ptWalk(): void {
    this.add(PT_WALK, this.profile.ptWalkUs);
  }

  /**
   * Charges one device access of `bytes` to a page in system memory: the round trip plus its
   * 128-byte lines at the link bandwidth (a 1-byte load moves one line).
   */
  remoteAccess(bytes: number): void {
    const lines = Math.max(1, Math.ceil(bytes / REMOTE_ACCESS_GRANULE));
    this.add(
      REMOTE_ACCESS,
      this.profile.remoteAccessUs + (lines * REMOTE_ACCESS_GRANULE) / (this.profile.linkGBps * 1e3),
    );
  }

  /** µs per term, plus 'total'. */
  costs(): Record<CostTerm | 'total', number> {
    const out = { total: this.now } as Record<CostTerm | 'total', number>;
    for (let i = 0; i < COST_TERMS.length; i++) out[COST_TERMS[i] as CostTerm] = this.terms[i] as number;
    return out;
  }
}
