/**
 * `hmmsim demo`: the main job (src/demo/demo.ts) — a list and a tree shared by a process and a
 * device — printed as a short summary, with the HTML report written to a file.
 *
 * CLI layer: argument checks, printing and the one file write; the run itself is deterministic.
 */

import { InvalidArgumentError } from 'commander';
import { ArgumentError } from '../core/errno.js';
import { HMMSIM_VERSION } from '../core/version.js';
import { DEMO_LIMITS, type DemoResult, runDemo } from '../demo/demo.js';
import { COST_PROFILES, roundCosts } from '../device/cost.js';
import { parsePolicy } from '../policy/policy.js';
import { renderReport } from '../report/index.js';
import { color } from './color.js';
import { cliIo } from './io.js';
import { type Progress, startProgress } from './progress.js';
import { checkReportPath, ReportFileError, writeReportFile } from './reportfile.js';
import { DemoRecording, htmlTarget, writeViewerPage } from './viewer.js';

export const DEMO_REPORT_DEFAULT = 'hmmsim-report.html';

export interface DemoCliOptions {
  seed: number;
  listNodes: number;
  treeNodes: number;
  lookups: number;
  threads: number;
  policy: string;
  devicePages: number;
  costProfile: string;
  /** 'seed' (the v5.3 dmirror) or 'modern' (today's test_hmm). */
  api: 'seed' | 'modern';
  /** A path, or false for --no-report. */
  report: string | false;
  json?: boolean;
  /** --html: where to write the viewer page of the run. */
  html?: string;
}

/** Commander parser for a size option bounded by DEMO_LIMITS[name]. */
export function sizeOption(name: keyof typeof DEMO_LIMITS): (value: string) => number {
  const [lo, hi] = DEMO_LIMITS[name];
  return (value) => {
    const n = Number(value.replaceAll('_', ''));
    if (!/^[\d_]+$/.test(value) || !Number.isSafeInteger(n) || n < lo || n > hi)
      throw new InvalidArgumentError(`expected an integer in ${lo}..${hi}.`);
    return n;
  };
}

export function policyOption(value: string): string {
  try {
    return parsePolicy(value).name;
  } catch (e) {
    // parsePolicy names what is wrong (an unknown name, or which uvm:/kfd: parameter); say that.
    const problem =
      e instanceof ArgumentError ? e.message.replace(/^invalid argument '[^']*': /, '') : String(e);
    throw new InvalidArgumentError(`${problem}.`);
  }
}

export function apiOption(value: string): 'seed' | 'modern' {
  if (value !== 'seed' && value !== 'modern') throw new InvalidArgumentError("expected 'seed' or 'modern'.");
  return value;
}

export function costProfileOption(value: string): string {
  if (!Object.hasOwn(COST_PROFILES, value))
    throw new InvalidArgumentError(`expected one of ${Object.keys(COST_PROFILES).join(', ')}.`);
  return value;
}

/**
 * The bar, fed within phases (src/demo/progress.ts), and warnings as one stderr line each: the bar
 * is taken down first so the line does not tear it, and comes back at the next update.
 */
function demoProgress() {
  let bar: Progress | null = null;
  return {
    update: (done: number, total: number): void => {
      bar ??= startProgress('demo', total);
      bar.update(done);
    },
    warn: (text: string): void => {
      bar?.stop();
      cliIo().stderr.write(`hmmsim demo: warning: ${text}\n`);
    },
    stop: (): void => bar?.stop(),
  };
}

/** `hmmsim demo --json`: the summary's data, the run's settings and checks; costs rounded to the ns. */
export function demoJson(r: DemoResult, reportPath: string | null): Record<string, unknown> {
  return {
    ok: r.ok,
    seed: r.seed,
    counters: r.counters,
    costs: roundCosts(r.costs),
    report: reportPath,
    version: r.report.producer?.version ?? null,
    command: r.report.producer?.command ?? null,
    settings: r.config,
    checks: r.checks,
    warnings: r.warnings,
    traceDropped: r.report.traceDropped ?? 0,
    schema: r.report.schema ?? null,
  };
}

/** The command line that reproduces the run: every setting spelled out, no report path. */
export function demoCommand(
  o: Omit<DemoCliOptions, 'report' | 'json' | 'api'> & { api?: 'seed' | 'modern' },
): string {
  return [
    `hmmsim demo --seed ${o.seed} --list-nodes ${o.listNodes} --tree-nodes ${o.treeNodes}`,
    `--lookups ${o.lookups} --threads ${o.threads} --policy ${o.policy}`,
    `--device-pages ${o.devicePages} --cost-profile ${o.costProfile}`,
    // Spelled out only for today's API, so the seed's command line (and report) stays as it was.
    ...(o.api === 'modern' ? ['--api modern'] : []),
  ].join(' ');
}

/** Exit status of a run whose report could not be written (disk full, I/O error): EX_SOFTWARE. */
export const EXIT_REPORT_WRITE = 70;

/**
 * Runs the demo; returns the exit code (0 every check passed, 1 one failed, EXIT_REPORT_WRITE the
 * report could not be written: one line on stderr after the summary).
 */
