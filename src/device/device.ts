/**
 * A simulated device: its memory (a ZONE_DEVICE region the driver hot-plugs through hmm_devmem),
 * its DMA engine, the cost clock and the counters. The device page table, TLB and replayable-fault
 * buffer belong to each driver context (one per open file, as in dmirror: one address space each),
 * so they live with the driver, behind a DeviceMmu (mmu.ts).
 */

import type { HostArrays } from '../core/host_arrays.js';
import type { PhysMem } from '../mm/page_alloc.js';
import { COST_PROFILE_DEFAULT, CostModel } from './cost.js';
import { DmaEngine } from './dma.js';

/** What the device and its driver did; every field only grows. */
export interface DeviceCounters {
  /** Device accesses served by the TLB, and those that walked the device page table. */
  tlbHits: number;
  /** Device accesses that missed the TLB and walked the device page table. */
  tlbMisses: number;
  /** TLB range invalidations and whole flushes. */
  tlbInvalidations: number;
  /** Whole-TLB flushes. */
  tlbFlushes: number;
  /** Replayable faults raised (fault-buffer entries), serviced in batches, then replayed. */
  faults: number;
  /** Fault-buffer batches the driver serviced. */
  faultBatches: number;
  /** Entries for a page another entry of the same batch already asked for. */
  faultsDuplicate: number;
  /** Replays issued after a batch was serviced. */
  replays: number;
  /** Accesses retried after a replay. */
  retries: number;
  /** Faults the driver could not service: the kernel was killed. */
  faultsFatal: number;
  /** Mirror invalidations (sync_cpu_device_pagetables calls) and the device entries they erased. */
  invalidations: number;
  /** Device page-table entries those invalidations erased. */
  invalidatedPages: number;
  /** Pages the device mapped through hmm_range_fault (device page-table stores). */
  pagesMirrored: number;
  /** Pages migrated to device memory, back to system memory (CPU faults, explicit), and evicted. */
  migratedToDevice: number;
  /** Pages migrated back to system memory (CPU faults or explicit). */
  migratedToRam: number;
  /** Pages evicted from device memory to make room. */
  evictedPages: number;
  /** Device faults whose migration block the driver shrank to fit device memory (policy.ts). */
  policyClamps: number;
  /** CPU faults on this device's private pages (each migrates the page back). */
  cpuFaults: number;
  /** DMA transfers between system and device memory. */
  dmaTransfers: number;
  /** Pages those transfers copied. */
  dmaPages: number;
  /** Bytes those transfers copied. */
  dmaBytes: number;
  /** Device accesses (TLB hits and walks alike) to pages in system memory, mapped remotely. */
  remoteAccesses: number;
}

/**
 * One line per counter for reports, beside the interface so that a new counter without one does not
 * typecheck.
 */
export const DEVICE_COUNTER_DESCRIPTIONS: Readonly<Record<keyof DeviceCounters, string>> = {
  tlbHits: 'device accesses the TLB translated',
  tlbMisses: 'device accesses that walked the device page table',
  tlbInvalidations: 'TLB range invalidations',
  tlbFlushes: 'whole-TLB flushes',
  faults: 'replayable device faults raised (fault-buffer entries)',
  faultBatches: 'fault batches the driver serviced',
  faultsDuplicate: 'fault entries for a page already asked for in the same batch',
  replays: 'replays after a serviced batch',
  retries: 'device accesses retried after a replay',
  faultsFatal: 'faults the driver could not service (the kernel was killed)',
  invalidations: 'mirror invalidations (sync_cpu_device_pagetables calls)',
  invalidatedPages: 'device page-table entries those invalidations erased',
  pagesMirrored: 'pages mapped in the device page table through hmm_range_fault',
  migratedToDevice: 'pages migrated to device memory',
  migratedToRam: 'pages migrated back to system memory (CPU faults, eviction, explicit)',
  evictedPages: 'of those, pages evicted to make room in device memory',
  policyClamps: 'device faults whose migration block was shrunk to fit device memory',
  cpuFaults: 'CPU faults on device-private pages (each migrates the page back)',
  dmaTransfers: 'DMA engine copies',
  dmaPages: 'pages the DMA engine copied',
  dmaBytes: 'bytes the DMA engine copied',
  remoteAccesses: 'device accesses to system memory mapped remotely (each crosses the link)',
};

/** A DeviceCounters with every field at 0. */
export function newDeviceCounters(): DeviceCounters {
  return {
    tlbHits: 0,
    tlbMisses: 0,
    tlbInvalidations: 0,
    tlbFlushes: 0,
    faults: 0,
    faultBatches: 0,
    faultsDuplicate: 0,
    replays: 0,
    retries: 0,
    faultsFatal: 0,
    invalidations: 0,
    invalidatedPages: 0,
    pagesMirrored: 0,
    migratedToDevice: 0,
    migratedToRam: 0,
    evictedPages: 0,
    policyClamps: 0,
    cpuFaults: 0,
    dmaTransfers: 0,
    dmaPages: 0,
    dmaBytes: 0,
    remoteAccesses: 0,
  };
}

/** Options for a SimDevice. */
export interface SimDeviceOptions {
  /** Cost profile name (cost.ts COST_PROFILES). */
  costProfile?: string;
}

/** One simulated GPU: its memory size, DMA engine, cost clock and counters (see the file comment). */
export class SimDevice {
  /** Index of the device in its Simulator, 0-based. */
  readonly id: number;
  /** hmm_dmirror<id>, the name test_hmm gives its character device. */
  readonly name: string;
  /** Device memory in pages. */
  readonly memoryPages: number;
  /** The device's simulated clock and cost terms. */
  readonly cost: CostModel;
  /** What the device and its driver did so far. */
  readonly counters: DeviceCounters = newDeviceCounters();
  /** Copies pages between RAM and device memory, charging `cost`. */
  readonly dma: DmaEngine;
  /** Pfns up to this one are system memory (the zero page and RAM); device memory lies above. */
  readonly sysmemPfnMax: number;
  /** The machine's bookkeeping arrays (PhysMem.arrays), which the device's TLBs take theirs from. */
  readonly arrays: HostArrays;

  constructor(id: number, memoryPages: number, mem: PhysMem, opts: SimDeviceOptions = {}) {
    this.id = id;
    this.name = `hmm_dmirror${id}`;
    this.memoryPages = memoryPages;
    this.cost = new CostModel(opts.costProfile ?? COST_PROFILE_DEFAULT);
    this.dma = new DmaEngine(mem, this.cost, this.counters);
    this.sysmemPfnMax = mem.ramPages;
    this.arrays = mem.arrays;
  }
}
