/**
 * `hmmsim selftest [name...]`: the ported kernel selftests (src/selftests), printed as the kernel's
 * kselftest_harness.h prints them (TAP 13), or as one JSON document.
 *
 * Two runs, both by default (`--api seed|modern` picks one): the seed run, the v5.3 API with no
 * fixture variants (a test prints as `hmm.anon_read`), then the modern run, today's test_hmm under
 * every fixture variant (`hmm.hmm_device_private.anon_read`, `hmm.hmm_device_coherent.anon_read`,
 * `hmm2.hmm2_device_private.snapshot`, ...). Each runs as the kernel runner walks its lists:
 * fixture by fixture, variant by variant, the tests in file order. A test a run cannot run is a
 * SKIP in its place, with why.
 *
 * @see tools/testing/selftests/kselftest_harness.h (test_harness_run, __run_test)
 * @see tools/testing/selftests/kselftest.h (ksft_print_msg, ksft_test_result_code, ksft_print_cnts)
 */
import { InvalidArgumentError } from 'commander';
import {
  type FixtureVariant,
  fixtureVariants,
  runSelftest,
  type Selftest,
  type SelftestApi,
  type SelftestResult,
  xfailOn,
} from '../selftests/harness.js';
import { HMM_SELFTESTS, HMM_SELFTESTS_NOT_PORTED, kernelTestName } from '../selftests/hmm_tests.js';
import { type Colors, color, makeColors } from './color.js';
import { cliIo } from './io.js';
import { NO_PROGRESS, startProgress } from './progress.js';

export interface SelftestCliOptions {
  list?: boolean;
  seed: number;
  upstream?: boolean;
  json?: boolean;
  /** 'seed' or 'modern': one run only (default both). */
  api?: string;
}

/** One finished test as TAP prints it: `name` is `fixture.test` or `fixture.variant.test`. */
export interface TapEntry {
  name: string;
  ok: boolean;
  /** Why it failed (may span lines). */
  message?: string;
  /** Set for a test that did not run (not ported, or not on this API): why. `ok` is true, as kselftest counts a SKIP. */
  skip?: string;
  /** Set for an expected failure (`Selftest.xfail`): why. `ok` is true, as kselftest counts an XFAIL. */
  xfail?: string;
  /** What the test printed (its printf lines). */
  output?: string;
}

/** A test of hmm-tests.c that is not ported: TAP prints it as a SKIP. */
interface NotPorted {
  name: string;
  since: string;
  reason: string;
}

/** One test of one run: the test, the run's API and (modern) its fixture variant. */
export interface PlannedTest {
  test: Selftest | NotPorted;
  api: SelftestApi;
  variant: FixtureVariant | null;
  /** Why it does not run, for a SKIP. */
  skip?: string;
}

/**
 * Whether hmmsim's asserts diverge from the kernel test's on the seed run: the test has the
 * kernel's own asserts as `upstream`, which `--upstream` runs and which fail. (`seed: 'diverges'`
 * says something else: that Linux v5.3 itself would fail the test, which hmmsim may or may not
 * follow.)
 */
export function divergesUpstream(t: Selftest): boolean {
  return t.upstream !== undefined;
}

/** FIXTURE order of hmm-tests.c: the kernel runs the tests fixture by fixture. */
const FIXTURES = ['hmm', 'hmm2'] as const;
const APIS: readonly SelftestApi[] = ['seed', 'modern'];

