/**
 * The timeline: an event lane per thread (and one for the machine), the events around the scrubbed
 * one drawn as marks coloured by kind, the simulated clock at both ends. Only the events that fit
 * are drawn (a fixed width each), so a million events cost what a hundred do. A click seeks.
 */

import { EVENT_COLORS } from './colors.js';
import { type Model, prepareCanvas } from './model.js';

const GUTTER = 90;
const LANE = 18;
const MARK = 7;
const AXIS = 16;

/** The timeline view (see the file comment). */
export class TimelineView {
  private first = 0;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly model: Model,
    private readonly seek: (step: number) => void,
  ) {
    canvas.addEventListener('click', (e) => {
      if (e.offsetX < GUTTER) return;
      this.seek(Math.min(model.n - 1, this.first + Math.floor((e.offsetX - GUTTER) / MARK)));
    });
  }

  private lanes(): string[] {
    return [...this.model.run.threads, 'machine'];
  }

  /** Redraws around the model's current step. */
  render(): void {
    const m = this.model;
    const lanes = this.lanes();
    const cssW = this.canvas.clientWidth || 800;
    const cssH = AXIS + lanes.length * LANE;
    const ctx = prepareCanvas(this.canvas, cssW, cssH);
    const fit = Math.max(1, Math.floor((cssW - GUTTER) / MARK));
    const at = Math.max(0, m.at);
    this.first = Math.max(0, Math.min(at - Math.floor(fit / 2), m.n - fit));
    const last = Math.min(m.n, this.first + fit);
    lanes.forEach((name, i) => {
      ctx.fillStyle = i % 2 === 0 ? '#fafafa' : '#f2f2f2';
      ctx.fillRect(GUTTER, AXIS + i * LANE, cssW - GUTTER, LANE);
      ctx.fillStyle = '#333';
      ctx.fillText(name, 2, AXIS + i * LANE + LANE / 2);
    });
    const machine = lanes.length - 1;
    for (let e = this.first; e < last; e++) {
      const th = m.run.events.thread[e] as number;
      const lane = th < 0 ? machine : th;
      ctx.fillStyle = EVENT_COLORS[m.kind(e)] ?? '#000';
      ctx.fillRect(GUTTER + (e - this.first) * MARK, AXIS + lane * LANE + 3, MARK - 1, LANE - 6);
    }
    if (m.at >= 0) {
      const x = GUTTER + (m.at - this.first) * MARK + MARK / 2;
      ctx.fillStyle = '#d62728';
      ctx.fillRect(x - 1, AXIS, 2, cssH - AXIS);
    }
    ctx.fillStyle = '#333';
    const t0 = m.n > 0 ? (m.time[this.first] as number) : 0;
    const t1 = m.n > 0 ? (m.time[Math.max(this.first, last - 1)] as number) : 0;
    ctx.fillText(
      `events ${this.first}–${Math.max(this.first, last - 1)}   t = ${clockText(m.run, t0)} … ${clockText(m.run, t1)}`,
      GUTTER,
      AXIS / 2,
    );
  }
}

/** A time of the run: simulated ns as µs, or an explorer run's logical clock (its scheduler step). */
export function clockText(run: { clock?: 'ns' | 'steps' }, t: number): string {
  return run.clock === 'steps' ? `step ${t}` : us(t);
}

/** Simulated ns as µs. */
export function us(ns: number): string {
  return `${(ns / 1000).toFixed(3)} µs`;
}
