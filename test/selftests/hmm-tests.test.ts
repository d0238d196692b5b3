/**
 * The kernel's HMM selftests (tools/testing/selftests/vm/hmm-tests.c) on hmmsim: one `it` per
 * entry of HMM_SELFTESTS, and for each entry that diverges from the kernel's expectation, one `it`
 * showing that the kernel's own asserts fail on hmmsim.
 */

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/index.js';
import {
  ASSERT_EQ,
  fixtureVariants,
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

describe('hmm (seed API, v5.3)', () => {
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

/**
 * The pieces of today's test_hmm (MODERN.md) the modern run needs, and which have landed on main.
 * A modern test runs once every piece it needs has landed; until then it is skipped here, never
 * faked. PENDING below says, per test, what it waits for.
 */
type Piece =
  | 'READ/WRITE (modern-hmm: fault.ts)'
  | 'SNAPSHOT (modern-hmm: snapshot.ts)'
  | 'MIGRATE_TO_DEV/TO_SYS, device memory (migrate-device: migrate.ts, device.ts)'
  | 'RELEASE (migrate-device: migrate.ts)'
  | 'device-private THP: PMD device-private entries, a failed huge allocation falling back to 4 KiB (not modelled yet: docs/fidelity.md)'
  | 'FOLL_LONGTERM migrating coherent pages (migrate-device: gup.ts)'
  | 'EXCLUSIVE/CHECK_EXCLUSIVE (device-exclusive: exclusive.ts)';
const RW: Piece = 'READ/WRITE (modern-hmm: fault.ts)';
const SNAP: Piece = 'SNAPSHOT (modern-hmm: snapshot.ts)';
const MIG: Piece = 'MIGRATE_TO_DEV/TO_SYS, device memory (migrate-device: migrate.ts, device.ts)';
const REL: Piece = 'RELEASE (migrate-device: migrate.ts)';
const THP: Piece =
  'device-private THP: PMD device-private entries, a failed huge allocation falling back to 4 KiB (not modelled yet: docs/fidelity.md)';
const PIN: Piece = 'FOLL_LONGTERM migrating coherent pages (migrate-device: gup.ts)';
const EXCL: Piece = 'EXCLUSIVE/CHECK_EXCLUSIVE (device-exclusive: exclusive.ts)';

/** The pieces on main (update after each `git merge main`). */
const LANDED = new Set<Piece>([EXCL, RW, SNAP, MIG, REL, PIN]);

/**
 * What each of today's tests needs beyond the skeleton (open/close, the interval notifier); a
 * `variant.test` key overrides the test's entry for that variant.
 */
const NEEDS: Record<string, readonly Piece[]> = {
  open_close: [],
  anon_read: [RW],
  anon_read_prot: [RW],
  anon_write: [RW],
  anon_write_prot: [RW],
  anon_write_child: [RW, MIG],
  anon_write_child_shared: [RW],
  anon_write_huge: [RW],
  anon_write_hugetlbfs: [RW],
  file_read: [RW],
  file_write: [RW],
  migrate: [MIG],
  migrate_file_private: [MIG],
  migrate_fault: [MIG],
  migrate_release: [MIG, REL],
  migrate_shared: [MIG],
  migrate_mixed: [MIG],
  migrate_multiple: [MIG],
  anon_read_multiple: [RW],
  anon_teardown: [RW],
  mixedmap: [SNAP],
  snapshot: [SNAP, MIG],
  compound: [SNAP],
  double_map: [RW, MIG],
  exclusive: [EXCL],
  exclusive_mprotect: [EXCL, RW],
  exclusive_cow: [EXCL],
  hmm_gup_test: [MIG, SNAP, PIN],
  hmm_cow_in_device: [MIG, SNAP],
  migrate_anon_huge_empty: [MIG],
  migrate_anon_huge_zero: [MIG],
  migrate_anon_huge_free: [MIG],
  // the coherent variant skips the SNAPSHOT and pagemap checks of a PMD device-private entry
  migrate_anon_huge_fault: [MIG],
  'hmm_device_private.migrate_anon_huge_fault': [MIG, SNAP, THP],
  migrate_partial_unmap_fault: [MIG],
  migrate_remap_fault: [MIG],
  migrate_anon_huge_err: [MIG, THP],
  migrate_anon_huge_zero_err: [MIG, THP],
};

/** Per test and variant: the pieces it still waits for (empty: it runs). */
const PENDING = (variant: string, name: string): Piece[] =>
  (NEEDS[`${variant}.${kernelName(name)}`] ?? NEEDS[kernelName(name)] ?? []).filter(
    (piece) => !LANDED.has(piece),
  );

/** The modern run: today's forms, under every fixture variant of their fixture. */
const MODERN_TESTS = HMM_SELFTESTS.filter((t) => t.today !== false);

describe("hmm (today's API on test_hmm, v6.19)", () => {
  for (const test of MODERN_TESTS) {
    for (const v of fixtureVariants(test.fixture)) {
      const name = `${test.fixture}.${v.name}.${test.name}`;
      const waits = PENDING(v.name, test.name);
      if (waits.length > 0) {
        it.skip(`${name} (pending: ${waits.join('; ')})`, () => {});
        continue;
      }
      it(name, () => {
        const r = runSelftest(test, { api: 'modern', variant: v.name });
        if (!r.ok) throw r.error instanceof Error ? r.error : new Error(r.message);
        expect(r).toEqual({ name: test.name, variant: v.name, ok: true, message: 'ok' });
      });
    }
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

  it("has today's form of every kernel test but the benchmark, once, under its bare name", () => {
    const today = HMM_SELFTESTS.filter((t) => t.today !== false).map((t) => kernelName(t.name));
    expect(new Set(today)).toEqual(new Set(KERNEL_HMM_TESTS.filter((n) => n !== 'benchmark_thp_migration')));
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
    ]);
  });

  it('gives every test of today the pieces it waits for on the modern run', () => {
    for (const t of HMM_SELFTESTS.filter((x) => x.today !== false))
      expect(Object.keys(NEEDS), t.name).toContain(kernelName(t.name));
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