export const SELFTEST_HELP = `
Runs:
  The seed run (the v5.3 API) names a test fixture.test: hmm.anon_read. The modern
  run (today's test_hmm, on four devices: 0, 1 private, 2, 3 coherent) runs each
  test under every variant of its fixture: hmm.hmm_device_private.anon_read,
  hmm.hmm_device_coherent.anon_read, hmm2.hmm2_device_private.snapshot, ...
  Both run unless --api names one.

Names:
  A name is a TEST_F name, with or without its fixture and variant: anon_read,
  hmm.anon_read or hmm.hmm_device_coherent.anon_read. A variant of a test (another
  kernel version's form, another schedule explorer) is name@variant, e.g.
  anon_teardown@dfs. A bare name selects the test and all its variants (as
  kselftest's -t selects a test in every fixture variant); name@variant selects
  that one only. With no name, every test runs, and the ones a run cannot run are
  listed too, as '# SKIP' results counted in the totals.

Output is kselftest (TAP 13), as kselftest_harness.h prints it, a test's printf lines
as '# ' comments; exit 0 if every test passed, 1 if one failed, 2 for an unknown name.
A run where the kernel only WARNs and hmmsim stops (hmmsim stops at every WARN) is an
'# XFAIL' with why, counted as passed; if it passes instead, it fails (an XPASS).

--upstream runs the kernel's own asserts for the tests whose asserts diverge from the
kernel's on the seed run (--list marks them 'diverges'); each of those fails, showing
how v5.3 differs. The modern run always asserts what the kernel test asserts.

Examples:
  $ hmmsim selftest                            every test, both runs
  $ hmmsim selftest --api modern exclusive     exclusive under both hmm variants
  $ hmmsim selftest anon_read hmm.migrate      two tests, both runs
  $ hmmsim selftest --api seed anon_teardown   anon_teardown, @pct and @dfs
  $ hmmsim selftest --upstream anon_read_prot  the kernel's asserts: fail on the seed
  $ hmmsim selftest --list                     every test of each run; SKIPs with why
`;

/** The runs --api asks for. */
function apisOf(api: string | undefined): readonly SelftestApi[] {
  if (api === undefined) return APIS;
  if (api === 'seed' || api === 'modern') return [api];
  throw new InvalidArgumentError(`--api: expected 'seed' or 'modern', got '${api}'`);
}

/** FIXTURE.TEST (seed run) or FIXTURE.VARIANT.TEST (modern run), as the kernel runner names it. */
export function tapName(e: PlannedTest): string {
  const fixture = 'fixture' in e.test ? e.test.fixture : 'hmm';
  return e.variant === null ? `${fixture}.${e.test.name}` : `${fixture}.${e.variant.name}.${e.test.name}`;
}

/** Why a run cannot run `t`, or undefined. */
function skipReason(t: Selftest, api: SelftestApi): string | undefined {
  if (api === 'seed' && t.seedCannot !== undefined) return `not on the seed API: ${t.seedCannot}`;
  return undefined;
}

/** Every test of one run, in run order, with SKIPs in their places (every unported test is FIXTURE(hmm)). */
function planRun(api: SelftestApi): PlannedTest[] {
  const notPorted = (v: FixtureVariant | null): PlannedTest[] =>
    HMM_SELFTESTS_NOT_PORTED.map((t) => ({ test: t, api, variant: v, skip: `not ported: ${t.reason}` }));
  const tests = (f: string, v: FixtureVariant | null): PlannedTest[] => [
    ...HMM_SELFTESTS.filter((t) => t.fixture === f && (api === 'seed' || t.today !== false)).map((t) => {
      const skip = skipReason(t, api);
      return skip === undefined ? { test: t, api, variant: v } : { test: t, api, variant: v, skip };
    }),
    ...(f === 'hmm' ? notPorted(v) : []),
  ];
  if (api === 'seed') return FIXTURES.flatMap((f) => tests(f, null));
  return FIXTURES.flatMap((f) => fixtureVariants(f).flatMap((v) => tests(f, v)));
}

/**
 * The tests `names` select, in run order, over the runs of `api` (every test, SKIPs included, for
 * no name). An unknown name, or one that selects nothing these runs can run, is a usage error.
 */
export function selectSelftests(names: readonly string[], api?: string): PlannedTest[] {
  const plan = apisOf(api).flatMap(planRun);
  if (names.length === 0) return plan;
  const runnable = plan.filter((e) => e.skip === undefined);
  for (const n of names) {
    if (!runnable.some((e) => selects(n, e))) throw unknownName(n, plan);
  }
  return runnable.filter((e) => names.some((n) => selects(n, e)));
}

function selects(arg: string, e: PlannedTest): boolean {
  const full = tapName(e);
  const fixture = full.slice(0, full.indexOf('.'));
  let name = arg;
  if (arg.startsWith(`${fixture}.`)) {
    name = arg.slice(fixture.length + 1);
    if (e.variant !== null && name.startsWith(`${e.variant.name}.`))
      name = name.slice(e.variant.name.length + 1);
  }
  if (/^hmm2?\./.test(name)) return false;
  const t = e.test.name;
  return name.includes('@') ? t === name : t === name || t.startsWith(`${name}@`);
}

