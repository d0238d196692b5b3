import { describe, expect, it } from 'vitest';
import { PAGE_SIZE } from '../../src/core/addr.js';
import { HostArrays } from '../../src/core/host_arrays.js';
import { Simulator } from '../../src/sim/simulator.js';

describe('core/host_arrays: a machine’s arrays, reused after it is released', () => {
  it('hands out zeroed arrays of the class and length asked for', () => {
    const h = new HostArrays();
    const f = h.f64(16);
    const i = h.i32(64);
    const u = h.u8(8192);
    expect([f.constructor, f.length]).toEqual([Float64Array, 16]);
    expect([i.constructor, i.length]).toEqual([Int32Array, 64]);
    expect([u.constructor, u.length]).toEqual([Uint8Array, 8192]);
    expect(f.every((x) => x === 0) && i.every((x) => x === 0) && u.every((x) => x === 0)).toBe(true);
  });

  it('the next machine gets a released one back, written over by then, zeroed again', () => {
    const first = new HostArrays();
    const a = first.i32(100);
    a.fill(7);
    first.release();
    const second = new HostArrays();
    const b = second.i32(100);
    expect(b).toBe(a);
    expect(b.every((x) => x === 0)).toBe(true);
    // another length or class is another array
    expect(second.i32(101)).not.toBe(a);
    const other = new HostArrays();
    other.f64(50).fill(1);
    other.release();
    expect(new HostArrays().i32(100)).not.toBe(a);
  });

  it('an array not released is never handed out again', () => {
    const first = new HostArrays();
    const a = first.u8(4096);
    expect(new HostArrays().u8(4096)).not.toBe(a);
  });

  it('keeps neither on-heap arrays (64 bytes or less) nor large ones (over 64 KiB)', () => {
    const h = new HostArrays();
    const small = h.f64(8);
    const large = h.u8(64 * 1024 + 1);
    h.release();
    const next = new HostArrays();
    expect(next.f64(8)).not.toBe(small);
    expect(next.u8(64 * 1024 + 1)).not.toBe(large);
  });
});

describe('Kernel.release: the buffers a machine’s calls returned go to the next machine', () => {
  function readBack(): Uint8Array {
    const sim = new Simulator({ seed: 1, ramPages: 64, devices: [{ memoryPages: 16 }] });
    const p = sim.createProcess();
    const a = p.mmap(2 * PAGE_SIZE, 0x3, 0x22);
    p.write(a, new Uint8Array(2 * PAGE_SIZE).fill(0x5a));
    const data = sim.openDevice(0, p).read(a, 2).data;
    expect(data.every((x) => x === 0x5a)).toBe(true);
    sim.kernel.release();
    return data;
  }

  it("a device read's bytes (dmirror's bounce buffer) are the next machine's after a release", () => {
    const first = readBack();
    const sim = new Simulator({ seed: 1, ramPages: 64, devices: [{ memoryPages: 16 }] });
    const p = sim.createProcess();
    const a = p.mmap(2 * PAGE_SIZE, 0x3, 0x22);
    const again = sim.openDevice(0, p).read(a, 2).data;
    expect(again).toBe(first);
    // the new machine's pages were never written: the reused buffer holds its zeros, not 0x5a
    expect(again.every((x) => x === 0)).toBe(true);
  });
});

describe('core/host_arrays: a long-lived machine', () => {
  it('tracks its first 64 arrays for release, and leaves the ones after them to the GC', () => {
    const h = new HostArrays();
    const first = Array.from({ length: 64 }, () => h.f64(100));
    const after = Array.from({ length: 6 }, () => h.f64(200));
    h.release();
    const next = new HostArrays();
    expect(first).toContain(next.f64(100));
    const again = Array.from({ length: 6 }, () => next.f64(200));
    expect(again.filter((a) => after.includes(a))).toEqual([]);
  });
});

describe('core/host_arrays: a bound on what the process keeps', () => {
  it('keeps at most 16 MiB of spares in all: past it, a released array goes to the GC', () => {
    // 16 arrays of each of 17 lengths, 8,192 - k doubles (just under 64 KiB each): the first 16
    // lengths make 16,761,856 bytes, and the 17th's would pass 16 MiB (the tests above keep a few
    // KiB more, which only moves the cut earlier)
    const lengths = Array.from({ length: 17 }, (_, k) => 8192 - k);
    const released = new Map<number, Float64Array[]>();
    for (const length of lengths) {
      const h = new HostArrays();
      released.set(
        length,
        Array.from({ length: 16 }, () => h.f64(length)),
      );
      h.release();
    }
    const next = new HostArrays();
    expect(released.get(8192)).toContain(next.f64(8192));
    expect(released.get(8176)).not.toContain(next.f64(8176));
  });
});
