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
  runSelftest,
  runSelftests,
  type Selftest,
  SelftestFailure,
} from '../../src/selftests/harness.js';
import { assertEveryBranch, HMM_SELFTESTS, HMM_SELFTESTS_NOT_PORTED } from '../../src/selftests/hmm_tests.js';

/** Every TEST_F of hmm-tests.c, in the order of reference/kernel-hmm.md §5.2 (v5.8 … after v6.19). */
const KERNEL_HMM_TESTS = [
  'open_close',
  'anon_read',
  'anon_read_prot',
  'anon_write',
  'anon_write_prot',
  'anon_write_child',
  'anon_write_child_shared',
  'anon_write_huge',
  'anon_write_hugetlbfs',
  'file_read',
  'file_write',
  'migrate',
  'migrate_file_private',
  'migrate_fault',
  'migrate_release',
  'migrate_shared',
  'migrate_mixed',
  'migrate_multiple',
  'anon_read_multiple',
  'anon_teardown',
  'mixedmap',
  'snapshot',
  'compound',
  'double_map',
  'exclusive',
  'exclusive_mprotect',
  'exclusive_cow',
  'hmm_gup_test',
  'hmm_cow_in_device',
  'migrate_anon_huge_empty',
  'migrate_anon_huge_zero',
  'migrate_anon_huge_free',
  'migrate_anon_huge_fault',
  'migrate_partial_unmap_fault',
  'migrate_remap_fault',
  'migrate_anon_huge_err',
  'migrate_anon_huge_zero_err',
  'benchmark_thp_migration',
];

const kernelName = (name: string): string => name.split('@')[0] as string;

describe('hmm', () => {
  for (const test of HMM_SELFTESTS) {
    it(test.name, () => {
      const r = runSelftest(test);
      if (!r.ok) throw r.error instanceof Error ? r.error : new Error(r.message);
      expect(r).toEqual({ name: test.name, ok: true, message: 'ok' });
    });
  }

  for (const test of HMM_SELFTESTS.filter((t) => t.upstream !== undefined)) {
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
      /Both branches must be taken \(\d+ of the \d+/,
    );
});

describe('hmm selftest table', () => {
  it('names each test once, after a TEST_F of hmm-tests.c', () => {
    const names = HMM_SELFTESTS.map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(KERNEL_HMM_TESTS).toContain(kernelName(n));
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
