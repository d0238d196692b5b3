/**
 * The page's model of a record: the columns decoded once, the state cursors, and what is live at a
 * step (the VMA lanes, the counters' sample). Pure data: the views draw from it.
 */

import type { ViewerRun } from '../../schema/viewer.js';
import { StateCursor, undelta, upperBound } from '../decode.js';

const MM_STRIDE = 2 ** 36;

/** One lane of the map: a VMA (or the pages outside every VMA) and the page indexes it shows. */
export interface Lane {
  /** The lane's label. */
  label: string;
  /** Page indexes (into run.pages), ascending. */
  pages: number[];
}

/** The record decoded for the views. */
export class Model {
  readonly n: number;
  readonly time: Float64Array;
  readonly cpu: StateCursor;
  readonly dev: StateCursor;
  readonly tlb: StateCursor;
  readonly counterSteps: Float64Array;
  /** Counters that are not 0 in every sample. */
  readonly counters: number[];
  private readonly keys: Float64Array;
  private readonly vmaFrom: number[];
  private readonly vmaTo: number[];
  private step = -2;

  constructor(readonly run: ViewerRun) {
    this.n = run.events.kind.length;
    this.time = undelta(run.events.time);
    const pages = run.pages.length;
    const devs = run.devices.length;
    this.cpu = new StateCursor(run.cpu, pages, 0);
    this.dev = new StateCursor(run.device, pages, devs);
    this.tlb = new StateCursor(run.tlb, pages, devs);
    this.counterSteps = undelta(run.counters.step);
    const values = run.counters.values;
    this.counters = run.counters.names.flatMap((_, k) => (values.some((row) => row[k] !== 0) ? [k] : []));
    this.keys = Float64Array.from(run.pages, (vpn, i) => (run.pageMm[i] as number) * MM_STRIDE + vpn);
    this.vmaFrom = run.vmas.from;
    this.vmaTo = run.vmas.to;
  }

  /** Every table at event `step` (-1: before the first). */
  seek(step: number): void {
    if (step === this.step) return;
    this.step = step;
    this.cpu.seek(step);
    this.dev.seek(step);
    this.tlb.seek(step);
  }

  /** The map's lanes at the current step: each live VMA, then the pages outside them that map something. */
  lanes(): Lane[] {
    const s = this.step;
    const v = this.run.vmas;
    const out: Lane[] = [];
    const covered = new Uint8Array(this.run.pages.length);
    for (let i = 0; i < v.start.length; i++) {
      const to = this.vmaTo[i] as number;
      if ((this.vmaFrom[i] as number) > s || (to !== -1 && s >= to)) continue;
      const base = (v.mm[i] as number) * MM_STRIDE;
      const lo = upperBound(this.keys, base + (v.start[i] as number) - 1);
      const hi = upperBound(this.keys, base + (v.end[i] as number) - 1);
      const pages: number[] = [];
      for (let p = lo; p < hi; p++) {
        pages.push(p);
        covered[p] = 1;
      }
      const prot = this.run.strings[v.prot[i] as number];
      out.push({
        label: `${hex((v.start[i] as number) * 4096)} ${prot} (${pages.length} of ${(v.end[i] as number) - (v.start[i] as number)} pages)`,
        pages,
      });
    }
    const rest: number[] = [];
    for (let p = 0; p < covered.length; p++) if (covered[p] === 0 && this.mapsAnything(p)) rest.push(p);
    if (rest.length > 0) out.push({ label: 'outside every VMA', pages: rest });
    return out;
  }

  private mapsAnything(p: number): boolean {
    if (this.cpu.state[p] !== 0) return true;
    for (let d = 0; d < this.run.devices.length; d++) {
      if (this.dev.state[this.dev.cell(d, p)] !== 0 || this.tlb.state[this.tlb.cell(d, p)] !== 0) return true;
    }
    return false;
  }

  /** The index of the counters' sample in force at the current step (-1: none yet). */
  sample(): number {
    return upperBound(this.counterSteps, this.step) - 1;
  }

  /** The current step. */
  get at(): number {
    return this.step;
  }

  /** Label string of event i. */
  label(i: number): string {
    return this.run.strings[this.run.events.label[i] as number] ?? '';
  }

  /** Kind name of event i. */
  kind(i: number): string {
    return this.run.legend.events[this.run.events.kind[i] as number] ?? 'step';
  }

  /** Thread name of event i ('machine' for none). */
  thread(i: number): string {
    return this.run.threads[this.run.events.thread[i] as number] ?? 'machine';
  }
}

/** An address in hex. */
export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** Sizes a canvas for `cssW` x `cssH` CSS pixels at the screen's pixel ratio; its cleared 2D context. */
export function prepareCanvas(
  canvas: HTMLCanvasElement,
  cssW: number,
  cssH: number,
): CanvasRenderingContext2D {
  const dpr = window.devicePixelRatio || 1;
  canvas.style.height = `${cssH}px`;
  canvas.width = Math.round(cssW * dpr);
  canvas.height = Math.round(cssH * dpr);
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, cssW, cssH);
  ctx.font = '11px system-ui, sans-serif';
  ctx.textBaseline = 'middle';
  return ctx;
}
