/**
 * A small kselftest harness (tools/testing/selftests/kselftest_harness.h) for hmmsim's ports of
 * the kernel selftests: fixtures, fixture variants, ASSERT_* macros and a runner that gives each
 * test a fresh simulated machine, the way the kselftest runner gives each TEST_F a fresh process.
 *
 * A test runs on one of the two HMM API generations of the simulator:
 *
 *   seed    the v5.3 API: new Simulator({ seed, ramPages }) with its 2 private devices, each fd
 *           the seed-API dmirror (openDevice(n, p)). No fixture variants: the kernel's hmm-tests.c
 *           had none before ≈v6.0, and the seed has no device-coherent memory. Names: `anon_read`.
 *   modern  today's API: new Simulator({ kernel: 'v6.19', devices: MODERN_DEVICES }), the four
 *           devices test_hmm creates when spm_addr_dev0/1 are given (0, 1 private; 2, 3 coherent),
 *           each fd today's test_hmm (openDevice(n, p, { api: 'modern' })), under the variant
 *           (FIXTURE_VARIANT_ADD) asked: hmm_device_private (device 0) or hmm_device_coherent (2)
 *           for FIXTURE(hmm), hmm2_device_private (0, 1) or hmm2_device_coherent (2, 3) for
 *           FIXTURE(hmm2). Names: `hmm_device_private.anon_read`.
 *
 *   FIXTURE_SETUP    the machine (with HUGETLB_SETUP_DEFAULT_PAGES(1): one 2 MiB hugetlb page), a
 *                    process, and open("/dev/hmm_dmirrorN") for the fixture's devices
 *   TEST_F body      test.run(ctx) (on the modern run: test.upstream, the kernel's own asserts,
 *                    where a test has a seed-only form in `run`)
 *   FIXTURE_TEARDOWN close() of every fd, which must succeed; then (unless `check: false`) the
 *                    test process exits and the machine's books must balance: src/check's
 *                    accounting checker finds nothing and no device page is still allocated
 *
 * An ASSERT_* that fails throws a SelftestFailure naming the test, the expression and both values,
 * which ends the test, as a failed kselftest ASSERT does. Anything else a test throws (a KernelBug,
 * a lockdep report, a SegvError for a CPU access the test did not expect) fails it too, with that
 * error's message.
 *
 * @see tools/testing/selftests/kselftest_harness.h (TEST_F, FIXTURE_SETUP, FIXTURE_VARIANT_ADD, ASSERT_EQ)
 * @see tools/testing/selftests/mm/hmm-tests.c (Linux v6.19 and the torvalds tip after it: the variants)
 */

import { checkAccounting } from '../check/accounting.js';
import { PAGE_SHIFT, PAGE_SIZE } from '../core/addr.js';
import { KernelWarning } from '../core/assert.js';
import { errnoName } from '../core/errno.js';
import type { HmmApi } from '../drivers/driver.js';
import type { DeviceFile } from '../sim/devicefile.js';
import type { Process } from '../sim/process.js';
import { type DeviceOptions, RAM_PAGES_DEFAULT, Simulator } from '../sim/simulator.js';

/** Which HMM API generation a selftest run uses: the v5.3 seed or today's (see the file comment). */
export type SelftestApi = HmmApi;

/** A FIXTURE_VARIANT_ADD of hmm-tests.c (≈v6.0+): the devices a fixture opens. */
export interface FixtureVariant {
  /** The FIXTURE it belongs to. */
  readonly fixture: 'hmm' | 'hmm2';
  /** Its name, as the kselftest runner prints it: FIXTURE.VARIANT.TEST. */
  readonly name: string;
  /** variant->device_number (hmm) or device_number0/1 (hmm2). */
  readonly devices: readonly number[];
  /** hmm_is_coherent_type(variant->device_number): devices 2 and 3 have device-coherent memory. */
  readonly coherent: boolean;
}

