/**
 * The event log: what happened, in order, with a running hash.
 *
 * The hash (FNV-1a, 32-bit, over every event's text) is what determinism tests compare: the same
 * seed must give the same hash, byte for byte. Keeping the text of events is optional and bounded,
 * because exploration runs millions of steps and only needs the hash.
 */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

export interface LogEvent {
  readonly seq: number;
  readonly time: number;
  readonly thread: string;
  readonly text: string;
}

export class EventLog {
  private h = FNV_OFFSET;
  private n = 0;
  private readonly kept: LogEvent[] = [];
  /** How many events to keep as text (0 = hash only). */
  keepMax: number;

  constructor(keepMax = 0) {
    this.keepMax = keepMax;
  }

  record(time: number, thread: string, text: string): void {
    this.n++;
    this.h = fnv1a(this.h, thread);
    this.h = fnv1a(this.h, text);
    if (this.kept.length < this.keepMax) this.kept.push({ seq: this.n, time, thread, text });
  }

  get count(): number {
    return this.n;
  }

  /** 8 hex digits. */
  hash(): string {
    return (this.h >>> 0).toString(16).padStart(8, '0');
  }

  events(): readonly LogEvent[] {
    return this.kept;
  }
}

export function fnv1a(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  h ^= 0x2c;
  return Math.imul(h, FNV_PRIME) >>> 0;
}
