/**
 * The modern run of the kernel's HMM selftests: every test of today's hmm-tests.c (its current
 * form) on today's test_hmm (`kernel: 'v6.19'`, devices private, private, coherent, coherent,
 * opened with { api: 'modern' }), under every fixture variant of its fixture, asserting what the
 * kernel test asserts. Nothing is pending: the device-private THP runs (migrate_anon_huge_fault,
 * the _err tests) pass since device-private THP is modelled.
 */
import { describe, expect, it } from 'vitest';
import { KernelWarning } from '../../src/core/assert.js';
import { COST_PROFILE_DEFAULT, costProfile } from '../../src/device/cost.js';
import { fixtureVariants, runSelftest, type Selftest } from '../../src/selftests/harness.js';
import { HMM_SELFTESTS } from '../../src/selftests/hmm_tests.js';

/** Today's forms: the modern run's tests. */
const MODERN_TESTS = HMM_SELFTESTS.filter((t) => t.today !== false);

/** Tested below with what they print, or their XFAIL. */
const OWN_TESTS = new Set(['benchmark_thp_migration']);

describe("hmm (today's API on test_hmm, v6.19)", () => {
  for (const test of MODERN_TESTS.filter((t) => !OWN_TESTS.has(t.name))) {
    for (const v of fixtureVariants(test.fixture)) {
      it(`${test.fixture}.${v.name}.${test.name}`, () => {
        const r = runSelftest(test, { api: 'modern', variant: v.name });
        if (!r.ok) throw r.error instanceof Error ? r.error : new Error(r.message);
        expect(r).toEqual({ name: test.name, variant: v.name, ok: true, message: 'ok' });
      });
    }
  }
});

describe('hmm.benchmark_thp_migration (v6.19)', () => {
  const test = HMM_SELFTESTS.find((t) => t.name === 'benchmark_thp_migration') as Selftest;
  const sections = [
    'Small Buffer (0.5 MB)',
    'Half THP Size (1.0 MB)',
    'Single THP Size (2.0 MB)',
    'Two THP Size (4.0 MB)',
    'Four THP Size (8.0 MB)',
    'Eight THP Size (16.0 MB)',
    'One twenty eight THP Size (256.0 MB)',
  ];
  /** The four rows of one printed table: [with THP, without THP, improvement]. */
  const rows = (out: string, section: string): number[][] => {
    const table = out.split(`=== ${section} ===`)[1] as string;
    return table
      .split('\n')
      .slice(3, 7)
      .map((l) => [...l.matchAll(/(-?[\d.]+) ?(?:ms|GB\/s|%)/g)].map((m) => Number(m[1])));
  };

  it('hmm_device_private: every run_migration_benchmark returns 0, and the kernel table is printed for each size', () => {
    const r = runSelftest(test, { api: 'modern', variant: 'hmm_device_private' });
    if (!r.ok) throw r.error instanceof Error ? r.error : new Error(r.message);
    const out = r.output as string;
    expect(
      out.startsWith(
        '\nHMM THP Migration Benchmark\n---------------------------\nSystem page size: 4096 bytes\n',
      ),
    ).toBe(true);
    expect([...out.matchAll(/^=== (.*) ===$/gm)].map((m) => m[1])).toEqual(sections);
    expect(out).toContain(
      '                     | With THP        | Without THP     | Improvement\n---------------------------------------------------------------------\nSys->Dev Migration   | ',
    );
    // Below one THP nothing can move as a folio: both columns the same.
    for (const row of rows(out, sections[1] as string)) {
      expect(row[0]).toBe(row[1]);
      expect(Math.abs(row[2] as number)).toBe(0);
    }
    // From one THP up, each 2 MiB folio is charged migrate_vma's bookkeeping once instead of 512
    // times (docs/costs.md), both ways: 511 x 0.25 µs less a THP, 128 THPs 128 times that.
    const perPage = costProfile(COST_PROFILE_DEFAULT).migratePerPageUs;
    const saved = (thps: number): number => (thps * 511 * perPage) / 1000;
    const two = rows(out, sections[2] as string);
    const big = rows(out, sections[6] as string);
    for (const [table, thps] of [
      [two, 1],
      [big, 128],
    ] as const) {
      for (const way of [0, 1]) {
        const [thp, regular] = table[way] as number[];
        expect((regular as number) - (thp as number)).toBeCloseTo(saved(thps), 2);
      }
    }
    // Throughput is the buffer over the time: 2 MiB over the THP run's ms, in GB/s.
    expect(two[2]?.[0]).toBeCloseTo(2 / 1024 / ((two[0]?.[0] as number) / 1000), 0);
  }, 120_000);

  it("hmm_device_coherent: an XFAIL at the kernel's own WARN, on the first buffer a THP fills", () => {
    const r = runSelftest(test, { api: 'modern', variant: 'hmm_device_coherent' });
    expect(r.ok).toBe(true);
    expect(r.message).toBe('xfail');
    expect(r.xfail).toBe(test.xfail?.reason);
    const out = r.output as string;
    expect([...out.matchAll(/^=== (.*) ===$/gm)].map((m) => m[1])).toEqual(sections.slice(0, 2));
  });
});

describe('XFAIL (Selftest.xfail)', () => {
  const base = { fixture: 'hmm' as const, since: '6.19', seed: 'n/a' as const, seedCannot: 'test' };
  const xfail = { variant: 'hmm_device_coherent', warning: 'the warning', reason: 'why' };

  it('a pass where the WARN was expected is an XPASS failure; another variant passes as usual', () => {
    const t: Selftest = { ...base, name: 'passes', xfail, run: () => {} };
    const r = runSelftest(t, { api: 'modern', variant: 'hmm_device_coherent' });
    expect(r.ok).toBe(false);
    expect(r.message).toBe(
      'hmm_device_coherent.passes: XPASS: expected the kernel\'s WARN "the warning" (why)',
    );
    expect(runSelftest(t, { api: 'modern', variant: 'hmm_device_private' }).ok).toBe(true);
  });

  it('only the named warning on the named variant is expected', () => {
    const warns = (text: string): Selftest => ({
      ...base,
      name: 'warns',
      xfail,
      run: () => {
        throw new KernelWarning(text);
      },
    });
    expect(runSelftest(warns('another'), { api: 'modern', variant: 'hmm_device_coherent' }).ok).toBe(false);
    expect(runSelftest(warns('the warning'), { api: 'modern', variant: 'hmm_device_private' }).ok).toBe(
      false,
    );
    const r = runSelftest(warns('x: the warning'), { api: 'modern', variant: 'hmm_device_coherent' });
    expect([r.ok, r.xfail]).toEqual([true, 'why']);
  });
});
