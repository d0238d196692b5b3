/**
 * The modern run of the kernel's HMM selftests: every test of today's hmm-tests.c (its current
 * form) on today's test_hmm (`kernel: 'v6.19'`, devices private, private, coherent, coherent,
 * opened with { api: 'modern' }), under every fixture variant of its fixture, asserting what the
 * kernel test asserts. A run that waits for a piece of the model not built yet is listed in
 * PENDING with that piece, shown skipped, and checked to still fail, so the list cannot go stale.
 */
import { describe, expect, it } from 'vitest';
import { fixtureVariants, HMM_FIXTURE_VARIANTS, runSelftest } from '../../src/selftests/harness.js';
import { HMM_SELFTESTS } from '../../src/selftests/hmm_tests.js';

/** What the pending runs wait for (docs/fidelity.md, "the v6.19 THP tests on the modern run"). */
const DEVICE_THP =
  'device-private THP: PMD device-private entries, and a failed huge allocation falling back to 4 KiB pages';

/** The modern runs (`variant.test`) that wait for a piece not modelled yet, and the piece. */
const PENDING: Readonly<Record<string, string>> = {
  'hmm_device_private.migrate_anon_huge_fault': DEVICE_THP,
  'hmm_device_private.migrate_anon_huge_err': DEVICE_THP,
  'hmm_device_coherent.migrate_anon_huge_err': DEVICE_THP,
  'hmm_device_private.migrate_anon_huge_zero_err': DEVICE_THP,
  'hmm_device_coherent.migrate_anon_huge_zero_err': DEVICE_THP,
};

/** Today's forms: the modern run's tests. */
const MODERN_TESTS = HMM_SELFTESTS.filter((t) => t.today !== false);

describe("hmm (today's API on test_hmm, v6.19)", () => {
  for (const test of MODERN_TESTS) {
    for (const v of fixtureVariants(test.fixture)) {
      const name = `${test.fixture}.${v.name}.${test.name}`;
      // A pending run is asserted below to still fail (the pending-runs suite), not skipped.
      if (PENDING[`${v.name}.${test.name}`] !== undefined) continue;
      it(name, () => {
        const r = runSelftest(test, { api: 'modern', variant: v.name });
        if (!r.ok) throw r.error instanceof Error ? r.error : new Error(r.message);
        expect(r).toEqual({ name: test.name, variant: v.name, ok: true, message: 'ok' });
      });
    }
  }
});

describe('the pending modern runs', () => {
  it('name a test of today and a variant of its fixture', () => {
    for (const key of Object.keys(PENDING)) {
      const [variant, test] = key.split('.') as [string, string];
      const t = MODERN_TESTS.find((x) => x.name === test);
      expect(t, key).toBeDefined();
      expect(HMM_FIXTURE_VARIANTS.find((v) => v.name === variant)?.fixture, key).toBe(t?.fixture);
    }
  });

  // Once the piece lands these pass: then take them off PENDING.
  for (const [key, piece] of Object.entries(PENDING)) {
    it(`${key} still fails for want of ${piece}`, () => {
      const [variant, test] = key.split('.') as [string, string];
      const t = MODERN_TESTS.find((x) => x.name === test);
      if (t === undefined) throw new Error(`${key}: no such test`);
      const r = runSelftest(t, { api: 'modern', variant });
      expect(r.ok, `${key} passes now: take it off PENDING`).toBe(false);
    });
  }
});
