/**
 * The kernel's HMM selftests (tools/testing/selftests/mm/hmm-tests.c) on hmmsim's seed API: one
 * `it` per entry of HMM_SELFTESTS the seed run can run, and for each entry that diverges from the
 * kernel's expectation, one `it` showing that the kernel's own asserts fail on the seed; then the
 * table's and the harness's own checks. The modern run (today's test_hmm, every fixture variant)
 * is hmm-tests-modern.test.ts, a file of its own so the two run side by side.
 */

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/index.js';
import {
  ASSERT_EQ,
  runSelftest,
  runSelftests,
  type Selftest,
  SelftestFailure,
} from '../../src/selftests/harness.js';
import {
  assertEveryBranch,
  HMM_KERNEL_TESTS,
  HMM_SELFTESTS,
  HMM_SELFTESTS_NOT_PORTED,
} from '../../src/selftests/hmm_tests.js';

/** Every TEST_F of today's hmm-tests.c, in the file's order. */
const KERNEL_HMM_TESTS = HMM_KERNEL_TESTS;

const kernelName = (name: string): string => name.split('@')[0] as string;

/** The seed-API run: every test the seed can run, with its documented divergences. */
const SEED_TESTS = HMM_SELFTESTS.filter((t) => t.seedCannot === undefined);

describe('hmm (seed API, v5.3; the modern run is hmm-tests-modern.test.ts)', () => {
  for (const test of SEED_TESTS) {
    it(test.name, () => {
      const r = runSelftest(test);
      if (!r.ok) throw r.error instanceof Error ? r.error : new Error(r.message);
      expect(r).toEqual({ name: test.name, ok: true, message: 'ok' });
    });
  }

  for (const test of SEED_TESTS.filter((t) => t.upstream !== undefined)) {
    it(`${test.name}: the kernel's own asserts fail on hmmsim (v5.3)`, () => {
      const r = runSelftest(test, { upstream: true });
      expect(r.ok).toBe(false);
      expect(r.error).toBeInstanceOf(SelftestFailure);
      // Each fails at the return code where v5.3 and the later kernel part ways.
      expect((r.error as SelftestFailure).expr, r.message).toBe('ASSERT_EQ(ret)');
    });
  }
});