function unknownName(arg: string, plan: readonly PlannedTest[]): InvalidArgumentError {
  const bare = kernelTestName(arg.split('.').pop() as string);
  const skipped = plan.find((e) => e.skip !== undefined && e.test.name === bare);
  if (skipped !== undefined)
    return new InvalidArgumentError(`selftest '${arg}' does not run: ${skipped.skip}`);
  return new InvalidArgumentError(`unknown selftest '${arg}' (hmmsim selftest --list names them)`);
}

/**
 * --list: every test of the runs asked, one name a line (`<name>  # diverges: ...` for the seed
 * run's tests whose --upstream asserts fail, `<name>  # XFAIL why` for an expected failure on its
 * variant), the ones a run cannot run as TAP `# SKIP` lines with why. With --json: `api`,
 * `variant`, `diverges` (that mark), `v53` (whether Linux v5.3 itself passes the kernel test),
 * `skip`, and `xfail`.
 */
export function listSelftests(json: boolean, out: (line: string) => void, api?: string): void {
  if (json) {
    out(JSON.stringify({ tests: selectSelftests([], api).map(listEntry) }));
    return;
  }
  for (const a of apisOf(api)) listRun(planRun(a), out);
}

/** One run's --list lines, the marks (diverging, XFAIL) aligned. */
function listRun(plan: readonly PlannedTest[], out: (line: string) => void): void {
  const width = Math.max(...plan.filter((e) => e.skip === undefined).map((e) => tapName(e).length));
  for (const e of plan) {
    if (e.skip !== undefined) {
      out(`# SKIP ${tapName(e)} (since ${e.test.since}): ${e.skip}`);
      continue;
    }
    const t = e.test as Selftest;
    const why = t.fidelity === undefined ? '' : `; docs/fidelity.md: ${t.fidelity}`;
    const xfail = expectedFailure(e);
    const diverges = e.api === 'seed' && divergesUpstream(t) ? `  # diverges: --upstream fails${why}` : '';
    const mark = xfail === undefined ? diverges : `  # XFAIL ${xfail}`;
    out(`${tapName(e).padEnd(mark === '' ? 0 : width)}${mark}`);
  }
}

/** Why the planned run is expected to fail (`Selftest.xfail` on its variant), or undefined. */
function expectedFailure(e: PlannedTest): string | undefined {
  return 'run' in e.test ? xfailOn(e.test, e.variant)?.reason : undefined;
}

function listEntry(e: PlannedTest): object {
  const t = e.test;
  const ported = 'run' in t;
  return {
    name: tapName(e),
    api: e.api,
    variant: e.variant?.name ?? null,
    since: t.since,
    ...(ported ? { diverges: e.api === 'seed' && divergesUpstream(t), v53: t.seed } : {}),
    ...(e.skip === undefined ? {} : { skip: e.skip }),
    ...(expectedFailure(e) === undefined ? {} : { xfail: expectedFailure(e) }),
  };
}

function skipEntry(e: PlannedTest): TapEntry {
  return { name: tapName(e), ok: true, skip: e.skip };
}

/** Runs the selected tests; returns the exit code (0: all passed, 1: one failed). */
export function runSelftestCli(
  names: readonly string[],
  opts: SelftestCliOptions,
  out: (line: string) => void,
): number {
  if (opts.list) {
    if (names.length > 0) throw new InvalidArgumentError('--list takes no test names');
    listSelftests(opts.json === true, out, opts.api);
    return 0;
  }
  const order = selectSelftests(names, opts.api);
  const entries = opts.json ? runQuiet(order, opts) : runTap(order, opts, out);
  if (opts.json) out(JSON.stringify(jsonOf(entries)));
  return entries.every((e) => e.ok) ? 0 : 1;
}

/**
 * One test of one run: on the seed run, its kernel asserts with --upstream where it has them,
 * hmmsim's otherwise; on the modern run, the kernel's.
 */
