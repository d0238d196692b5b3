/**
 * hmmsim's trace format (docs/policies.md, "Traces"): text, one access or byte range per line,
 *
 *   <time> <thread> <address> <size> <r|w>
 *
 * time a non-negative number (records replay in time order, ties in file order); thread a device
 * thread id (a non-negative integer) or `cpu`; address and size in decimal or 0x-hex; r a load, w a
 * store. `kernel <name>` starts a new kernel launch (device records before the first one belong to a
 * launch named `kernel`); a CPU record between device records also ends a launch. `#` starts a
 * comment; blank lines are skipped. Anything else is a TraceSyntaxError naming the line.
 */

import { parseUint, TRACE_ADDR_LIMIT, TRACE_SIZE_MAX, type TraceRecord, TraceSyntaxError } from './record.js';

/** Parses a trace in hmmsim's format (see the file comment). */
export function parseTrace(text: string): TraceRecord[] {
  const out: TraceRecord[] = [];
  let launch = 0;
  let kernel = 'kernel';
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const body = (lines[i] as string).replace(/#.*/, '').trim();
    if (body === '') continue;
    const f = body.split(/\s+/);
    if (f[0] === 'kernel') {
      if (f.length !== 2) throw new TraceSyntaxError(line, `expected 'kernel <name>', got '${body}'`);
      launch++;
      kernel = f[1] as string;
      continue;
    }
    out.push(parseRecord(line, f, body, launch, kernel));
  }
  return out;
}

function parseRecord(line: number, f: string[], body: string, launch: number, kernel: string): TraceRecord {
  if (f.length !== 5)
    throw new TraceSyntaxError(
      line,
      `expected '<time> <thread> <address> <size> <r|w>', got '${clip(body)}'`,
    );
  const [timeText, threadText, addrText, sizeText, rw] = f as [string, string, string, string, string];
  const time = Number(timeText);
  if (!/^\d+(\.\d+)?$/.test(timeText) || !Number.isFinite(time))
    throw new TraceSyntaxError(line, `time: expected a non-negative number, got '${clip(timeText)}'`);
  const id = threadText === 'cpu' ? 'cpu' : parseUint(threadText);
  if (id === null)
    throw new TraceSyntaxError(
      line,
      `thread: expected a non-negative integer or 'cpu', got '${clip(threadText)}'`,
    );
  const addr = parseUint(addrText);
  if (addr === null || addr >= TRACE_ADDR_LIMIT)
    throw new TraceSyntaxError(line, `address: expected an integer below 2^47, got '${clip(addrText)}'`);
  const size = parseUint(sizeText);
  if (size === null || size < 1 || size > TRACE_SIZE_MAX || addr + size > TRACE_ADDR_LIMIT)
    throw new TraceSyntaxError(line, `size: expected 1..2^30 bytes within 2^47, got '${clip(sizeText)}'`);
  if (rw !== 'r' && rw !== 'w') throw new TraceSyntaxError(line, `expected 'r' or 'w', got '${clip(rw)}'`);
  return { line, time, thread: id, addr, size, write: rw === 'w', launch, kernel };
}

/** A field as an error message quotes it: at most 40 characters. */
export function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}
