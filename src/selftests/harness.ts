/**
 * A small kselftest harness (tools/testing/selftests/kselftest_harness.h) for hmmsim's ports of
 * the kernel selftests: fixtures, ASSERT_* macros and a runner that gives each test a fresh
 * simulated machine, the way the kselftest runner gives each TEST_F a fresh process.
 *
 *   FIXTURE_SETUP    new Simulator({ seed, ramPages }) with 2 devices, a process, and
 *                    open("/dev/hmm_dmirror0") (and "/dev/hmm_dmirror1" for hmm2)
 *   TEST_F body      test.run(ctx)
 *   FIXTURE_TEARDOWN close() of every fd, which must succeed; then (unless `check: false`) the
 *                    test process exits and the machine's books must balance: src/check's
 *                    accounting checker finds nothing and no device page is still allocated
 *
 * An ASSERT_* that fails throws a SelftestFailure naming the test, the expression and both values,
 * which ends the test, as a failed kselftest ASSERT does. Anything else a test throws (a KernelBug,
 * a lockdep report, a SegvError for a CPU access the test did not expect) fails it too, with that
 * error's message.
 *
 * @see tools/testing/selftests/kselftest_harness.h (TEST_F, FIXTURE_SETUP, ASSERT_EQ)
 */

import { checkAccounting } from '../check/accounting.js';
import { PAGE_SHIFT, PAGE_SIZE } from '../core/addr.js';
import { errnoName } from '../core/errno.js';
import type { DeviceFile } from '../sim/devicefile.js';
import type { Process } from '../sim/process.js';
import { Simulator } from '../sim/simulator.js';

/** One ported selftest. */
export interface Selftest {
  /** The kernel's TEST_F name; a variant is `name@variant` (a kernel version or a schedule strategy). */
  name: string;
  /** FIXTURE(hmm): one fd on device 0; FIXTURE(hmm2): fd0 on device 0 and fd1 on device 1. */
  fixture: 'hmm' | 'hmm2';
  /** First kernel release whose hmm-tests.c has this test (or this form of it). */
  since: string;
  /** Whether v5.3 semantics (the seed) agree with what the kernel test asserts. */
  seed: 'same' | 'diverges';
  /** The docs/fidelity.md row (its first cell) that explains a divergence. */
  fidelity?: string;
  /** What the port changes or cannot model (THP, mirror sizes, ...). */
  note?: string;
  /** The test body: asserts what hmmsim implements. */
  run(ctx: SelftestContext): void;
  /**
   * For a test whose `run` asserts something else than the kernel test: the kernel's own asserts,
   * which must fail on hmmsim (they show why the test diverges).
   */
  upstream?(ctx: SelftestContext): void;
}

/** What TEST_F's `self` holds, plus the simulated machine. */
export interface SelftestContext {
  readonly sim: Simulator;
  /** The test process (the kselftest runner forks one per test). */
  readonly proc: Process;
  /** FIXTURE(hmm)'s fd; for hmm2 the same as fd0. */
  readonly fd: DeviceFile;
  readonly fd0: DeviceFile;
  /** FIXTURE(hmm2) only. */
  readonly fd1: DeviceFile;
  readonly pageSize: number;
  readonly pageShift: number;
  /** The seed the simulator was made with. */
  readonly seed: number;
  readonly test: Selftest;
}

export interface RunSelftestOptions {
  /** Simulator seed (default 1). */
  seed?: number | string;
  /** RAM of the simulated machine in pages (default 65,536 = 256 MiB). */
  ramPages?: number;
  /** Run `test.upstream` (the kernel's own asserts) instead of `test.run`. */
  upstream?: boolean;
  /**
   * After teardown, exit the test process and check the machine's books (default true): the
   * accounting checker of src/check finds nothing wrong, and no device page is still allocated.
   */
  check?: boolean;
}

export interface SelftestResult {
  name: string;
  ok: boolean;
  /** 'ok', or why the test failed. */
  message: string;
  /** What the test threw, if it failed. */
  error?: unknown;
}

/** A failed ASSERT_*: the test, the expression, the value seen and the value expected. */
export class SelftestFailure extends Error {
  readonly test: string;
  readonly expr: string;
  readonly actual: unknown;
  readonly expected: unknown;

  constructor(test: string, expr: string, actual: unknown, expected: unknown, message: string) {
    super(message);
    this.name = 'SelftestFailure';
    this.test = test;
    this.expr = expr;
    this.actual = actual;
    this.expected = expected;
  }
}

let currentTest = '(no test)';
let assertContext = '';

/** The name of the test being run (for messages). */
export function currentSelftest(): string {
  return currentTest;
}

/**
 * Runs `body` with `label` added to every assertion message it raises (a loop round, a schedule
 * seed, a replay string), as kselftest's TH_LOG would print it before the failing ASSERT.
 */
export function withContext<T>(label: string, body: () => T): T {
  const saved = assertContext;
  assertContext = assertContext ? `${assertContext}, ${label}` : label;
  try {
    return body();
  } finally {
    assertContext = saved;
  }
}

function fail(expr: string, actual: unknown, expected: unknown, got: string, want: string): never {
  const where = assertContext ? ` [${assertContext}]` : '';
  throw new SelftestFailure(
    currentTest,
    expr,
    actual,
    expected,
    `${currentTest}: ${expr} failed: got ${got}, expected ${want}${where}`,
  );
}

/**
 * ASSERT_EQ(actual, expected): `what` is the C expression, e.g. 'buffer->cpages' or 'ret'. An
 * expression named `ret` or `rc` prints negative values as errno names: -EFAULT (-14).
 */
