/**
 * The event log: what happened, in order, with a running hash.
 *
 * The hash (FNV-1a, 32-bit, over every event's text) is what determinism tests compare: the same
 * seed must give the same hash, byte for byte. Keeping the text of events is optional and bounded,
 * because exploration runs millions of steps and only needs the hash.
 */

/** FNV-1a's offset basis: where a hash starts (fnv1a's `h` for a fresh one). */
export const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** One event as the log keeps it. */
export interface LogEvent {
  /** Its position in the run, from 1. */
  readonly seq: number;
  /** Virtual time (ns) when it happened. */
  readonly time: number;
  /** The simulated thread that caused it. */
  readonly thread: string;
  /** What happened, in words; the hash covers it and `thread`. */
  readonly text: string;
}

/** A run's events, in order, with the running hash that determinism tests compare. */
export class EventLog {
  private h = FNV_OFFSET;
  private n = 0;
  private readonly kept: LogEvent[] = [];
  /** How many events to keep as text (0 = hash only). */
  keepMax: number;
  /** Told every event as it is recorded (the viewer's recorder); null, and free, when nobody listens. */
  tap: ((time: number, thread: string, text: string) => void) | null = null;

  constructor(keepMax = 0) {
    this.keepMax = keepMax;
  }

  /** Appends an event: always hashed, kept as text only while fewer than `keepMax` are kept. */
  record(time: number, thread: string, text: string): void {
    this.n++;
    this.h = fnv1a(this.h, thread);
    this.h = fnv1a(this.h, text);
    if (this.kept.length < this.keepMax) this.kept.push({ seq: this.n, time, thread, text });
    if (this.tap !== null) this.tap(time, thread, text);
  }

  /** How many events were recorded, kept or not. */
  get count(): number {
    return this.n;
  }

  /** 8 hex digits. */
  hash(): string {
    return (this.h >>> 0).toString(16).padStart(8, '0');
  }

  /** The events kept as text, oldest first. */
  events(): readonly LogEvent[] {
    return this.kept;
  }
}

/** FNV-1a (32-bit) of `s`'s UTF-16 code units, continuing from hash `h`. */
export function fnv1a(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  h ^= 0x2c;
  return Math.imul(h, FNV_PRIME) >>> 0;
}
