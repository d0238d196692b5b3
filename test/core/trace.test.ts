import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/core/errno.js';
import { Tracepoints } from '../../src/core/trace.js';
import { Simulator } from '../../src/sim/simulator.js';

interface Events {
  a: { n: number };
  b: { s: string };
}

describe('Tracepoints', () => {
  it('tells every subscriber of an event, in subscription order, and no one else', () => {
    const t = new Tracepoints<Events>();
    const seen: string[] = [];
    t.subscribe('a', (e) => seen.push(`first a${e.n}`));
    t.subscribe('b', (e) => seen.push(`b ${e.s}`));
    t.subscribe('a', (e) => seen.push(`second a${e.n}`));
    t.emit('a', { n: 1 });
    t.emit('b', { s: 'x' });
    t.emit('a', { n: 2 });
    expect(seen).toEqual(['first a1', 'second a1', 'b x', 'first a2', 'second a2']);
  });

  it('unsubscribes one subscription (twice is harmless) and is disabled when nobody listens', () => {
    const t = new Tracepoints<Events>();
    expect(t.enabled).toBe(false);
    const seen: number[] = [];
    const f = (e: { n: number }): void => {
      seen.push(e.n);
    };
    const u1 = t.subscribe('a', f);
    const u2 = t.subscribe('a', f);
    expect(t.enabled).toBe(true);
    t.emit('a', { n: 1 });
    u1();
    u1();
    t.emit('a', { n: 2 });
    u2();
    expect(t.enabled).toBe(false);
    t.emit('a', { n: 3 });
    expect(seen).toEqual([1, 1, 2]);
  });

  it('an unsubscribe during an emit takes effect from the next emit', () => {
    const t = new Tracepoints<Events>();
    const seen: string[] = [];
    const u = t.subscribe('a', () => {
      seen.push('x');
      u();
    });
    t.subscribe('a', () => seen.push('y'));
    t.emit('a', { n: 0 });
    t.emit('a', { n: 0 });
    expect(seen).toEqual(['x', 'y', 'y']);
  });

  it('rejects a probe that is not a function, naming it', () => {
    const t = new Tracepoints<Events>();
    expect(() => t.subscribe('a', null as never)).toThrow(ArgumentError);
    expect(() => t.subscribe('a', null as never)).toThrow(/probe/);
  });

  it("two subscribers of a machine's stream see the same HMM and device events in the same order", () => {
    const sim = new Simulator({ ramPages: 64, sectionPages: 64, devices: [{ memoryPages: 16 }] });
    const logs: string[][] = [[], []];
    for (const log of logs) {
      sim.trace.subscribe('mmu_notifier_invalidate_range_start', (e) => log.push(`start ${e.range.start}`));
      sim.trace.subscribe('mmu_notifier_invalidate_range_end', (e) => log.push(`end ${e.range.start}`));
      sim.trace.subscribe('hmm_range_valid', () => log.push('valid'));
      sim.trace.subscribe('device_pt_store', (e) => log.push(`store ${e.vpn}`));
      sim.trace.subscribe('device_pt_erase', (e) => log.push(`erase ${e.vpn}`));
    }
    const p = sim.createProcess();
    const a = p.mmap(4096, 3, 0x22);
    p.write(a, new Uint8Array([7]));
    const fd = sim.openDevice(0, p);
    fd.read(a, 1);
    p.munmap(a, 4096);
    const vpn = a / 4096;
    expect(logs[0]).toEqual(['valid', `store ${vpn}`, `start ${a}`, `erase ${vpn}`, `end ${a}`]);
    expect(logs[1]).toEqual(logs[0]);
  });
});