export function ASSERT_EQ<T>(actual: T, expected: T, what: string): void {
  if (!Object.is(actual, expected))
    fail(`ASSERT_EQ(${what})`, actual, expected, fmt(actual, what), fmt(expected, what));
}

export function ASSERT_NE<T>(actual: T, unexpected: T, what: string): void {
  if (Object.is(actual, unexpected))
    fail(
      `ASSERT_NE(${what})`,
      actual,
      unexpected,
      fmt(actual, what),
      `anything but ${fmt(unexpected, what)}`,
    );
}

export function ASSERT_GE(actual: number, bound: number, what: string): void {
  if (!(actual >= bound))
    fail(`ASSERT_GE(${what})`, actual, bound, fmt(actual, what), `>= ${fmt(bound, what)}`);
}

/**
 * The C loop `for (i = from; i < to; ++i) ASSERT_EQ(ptr[i], f(i));` over Int32 values: fails at
 * the first mismatch, naming the index.
 */
export function ASSERT_INTS(
  ptr: Int32Array,
  f: (i: number) => number,
  what: string,
  from = 0,
  to = ptr.length,
): void {
  for (let i = from; i < to; i++) {
    const v = ptr[i] as number;
    const want = f(i) | 0;
    if (v !== want) fail(`ASSERT_EQ(${what}[${i}])`, v, want, String(v), String(want));
  }
}

/** Formats a value for a message: errno names for `ret`/`rc`, hex for snapshot bytes `m[i]`. */
function fmt(v: unknown, expr: string): string {
  if (typeof v === 'number' && Number.isInteger(v)) {
    if (v < 0 && v >= -4095 && /^(ret|rc)$/.test(expr)) return `-${errnoName(v)} (${v})`;
    if (/^m\[/.test(expr)) return `0x${v.toString(16).padStart(2, '0')}`;
  }
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/**
 * One test on a fresh machine: FIXTURE_SETUP, the body, FIXTURE_TEARDOWN. Never throws: the
 * result says whether the test passed and, if not, why.
 */
export function runSelftest(test: Selftest, opts: RunSelftestOptions = {}): SelftestResult {
  const body = opts.upstream ? test.upstream : test.run;
  if (body === undefined) {
    return {
      name: test.name,
      ok: false,
      message: `${test.name}: has no upstream form (run asserts the kernel's own expectations)`,
    };
  }
  const savedTest = currentTest;
  const savedContext = assertContext;
  currentTest = opts.upstream ? `${test.name} (upstream)` : test.name;
  assertContext = '';
  const fds: DeviceFile[] = [];
  try {
    // FIXTURE_SETUP
    const sim = new Simulator({ seed: opts.seed ?? 1, ramPages: opts.ramPages });
    const proc = sim.createProcess();
    const fd0 = sim.openDevice(0, proc);
    fds.push(fd0);
    let fd1: DeviceFile | null = null;
    if (test.fixture === 'hmm2') {
      fd1 = sim.openDevice(1, proc);
      fds.push(fd1);
    }
    const ctx: SelftestContext = {
      sim,
      proc,
      fd: fd0,
      fd0,
      get fd1(): DeviceFile {
        if (fd1 === null) throw new Error(`${test.name}: fd1 exists only in FIXTURE(hmm2)`);
        return fd1;
      },
      pageSize: PAGE_SIZE,
      pageShift: PAGE_SHIFT,
      seed: sim.seed,
      test,
    };
    body.call(test, ctx);
    // FIXTURE_TEARDOWN: close(fd) must return 0.
    while (fds.length > 0) (fds.shift() as DeviceFile).close();
    if (opts.check !== false) {
      // The test process exits (the kselftest runner forks one per test); nothing may be left over.
      if (!proc.exited) proc.exit();
      checkMachine(sim, test.fixture === 'hmm2' ? 2 : 1);
    }
    return { name: test.name, ok: true, message: 'ok' };
  } catch (e) {
    return { name: test.name, ok: false, message: describeError(e), error: e };
  } finally {
    currentTest = savedTest;
    assertContext = savedContext;
  }
}

/** Runs the tests named (every test if `names` is empty), in table order. Unknown names throw. */
export function runSelftests(
  table: readonly Selftest[],
  names: readonly string[] = [],
  opts: RunSelftestOptions = {},
): SelftestResult[] {
  const unknown = names.filter((n) => !table.some((t) => t.name === n));
  if (unknown.length > 0) throw new Error(`unknown selftest: ${unknown.join(', ')}`);
  const chosen = names.length === 0 ? table : table.filter((t) => names.includes(t.name));
  return chosen.map((t) => runSelftest(t, opts));
}

/** Every page accounted for, and every device page back on its device's free list. */
function checkMachine(sim: Simulator, devices: number): void {
  const v = checkAccounting(sim.kernel);
  if (v.length > 0) {
    fail('checkAccounting() after exit', v, [], `${v.length} violations:\n  ${v.join('\n  ')}`, 'none');
  }
  for (let n = 0; n < devices; n++) {
    const d = sim.device(n);
    ASSERT_EQ(d.calloc - d.cfree, 0, `device ${n} pages still allocated after exit (calloc - cfree)`);
  }
}

function describeError(e: unknown): string {
  if (e instanceof SelftestFailure) return e.message;
  if (e instanceof Error) return `${currentTest}: ${e.name}: ${e.message}`;
  return `${currentTest}: threw ${String(e)}`;
}
