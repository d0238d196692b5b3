/**
 * The data contract between `hmmsim demo` and its HTML report. The demo fills a `DemoReport` from
 * the simulated run (clock in simulated µs, never the wall clock); the report only renders it, so
 * the same run gives the same document byte for byte.
 */

import type { TimelineEvent, TimelineKind } from './events.js';

export interface DemoReport {
  /** The record's format (SCHEMA_VERSION, src/schema/version.ts); the demo fills it. */
  schema?: string;
  title: string; // e.g. "hmmsim demo: a linked list and a BST shared with a device"
  seed: number;
  ok: boolean; // every value read matched
  config: Record<string, string | number>; // sizes, policy, device memory pages, ...
  checks: { name: string; ok: boolean; detail: string }[];
  counters: Record<string, number>; // device + kernel counters (e.g. tlbHits, faults, migratedToDevice, cpuFaults, dmaBytes)
  costs: Record<string, number>; // simulated µs per cost term, including 'total'
  costModel: { profile: string; terms: { name: string; value: string; source: string }[] }; // the cost model's parameters and where they come from
  phases: { name: string; startUs: number; endUs: number }[]; // demo phases on the simulated clock (e.g. 'build', 'device walk 1', 'cpu update', 'device walk 2')
  timeline: TimelineEvent[]; // events on the simulated clock
  /** Events the cost model's trace did not keep (it keeps TRACE_EVENTS_MAX); `timelineBuckets` still counts them. */
  traceDropped?: number;
  /**
   * The whole run's events per time window, when the trace was cut: `widthUs` wide buckets from 0,
   * pages per kind per bucket. The timeline plots these instead of the events.
   */
  timelineBuckets?: { widthUs: number; events: number; pages: Partial<Record<TimelineKind, number[]>> };
  /** Things the reader should know before trusting the figures (e.g. a run that thrashes). */
  warnings?: string[];
  /** What each counter counts, by counter name (kept beside the counters' definitions). */
  counterDescriptions?: Record<string, string>;
  /** The hmmsim version and the command line that reproduce the run (the CLI fills these). */
  producer?: { version: string; command: string };
  residency: {
    phase: string;
    region: string;
    devicePages: number;
    systemPages: number;
    unmappedPages: number;
  }[]; // per region (e.g. 'list nodes', 'tree nodes') at the end of each phase
}
