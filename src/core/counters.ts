/**
 * Named event counters, incremented at one call site each (v86's profiler::stat_increment).
 * A Counters object is a plain record so it prints, diffs and serialises as JSON directly.
 */

export type CounterName = string;

/** The kernel's event counters for one machine (faults, migrations, invalidations), by name. */
export class Counters {
  private readonly values = new Map<CounterName, number>();

  /** Adds `by` to counter `name` (creating it at 0). */
  inc(name: CounterName, by = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + by);
  }

  /** The counter's value; 0 if it was never incremented. */
  get(name: CounterName): number {
    return this.values.get(name) ?? 0;
  }

  /** Sets every counter back to zero, e.g. between the phases of a benchmark. */
  reset(): void {
    this.values.clear();
  }

  /** Sorted by name, so output is stable. */
  toJSON(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const k of [...this.values.keys()].sort()) out[k] = this.values.get(k) as number;
    return out;
  }
}
