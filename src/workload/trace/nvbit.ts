/**
 * A reader for the output of NVBit's `mem_trace` tool (NVlabs/NVBit, tools/mem_trace/mem_trace.cu),
 * how researchers capture real GPU memory traces. The tool prints, for each kernel launch,
 *
 *   MEMTRACE: CTX 0x... - LAUNCH - Kernel pc 0x... - Kernel name <name> - grid launch id <n> - ...
 *
 * and for each executed memory instruction of a warp one line with the 32 lanes' addresses
 * (0x0000000000000000 for an inactive lane):
 *
 *   MEMTRACE: CTX 0x... - grid_launch_id <n> - CTA <x>,<y>,<z> - warp <w> - <opcode> - 0x... x32
 *
 * (NVBit 1.5's tool printed the same access line without the `MEMTRACE: CTX ... - grid_launch_id
 * <n> - ` prefix, starting at `CTA`; both are read). A warp (CTA and warp id) is one trace thread; a
 * store, atomic or reduction opcode (ST*, ATOM*, RED*) is a write; the access size comes from the
 * opcode's width suffix (.U8/.S8 1, .U16/.S16 2, .64 8, .128 16, else 4). Shared and local memory
 * instructions (LDS, STS, LDL, STL, LDSM) are skipped: their addresses are not in the process's
 * address space. Records are timed by line order. Lines the tool does not start with `MEMTRACE:` or
 * `CTA ` (its banner, the application's own output) are skipped; one that does and does not parse
 * is a TraceSyntaxError naming the line.
 */

import { clip } from './format.js';
import { parseUint, TRACE_ADDR_LIMIT, type TraceRecord, TraceSyntaxError } from './record.js';

const LAUNCH = /^MEMTRACE: CTX \S+ - LAUNCH - .*?Kernel name (.+?) - grid launch id (\d+)/;
const ACCESS =
  /^(?:MEMTRACE: CTX \S+ - grid_launch_id (\d+) - )?CTA (\d+),(\d+),(\d+) - warp (\d+) - (\S+) - ((?:\s*0x[0-9a-fA-F]+)+)\s*$/;
const LOCAL_OR_SHARED = /^(LDS|STS|LDL|STL|LDSM)(\.|$)/;

/** Parses mem_trace output (see the file comment). */
export function parseNvbitTrace(text: string): TraceRecord[] {
  const out: TraceRecord[] = [];
  const warps = new Map<string, number>();
  let launch = 0;
  let kernel = 'kernel';
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const s = (lines[i] as string).trim();
    if (!s.startsWith('MEMTRACE:') && !s.startsWith('CTA ')) continue;
    const l = LAUNCH.exec(s);
    if (l !== null) {
      kernel = l[1] as string;
      launch = Number(l[2]) + 1;
      continue;
    }
    if (/^MEMTRACE: CTX \S+,? Inspecting/.test(s)) continue; // the tool's verbose mode
    const m = ACCESS.exec(s);
    if (m === null) throw new TraceSyntaxError(line, `not a mem_trace access or launch line: '${clip(s)}'`);
    const opcode = m[6] as string;
    if (LOCAL_OR_SHARED.test(opcode)) continue;
    if (m[1] !== undefined) launch = Number(m[1]) + 1;
    const key = `${launch}/${m[2]},${m[3]},${m[4]}/${m[5]}`;
    let thread = warps.get(key);
    if (thread === undefined) {
      thread = warps.size;
      warps.set(key, thread);
    }
    const write = /^(ST|ATOM|RED)/.test(opcode);
    const size = opcodeSize(opcode);
    for (const a of (m[7] as string).trim().split(/\s+/)) {
      const addr = parseUint(a.toLowerCase());
      if (addr === null || addr >= TRACE_ADDR_LIMIT)
        throw new TraceSyntaxError(line, `address: expected a 0x-hex address below 2^47, got '${clip(a)}'`);
      if (addr !== 0) out.push({ line, time: line, thread, addr, size, write, launch, kernel });
    }
  }
  return out;
}

/** The bytes one lane of `opcode` accesses, from its width suffix. */
function opcodeSize(opcode: string): number {
  if (/\.128(\.|$)/.test(opcode)) return 16;
  if (/\.64(\.|$)/.test(opcode)) return 8;
  if (/\.[US]16(\.|$)/.test(opcode)) return 2;
  if (/\.[US]8(\.|$)/.test(opcode)) return 1;
  return 4;
}
