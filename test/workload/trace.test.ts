import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/core/errno.js';
import type { WorkloadPhase } from '../../src/workload/patterns/index.js';
import {
  parseNvbitTrace,
  parseTrace,
  TRACE_REGION_GAP,
  TraceSyntaxError,
  traceWorkload,
} from '../../src/workload/trace/index.js';

const code = (c: number) => `${c % 2 === 1 ? 'w' : 'r'}${Math.floor(c / 2)}`;

function show(ph: WorkloadPhase): string[][] {
  if (ph.kind === 'cpu') return [[...ph.accesses()].map(code)];
  return Array.from({ length: ph.threads }, (_, t) => [...ph.thread(t)].map(code));
}

function syntaxError(f: () => unknown): TraceSyntaxError {
  try {
    f();
  } catch (e) {
    if (e instanceof TraceSyntaxError) return e;
    throw e;
  }
  throw new Error('no error');
}

describe("hmmsim's trace format", () => {
  const text = [
    '# hmmsim trace',
    '',
    'kernel first',
    '0 0 0x10000 4 r   # thread 0 reads',
    '1 1 0x11000 8192 w',
    '2 cpu 65536 1 r',
    '3.5 0 0x10ffc 8 w',
  ].join('\n');

  it('reads records, kernels and comments', () => {
    const r = parseTrace(text);
    expect(r).toEqual([
      { line: 4, time: 0, thread: 0, addr: 0x10000, size: 4, write: false, launch: 1, kernel: 'first' },
      { line: 5, time: 1, thread: 1, addr: 0x11000, size: 8192, write: true, launch: 1, kernel: 'first' },
      { line: 6, time: 2, thread: 'cpu', addr: 65536, size: 1, write: false, launch: 1, kernel: 'first' },
      { line: 7, time: 3.5, thread: 0, addr: 0x10ffc, size: 8, write: true, launch: 1, kernel: 'first' },
    ]);
  });

  it('a bad line is one TraceSyntaxError naming its line', () => {
    const cases: [string, number, RegExp][] = [
      ['0 0 0x1000 4', 1, /line 1: expected '<time> <thread> <address> <size> <r\|w>'/],
      ['# ok\n0 0 0x1000 4 x', 2, /line 2: expected 'r' or 'w', got 'x'/],
      ['\n\n0 gpu 0x1000 4 r', 3, /line 3: thread: expected a non-negative integer or 'cpu'/],
      ['0 0 0x1000 4 r\n-1 0 0x1000 4 r', 2, /line 2: time: expected a non-negative number, got '-1'/],
      ['0 0 zz 4 r', 1, /line 1: address: expected an integer below 2\^47/],
      ['0 0 0x1000 0 r', 1, /line 1: size: expected 1\.\.2\^30/],
      ['kernel', 1, /line 1: expected 'kernel <name>'/],
    ];
    for (const [t, line, msg] of cases) {
      const e = syntaxError(() => parseTrace(t));
      expect(e.line).toBe(line);
      expect(e).toBeInstanceOf(ArgumentError);
      expect(e.message).toMatch(msg);
      expect(e.message).not.toContain('\n');
    }
  });

  it('replays as a workload: regions, launches split by the CPU, threads in order of appearance', () => {
    const w = traceWorkload('t', parseTrace(text));
    // Pages 0x10..0x12 are one region (0x10ffc + 8 crosses into 0x11).
    expect(w.arrays).toEqual([{ name: 'region0@0x10000', pages: 3 }]);
    const phases = [...w.phases()];
    expect(phases.map((p) => p.kind)).toEqual(['device', 'cpu', 'device']);
    expect(show(phases[0] as WorkloadPhase)).toEqual([['r0'], ['w1', 'w2']]);
    expect(show(phases[1] as WorkloadPhase)).toEqual([['r0']]);
    expect(show(phases[2] as WorkloadPhase)).toEqual([['w0', 'w1']]);
  });

  it('pages more than TRACE_REGION_GAP apart are separate regions; time orders the records', () => {
    const far = (1 + TRACE_REGION_GAP + 1) * 4096;
    const w = traceWorkload('t', parseTrace(`5 0 ${far} 1 r\n1 0 4096 1 w\n`), 2);
    expect(w.arrays.map((a) => a.pages)).toEqual([1, 1]);
    expect([...w.phases()].map(show)).toEqual([[['w0', 'r1']], [['w0', 'r1']]]);
  });

  it('an empty trace is an ArgumentError', () => {
    expect(() => traceWorkload('t', parseTrace('# nothing\n'))).toThrow(/'trace': has no accesses/);
  });
});

