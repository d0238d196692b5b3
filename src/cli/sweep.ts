/**
 * `hmmsim sweep`: a workload (a generator or a trace file) under each policy at each oversubscription
 * level (docs/policies.md, "Sweeps"). Configurations run on `--jobs` worker threads (default: the
 * core count), `--shard i/n` runs a deterministic slice, `--merge` joins the slices' JSON; the
 * result is a table, `--json` the sweep record (src/schema/sweep.ts), `--report` its HTML page. The
 * same sweep prints the same bytes, sharded or not, with any --jobs: points are computed
 * independently and ordered by configuration.
 *
 * CLI layer: the argument checks, the file reads and writes, the threads and the progress bar.
 */

import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { InvalidArgumentError } from 'commander';
import { ArgumentError } from '../core/errno.js';
import { parseShard, type ShardSpec } from '../core/shard.js';
import { COST_PROFILES } from '../device/cost.js';
import { renderSweepReport } from '../report/sweep.js';
import type { SweepPoint, SweepRecord } from '../schema/sweep.js';
import type { ViewerRun } from '../schema/viewer.js';
import {
  checkSweepSpec,
  mergeSweepRecords,
  runSweepPoint,
  SWEEP_DEFAULTS,
  type SweepConfiguration,
  type SweepSpec,
  shardConfigurations,
  sweepConfigurations,
  sweepRecord,
} from '../sweep/index.js';
import {
  type RecordedSweepConfiguration,
  recordSweepConfiguration,
  sweepConfigurationByName,
  sweepConfigurationName,
} from '../viewer/sweep.js';
import { WORKLOADS } from '../workload/patterns/index.js';
import { color } from './color.js';
import { cliIo } from './io.js';
import { mapWithProgress, startProgress } from './progress.js';
import { checkReportPath, ReportFileError, writeReportFile } from './reportfile.js';
import { htmlTarget, writeViewerPage } from './viewer.js';
import { siblingModule, startModuleWorker } from './worker.js';

/** The raw options commander hands over (strings: they are checked here, each error naming its option). */
export interface SweepCliOptions {
  workload?: string;
  traceFormat?: string;
  footprint?: string;
  oversubscription?: string;
  policy?: string;
  costProfile?: string;
  api?: string;
  seed?: string;
  iterations?: string;
  threads?: string;
  jobs?: string;
  shard?: string;
  json?: boolean;
  report?: string;
  merge?: string[];
  html?: string;
  htmlConfig?: string;
}

/** Help text after the options. */
export const SWEEP_HELP = `
Workloads: ${Object.keys(WORKLOADS).join(', ')}, or a trace file (hmmsim's format, or NVBit
mem_trace output, told apart by content or --trace-format); docs/policies.md describes each.

Examples:
  $ hmmsim sweep --workload stream --footprint 1GiB
  $ hmmsim sweep --workload hotspot --footprint 256MiB --oversubscription 1,1.5,2 --policy page,block:4 --json
  $ hmmsim sweep --workload my.trace --policy none,page --report sweep.html
  $ hmmsim sweep --workload bfs --footprint 64MiB --shard 0/2 --json > a.json   (and --shard 1/2 > b.json)
  $ hmmsim sweep --merge a.json b.json --report sweep.html
  $ hmmsim sweep --workload stream --footprint 4MiB --html run.html --html-config page@2   (the viewer)
`;

const USAGE = 2;

