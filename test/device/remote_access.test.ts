import { describe, expect, it } from 'vitest';
import { COST_PROFILES, costModelTerms } from '../../src/device/cost.js';
import type { DeviceKernelContext } from '../../src/device/kernel.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/mmap.js';
import { Simulator } from '../../src/sim/simulator.js';

const PAGE = 4096;

/** `rounds` passes of one thread copying `bytes` from the start of each of `pages` pages. */
function copies(a: number, pages: number, bytes: number, rounds: number) {
  return function* (ctx: DeviceKernelContext) {
    let sum = 0;
    for (let r = 0; r < rounds; r++)
      for (let i = 0; i < pages; i++) sum += (yield* ctx.loadBytes(a + i * PAGE, bytes))[0] as number;
    return sum;
  };
}

function setup(policy: string, costProfile = 'pcie4-a100') {
  const sim = new Simulator({ devices: [{ memoryPages: 64, costProfile }], ramPages: 4096 });
  const p = sim.createProcess();
  const a = p.mmap(8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  for (let i = 0; i < 8; i++) p.write(a + i * PAGE, Uint8Array.of(i + 1));
  return { sim, a, fd: sim.openDevice(0, p, { policy }) };
}

describe('device accesses to system memory (the remoteAccess cost term)', () => {
  it('none: 16 loads of 1000 B from mirrored pages cost 16 x (1 µs + 8 lines x 128 B / 25 GB/s)', () => {
    const { sim, a, fd } = setup('none');
    expect(fd.launch(copies(a, 8, 1000, 2))).toEqual([72]);
    const c = sim.deviceCounters(0);
    // Each page's first load faults (no translation: not an access) and is counted on its retry.
    expect([c.faults, c.retries, c.remoteAccesses, c.tlbHits]).toEqual([8, 8, 16, 8]);
    const costs = sim.deviceCosts(0);
    expect(costs.remoteAccess).toBeCloseTo(16 * (1 + 1024 / 25_000), 9);
    const { total, ...terms } = costs;
    expect(total).toBeCloseTo(
      Object.values(terms).reduce((s, us) => s + us, 0),
      9,
    );
  });

  it('the profile sets the link: pcie3-v100 moves the same lines at 12 GB/s', () => {
    const { sim, a, fd } = setup('none', 'pcie3-v100');
    fd.launch(copies(a, 8, 1, 1));
    expect(sim.deviceCosts(0).remoteAccess).toBeCloseTo(8 * (1 + 128 / 12_000), 9);
  });

  it('pages migrated to device memory are not remote: page policy charges none', () => {
    const { sim, a, fd } = setup('page');
    fd.launch(copies(a, 8, 4096, 3));
    expect([sim.deviceCounters(0).remoteAccesses, sim.deviceCosts(0).remoteAccess]).toEqual([0, 0]);
  });
});

describe('the cost model as reports list it', () => {
  it('each profile states its remote-access term, with the link it crosses', () => {
    const row = (p: string) =>
      costModelTerms(COST_PROFILES[p]!).find((t) => t.name === 'device access to system memory');
    expect(row('pcie4-a100')?.value).toBe('1 µs + 128-byte lines / 25 GB/s');
    expect(row('pcie5-h100')?.value).toBe('1 µs + 128-byte lines / 50 GB/s');
    expect(row('pcie3-v100')?.source).toMatch(/EMOGI/);
  });
});
