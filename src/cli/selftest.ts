/**
 * `hmmsim selftest [name...]`: the ported kernel selftests (src/selftests), printed as the kernel's
 * kselftest_harness.h prints them (TAP 13), or as one JSON document.
 *
 * The test case of a test is its FIXTURE (`hmm`, `hmm2`), so a test prints as `hmm.anon_read`, and
 * the tests run fixture by fixture as the kernel runner walks its fixture list: every `hmm` test
 * in table order, then every `hmm2` test.
 *
 * @see tools/testing/selftests/kselftest_harness.h (test_harness_run, __run_test)
 * @see tools/testing/selftests/kselftest.h (ksft_print_msg, ksft_test_result_code, ksft_print_cnts)
 */
import { InvalidArgumentError } from 'commander';
import { runSelftest, type Selftest, type SelftestResult } from '../selftests/harness.js';
import { HMM_SELFTESTS, HMM_SELFTESTS_NOT_PORTED } from '../selftests/hmm_tests.js';
import { type Colors, color, makeColors } from './color.js';
import { cliIo } from './io.js';
import { NO_PROGRESS, startProgress } from './progress.js';

export interface SelftestCliOptions {
  list?: boolean;
  seed: number;
  upstream?: boolean;
  json?: boolean;
}

/** One finished test as TAP prints it: `name` is `fixture.test`. */
export interface TapEntry {
  name: string;
  ok: boolean;
  /** Why it failed (may span lines). */
  message?: string;
  /** Set for a test that did not run (an unported one): why. `ok` is true, as kselftest counts a SKIP. */
  skip?: string;
}

/** A test of hmm-tests.c that is not ported: TAP prints it as a SKIP. */
interface NotPorted {
  name: string;
  since: string;
  reason: string;
}

/**
 * Whether hmmsim's asserts diverge from the kernel test's: the test has the kernel's own asserts
 * as `upstream`, which `--upstream` runs and which fail. (`seed: 'diverges'` says something else:
 * that Linux v5.3 itself would fail the test, which hmmsim may or may not follow.)
 */
export function divergesUpstream(t: Selftest): boolean {
  return t.upstream !== undefined;
}

/** FIXTURE order of hmm-tests.c: the kernel runs the tests fixture by fixture. */
const FIXTURES = ['hmm', 'hmm2'] as const;

export const SELFTEST_HELP = `
Names:
  A name is a TEST_F name, with or without its fixture: anon_read or hmm.anon_read.
  A variant of a test (another kernel version's form, another schedule explorer) is
  name@variant, e.g. anon_teardown@dfs. A bare name selects the test and all its
  variants (as kselftest's -t selects a test in every fixture variant); name@variant
  selects that one only. With no name, every ported test runs.

Output is kselftest (TAP 13), as kselftest_harness.h prints it; exit 0 if every test
passed, 1 if one failed, 2 for an unknown name. With no name, the tests that are not
ported are listed too, as '# SKIP' results counted in the totals.

--upstream runs the kernel's own asserts for the tests whose asserts diverge from the
kernel's (--list marks them 'diverges'); each of those fails, showing how v5.3 differs.

Examples:
  $ hmmsim selftest                            all ported tests
  $ hmmsim selftest anon_read hmm.migrate      two tests
  $ hmmsim selftest anon_teardown              anon_teardown, @pct and @dfs
  $ hmmsim selftest --upstream anon_read_prot  the kernel's asserts: fail, v5.3 diverges
  $ hmmsim selftest --list                     ported tests (diverging ones marked), the others as # SKIP
`;

function tapName(t: Selftest): string {
  return `${t.fixture}.${t.name}`;
}

/** The tests `names` select, in run order (every test for no name). Unknown names are usage errors. */
export function selectSelftests(names: readonly string[]): Selftest[] {
  const byFixture = FIXTURES.flatMap((f) => HMM_SELFTESTS.filter((t) => t.fixture === f));
  if (names.length === 0) return byFixture;
  for (const n of names) {
    if (!byFixture.some((t) => selects(n, t))) throw unknownName(n);
  }
  return byFixture.filter((t) => names.some((n) => selects(n, t)));
}