/** The fixture variants of today's hmm-tests.c, in the order the runner walks them. */
export const HMM_FIXTURE_VARIANTS: readonly FixtureVariant[] = [
  { fixture: 'hmm', name: 'hmm_device_private', devices: [0], coherent: false },
  { fixture: 'hmm', name: 'hmm_device_coherent', devices: [2], coherent: true },
  { fixture: 'hmm2', name: 'hmm2_device_private', devices: [0, 1], coherent: false },
  { fixture: 'hmm2', name: 'hmm2_device_coherent', devices: [2, 3], coherent: true },
];

/**
 * The devices of `modprobe test_hmm spm_addr_dev0=… spm_addr_dev1=…`: HMM_PRIVATE_DEVICE_ONE/TWO
 * and HMM_COHERENCE_DEVICE_ONE/TWO.
 */
export const MODERN_DEVICES: readonly DeviceOptions[] = [
  { kind: 'private' },
  { kind: 'private' },
  { kind: 'coherent' },
  { kind: 'coherent' },
];

/** HUGETLB_SETUP_DEFAULT_PAGES(1): hmm-tests.c makes sure one default-size huge page exists. */
const HUGETLB_DEFAULT_PAGES = 1;

/** The variants of `fixture`. */
export function fixtureVariants(fixture: 'hmm' | 'hmm2'): FixtureVariant[] {
  return HMM_FIXTURE_VARIANTS.filter((v) => v.fixture === fixture);
}

/** One ported selftest. */
export interface Selftest {
  /** The kernel's TEST_F name; a variant is `name@variant` (a kernel version or a schedule strategy). */
  name: string;
  /** FIXTURE(hmm): one fd on device 0; FIXTURE(hmm2): fd0 on device 0 and fd1 on device 1. */
  fixture: 'hmm' | 'hmm2';
  /** First kernel release whose hmm-tests.c has this test (or this form of it). */
  since: string;
  /**
   * Whether v5.3 semantics (the seed) agree with what the kernel test asserts; 'n/a' for a test the
   * seed-API run cannot run at all (`seedCannot` says why).
   */
  seed: 'same' | 'diverges' | 'n/a';
  /** Why the seed-API run cannot run this test (the feature it needs came after v5.3). */
  seedCannot?: string;
  /**
   * false for the form of an older kernel release (`name@5.8`): only the seed run runs it, as
   * today's form (the bare name) is the one the modern run asserts.
   */
  today?: false;
  /** The docs/fidelity.md row (its first cell) that explains a divergence. */
  fidelity?: string;
  /** What the port changes or cannot model (THP, mirror sizes, ...). */
  note?: string;
  /**
   * A fixture variant on which the kernel only WARNs and goes on, where hmmsim stops (a WARN is a
   * thrown KernelWarning here, as everywhere in hmmsim): the run is an XFAIL, with `reason`, when
   * the test ends in exactly that warning, and fails if it ends otherwise or passes (then the
   * kernel path, or the model, has changed).
   */
  xfail?: { variant: string; warning: string; reason: string };
  /**
   * RAM (pages) the test needs when it is more than the run's (default 65,536 = 256 MiB): the
   * kernel test assumes a machine with room for its buffers.
   */
  ramPages?: number;
  /**
   * Memory (pages) each of the modern run's devices needs when it is more than one 256 MiB chunk:
   * test_hmm adds 256 MiB chunks on demand, the model's device has the one it is given.
   */
  deviceMemoryPages?: number;
  /** The test body: asserts what hmmsim implements (on the modern run: the kernel's asserts). */
  run(ctx: SelftestContext): void;
  /**
   * For a test whose `run` asserts something else than the kernel test on the seed: the kernel's
   * own asserts, which fail on the seed run (they show why the test diverges) and are what the
   * modern run runs.
   */
  upstream?(ctx: SelftestContext): void;
}

