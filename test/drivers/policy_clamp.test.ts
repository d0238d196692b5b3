import { describe, expect, it } from 'vitest';
import { runDemo } from '../../src/demo/demo.js';
import {
  type DeviceKernelContext,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  Simulator,
} from '../../src/index.js';
import { policyClampPages } from '../../src/policy/policy.js';

const PAGE = 4096;

/** `pages` pages of one VMA, page i holding i + 1; a device of `devicePages` pages. The step limit bounds a livelock. */
function setup(pages: number, devicePages: number, policy: string, api: 'seed' | 'modern' = 'seed') {
  const sim = new Simulator({
    kernel: api === 'modern' ? 'v6.19' : undefined,
    seed: 1,
    ramPages: 4096,
    stepsMax: 200_000,
    devices: [{ memoryPages: devicePages }],
  });
  const p = sim.createProcess();
  const a = p.mmap(pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  for (let i = 0; i < pages; i++) p.write(a + i * PAGE, new Uint8Array([i + 1]));
  const fd = sim.openDevice(0, p, { api, policy });
  return { sim, p, a, fd };
}

function sumPages(a: number, pages: number) {
  return function* (ctx: DeviceKernelContext) {
    let s = 0;
    for (let i = ctx.threadId; i < pages; i += ctx.threads) s += (yield* ctx.load32(a + i * PAGE)) & 0xff;
    return s;
  };
}

describe('a migration block larger than device memory is clamped to what fits', () => {
  it('the clamp is the largest power of two of pages device memory holds', () => {
    expect([16, 17, 31, 32, 4096, 5000].map(policyClampPages)).toEqual([16, 16, 16, 32, 4096, 4096]);
  });

  it.each(['seed', 'modern'] as const)(
    "'block:18' on a 16-page device migrates the aligned 16 pages around each fault, once each (%s driver)",
    (api) => {
      const { sim, p, a, fd } = setup(64, 16, 'block:18', api);
      expect(fd.launch(sumPages(a, 64))).toEqual([(64 * 65) / 2]);
      const c = sim.deviceCounters(0);
      // Four faults, each migrating its own 16-page block and evicting the previous one.
      expect([c.faults, c.policyClamps, c.migratedToDevice, c.evictedPages]).toEqual([4, 4, 64, 48]);
      expect([0, 47, 48, 63].map((i) => p.pte(a + i * PAGE).kind)).toEqual([
        'present',
        'present',
        'device-private',
        'device-private',
      ]);
    },
  );

  it.each(['seed', 'modern'] as const)(
    'a block that fits is not clamped, whatever the policy asked for (%s driver)',
    (api) => {
      for (const policy of ['block:3', 'block:18']) {
        const { sim, a, fd } = setup(8, 16, policy, api);
        expect(fd.launch(sumPages(a, 8))).toEqual([36]);
        const { faults, policyClamps, migratedToDevice } = sim.deviceCounters(0);
        expect({ policy, faults, policyClamps, migratedToDevice }).toEqual({
          policy,
          faults: 1,
          policyClamps: 0,
          migratedToDevice: 8,
        });
      }
    },
  );

  it("the demo's 'block:18' on 16 device pages runs as 'block:4' (it livelocked before)", () => {
    const small = { listNodes: 400, treeNodes: 400, lookups: 50, devicePages: 16 };
    const clamped = runDemo({ ...small, policy: 'block:18' });
    const block4 = runDemo({ ...small, policy: 'block:4' });
    expect(clamped.ok).toBe(true);
    const { policyClamps, ...rest } = clamped.counters;
    expect(policyClamps).toBeGreaterThan(0);
    expect(rest).toEqual({ ...block4.counters, policyClamps: undefined });
    expect(clamped.config['policy clamped to (pages)']).toBe(16);
  });
});
