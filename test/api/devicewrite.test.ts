/**
 * issue 14: `fd.write(addr, bytes)` with a length that is not a whole number of pages was accepted
 * and the rest of the last page silently overwritten with zeros. HMM_DMIRROR_WRITE takes npages
 * and copies npages * PAGE_SIZE bytes from the caller's buffer (lib/test_hmm.c, dmirror_write):
 * there is no partial page. So `bytes` must be whole pages, at least one; anything else is an
 * ArgumentError naming `bytes`, in both forms, before the device touches anything.
 */

import { describe, expect, it } from 'vitest';
import { ArgumentError, EINVAL, Simulator } from '../../src/index.js';
import { ANON, badArg, caught, PG, RW } from './helpers.js';

function machine() {
  const sim = new Simulator({ ramPages: 256, devices: [{ memoryPages: 64 }] });
  const p = sim.createProcess();
  const a = p.mmap(4 * PG, RW, ANON);
  p.write(a, new Uint8Array(2 * PG).fill(0x11));
  const fd = sim.openDevice(0, p);
  return { sim, p, a, fd };
}

const MESSAGE = (n: number): string =>
  `invalid argument 'bytes': ${n} bytes is not a whole number of pages: HMM_DMIRROR_WRITE copies npages * 4096 bytes from the buffer (pad the last page)`;

describe('api: fd.write takes whole pages, as HMM_DMIRROR_WRITE does', () => {
  it('a short buffer (the old zero-padded tail) is an ArgumentError naming bytes; the page keeps its bytes', () => {
    const { sim, p, a, fd } = machine();
    for (const n of [3, PG - 1, PG + 1, 2 * PG - 1]) {
      const e = caught(() => fd.write(a, new Uint8Array(n).fill(0xee)));
      expect(e).toBeInstanceOf(ArgumentError);
      expect((e as ArgumentError).argument).toBe('bytes');
      expect((e as Error).message).toBe(MESSAGE(n));
    }
    expect(Array.from(p.read(a, 4))).toEqual([0x11, 0x11, 0x11, 0x11]);
    expect(p.read(a + PG - 1, 2)).toEqual(new Uint8Array([0x11, 0x11]));
    expect(sim.deviceCounters(0).faults).toBe(0);
    expect(fd.dmirror.pt.pfnOf(a / PG)).toBe(-1); // not even faulted in
  });

  it('an empty buffer names bytes (it used to name npages, which write has not)', () => {
    const { a, fd } = machine();
    expect((caught(() => fd.write(a, new Uint8Array(0))) as Error).message).toBe(MESSAGE(0));
  });

  it('whole pages are written, every byte of them', () => {
    const { p, a, fd } = machine();
    const two = new Uint8Array(2 * PG);
    two.fill(0x22, 0, PG).fill(0x33, PG);
    expect(fd.write(a, two)).toEqual({ cpages: 2, faults: 1 });
    expect(p.read(a, 2 * PG)).toEqual(two);
  });

  it('the generator form refuses before its first scheduling point', () => {
    const { sim, a, fd } = machine();
    const task = fd.task.write(a, new Uint8Array(5));
    expect(badArg(() => task.next())).toBe('bytes');
    expect(badArg(() => sim.run('write', fd.task.write(a, new Uint8Array(PG + 5))))).toBe('bytes');
  });

  it('the driver below the facade answers a fractional npages with -EINVAL, as its ioctl prologue', () => {
    const { sim, p, a, fd } = machine();
    expect(sim.run('HMM_DMIRROR_WRITE', fd.driver.write(a, new Uint8Array(PG + 1)))).toBe(-EINVAL);
    expect(Array.from(p.read(a + PG, 2))).toEqual([0x11, 0x11]);
  });
});
