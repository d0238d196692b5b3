/**
 * Tracepoints: one event stream per simulated machine, with any number of subscribers. Code that
 * wants to be observed emits named events (named after the kernel's tracepoint or function where
 * one exists); checkers, the explorer's trace and tools subscribe. Subscribers observe and never
 * steer: nothing reads a subscriber's return value, and the order in which they were installed
 * only decides the order in which they are told.
 *
 * Cost when nobody listens: `enabled` is one comparison of a counter, and emitters test it before
 * they build an event object (as a static key guards a kernel tracepoint).
 *
 * @see include/linux/tracepoint.h (Linux v5.3: DEFINE_TRACE, trace_*(), register_trace_*)
 */

import { ArgumentError } from './errno.js';

/** A subscriber of one tracepoint. */
export type Probe<T> = (event: T) => void;

/** `E` maps each tracepoint's name to its event type. */
export class Tracepoints<E extends object> {
  /** Subscribers over all tracepoints. */
  private count = 0;
  /** Each tracepoint's subscribers in subscription order; replaced, never mutated (emit may be running). */
  private readonly probes = new Map<PropertyKey, readonly Probe<never>[]>();

  /** True if anyone listens: emitters test it before building an event. */
  get enabled(): boolean {
    return this.count !== 0;
  }

  /** Calls `probe` with every later event of `name`; returns the function that unsubscribes it. */
  subscribe<K extends keyof E>(name: K, probe: Probe<E[K]>): () => void {
    if (typeof probe !== 'function')
      throw new ArgumentError('probe', `expected a function, got ${probe === null ? 'null' : typeof probe}`);
    const p = probe as Probe<never>;
    this.probes.set(name, [...(this.probes.get(name) ?? []), p]);
    this.count++;
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      const list = [...(this.probes.get(name) ?? [])];
      list.splice(list.indexOf(p), 1);
      this.probes.set(name, list);
      this.count--;
    };
  }

  /** Tells every subscriber of `name`, in subscription order. */
  emit<K extends keyof E>(name: K, event: E[K]): void {
    if (this.count === 0) return;
    const list = this.probes.get(name) as readonly Probe<E[K]>[] | undefined;
    if (list === undefined) return;
    for (const probe of list) probe(event);
  }
}
