/**
 * The modern run of the kernel's HMM selftests: every test of today's hmm-tests.c (its current
 * form) on today's test_hmm (`kernel: 'v6.19'`, devices private, private, coherent, coherent,
 * opened with { api: 'modern' }), under every fixture variant of its fixture, asserting what the
 * kernel test asserts. Nothing is pending: the device-private THP runs (migrate_anon_huge_fault,
 * the _err tests) pass since device-private THP is modelled.
 */
import { describe, expect, it } from 'vitest';
import { fixtureVariants, runSelftest } from '../../src/selftests/harness.js';
import { HMM_SELFTESTS } from '../../src/selftests/hmm_tests.js';

/** Today's forms: the modern run's tests. */
const MODERN_TESTS = HMM_SELFTESTS.filter((t) => t.today !== false);

describe("hmm (today's API on test_hmm, v6.19)", () => {
  for (const test of MODERN_TESTS) {
    for (const v of fixtureVariants(test.fixture)) {
      it(`${test.fixture}.${v.name}.${test.name}`, () => {
        const r = runSelftest(test, { api: 'modern', variant: v.name });
        if (!r.ok) throw r.error instanceof Error ? r.error : new Error(r.message);
        expect(r).toEqual({ name: test.name, variant: v.name, ok: true, message: 'ok' });
      });
    }
  }
});