/** What TEST_F's `self` holds, plus the simulated machine. */
export interface SelftestContext {
  readonly sim: Simulator;
  /** The test process (the kselftest runner forks one per test). */
  readonly proc: Process;
  /** The API generation of this run. */
  readonly api: SelftestApi;
  /** The fixture variant (modern run); null on the seed run, which has none. */
  readonly variant: FixtureVariant | null;
  /** hmm_is_coherent_type(variant->device_number): false on the seed run. */
  readonly coherent: boolean;
  /** hmm_open(n) by process p, on the run's API generation (a child's own fd, say). */
  openDevice(n: number, p: Process): DeviceFile;
  /** FIXTURE(hmm)'s fd; for hmm2 the same as fd0. */
  readonly fd: DeviceFile;
  readonly fd0: DeviceFile;
  /** FIXTURE(hmm2) only. */
  readonly fd1: DeviceFile;
  readonly pageSize: number;
  readonly pageShift: number;
  /** The seed the simulator was made with. */
  readonly seed: number;
  /** printf to the test's stdout: the run's result carries it as `output`. */
  printf(text: string): void;
  readonly test: Selftest;
}

export interface RunSelftestOptions {
  /** The API generation to run on (default 'seed'). */
  api?: SelftestApi;
  /** The fixture variant of a modern run, by name (default: the fixture's private variant). */
  variant?: string;
  /** Simulator seed (default 1). */
  seed?: number | string;
  /** RAM of the simulated machine in pages (default 65,536 = 256 MiB). */
  ramPages?: number;
  /** Seed run only: run `test.upstream` (the kernel's own asserts) instead of `test.run`. */
  upstream?: boolean;
  /**
   * After teardown, exit the test process and check the machine's books (default true): the
   * accounting checker of src/check finds nothing wrong, and no device page is still allocated.
   */
  check?: boolean;
}

export interface SelftestResult {
  name: string;
  /** The fixture variant it ran under (modern run). */
  variant?: string;
  ok: boolean;
  /** 'ok', or why the test failed. */
  message: string;
  /** What the test printed (ctx.printf), if anything. */
  output?: string;
  /** An expected failure (`Selftest.xfail`): why; `ok` is true, as kselftest counts an XFAIL. */
  xfail?: string;
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
  const api = opts.api ?? 'seed';
  const variant = api === 'modern' ? findVariant(test, opts.variant) : null;
  const label = variant === null ? test.name : `${variant.name}.${test.name}`;
  let output = '';
  const result = (ok: boolean, message: string, error?: unknown): SelftestResult => ({
    name: test.name,
    ...(variant === null ? {} : { variant: variant.name }),
    ok,
    message,
    ...(output === '' ? {} : { output }),
    ...(error === undefined ? {} : { error }),
  });
  const refused = refusal(test, api, opts.upstream === true);
  if (refused !== null) return result(false, `${label}: ${refused}`);
  const body = api === 'modern' ? (test.upstream ?? test.run) : opts.upstream ? test.upstream : test.run;
  if (body === undefined) {
    return result(false, `${label}: has no upstream form (run asserts the kernel's own expectations)`);
  }
  const savedTest = currentTest;
  const savedContext = assertContext;
  currentTest = opts.upstream ? `${label} (upstream)` : label;
  assertContext = '';
  const fds: DeviceFile[] = [];
  try {
    const sim = fixtureMachine(api, test, opts);
    const proc = sim.createProcess();
    const open = (n: number, p: Process): DeviceFile =>
      api === 'modern' ? sim.openDevice(n, p, { api: 'modern' }) : sim.openDevice(n, p);
    // FIXTURE_SETUP: hmm opens one device, hmm2 two.
    const devices = variant?.devices ?? (test.fixture === 'hmm2' ? [0, 1] : [0]);
    for (const n of devices) fds.push(open(n, proc));
    const used = new Set(devices);
    const fd0 = fds[0] as DeviceFile;
    const fd1 = fds[1] ?? null;
    const ctx: SelftestContext = {
      sim,
      proc,
      api,
      variant,
      coherent: variant?.coherent ?? false,
      openDevice(n: number, p: Process): DeviceFile {
        used.add(n);
        return open(n, p);
      },
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
      printf(text: string): void {
        output += text;
      },
    };
    body.call(test, ctx);
    // FIXTURE_TEARDOWN: close(fd) must return 0.
    while (fds.length > 0) (fds.shift() as DeviceFile).close();
    if (opts.check !== false) {
      // The test process exits (the kselftest runner forks one per test); nothing may be left over.
      if (!proc.exited) proc.exit();
      checkMachine(sim, api, [...used].sort());
    }
    if (xfailOn(test, variant) !== null) {
      return result(
        false,
        `${label}: XPASS: expected the kernel's WARN "${test.xfail?.warning}" (${test.xfail?.reason})`,
      );
    }
    return result(true, 'ok');
  } catch (e) {
    const xfail = xfailOn(test, variant);
    if (xfail !== null && e instanceof KernelWarning && e.message.includes(xfail.warning)) {
      return { ...result(true, 'xfail'), xfail: xfail.reason };
    }
    return result(false, describeError(e), e);
  } finally {
    currentTest = savedTest;
    assertContext = savedContext;
  }
}