/** Runs the command; returns the exit status (0 ok, 2 bad usage, 70 the report could not be written). */
export async function runSweepCli(opts: SweepCliOptions, out: (line: string) => void): Promise<number> {
  let record: SweepRecord;
  let target: string | null;
  let viewer: { target: string; run: ViewerRun } | null = null;
  try {
    target = opts.report === undefined ? null : reportTarget(opts.report);
    const html = viewerOptions(opts);
    if (opts.merge !== undefined) record = mergeSweepRecords(opts.merge.map(readRecord));
    else {
      const { spec, jobs, shard } = parseOptions(opts);
      const s = checkSweepSpec(spec);
      const configs = shardConfigurations(sweepConfigurations(s), shard);
      const shown = html === null ? null : sweepConfigurationByName(s, html.config);
      const rest = configs.filter((c) => c.index !== shown?.index);
      const pending = jobs <= 1 || rest.length <= 1 ? null : runOnWorkers(spec, rest, jobs);
      const recorded = html !== null && rest.length < configs.length ? recordShown(spec, shown) : null;
      const points = pending === null ? runHere(s, rest) : await pending;
      if (recorded !== null) {
        points.push(recorded.point);
        viewer = { target: (html as { target: string }).target, run: recorded.run };
      } else if (shown !== null)
        cliIo().stderr.write(
          `hmmsim: --html: ${sweepConfigurationName(shown)} is not in shard ${shard?.index}/${shard?.count}: no viewer page written\n`,
        );
      record = sweepRecord(s, points, shard);
    }
  } catch (e) {
    if (!(e instanceof InvalidArgumentError) && !(e instanceof ArgumentError)) throw e;
    cliIo().stderr.write(`hmmsim: error: ${usageMessage(e)}\n`);
    return USAGE;
  }
  if (opts.json) out(JSON.stringify(record));
  else printTable(record, out);
  if (target !== null) {
    try {
      writeReportFile(target, renderSweepReport(record));
      if (!opts.json) out(`report: ${target}`);
    } catch (e) {
      if (!(e instanceof ReportFileError)) throw e;
      cliIo().stderr.write(`hmmsim: error: --report: ${e.message}\n`);
      return 70;
    }
  }
  return viewer === null ? 0 : writeViewerPage(viewer.target, viewer.run, opts.json ? null : out);
}

/** --html and --html-config, checked before the run: null without --html. */
function viewerOptions(o: SweepCliOptions): { target: string; config: string | undefined } | null {
  if (o.html === undefined) {
    if (o.htmlConfig !== undefined) throw new InvalidArgumentError('--html-config: only with --html');
    return null;
  }
  if (o.merge !== undefined) throw new InvalidArgumentError('--html: not with --merge (it runs nothing)');
  return { target: htmlTarget(o.html), config: o.htmlConfig };
}

/** The configuration the viewer shows, run here with the recorder on (the same point as unrecorded). */
function recordShown(spec: SweepSpec, shown: SweepConfiguration | null): RecordedSweepConfiguration {
  return recordSweepConfiguration(spec, { config: sweepConfigurationName(shown as SweepConfiguration) });
}

/** The library's argument names as the command's options. */
const OPTION_OF: Readonly<Record<string, string>> = {
  workload: '--workload',
  trace: '--workload',
  footprint: '--footprint',
  oversubscription: '--oversubscription',
  policy: '--policy',
  costProfile: '--cost-profile',
  api: '--api',
  seed: '--seed',
  iterations: '--iterations',
  threads: '--threads',
  shard: '--shard',
  merge: '--merge',
  config: '--html-config',
};

/** One line naming the option: a library ArgumentError's argument becomes the option that set it. */
function usageMessage(e: Error): string {
  const text =
    e instanceof ArgumentError && OPTION_OF[e.argument] !== undefined
      ? `${OPTION_OF[e.argument]}: ${e.message.replace(/^invalid argument '[^']*': /, '')}`
      : e.message;
  return text.trim().replace(/\s*\n\s*/g, ' ');
}

function reportTarget(path: string): string {
  try {
    return checkReportPath(path);
  } catch (e) {
    if (e instanceof ReportFileError) throw new InvalidArgumentError(`--report: ${e.message}`);
    throw e;
  }
}

function readRecord(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InvalidArgumentError(
      `--merge: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? e})`,
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidArgumentError(`--merge: ${path} is not JSON`);
  }
}