describe("NVBit mem_trace's output", () => {
  const lanes = (addrs: number[]) =>
    Array.from({ length: 32 }, (_, i) => `0x${(addrs[i] ?? 0).toString(16).padStart(16, '0')}`).join(' ');
  const text = [
    '------------- NVBit (NVidia Binary Instrumentation Tool v1.7) Loaded --------------',
    'MEMTRACE: CTX 0x00005581cbd9a4d0 - LAUNCH - Kernel pc 0x00007f2b0a000000 - Kernel name vecAdd(double*, double*, double*, int) - grid launch id 0 - grid size 2,1,1 - block size 64,1,1 - nregs 16 - shmem 0 - cuda stream id 0',
    `MEMTRACE: CTX 0x00005581cbd9a4d0 - grid_launch_id 0 - CTA 0,0,0 - warp 0 - LDG.E.64 - ${lanes([0x7f0000000000, 0x7f0000000008])}`,
    `MEMTRACE: CTX 0x00005581cbd9a4d0 - grid_launch_id 0 - CTA 1,0,0 - warp 1 - STG.E.64 - ${lanes([0x7f0000001000])}`,
    `MEMTRACE: CTX 0x00005581cbd9a4d0 - grid_launch_id 0 - CTA 0,0,0 - warp 0 - LDS.U.32 - ${lanes([0x100])}`,
    'result: ok',
    `CTA 0,0,0 - warp 0 - ATOM.E.ADD - ${lanes([0x7f0000002000])}`,
  ].join('\n');

  it('reads launches and warps; stores and atomics write; inactive lanes and shared memory are skipped', () => {
    const r = parseNvbitTrace(text);
    expect(
      r.map(({ line, thread, addr, size, write, launch, kernel }) => [
        line,
        thread,
        addr,
        size,
        write,
        launch,
        kernel,
      ]),
    ).toEqual([
      [3, 0, 0x7f0000000000, 8, false, 1, 'vecAdd(double*, double*, double*, int)'],
      [3, 0, 0x7f0000000008, 8, false, 1, 'vecAdd(double*, double*, double*, int)'],
      [4, 1, 0x7f0000001000, 8, true, 1, 'vecAdd(double*, double*, double*, int)'],
      [7, 0, 0x7f0000002000, 4, true, 1, 'vecAdd(double*, double*, double*, int)'],
    ]);
    const w = traceWorkload('nv', r);
    // Two lanes in one page are two accesses (the replay kernel skips the second: it would hit).
    expect([...w.phases()].map(show)).toEqual([[['r0', 'r0', 'w2'], ['w1']]]);
  });

  it('a MEMTRACE line that does not parse names its line', () => {
    const e = syntaxError(() => parseNvbitTrace(`${text}\nMEMTRACE: CTX 0x1 - grid_launch_id x - CTA 0,0,0`));
    expect(e.line).toBe(8);
    expect(e.message).toMatch(/^invalid argument 'trace': line 8: not a mem_trace access or launch line/);
    const bad = syntaxError(() => parseNvbitTrace(`CTA 0,0,0 - warp 0 - LDG.E - 0xffffffffffffffff`));
    expect(bad.message).toMatch(/line 1: address: expected a 0x-hex address below 2\^47/);
  });
});
