/**
 * The events of a run's timeline: what the device's cost model records as it charges time
 * (src/device/cost.ts), what the demo keeps and buckets (src/demo/timeline.ts) and what the report
 * plots. One list, so a kind added by a producer is a type error in every consumer that misses it.
 */

export type TimelineKind =
  | 'device-fault' // a batch of replayable device faults serviced
  | 'migrate-to-device' // pages copied from system memory to device memory
  | 'migrate-to-ram' // pages copied back to system memory (a migration, or a CPU fault's)
  | 'eviction' // device pages copied back to system memory to make room
  | 'invalidation' // device mappings torn down by an mmu_notifier invalidation
  | 'cpu-fault'; // a CPU fault on a device-private page

/** One event on the simulated clock: when (µs since the run began), what, and how many pages. */
export interface TimelineEvent {
  /** When, in µs of simulated time since the run began. */
  tUs: number;
  /** What happened (see TimelineKind). */
  kind: TimelineKind;
  /** Pages the event concerned: pages copied, device entries erased, or pages faulted on. */
  pages: number;
}
