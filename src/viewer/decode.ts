/**
 * Reading a ViewerRun back: the delta-coded columns undone, and the page states at any step by a
 * cursor over the change tables. Shared by the viewer's page (its browser bundle imports this file)
 * and by the tests and tools that read records in Node; no DOM, no simulator code.
 */

import type { ViewerChanges } from '../schema/viewer.js';

/** Undoes a delta-coded column: entry i becomes the sum of entries 0..i. */
export function undelta(col: readonly number[]): Float64Array {
  const out = new Float64Array(col.length);
  let v = 0;
  for (let i = 0; i < col.length; i++) {
    v = i === 0 ? (col[0] as number) : v + (col[i] as number);
    out[i] = v;
  }
  return out;
}

/** The index of the first entry of the sorted `a` greater than `x` (a.length if none). */
export function upperBound(a: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((a[mid] as number) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Changes between two saved copies of the cursor's tables. */
const CHECKPOINT_EVERY = 8192;

interface Checkpoint {
  applied: number;
  state: Uint8Array;
  pfn: Float64Array;
  change: Int32Array;
}

/**
 * The state of every (device, page) cell of one change table at a chosen step. Seeking forward
 * applies the changes in between; seeking back restarts from the nearest saved copy (one every
 * CHECKPOINT_EVERY changes), so any seek costs at most that many changes plus the distance.
 */
export class StateCursor {
  /** Each cell's state code (cell = dev * pages + page). */
  readonly state: Uint8Array;
  /** Each cell's pfn (-1 for none). */
  readonly pfn: Float64Array;
  /** The change that set each cell (-1: none yet), for its page info. */
  readonly change: Int32Array;
  private readonly steps: Float64Array;
  private readonly checkpoints: Checkpoint[] = [];
  private applied = 0;

  constructor(
    private readonly changes: ViewerChanges,
    /** Pages per device (the record's pages.length). */
    readonly pages: number,
    private readonly devices: number,
  ) {
    const cells = pages * Math.max(1, devices);
    this.state = new Uint8Array(cells);
    this.pfn = new Float64Array(cells).fill(-1);
    this.change = new Int32Array(cells).fill(-1);
    this.steps = undelta(changes.step);
    this.save();
  }

  /** The cell of `page` on device `dev` (0 for the CPU's table, built with `devices` 0: its dev column names a device-private page's device). */
  cell(dev: number, page: number): number {
    return dev * this.pages + page;
  }

  /** Sets every cell to its state after event `step` (-1: the initial state). */
  seek(step: number): void {
    const target = upperBound(this.steps, step);
    if (target < this.applied) this.restore(target);
    const c = this.changes;
    for (let i = this.applied; i < target; i++) {
      const dev = this.devices === 0 || c.dev === undefined ? 0 : (c.dev[i] as number);
      const cell = this.cell(dev, c.page[i] as number);
      this.state[cell] = c.state[i] as number;
      this.pfn[cell] = c.pfn[i] as number;
      this.change[cell] = i;
      this.applied = i + 1;
      if (this.applied % CHECKPOINT_EVERY === 0) this.save();
    }
  }

  private save(): void {
    const n = this.applied / CHECKPOINT_EVERY;
    if (this.checkpoints[n] !== undefined) return;
    this.checkpoints[n] = {
      applied: this.applied,
      state: this.state.slice(),
      pfn: this.pfn.slice(),
      change: this.change.slice(),
    };
  }

  private restore(target: number): void {
    const cp = this.checkpoints[Math.floor(target / CHECKPOINT_EVERY)] as Checkpoint;
    this.state.set(cp.state);
    this.pfn.set(cp.pfn);
    this.change.set(cp.change);
    this.applied = cp.applied;
  }
}