function selects(arg: string, t: Selftest): boolean {
  let name = arg;
  const prefix = FIXTURES.find((f) => arg.startsWith(`${f}.`));
  if (prefix !== undefined) {
    if (prefix !== t.fixture) return false;
    name = arg.slice(prefix.length + 1);
  }
  return name.includes('@') ? t.name === name : t.name === name || t.name.startsWith(`${name}@`);
}

function unknownName(arg: string): InvalidArgumentError {
  const bare = arg.replace(/^hmm2?\./, '');
  const notPorted = HMM_SELFTESTS_NOT_PORTED.find((t) => t.name === bare);
  if (notPorted !== undefined) {
    return new InvalidArgumentError(`selftest '${arg}' is not ported: ${notPorted.reason}`);
  }
  return new InvalidArgumentError(`unknown selftest '${arg}' (hmmsim selftest --list names them)`);
}

/**
 * --list: the ported tests, one name a line (`<name>  # diverges: ...` for the ones whose
 * --upstream asserts fail), then the others as TAP `# SKIP` lines with why. With --json:
 * `diverges` is the same mark, `v53` whether Linux v5.3 itself passes the kernel test.
 */
export function listSelftests(json: boolean, out: (line: string) => void): void {
  const tests = selectSelftests([]);
  if (json) {
    out(
      JSON.stringify({
        tests: tests.map((t) => ({
          name: tapName(t),
          since: t.since,
          diverges: divergesUpstream(t),
          v53: t.seed,
        })),
        notPorted: HMM_SELFTESTS_NOT_PORTED,
      }),
    );
    return;
  }
  const width = Math.max(...tests.map((t) => tapName(t).length));
  for (const t of tests) {
    const why = t.fidelity === undefined ? '' : `; docs/fidelity.md: ${t.fidelity}`;
    const mark = divergesUpstream(t) ? `  # diverges: --upstream fails${why}` : '';
    out(`${tapName(t).padEnd(mark === '' ? 0 : width)}${mark}`);
  }
  for (const t of HMM_SELFTESTS_NOT_PORTED) out(`# SKIP ${t.name} (since ${t.since}): ${t.reason}`);
}

/** The run order: the fixtures in turn, each's ported tests then (for a run of all) its unported ones. */
function runOrder(tests: readonly Selftest[], all: boolean): (Selftest | NotPorted)[] {
  return FIXTURES.flatMap((f) => [
    ...tests.filter((t) => t.fixture === f),
    // every test of hmm-tests.c that is not ported is a FIXTURE(hmm) test
    ...(all && f === 'hmm' ? HMM_SELFTESTS_NOT_PORTED : []),
  ]);
}

function isPorted(t: Selftest | NotPorted): t is Selftest {
  return 'run' in t;
}

function skipEntry(t: NotPorted): TapEntry {
  return { name: `hmm.${t.name}`, ok: true, skip: `not ported: ${t.reason}` };
}

/** Runs the selected tests; returns the exit code (0: all passed, 1: one failed). */
export function runSelftestCli(
  names: readonly string[],
  opts: SelftestCliOptions,
  out: (line: string) => void,
): number {
  if (opts.list) {
    if (names.length > 0) throw new InvalidArgumentError('--list takes no test names');
    listSelftests(opts.json === true, out);
    return 0;
  }
  const order = runOrder(selectSelftests(names), names.length === 0);
  const entries = opts.json ? runQuiet(order, opts) : runTap(order, opts, out);
  if (opts.json) out(JSON.stringify(jsonOf(entries)));
  return entries.every((e) => e.ok) ? 0 : 1;
}

/** One test: its kernel asserts with --upstream where it has them, hmmsim's otherwise. */
function runOne(t: Selftest, opts: SelftestCliOptions): TapEntry {
  const r: SelftestResult = runSelftest(t, {
    seed: opts.seed,
    upstream: opts.upstream === true && t.upstream !== undefined,
  });
  return r.ok ? { name: tapName(t), ok: true } : { name: tapName(t), ok: false, message: r.message };
}

function runQuiet(tests: readonly (Selftest | NotPorted)[], opts: SelftestCliOptions): TapEntry[] {
  const progress = startProgress('selftest', tests.length);
  try {
    return tests.map((t, i) => {
      const e = isPorted(t) ? runOne(t, opts) : skipEntry(t);
      progress.update(i + 1);
      return e;
    });
  } finally {
    progress.stop();
  }
}

