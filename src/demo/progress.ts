/**
 * How far a demo run is, for progress bars: units of work (nodes built, visited or checked, keys
 * looked up) per phase, known up front from the sizes, so a bar can move within a phase. Device
 * passes count each node their kernels visit (the kernels' tick); the build counts tree nodes
 * inserted and nodes read back, the final check the nodes read back; the CPU update, short, counts
 * at its end.
 *
 * Host-side bookkeeping only: nothing here feeds back into the run, which stays deterministic.
 */

/** Ticks between two reports: often enough for a bar, rare enough to cost nothing. */
export const PROGRESS_EVERY = 1024;

export type ProgressSink = (done: number, total: number) => void;

export class DemoProgress {
  readonly total: number;
  private base = 0;
  private weight = 0;
  private done = 0;

  constructor(
    private readonly weights: readonly number[],
    private readonly sink: ProgressSink | undefined,
  ) {
    this.total = weights.reduce((a, b) => a + b, 0);
  }

  /** Phase `index` starts: everything before it is done. */
  startPhase(index: number): void {
    this.base = this.weights.slice(0, index).reduce((a, b) => a + b, 0);
    this.weight = this.weights[index] ?? 0;
    this.done = 0;
    this.sink?.(this.base, this.total);
  }

  /** One unit of the current phase; never runs past the phase's weight (estimates may be short). */
  readonly tick = (): void => {
    this.done++;
    if (this.done % PROGRESS_EVERY === 0)
      this.sink?.(this.base + Math.min(this.done, this.weight), this.total);
  };

  /** The run is over. */
  finish(): void {
    this.sink?.(this.total, this.total);
  }
}
