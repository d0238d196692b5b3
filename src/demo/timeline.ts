/**
 * The demo's timeline: the cost model's trace events as they come, kept one by one up to a limit,
 * and always bucketed per time window over the whole run, so a run of any length keeps its
 * aggregates (the trace alone stops at TRACE_EVENTS_MAX events and counts the rest as dropped).
 *
 * The run's length is not known until it ends, so the windows adapt: a fixed number of buckets
 * whose width doubles (neighbours merged) whenever an event falls past the last one. The result
 * depends only on the events, never on when they were drained.
 */

import { ArgumentError } from '../core/errno.js';
import { TRACE_EVENTS_MAX, type TraceEvent } from '../device/cost.js';
import type { DemoReport, TimelineKind } from '../schema/index.js';

/** Buckets over the run: a point per bucket is about a pixel of the report's plot. */
export const TIMELINE_BUCKETS = 512;

export class Timeline {
  readonly events: DemoReport['timeline'] = [];
  /** Events seen, kept or not. */
  seen = 0;
  private widthUs = 1;
  private readonly pages = new Map<TimelineKind, Float64Array>();

  constructor(private readonly eventsMax = TRACE_EVENTS_MAX) {
    if (!Number.isSafeInteger(eventsMax) || eventsMax < 0)
      throw new ArgumentError('timelineEventsMax', `expected a non-negative integer, got ${eventsMax}`);
  }

  add(e: TraceEvent): void {
    this.seen++;
    if (this.events.length < this.eventsMax) this.events.push({ tUs: e.tUs, kind: e.kind, pages: e.pages });
    // The cost clock is finite and starts at 0; anything else would widen forever.
    if (!Number.isFinite(e.tUs) || e.tUs < 0) return;
    while (e.tUs >= this.widthUs * TIMELINE_BUCKETS) this.widen();
    let s = this.pages.get(e.kind);
    if (s === undefined) {
      s = new Float64Array(TIMELINE_BUCKETS);
      this.pages.set(e.kind, s);
    }
    const b = Math.floor(e.tUs / this.widthUs);
    s[b] = (s[b] as number) + e.pages;
  }

  /** Takes every event out of `trace` (the cost model's), so that it never fills up. */
  drain(trace: TraceEvent[]): void {
    for (const e of trace) this.add(e);
    trace.length = 0;
  }

  /** Whether some events were not kept one by one (the report then plots the buckets). */
  get cut(): boolean {
    return this.seen > this.events.length;
  }

  buckets(): NonNullable<DemoReport['timelineBuckets']> {
    const pages: Partial<Record<TimelineKind, number[]>> = {};
    for (const [kind, s] of this.pages) pages[kind] = [...s];
    return { widthUs: this.widthUs, events: this.seen, pages };
  }

  private widen(): void {
    for (const s of this.pages.values()) {
      for (let i = 0; i < TIMELINE_BUCKETS / 2; i++) s[i] = (s[2 * i] as number) + (s[2 * i + 1] as number);
      s.fill(0, TIMELINE_BUCKETS / 2);
    }
    this.widthUs *= 2;
  }
}