export function runDemoCli(opts: DemoCliOptions, out: (line: string) => void): number {
  // Check the report path first: an unwritable path is a usage error before any work is done.
  // The file itself is written after the run (reportfile.ts), so the previous one survives it.
  const target = opts.report === false ? null : reportTarget(opts.report);
  const html = opts.html === undefined ? null : htmlTarget(opts.html);
  const recording = html === null ? null : new DemoRecording();
  let r: DemoResult;
  const progress = demoProgress();
  try {
    const { html: _, ...demoOpts } = opts;
    r = runDemo({
      ...demoOpts,
      onProgress: progress.update,
      onWarning: progress.warn,
      onBuilt: recording?.onBuilt,
    });
  } finally {
    progress.stop();
  }
  r.report.producer = { version: HMMSIM_VERSION, command: demoCommand(opts) };
  let reportPath: string | null = null;
  let failure: ReportFileError | null = null;
  if (target !== null) {
    try {
      writeReportFile(target, renderReport(r.report));
      reportPath = target;
    } catch (e) {
      if (!(e instanceof ReportFileError)) throw e;
      failure = e;
    }
  }
  if (opts.json) out(JSON.stringify(demoJson(r, reportPath)));
  else printSummary(r, reportPath, out);
  if (failure !== null) {
    cliIo().stderr.write(`hmmsim: error: --report: ${failure.message}\n`);
    return EXIT_REPORT_WRITE;
  }
  const status = r.ok ? 0 : 1;
  if (html === null || recording === null) return status;
  return (
    writeViewerPage(html, recording.finish(`hmmsim demo: ${demoCommand(opts)}`), opts.json ? null : out) ||
    status
  );
}

function reportTarget(path: string): string {
  if (path === '')
    throw new InvalidArgumentError("--report: expected a file name, got '' (--no-report writes no report)");
  try {
    return checkReportPath(path);
  } catch (e) {
    if (e instanceof ReportFileError) throw new InvalidArgumentError(`--report: ${e.message}`);
    throw e;
  }
}

const n = (x: number): string => Math.round(x).toLocaleString('en-US');

function printSummary(r: DemoResult, reportPath: string | null, out: (line: string) => void): void {
  const c = r.counters as Record<string, number>;
  const cfg = r.config;
  out(color.bold('hmmsim demo: one process, one device, one address space'));
  out(
    `  seed ${r.seed}; list of ${n(cfg['list nodes'] as number)} nodes, binary search tree of ${n(cfg['tree nodes'] as number)} nodes, ` +
      `${n(cfg['working set (pages)'] as number)} pages in use; device memory ${n(cfg['device memory (pages)'] as number)} pages; ` +
      `policy ${cfg.policy}`,
  );
  const clamp = cfg['policy clamped to (pages)'];
  if (clamp !== undefined)
    out(
      `  ${cfg.policy} clamped to ${n(clamp as number)} pages: device memory holds ${n(cfg['device memory (pages)'] as number)} pages ` +
        `(${n(c.policyClamps!)} device faults asked for more)`,
    );
  out('');
  out(color.bold('what happened'));
  const rows: [string, string][] = [
    ['pages mirrored', n(c.pagesMirrored!)],
    [
      'device faults',
      `${n(c.faults!)} in ${n(c.faultBatches!)} batches (${n(c.faultsDuplicate!)} duplicates), each access replayed`,
    ],
    ['device TLB', `${n(c.tlbHits!)} hits, ${n(c.tlbMisses!)} misses`],
    ['CPU faults on device pages', n(c.cpuFaults!)],
    ['invalidations', `${n(c.invalidations!)} (${n(c.invalidatedPages!)} device entries erased)`],
    ['migrated to device memory', `${n(c.migratedToDevice!)} pages`],
    ['migrated to system memory', `${n(c.migratedToRam!)} pages (${n(c.evictedPages!)} of them evicted)`],
    ['copied by the DMA engine', `${n(c.dmaBytes!)} bytes in ${n(c.dmaTransfers!)} transfers`],
  ];
  for (const [k, v] of rows) out(`  ${k.padEnd(28)}${v}`);
  out('');
  out(color.bold(`simulated cost (${cfg['cost profile']}, docs/costs.md)`));
  const costs = r.costs;
  for (const [term, us] of Object.entries(costs))
    if (term !== 'total') out(`  ${term.padEnd(28)}${n(us).padStart(10)} µs`);
  out(`  ${'total'.padEnd(28)}${n(costs.total ?? 0).padStart(10)} µs`);
  out('');
  const failed = r.checks.filter((x) => !x.ok);
  for (const x of failed) out(color.red(`  FAILED ${x.name}: ${x.detail}`));
  out(
    r.ok
      ? color.green(`check: ok (${r.checks.length} checks: every value each side read matched)`)
      : color.red(`check: FAILED (${failed.length} of ${r.checks.length} checks)`),
  );
  if (reportPath !== null) out(`report: ${reportPath}`);
}
