/**
 * Helpers of the viewer's columnar record: interned labels, the event kinds in code order, how a
 * scheduling point's name is classed, and how a long run is sampled.
 */

import type { ViewerEventKind } from '../schema/viewer.js';

/** The record's event kinds in code order (the record's legend.events). */
export const EVENT_KINDS: readonly ViewerEventKind[] = [
  'step',
  'fault',
  'lock',
  'unlock',
  'migrate',
  'dma',
  'switch',
  'preempt',
  'invalidate-start',
  'invalidate-end',
  'mirror-callback',
  'range-valid',
  'device-store',
  'device-erase',
  'device-clear',
  'kernel',
  'violation',
  'interval-invalidate',
];

/** Strings by first appearance: `id` gives each distinct string its index. */
export class Interner {
  private readonly ids = new Map<string, number>();
  private readonly all: string[] = [];

  /** The index of `s`, added if new. */
  id(s: string): number {
    let i = this.ids.get(s);
    if (i === undefined) {
      i = this.all.length;
      this.ids.set(s, i);
      this.all.push(s);
    }
    return i;
  }

  /** Every string, by index. */
  list(): string[] {
    return [...this.all];
  }
}

/**
 * What kind of step a scheduling point's name describes: the sched primitives name their points
 * ('mutex_lock <name>', 'down_read <name>', 'spin_lock ...'), the fault paths and migrate_vma theirs.
 */
export function kindOfPoint(point: string): ViewerEventKind {
  if (/\b(unlock|up_read|up_write)\b/.test(point)) return 'unlock';
  if (/lock|down_read|down_write/.test(point)) return 'lock';
  if (/fault/.test(point)) return 'fault';
  if (/migrat/.test(point)) return 'migrate';
  if (/\bdma\b|copy/.test(point)) return 'dma';
  return 'step';
}

/** Events a viewer page keeps before it samples (a demo run has tens of thousands, a sweep millions). */
export const VIEWER_EVENTS_MAX = 1_000_000;

/** One event in `every` is kept when a run has more than `maxEvents` events. */
export function sampleEvents(events: number, maxEvents: number | undefined): { every: number } {
  if (maxEvents === undefined || events <= maxEvents) return { every: 1 };
  return { every: Math.ceil(events / maxEvents) };
}
