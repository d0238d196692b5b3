/**
 * issue 15: no call allocates from an unchecked size. Arguments are checked before any output is
 * allocated, a page count is bounded by CALL_PAGES_MAX, and dmirror's bounce buffer fails with
 * -ENOMEM beyond it as its vmalloc does (lib/test_hmm.c, dmirror_bounce_init).
 */

import { describe, expect, it } from 'vitest';
import { CALL_PAGES_MAX, type DeviceKernelContext, Simulator, type Task } from '../../src/index.js';
import { ANON, badArg, caught, errCode, RW } from './helpers.js';

function machine() {
  const sim = new Simulator({ ramPages: 256, devices: [{ memoryPages: 64 }] });
  const p = sim.createProcess();
  const a = p.mmap(16 * 4096, RW, ANON);
  return { sim, p, a };
}

describe('api: bounded sizes', () => {
  it('the limit is 2^18 pages (1 GiB of data)', () => {
    expect(CALL_PAGES_MAX).toBe(2 ** 18);
  });

  it('pagemap and walkPtes check npages before allocating, and bound it', () => {
    const { p, a } = machine();
    for (const f of [p.pagemap.bind(p), p.walkPtes.bind(p)]) {
      for (const n of [-1, 0, 0.5, 2 ** 30, CALL_PAGES_MAX + 1, 2 ** 53, Number.NaN, 1n, '1'])
        expect(badArg(() => f(a, n as number))).toBe('npages');
      expect(badArg(() => f(2 ** 48 - 4096, 2))).toBe('npages');
      expect(f(a, CALL_PAGES_MAX).length).toBe(2 * CALL_PAGES_MAX);
    }
  });

  it('mincore checks length before allocating, and bounds it', () => {
    const { p, a } = machine();
    for (const n of [-1, 0.5, Number.NaN, 1n]) expect(badArg(() => p.mincore(a, n as number))).toBe('length');
    expect(badArg(() => p.mincore(a, (CALL_PAGES_MAX + 1) * 4096))).toBe('length');
    expect(errCode(() => p.mincore(a, CALL_PAGES_MAX * 4096))).toBe('ENOMEM');
    expect(Array.from(p.mincore(a, 2 * 4096))).toEqual([0, 0]);
  });

  it('p.read and f.pread check the length against the limit before allocating', () => {
    const { sim, p, a } = machine();
    expect(badArg(() => p.read(a, 2 ** 40))).toBe('length');
    expect(badArg(() => p.read(a, CALL_PAGES_MAX * 4096 + 1))).toBe('length');
    const f = sim.createFile(2 ** 40);
    expect(badArg(() => f.pread(2 ** 40, 0))).toBe('length');
    expect(f.pread(2 ** 40, 2 ** 40 - 3)).toEqual(new Uint8Array(3));
    const small = sim.createFile(4096);
    expect(small.pread(2 ** 40, 4094).length).toBe(2);
  });

  it('fd.read and fd.migrate fail the bounce allocation beyond the limit with ENOMEM', () => {
    const { sim, p, a } = machine();
    const fd = sim.openDevice(0, p);
    expect(errCode(() => fd.read(a, 1e9))).toBe('ENOMEM');
    expect(errCode(() => fd.read(a, CALL_PAGES_MAX + 1))).toBe('ENOMEM');
    const big = p.mmap((CALL_PAGES_MAX + 1) * 4096, RW, ANON);
    expect(errCode(() => fd.migrate(big, CALL_PAGES_MAX + 1))).toBe('ENOMEM');
    // At the limit the bounce buffer is allocated and the read-back meets the unpopulated pages.
    expect(errCode(() => fd.migrate(big, CALL_PAGES_MAX))).toBe('ENOENT');
    expect(fd.read(a, 2).cpages).toBe(2);
  });

  it('fd.snapshot bounds npages (the prot array is the caller’s) and works in 64-page batches', () => {
    const { sim, p, a } = machine();
    const fd = sim.openDevice(0, p);
    expect(badArg(() => fd.snapshot(a, 2 ** 33))).toBe('npages');
    expect(badArg(() => fd.snapshot(a, CALL_PAGES_MAX + 1))).toBe('npages');
    const r = fd.snapshot(a, 16);
    expect(r.cpages).toBe(16);
    expect(Array.from(r.prot)).toEqual(new Array(16).fill(0));
  });

  it("a device kernel's loadBytes checks its length before allocating", () => {
    const { sim, p, a } = machine();
    const fd = sim.openDevice(0, p);
    const load = (n: number) =>
      fd.launch(function* (ctx: DeviceKernelContext): Task<number> {
        return (yield* ctx.loadBytes(a, n)).length;
      });
    expect(badArg(() => load(2 ** 40))).toBe('length');
    expect(badArg(() => load(CALL_PAGES_MAX * 4096 + 1))).toBe('length');
    expect(load(3)).toEqual([3]);
  });

  it('tlbEntries is bounded (2^16) before the TLB arrays are allocated', () => {
    for (const t of [2 ** 40, 2 ** 16 + 8, 4, 12, -8, 0.5, Number.NaN])
      expect(badArg(() => new Simulator({ devices: [{ tlbEntries: t }] }))).toBe('tlbEntries');
    expect(new Simulator({ devices: [{ tlbEntries: 2 ** 16 }] }).deviceOptions[0]?.tlbEntries).toBe(2 ** 16);
    expect(String(caught(() => new Simulator({ devices: [{ tlbEntries: 2 ** 40 }] })))).toBe(
      "ArgumentError: invalid argument 'tlbEntries': expected a multiple of 8 in 8..65536, got 1099511627776",
    );
  });
});