/** The test's expected failure on this variant, or null. */
export function xfailOn(
  test: Selftest,
  variant: FixtureVariant | null,
): NonNullable<Selftest['xfail']> | null {
  return test.xfail !== undefined && variant?.name === test.xfail.variant ? test.xfail : null;
}

/** Why `test` cannot run as asked, or null. */
function refusal(test: Selftest, api: SelftestApi, upstream: boolean): string | null {
  if (api === 'seed') return test.seedCannot === undefined ? null : `not on the seed API: ${test.seedCannot}`;
  if (upstream) return "--upstream is a seed-run option (the modern run asserts the kernel's own asserts)";
  if (test.today === false)
    return "an older kernel's form, run on the seed only (the modern run runs today's)";
  return null;
}

/** The variant of test's fixture named `name` (default: the fixture's first, the private one). */
function findVariant(test: Selftest, name: string | undefined): FixtureVariant {
  const all = fixtureVariants(test.fixture);
  const v = name === undefined ? all[0] : all.find((x) => x.name === name);
  if (v === undefined) {
    throw new Error(
      `${test.name}: FIXTURE(${test.fixture}) has no variant '${name}' (${all.map((x) => x.name).join(', ')})`,
    );
  }
  return v;
}

/** The machine of a run: the seed's default devices, or test_hmm's four on a v6.19 mm. */
function fixtureMachine(api: SelftestApi, test: Selftest, opts: RunSelftestOptions): Simulator {
  const ramPages = Math.max(opts.ramPages ?? RAM_PAGES_DEFAULT, test.ramPages ?? 0);
  const common = { seed: opts.seed ?? 1, ramPages, hugetlbPages: HUGETLB_DEFAULT_PAGES };
  if (api === 'seed') return new Simulator(common);
  const memory = test.deviceMemoryPages === undefined ? {} : { memoryPages: test.deviceMemoryPages };
  return new Simulator({
    ...common,
    kernel: 'v6.19',
    devices: MODERN_DEVICES.map((d) => ({ ...d, ...memory })),
  });
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

/**
 * Every page accounted for, and no device page the test used still allocated: on the seed's
 * device calloc - cfree is 0; on today's, every page of its chunks is back on the free list (its
 * calloc/cfree do not balance after RELEASE, whose evicted pages never count as freed, as in
 * test_hmm).
 */
function checkMachine(sim: Simulator, api: SelftestApi, devices: readonly number[]): void {
  const v = checkAccounting(sim.kernel);
  if (v.length > 0) {
    fail('checkAccounting() after exit', v, [], `${v.length} violations:\n  ${v.join('\n  ')}`, 'none');
  }
  for (const n of devices) {
    if (api === 'seed') {
      const d = sim.device(n);
      ASSERT_EQ(d.calloc - d.cfree, 0, `device ${n} pages still allocated after exit (calloc - cfree)`);
      continue;
    }
    const inUse = sim.modernDevice(n).pagesInUse;
    ASSERT_EQ(inUse, 0, `device ${n} pages still allocated after exit (chunk pages - free)`);
  }
}

function describeError(e: unknown): string {
  if (e instanceof SelftestFailure) return e.message;
  if (e instanceof Error) return `${currentTest}: ${e.name}: ${e.message}`;
  return `${currentTest}: threw ${String(e)}`;
}
