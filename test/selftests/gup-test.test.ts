/**
 * The gup_test module model (src/selftests/gup_test.ts) that hmm_gup_test drives: its argument
 * checks, that every command puts back exactly what it took, and where the pages end up.
 */
import { describe, expect, it } from 'vitest';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, Simulator } from '../../src/index.js';
import * as gup from '../../src/selftests/gup_test.js';

const PAGE = 4096;

function machine(kind: 'private' | 'coherent' = 'private') {
  const sim = new Simulator({ seed: 1, kernel: 'v6.19', devices: [{ kind, memoryPages: 64 }] });
  const p = sim.createProcess();
  const a = p.mmap(4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  p.write(a, new Uint8Array(4 * PAGE).fill(7));
  const ioctl = (cmd: number, addr: number, npages: number, flags = gup.GUP_TEST_FOLL_WRITE) =>
    sim.run(
      'gup_test',
      gup.gupTestIoctl(p.mm, cmd, { addr, size: npages * PAGE, nrPagesPerCall: 1, gupFlags: flags }),
    );
  return { sim, p, a, ioctl };
}

describe('gup_test', () => {
  it('refuses an unknown command, flags other than FOLL_WRITE | FOLL_LONGTERM, and a bad range', () => {
    const { a, ioctl } = machine();
    expect(ioctl(5, a, 1)).toBe(-22);
    expect(ioctl(gup.GUP_BASIC_TEST, a, 1, gup.GUP_TEST_FOLL_WRITE | 0x2)).toBe(-22);
    expect(ioctl(gup.GUP_BASIC_TEST, a + 1, 1)).toBe(-22);
    expect(ioctl(gup.GUP_BASIC_TEST, a, 0)).toBe(-22);
  });

  it('puts back every reference and pin it took, counting the pins', () => {
    const { sim, p, a, ioctl } = machine();
    const pfns = [0, 1, 2, 3].map((i) => p.pte(a + i * PAGE).pfn);
    const before = pfns.map((pfn) => sim.page(pfn).refcount);
    expect(ioctl(gup.GUP_BASIC_TEST, a, 4)).toBe(0);
    expect(ioctl(gup.GUP_FAST_BENCHMARK, a, 4)).toBe(0);
    expect(ioctl(gup.PIN_FAST_BENCHMARK, a, 4, gup.GUP_TEST_FOLL_WRITE | gup.GUP_TEST_FOLL_LONGTERM)).toBe(0);
    expect(ioctl(gup.PIN_LONGTERM_BENCHMARK, a, 4)).toBe(0);
    expect(pfns.map((pfn) => sim.page(pfn).refcount)).toEqual(before);
    const c = sim.stats().counters;
    expect([c.foll_pin_acquired, c.foll_pin_released]).toEqual([8, 8]);
  });

  it('faults a device-private page back to RAM, and migrates a coherent one out only for a long-term pin', () => {
    const priv = machine('private');
    const fd = priv.sim.openDevice(0, priv.p, { api: 'modern' });
    fd.migrate(priv.a, 2);
    expect(priv.p.pte(priv.a).kind).toBe('device-private');
    expect(priv.ioctl(gup.GUP_BASIC_TEST, priv.a, 1)).toBe(0);
    expect(priv.p.pte(priv.a).kind).toBe('present');
    fd.close();

    const coh = machine('coherent');
    const cfd = coh.sim.openDevice(0, coh.p, { api: 'modern' });
    cfd.migrate(coh.a, 2);
    const zone = (i: number) => coh.sim.page(coh.p.pte(coh.a + i * PAGE).pfn).zone;
    expect([zone(0), zone(1)]).toEqual(['device', 'device']);
    expect(coh.ioctl(gup.GUP_FAST_BENCHMARK, coh.a, 1)).toBe(0);
    expect(coh.ioctl(gup.PIN_LONGTERM_BENCHMARK, coh.a + PAGE, 1)).toBe(0);
    expect([zone(0), zone(1)]).toEqual(['device', 'normal']);
    cfd.close();
  });
});