/** The options as a SweepSpec, the job count and the shard; InvalidArgumentError naming the option. */
export function parseOptions(o: SweepCliOptions): {
  spec: SweepSpec;
  jobs: number;
  shard: { index: number; count: number } | undefined;
} {
  const workload = o.workload ?? SWEEP_DEFAULTS.workload;
  const isGenerator = Object.hasOwn(WORKLOADS, workload);
  const spec: SweepSpec = {
    ...(isGenerator ? { workload } : { trace: readTrace(workload, o.traceFormat) }),
    ...(o.footprint !== undefined ? { footprint: size('--footprint', o.footprint) } : {}),
    ...(o.oversubscription !== undefined ? { oversubscription: levels(o.oversubscription) } : {}),
    ...(o.policy !== undefined ? { policies: policyList(o.policy) } : {}),
    ...(o.costProfile !== undefined ? { costProfile: costProfile(o.costProfile) } : {}),
    ...(o.api !== undefined ? { api: api(o.api) } : {}),
    ...(o.seed !== undefined ? { seed: int('--seed', o.seed, 0, 2 ** 32 - 1) } : {}),
    ...(o.iterations !== undefined ? { iterations: int('--iterations', o.iterations, 1, 10_000) } : {}),
    ...(o.threads !== undefined ? { threads: int('--threads', o.threads, 1, 1024) } : {}),
  };
  const jobs = o.jobs === undefined ? availableParallelism() : int('--jobs', o.jobs, 1, 256);
  return { spec, jobs, shard: o.shard === undefined ? undefined : shard(o.shard) };
}

function readTrace(path: string, format: string | undefined): NonNullable<SweepSpec['trace']> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new InvalidArgumentError(
      `--workload: expected a generator (${Object.keys(WORKLOADS).join(', ')}) or a trace file, got '${path}' (${code})`,
    );
  }
  if (format !== undefined && format !== 'hmmsim' && format !== 'nvbit')
    throw new InvalidArgumentError(`--trace-format: expected hmmsim or nvbit, got '${format}'`);
  const sniffed = /^(MEMTRACE:|CTA \d)/m.test(text) ? 'nvbit' : 'hmmsim';
  return { name: basename(path), format: (format as 'hmmsim' | 'nvbit' | undefined) ?? sniffed, text };
}

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  B: 1,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
};

/** A byte size: an integer with an optional unit (KiB, MiB, GiB, TiB; 1GiB, 512MiB). */
export function size(option: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB)?$/.exec(text.trim());
  const bytes = m === null ? Number.NaN : Number(m[1]) * (UNITS[m[2] ?? ''] as number);
  if (!Number.isSafeInteger(bytes) || bytes <= 0)
    throw new InvalidArgumentError(`${option}: expected a size such as 1GiB, 512MiB or 4096, got '${text}'`);
  return bytes;
}

function levels(text: string): number[] {
  return list('--oversubscription', text).map((t) => {
    const v = Number(t);
    if (!/^\d+(\.\d+)?$/.test(t) || !(v > 0))
      throw new InvalidArgumentError(`--oversubscription: expected positive numbers (0.5,1,2), got '${t}'`);
    return v;
  });
}

function list(option: string, text: string): string[] {
  const items = text.split(',').map((t) => t.trim());
  if (items.some((t) => t === ''))
    throw new InvalidArgumentError(`${option}: expected a comma-separated list, got '${text}'`);
  return items;
}

/**
 * `--policy`'s list: a `key=value` item continues the policy before it, so
 * `uvm:access_counters=on,ac_threshold=64,page` is two policies.
 */
function policyList(text: string): string[] {
  const out: string[] = [];
  for (const item of list('--policy', text)) {
    if (/^[a-z_]+=/.test(item) && out.length > 0 && out[out.length - 1]?.includes(':') === true)
      out[out.length - 1] += `,${item}`;
    else out.push(item);
  }
  return out;
}

function int(option: string, text: string, lo: number, hi: number): number {
  const v = Number(text);
  if (!/^\d+$/.test(text) || v < lo || v > hi)
    throw new InvalidArgumentError(`${option}: expected an integer in ${lo}..${hi}, got '${text}'`);
  return v;
}

function costProfile(text: string): string {
  if (!Object.hasOwn(COST_PROFILES, text))
    throw new InvalidArgumentError(
      `--cost-profile: expected one of ${Object.keys(COST_PROFILES).join(', ')}, got '${text}'`,
    );
  return text;
}