/** Prints TAP as the tests run, as the kernel runner does (RUN before the test, the result after). */
function runTap(
  tests: readonly (Selftest | NotPorted)[],
  opts: SelftestCliOptions,
  out: (line: string) => void,
): TapEntry[] {
  // TAP lines streamed to a terminal would tear a bar drawn between them: a bar only when piped.
  const progress = cliIo().stdout.isTTY ? NO_PROGRESS : startProgress('selftest', tests.length);
  const entries: TapEntry[] = [];
  try {
    for (const line of tapHeader(tests.map(nameOf), color)) out(line);
    for (const [i, t] of tests.entries()) {
      out(tapRun(nameOf(t)));
      const e = isPorted(t) ? runOne(t, opts) : skipEntry(t);
      entries.push(e);
      for (const line of tapOutcome(i + 1, e, color)) out(line);
      progress.update(i + 1);
    }
  } finally {
    progress.stop();
  }
  for (const line of tapFooter(entries, color)) out(line);
  return entries;
}

function nameOf(t: Selftest | NotPorted): string {
  return isPorted(t) ? tapName(t) : `hmm.${t.name}`;
}

function jsonOf(entries: readonly TapEntry[]): object {
  const c = counts(entries);
  return { ok: c.failed === 0, tests: entries, passed: c.passed, failed: c.failed, skipped: c.skipped };
}

function counts(entries: readonly TapEntry[]): { passed: number; failed: number; skipped: number } {
  const skipped = entries.filter((e) => e.skip !== undefined).length;
  const failed = entries.filter((e) => !e.ok).length;
  return { passed: entries.length - failed - skipped, failed, skipped };
}

/** ksft_print_header, ksft_set_plan and test_harness_run's "Starting" message. */
export function tapHeader(names: readonly string[], c: Colors): string[] {
  const cases = new Set(names.map((n) => n.slice(0, n.indexOf('.')))).size;
  return [
    c.bold('TAP version 13'),
    `1..${names.length}`,
    `# Starting ${names.length} tests from ${cases} test cases.`,
  ];
}

/** __run_test's first message. */
export function tapRun(name: string): string {
  return `#  RUN           ${name} ...`;
}

/**
 * The failure's message lines (TH_LOG) or SKIP()'s reason, __run_test's "%4s" verdict (a skipped
 * test has passed, so it is OK) and ksft_test_result_code (`ok N name # SKIP reason`).
 */
export function tapOutcome(n: number, e: TapEntry, c: Colors): string[] {
  if (e.skip !== undefined) {
    return [
      `#      SKIP      ${e.skip}`,
      `#            ${c.green('OK')}  ${e.name}`,
      `${c.yellow('ok')} ${n} ${e.name} # SKIP ${e.skip}`,
    ];
  }
  const why = e.ok || e.message === undefined ? [] : e.message.split('\n').map((l) => `# ${l}`);
  const verdict = e.ok ? `  ${c.green('OK')}` : c.red('FAIL');
  const result = e.ok ? c.green('ok') : c.red('not ok');
  return [...why, `#          ${verdict}  ${e.name}`, `${result} ${n} ${e.name}`];
}

/**
 * test_harness_run's summary (a skipped test counts as passed there) and ksft_print_cnts (skips
 * counted apart; no xfail, xpass or error here).
 */
export function tapFooter(entries: readonly TapEntry[], c: Colors): string[] {
  const { passed, failed, skipped } = counts(entries);
  const verdict = failed > 0 ? c.red('FAILED') : c.green('PASSED');
  return [
    `# ${c.bold(verdict)}: ${passed + skipped} / ${entries.length} tests passed.`,
    `# Totals: pass:${passed} fail:${failed} xfail:0 xpass:0 skip:${skipped} error:0`,
  ];
}

/** The whole TAP text of finished tests (uncoloured by default): what runTap prints, at once. */
export function formatTap(entries: readonly TapEntry[], c: Colors = makeColors(false)): string[] {
  return [
    ...tapHeader(
      entries.map((e) => e.name),
      c,
    ),
    ...entries.flatMap((e, i) => [tapRun(e.name), ...tapOutcome(i + 1, e, c)]),
    ...tapFooter(entries, c),
  ];
}
