/**
 * Named event counters, incremented at one call site each (v86's profiler::stat_increment).
 * A Counters object is a plain record so it prints, diffs and serialises as JSON directly.
 */

export type CounterName = string;

export class Counters {
  private readonly values = new Map<CounterName, number>();

  inc(name: CounterName, by = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + by);
  }

  get(name: CounterName): number {
    return this.values.get(name) ?? 0;
  }

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
