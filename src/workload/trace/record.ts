/**
 * A memory trace as records, whatever file it came from (format.ts for hmmsim's own format, nvbit.ts
 * for NVBit's mem_trace output), and the one error a malformed line gets.
 */

import { ArgumentError } from '../../core/errno.js';

/** Who made an access: a device thread (any non-negative id; warps, in NVBit's case) or the CPU. */
export type TraceThread = number | 'cpu';

/** One access (or byte range) of a trace. */
export interface TraceRecord {
  /** 1-based line of the file it came from. */
  readonly line: number;
  /** When it happened, in the trace's own unit; records replay in time order (ties: file order). */
  readonly time: number;
  /** The device thread (or warp) that made it, or 'cpu'. */
  readonly thread: TraceThread;
  /** First byte address. */
  readonly addr: number;
  /** Bytes from addr (at least 1); a range that crosses pages touches each of them. */
  readonly size: number;
  /** A store (or atomic) rather than a load. */
  readonly write: boolean;
  /** The kernel launch it belongs to: device records of one launch share it. */
  readonly launch: number;
  /** The kernel's name, when the trace gives it. */
  readonly kernel: string;
}

/** A trace line that is not what its format says: one line naming the line number. */
export class TraceSyntaxError extends ArgumentError {
  /** The 1-based line of the file. */
  readonly line: number;

  constructor(line: number, problem: string) {
    super('trace', `line ${line}: ${problem}`);
    this.name = 'TraceSyntaxError';
    this.line = line;
  }
}

/** Highest address a trace may name: the 47-bit user address space. */
export const TRACE_ADDR_LIMIT = 2 ** 47;
/** Largest byte range one record may name (1 GiB). */
export const TRACE_SIZE_MAX = 2 ** 30;

/** A non-negative integer in decimal or 0x-hex, or null. */
export function parseUint(text: string): number | null {
  if (/^0x[0-9a-f]+$/i.test(text) || /^\d+$/.test(text)) {
    const v = Number(text);
    return Number.isSafeInteger(v) ? v : null;
  }
  return null;
}