function api(text: string): 'seed' | 'modern' {
  if (text !== 'seed' && text !== 'modern')
    throw new InvalidArgumentError(`--api: expected seed or modern, got '${text}'`);
  return text;
}

function shard(text: string): ShardSpec {
  try {
    return parseShard(text);
  } catch {
    throw new InvalidArgumentError(`--shard: expected i/n with 0 <= i < n (0/4), got '${text}'`);
  }
}

/** Runs the configurations on this thread (--jobs 1, or a single configuration). */
function runHere(s: ReturnType<typeof checkSweepSpec>, configs: readonly SweepConfiguration[]): SweepPoint[] {
  return mapWithProgress('sweep', configs, (c) => runSweepPoint(s, c));
}

/** A worker running sweep_worker.ts (or the built .js). */
function startWorker(spec: SweepSpec): Worker {
  return startModuleWorker(siblingModule(import.meta.url, 'sweep_worker'), spec);
}

/**
 * The order the workers take configurations in: the most oversubscribed first (they thrash: 2-4x
 * the faults and migrations of one that fits), so that the last to finish is a short one and the
 * workers end together. The record is sorted by index, so the order changes no byte of it.
 */
function heaviestFirst(configs: readonly SweepConfiguration[]): SweepConfiguration[] {
  return [...configs].sort((a, b) => b.oversubscription - a.oversubscription || a.index - b.index);
}

function runOnWorkers(
  spec: SweepSpec,
  configs: readonly SweepConfiguration[],
  jobs: number,
): Promise<SweepPoint[]> {
  const points: SweepPoint[] = [];
  const bar = startProgress('sweep', configs.length);
  const queue = heaviestFirst(configs);
  let next = 0;
  return new Promise<SweepPoint[]>((resolve, reject) => {
    const workers: Worker[] = [];
    const fail = (e: unknown): void => {
      for (const w of workers) void w.terminate();
      bar.stop();
      reject(e);
    };
    const feed = (w: Worker): void => {
      if (next < queue.length) w.postMessage({ index: (queue[next++] as SweepConfiguration).index });
      else w.postMessage({ stop: true });
    };
    for (let i = 0; i < Math.min(jobs, configs.length); i++) {
      const w = startWorker(spec);
      workers.push(w);
      w.on('message', (m: { point: SweepPoint }) => {
        points.push(m.point);
        bar.update(points.length);
        if (points.length === configs.length) {
          bar.stop();
          for (const x of workers) x.postMessage({ stop: true });
          resolve(points);
        } else feed(w);
      });
      w.on('error', fail);
      feed(w);
    }
  });
}

const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');

function printTable(r: SweepRecord, out: (line: string) => void): void {
  const s = r.settings;
  out(
    color.bold(
      `hmmsim sweep: ${s.workload}, ${fmt(s.footprintBytes / 2 ** 20)} MiB, ${s.policies.length} policies x ${s.oversubscription.length} levels`,
    ),
  );
  out(
    `  cost profile ${s.costProfile}; HMM API ${s.api}; seed ${s.seed}; ${r.points.length} of ${s.configurations} configurations${r.shard !== undefined ? ` (shard ${r.shard.index}/${r.shard.count})` : ''}`,
  );
  out('');
  const head = [
    'policy',
    'oversub',
    'dev pages',
    'sim ms',
    'faults',
    'to dev MiB',
    'to host MiB',
    'evicted',
    'cpu faults',
  ];
  const rows = r.points.map((p) => [
    p.policy,
    String(p.oversubscription),
    fmt(p.devicePages),
    (p.simulatedUs / 1000).toFixed(1),
    fmt(p.faults),
    (p.bytesToDevice / 2 ** 20).toFixed(1),
    (p.bytesToHost / 2 ** 20).toFixed(1),
    fmt(p.evictedPages),
    fmt(p.cpuFaults),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cells: string[]) =>
    `  ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ')}`;
  out(color.bold(line(head)));
  for (const row of rows) out(line(row));
}