it('anon_teardown: each variant must take both branches of the kernel test (READ succeeds, READ fails)', () => {
  expect(() => assertEveryBranch([0, -14, -14])).not.toThrow();
  const onlyErrors = (() => {
    try {
      assertEveryBranch([-14, -14, -22]);
    } catch (e) {
      return e;
    }
  })();
  expect(onlyErrors).toBeInstanceOf(SelftestFailure);
  expect((onlyErrors as SelftestFailure).expr).toBe('ASSERT_GE(rounds whose READ succeeded (rc == 0) of 3)');
  expect((onlyErrors as SelftestFailure).actual).toBe(0);
  expect(() => assertEveryBranch([0, 0])).toThrow(/rounds whose READ failed \(rc != 0\) of 2/);
  // the variants run this assert: their notes state how many rounds take the success branch
  for (const name of ['anon_teardown', 'anon_teardown@pct', 'anon_teardown@dfs'])
    expect(HMM_SELFTESTS.find((t) => t.name === name)?.note).toMatch(
      /Both branches must be taken( on the seed run)? \(\d+ of the \d+/,
    );
});

describe('hmm selftest table', () => {
  it('names each test once, after a TEST_F of hmm-tests.c', () => {
    const names = HMM_SELFTESTS.map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(KERNEL_HMM_TESTS).toContain(kernelName(n));
  });

  it("lists the 38 tests of today's hmm-tests.c, and the table in their order", () => {
    expect(KERNEL_HMM_TESTS).toHaveLength(38);
    expect(new Set(KERNEL_HMM_TESTS).size).toBe(38);
    const order = HMM_SELFTESTS.map((t) => KERNEL_HMM_TESTS.indexOf(kernelName(t.name)));
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it("has today's form of every kernel test, once, under its bare name", () => {
    const today = HMM_SELFTESTS.filter((t) => t.today !== false).map((t) => kernelName(t.name));
    expect(new Set(today)).toEqual(new Set(KERNEL_HMM_TESTS));
    // an older kernel's form is a variant `name@version` of a test whose bare name is today's
    for (const t of HMM_SELFTESTS.filter((x) => x.today === false)) {
      expect(t.name).toMatch(/^[a-z_0-9]+@\d+\.\d+$/);
      expect(HMM_SELFTESTS.some((x) => x.name === kernelName(t.name) && x.today !== false)).toBe(true);
    }
  });

  it('says why for every test the seed run cannot run, and only for those (seed: n/a)', () => {
    for (const t of HMM_SELFTESTS) {
      expect(t.seed === 'n/a', t.name).toBe(t.seedCannot !== undefined);
      if (t.seedCannot !== undefined) expect(t.seedCannot.length, t.name).toBeGreaterThan(20);
    }
    expect(HMM_SELFTESTS.filter((t) => t.seedCannot !== undefined).map((t) => t.name)).toEqual([
      'migrate_release',
      'compound',
      'exclusive',
      'exclusive_mprotect',
      'exclusive_cow',
      'migrate_anon_huge_fault',
      'migrate_remap_fault',
      'migrate_anon_huge_err',
      'migrate_anon_huge_zero_err',
      'benchmark_thp_migration',
    ]);
  });

  it('lists as not ported exactly the §5 tests that have no entry', () => {
    const ported = new Set(HMM_SELFTESTS.map((t) => kernelName(t.name)));
    const missing = KERNEL_HMM_TESTS.filter((n) => !ported.has(n));
    expect(HMM_SELFTESTS_NOT_PORTED.map((t) => t.name).sort()).toEqual([...missing].sort());
    for (const t of HMM_SELFTESTS_NOT_PORTED) expect(t.reason.length).toBeGreaterThan(0);
  });

  it('names a docs/fidelity.md row for every divergence', () => {
    const doc = readFileSync(new URL('../../docs/fidelity.md', import.meta.url), 'utf8');
    const rows = new Set(
      doc
        .split('\n')
        .filter((l) => l.startsWith('| '))
        .map((l) => (l.split(' | ')[0] as string).slice(2)),
    );
    for (const t of HMM_SELFTESTS) {
      if (t.seed === 'diverges') {
        expect(t.fidelity, t.name).toBeDefined();
        expect(rows, `${t.name}: fidelity row ${t.fidelity}`).toContain(t.fidelity);
      } else {
        expect(t.fidelity, t.name).toBeUndefined();
      }
    }
  });

  it('reports a failed assert with the test, the expression and both values', () => {
    const t = HMM_SELFTESTS.find((x) => x.name === 'anon_read_prot');
    if (t === undefined) throw new Error('anon_read_prot is missing');
    const r = runSelftest(t, { upstream: true });
    expect(r.message).toBe(
      'anon_read_prot (upstream): ASSERT_EQ(ret) failed: got -EPERM (-1), expected -EFAULT (-14)',
    );
  });
});

describe('hmm selftest harness', () => {
  const base = { fixture: 'hmm', since: '5.8', seed: 'same' } as const;

  it('fails a test whose ASSERT fails, naming the test, the expression and both values', () => {
    const t: Selftest = { ...base, name: 'demo', run: () => ASSERT_EQ(3, 4, 'buffer->cpages') };
    const r = runSelftest(t);
    expect(r.ok).toBe(false);
    expect(r.message).toBe('demo: ASSERT_EQ(buffer->cpages) failed: got 3, expected 4');
  });

  it('fails a test that leaves device pages allocated after its process exits', () => {
    const t: Selftest = {
      ...base,
      name: 'leak',
      run(ctx) {
        // A second process, never exited, keeps a page in device memory.
        const other = ctx.sim.createProcess();
        const a = other.mmap(4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        other.write(a, new Uint8Array([1]));
        ctx.sim.openDevice(0, other).migrate(a, 1);
      },
    };
    expect(runSelftest(t).message).toBe(
      'leak: ASSERT_EQ(device 0 pages still allocated after exit (calloc - cfree)) failed: got 1, expected 0',
    );
    expect(runSelftest(t, { check: false }).ok).toBe(true);
  });

  it('refuses what a run cannot do, naming the test, the variant and why', () => {
    const find = (n: string) => HMM_SELFTESTS.find((t) => t.name === n) as Selftest;
    expect(runSelftest(find('exclusive')).message).toMatch(
      /^exclusive: not on the seed API: HMM_DMIRROR_EXCLUSIVE needs make_device_exclusive/,
    );
    expect(runSelftest(find('migrate_fault@5.8'), { api: 'modern' }).message).toBe(
      "hmm_device_private.migrate_fault@5.8: an older kernel's form, run on the seed only (the modern run runs today's)",
    );
    expect(runSelftest(find('open_close'), { api: 'modern', upstream: true }).ok).toBe(false);
    expect(() => runSelftest(find('snapshot'), { api: 'modern', variant: 'hmm_device_private' })).toThrow(
      /FIXTURE\(hmm2\) has no variant 'hmm_device_private' \(hmm2_device_private, hmm2_device_coherent\)/,
    );
  });

  it("opens the variant's devices on the modern run, with today's driver, and the seed's otherwise", () => {
    const seen: string[] = [];
    const t: Selftest = {
      ...base,
      fixture: 'hmm2',
      name: 'devices',
      run(ctx) {
        seen.push(
          `${ctx.api} ${ctx.variant?.name ?? '-'} ${ctx.coherent} ${ctx.fd0.driver.driverName} ${ctx.fd1.driver.driverName}`,
        );
      },
    };
    expect(runSelftest(t).ok).toBe(true);
    expect(runSelftest(t, { api: 'modern', variant: 'hmm2_device_coherent' }).ok).toBe(true);
    expect(seen).toEqual([
      'seed - false correct correct',
      'modern hmm2_device_coherent true test_hmm test_hmm',
    ]);
  });

  it('gives fd1 only to FIXTURE(hmm2), and runs tests by name', () => {
    const t: Selftest = { ...base, name: 'fd1', run: (ctx) => ctx.fd1 };
    expect(runSelftest(t).message).toMatch(/fd1 exists only in FIXTURE\(hmm2\)/);
    const names = ['open_close', 'mixedmap'];
    expect(runSelftests(HMM_SELFTESTS, names).map((r) => [r.name, r.ok])).toEqual([
      ['open_close', true],
      ['mixedmap', true],
    ]);
    expect(() => runSelftests(HMM_SELFTESTS, ['no_such_test'])).toThrow(/unknown selftest: no_such_test/);
  });
});
