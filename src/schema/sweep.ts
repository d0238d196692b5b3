/**
 * The record of `hmmsim sweep` (docs/policies.md, "Sweeps"): the sweep's settings and one point per
 * configuration (policy x oversubscription), every figure on the simulated clock or a counter, so
 * the same sweep gives the same bytes, sharded or not and whatever `--jobs`. Types and the version
 * string only, like the demo's run record.
 */

/** The sweep record's format; bump it when a field changes meaning or unit or is added or removed. */
export const SWEEP_SCHEMA_VERSION = 'hmmsim-sweep/1';

/** What was swept: everything that decides the points. */
export interface SweepSettings {
  /** A generator's name, or the trace file's base name. */
  workload: string;
  /** The trace's format and CRC-32 when the workload is a trace. */
  trace?: {
    /** The trace's format. */
    format: 'hmmsim' | 'nvbit';
    /** CRC-32 of its text, hex. */
    crc32: string;
  };
  /** Bytes of the workload's arrays (a trace's: its regions' pages). */
  footprintBytes: number;
  /** Footprint / device memory, each swept value. */
  oversubscription: number[];
  /** Migration policies as `parsePolicy` names them. */
  policies: string[];
  /** Cost profile (src/device/cost.ts). */
  costProfile: string;
  /** HMM API generation of the driver: 'seed' (v5.3 dmirror) or 'modern' (v6.19 test_hmm). */
  api: 'seed' | 'modern';
  /** Seed of the simulator and of the generators' inputs. */
  seed: number;
  /** The generator's iterations (1 for a trace: replayed once). */
  iterations: number;
  /** Device threads per launch (a trace's own threads otherwise). */
  threads: number;
  /** Configurations in the whole sweep: policies x oversubscription levels. */
  configurations: number;
}

/** One configuration's result. */
export interface SweepPoint {
  /** Its position in the whole sweep (policy-major, then oversubscription). */
  index: number;
  /** The policy name. */
  policy: string;
  /** The oversubscription level asked for. */
  oversubscription: number;
  /** Device memory in pages: footprint pages / oversubscription, rounded down. */
  devicePages: number;
  /** Simulated µs in all, and per cost term (src/device/cost.ts COST_TERMS). */
  simulatedUs: number;
  /** Simulated µs per cost term. */
  costs: Record<string, number>;
  /** Replayable device faults raised, and the batches that serviced them. */
  faults: number;
  /** Fault-buffer batches serviced. */
  faultBatches: number;
  /** Pages migrated to device memory, and back to system memory (CPU faults and evictions). */
  pagesToDevice: number;
  /** Pages migrated back to system memory. */
  pagesToHost: number;
  /** Bytes migrated to device memory (4 KiB per page). */
  bytesToDevice: number;
  /** Bytes migrated back to system memory. */
  bytesToHost: number;
  /** Pages evicted from device memory to make room. */
  evictedPages: number;
  /** CPU faults on device pages (CPU phases pulling pages back). */
  cpuFaults: number;
  /** Pages the policy's thrashing detector flagged (0 for a policy without one). */
  thrashingEvents: number;
  /** Prefetched pages later used / prefetched, or null when the policy prefetched nothing. */
  prefetchAccuracy: number | null;
  /** The policy's own counters (src/policy/stats.ts: prefetches, thrashing, throttles, pins, ...). */
  policyStats: Record<string, number>;
  /** Device counters as the run left them. */
  counters: Record<string, number>;
  /** Device-resident pages after each phase: [simulated µs, pages]. */
  residency: [number, number][];
}

/** A sweep's record, or one shard of it (`shard` set; `hmmsim sweep --merge` joins shards). */
export interface SweepRecord {
  /** SWEEP_SCHEMA_VERSION. */
  schema: string;
  /** What was swept. */
  settings: SweepSettings;
  /** This shard, `index` of `count` (0-based), when the record holds a slice. */
  shard?: {
    /** This slice, 0-based. */
    index: number;
    /** Slices in all. */
    count: number;
  };
  /** The points this record holds, by index. */
  points: SweepPoint[];
}