function runOne(e: PlannedTest, opts: SelftestCliOptions): TapEntry {
  if (e.skip !== undefined) return skipEntry(e);
  const t = e.test as Selftest;
  const r: SelftestResult = runSelftest(t, {
    api: e.api,
    ...(e.variant === null ? {} : { variant: e.variant.name }),
    seed: opts.seed,
    upstream: e.api === 'seed' && opts.upstream === true && t.upstream !== undefined,
  });
  const name = tapName(e);
  const output = r.output === undefined ? {} : { output: r.output };
  if (r.xfail !== undefined) return { name, ok: true, xfail: r.xfail, ...output };
  return r.ok ? { name, ok: true, ...output } : { name, ok: false, message: r.message, ...output };
}

function runQuiet(tests: readonly PlannedTest[], opts: SelftestCliOptions): TapEntry[] {
  const progress = startProgress('selftest', tests.length);
  try {
    return tests.map((t, i) => {
      const e = runOne(t, opts);
      progress.update(i + 1);
      return e;
    });
  } finally {
    progress.stop();
  }
}

/** Prints TAP as the tests run, as the kernel runner does (RUN before the test, the result after). */
function runTap(
  tests: readonly PlannedTest[],
  opts: SelftestCliOptions,
  out: (line: string) => void,
): TapEntry[] {
  // TAP lines streamed to a terminal would tear a bar drawn between them: a bar only when piped.
  const progress = cliIo().stdout.isTTY ? NO_PROGRESS : startProgress('selftest', tests.length);
  const entries: TapEntry[] = [];
  try {
    for (const line of tapHeader(tests.map(tapName), color)) out(line);
    for (const [i, t] of tests.entries()) {
      out(tapRun(tapName(t)));
      const e = runOne(t, opts);
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

function jsonOf(entries: readonly TapEntry[]): object {
  const c = counts(entries);
  return {
    ok: c.failed === 0,
    tests: entries,
    passed: c.passed,
    failed: c.failed,
    skipped: c.skipped,
    xfail: c.xfail,
  };
}

function counts(entries: readonly TapEntry[]): {
  passed: number;
  failed: number;
  skipped: number;
  xfail: number;
} {
  const skipped = entries.filter((e) => e.skip !== undefined).length;
  const xfail = entries.filter((e) => e.xfail !== undefined).length;
  const failed = entries.filter((e) => !e.ok).length;
  return { passed: entries.length - failed - skipped - xfail, failed, skipped, xfail };
}

/**
 * ksft_print_header, ksft_set_plan and test_harness_run's "Starting" message, whose test cases
 * are the (fixture, variant) pairs: what a name has before its last dot.
 */
export function tapHeader(names: readonly string[], c: Colors): string[] {
  const caseOf = (n: string): string => {
    const bare = n.replace(/@[\d.]+$/, ''); // a form's version (migrate_fault@5.8) is no level
    return bare.slice(0, bare.lastIndexOf('.'));
  };
  const cases = new Set(names.map(caseOf)).size;
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
  const printed =
    e.output === undefined
      ? []
      : e.output
          .replace(/\n$/, '')
          .split('\n')
          .map((l) => (l === '' ? '#' : `# ${l}`));
  const [kind, reason] = e.skip !== undefined ? ['SKIP', e.skip] : ['XFAIL', e.xfail];
  if (reason !== undefined) {
    return [
      ...printed,
      `#      ${kind}      ${reason}`,
      `#            ${c.green('OK')}  ${e.name}`,
      `${c.yellow('ok')} ${n} ${e.name} # ${kind} ${reason}`,
    ];
  }
  const why = e.ok || e.message === undefined ? [] : e.message.split('\n').map((l) => `# ${l}`);
  const verdict = e.ok ? `  ${c.green('OK')}` : c.red('FAIL');
  const result = e.ok ? c.green('ok') : c.red('not ok');
  return [...printed, ...why, `#          ${verdict}  ${e.name}`, `${result} ${n} ${e.name}`];
}

/**
 * test_harness_run's summary (a skipped test counts as passed there) and ksft_print_cnts (skips
 * counted apart, as are XFAILs; no xpass or error here: an XPASS is a failure).
 */
export function tapFooter(entries: readonly TapEntry[], c: Colors): string[] {
  const { passed, failed, skipped, xfail } = counts(entries);
  const verdict = failed > 0 ? c.red('FAILED') : c.green('PASSED');
  return [
    `# ${c.bold(verdict)}: ${passed + skipped + xfail} / ${entries.length} tests passed.`,
    `# Totals: pass:${passed} fail:${failed} xfail:${xfail} xpass:0 skip:${skipped} error:0`,
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
