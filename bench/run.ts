/**
 * The benchmark harness: `npm run bench [-- options]`. See docs/performance.md.
 *
 * Runs each registered benchmark (bench/registry.ts) on the simulator (bench/sim.ts) and its native
 * baseline (bench/native/baseline.c, compiled when the run starts) and reports the ratio
 * simNsPerPage / nativeNsPerPage against the benchmark's target. Progress goes to stderr; stdout holds
 * the table, or with --json exactly one JSON document.
 *
 * Exit status: 0 ok, 1 a target was missed (only with --check), 2 bad usage, 70 a benchmark failed.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { buildNative, fmt, type NativeRun, nativeKey, runNative } from './native.js';
import { type BenchmarkSpec, benchmarks, DEFAULT_PAGES, targetOf } from './registry.js';
import type { Measurement } from './stats.js';

const USAGE = `usage: npm run bench -- [options]

options:
  --json             print one JSON document on stdout (progress stays on stderr)
  --reps <R>         timed repetitions per measurement, median reported (default 5)
  --warmup <W>       untimed repetitions before them (default 5)
  --pages <N,...>    page counts to run at (default ${DEFAULT_PAGES.join(',')})
  --filter <name>    run only benchmarks whose name contains <name> (repeatable)
  --native-only      run only the native baselines (no simulator)
  --sim-only         run only the simulator side (ratio null)
  --check            exit 1 if a ratio misses its target
  --list             list the registered benchmarks
  -h, --help         this help
`;

export interface BenchResult {
  name: string;
  pages: number;
  simNsPerPage: number | null;
  /** The native baseline's ns/page; for a benchmark with a `simBaseline`, that simulator operation's. */
  nativeNsPerPage: number | null;
  /** 'time': simNsPerPage / nativeNsPerPage. 'bandwidth': sim bandwidth / native bandwidth. */
  ratio: number | null;
  baseline: string;
  /** null: reported, no target. */
  targetRatio: number | null;
  withinTarget: boolean | null;
  /** Absent for 'time' benchmarks (ratio <= targetRatio); 'bandwidth': ratio >= targetRatio. */
  metric?: 'bandwidth';
  simBytesPerSec?: number | null;
  nativeBytesPerSec?: number | null;
  error?: string;
}

class UsageError extends Error {}

function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new UsageError(`--${name}: expected a positive integer, got '${v}'`);
  return n;
}

function parse(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      json: { type: 'boolean', default: false },
      reps: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '5' },
      pages: { type: 'string' },
      filter: { type: 'string', multiple: true },
      'native-only': { type: 'boolean', default: false },
      'sim-only': { type: 'boolean', default: false },
      check: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values['native-only'] && values['sim-only'])
    throw new UsageError('--native-only and --sim-only exclude each other');
  const warmup = Number(values.warmup);
  if (!Number.isSafeInteger(warmup) || warmup < 0) throw new UsageError(`--warmup: expected an integer >= 0`);
  const reps = positiveInt('reps', values.reps);
  if (reps > 1000) throw new UsageError('--reps: at most 1000');
  return {
    json: values.json,
    reps,
    warmup,
    pages: values.pages?.split(',').map((s) => positiveInt('pages', s.trim())) ?? null,
    filter: values.filter ?? [],
    nativeOnly: values['native-only'],
    simOnly: values['sim-only'],
    check: values.check,
    list: values.list,
    help: values.help,
  };
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

function machine(compiler: string | null, native: NativeRun | null, reps: number, warmup: number) {
  const thp = readOr('/sys/kernel/mm/transparent_hugepage/enabled', '').match(/\[(\w+)\]/)?.[1] ?? null;
  return {
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.availableParallelism(),
    memoryMiB: Math.round(os.totalmem() / 2 ** 20),
    platform: os.platform(),
    arch: os.arch(),
    kernel: native?.info?.kernel ?? os.release(),
    hypervisor: /^flags\s*:.*\bhypervisor\b/m.test(readOr('/proc/cpuinfo', '')),
    transparentHugepage: thp,
    pageSize: native?.info?.pageSize ?? null,
    node: process.version,
    compiler,
    reps,
    warmup,
  };
}

function table(results: readonly BenchResult[]): string {
  const head = ['benchmark', 'pages', 'sim ns/page', 'native ns/page', 'ratio', 'target', ''];
  const rows = results.map((r) => [
    r.name,
    String(r.pages),
    fmt(r.simNsPerPage),
    fmt(r.nativeNsPerPage),
    r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`,
    r.metric === 'bandwidth'
      ? `${r.targetRatio === null ? 'report' : `>= ${r.targetRatio}x`} bandwidth of ${r.baseline}`
      : `${r.targetRatio === null ? 'report' : `<= ${r.targetRatio}x`} ${r.baseline}`,
    r.error ? 'ERROR' : r.withinTarget === null ? '' : r.withinTarget ? 'ok' : 'MISSED',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const right = new Set([1, 2, 3, 4]);
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

async function main(argv: string[]): Promise<number> {
  let opts: ReturnType<typeof parse>;
  try {
    opts = parse(argv);
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const selected = benchmarks().filter(
    (b) => opts.filter.length === 0 || opts.filter.some((f) => b.name.includes(f)),
  );
  if (opts.list) {
    for (const b of benchmarks()) {
      const t = targetOf(b);
      const target = t.ratio === null ? 'report' : `${t.kind} ${t.ratio}x`;
      process.stdout.write(
        `${b.name.padEnd(36)} ${target.padEnd(8)} ${b.metric === 'bandwidth' ? 'bandwidth of ' : ''}${b.baseline}  (sim op: ${b.sim})\n`,
      );
    }
    return 0;
  }
  if (selected.length === 0) {
    process.stderr.write(`bench: no benchmark matches --filter ${opts.filter.join(', ')}\n`);
    return 2;
  }
  const pagesOf = (b: BenchmarkSpec) => opts.pages ?? b.pages ?? DEFAULT_PAGES;
  const progress = (line: string) => process.stderr.write(`${line}\n`);
  const rep = { reps: opts.reps, warmup: opts.warmup };
  let failed = false;

  // The simulator is imported lazily so --native-only works without it; load it before the (slow)
  // native run so a missing facade fails fast.
  let simOps: typeof import('./sim.js').simOps | null = null;
  if (!opts.nativeOnly) {
    try {
      ({ simOps } = await import('./sim.js'));
    } catch (e) {
      progress(`bench: cannot load the simulator (src/index.ts): ${(e as Error).message}`);
      progress('bench: use --native-only to run the baselines alone');
      return 70;
    }
  }

  // Native side.
  let native: NativeRun | null = null;
  let compiler: string | null = null;
  if (!opts.simOnly) {
    const build = buildNative();
    if (!build.ok) {
      progress(`bench: native baselines skipped (ratio null): ${build.reason}`);
    } else {
      compiler = build.compiler;
      const ops = [...new Set(selected.flatMap((b) => (b.native ? [b.native] : [])))];
      const pages = [...new Set(selected.flatMap(pagesOf))].sort((a, b) => a - b);
      progress(`native baselines: ${ops.join(', ')} at ${pages.join(', ')} pages, ${opts.reps} reps`);
      try {
        native = await runNative(build.binary, ops, pages, rep, progress);
      } catch (e) {
        progress(`bench: native baseline failed: ${(e as Error).message}`);
        failed = true;
      }
    }
  }

  // Simulator side.
  const sim = new Map<string, Measurement | Error>();
  if (simOps) {
    const measured = selected.flatMap((b) =>
      [b.sim, ...(b.simBaseline ? [b.simBaseline] : [])].map((op) => ({ b, op })),
    );
    for (const { b, op: name } of measured) {
      for (const pages of pagesOf(b)) {
        const key = `${name}:${pages}`;
        if (sim.has(key)) continue;
        const op = simOps[name];
        if (!op) {
          sim.set(key, new Error(`no sim operation '${name}' in bench/sim.ts`));
          continue;
        }
        try {
          const m = op(pages, rep);
          sim.set(key, m);
          progress(
            `sim    ${name.padEnd(15)} ${String(pages).padStart(7)} pages: ${fmt(m.nsPerPage)} ns/page`,
          );
        } catch (e) {
          sim.set(key, e instanceof Error ? e : new Error(String(e)));
          progress(`sim    ${name.padEnd(15)} ${String(pages).padStart(7)} pages: FAILED ${String(e)}`);
        }
      }
    }
  }

  const results: BenchResult[] = [];
  for (const b of selected) {
    for (const pages of pagesOf(b)) {
      const s = sim.get(`${b.sim}:${pages}`);
      // a benchmark against another simulator operation takes that one's time as its baseline's
      const simBase = b.simBaseline ? sim.get(`${b.simBaseline}:${pages}`) : undefined;
      const n = b.native
        ? native?.results.get(nativeKey(b.native, pages))
        : simBase instanceof Error
          ? undefined
          : simBase;
      const nativeErr = b.native ? native?.errors.get(nativeKey(b.native, pages)) : undefined;
      const simNs = s && !(s instanceof Error) ? s.nsPerPage : null;
      const nativeNs = n ? n.nsPerPage : null;
      const bandwidth = b.metric === 'bandwidth';
      const ratio =
        b.budgetNsPerPage !== undefined
          ? simNs === null
            ? null
            : simNs / b.budgetNsPerPage
          : simNs === null || nativeNs === null || nativeNs <= 0 || simNs <= 0
            ? null
            : bandwidth
              ? nativeNs / simNs
              : simNs / nativeNs;
      const target = targetOf(b);
      const bytesPerSec = (ns: number | null) =>
        ns === null || ns <= 0 ? null : ((b.bytesPerPage ?? 0) / ns) * 1e9;
      const errors = [
        s instanceof Error ? `sim: ${s.message}` : null,
        simBase instanceof Error ? `sim baseline: ${simBase.message}` : null,
        nativeErr ? `native: ${nativeErr}` : null,
      ];
      const error = errors.filter((x) => x !== null).join('; ');
      if (error) failed = true;
      results.push({
        name: b.name,
        pages,
        simNsPerPage: simNs,
        nativeNsPerPage: nativeNs,
        ratio,
        baseline: b.baseline,
        targetRatio: target.ratio,
        withinTarget:
          ratio === null || target.ratio === null
            ? null
            : bandwidth
              ? ratio >= target.ratio
              : ratio <= target.ratio,
        ...(bandwidth
          ? {
              metric: 'bandwidth' as const,
              simBytesPerSec: bytesPerSec(simNs),
              nativeBytesPerSec: bytesPerSec(nativeNs),
            }
          : {}),
        ...(error ? { error } : {}),
      });
    }
  }

  if (opts.json) {
    const doc = {
      results,
      machine: machine(compiler, native, opts.reps, opts.warmup),
      date: new Date().toISOString(),
    };
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else {
    process.stdout.write(`${table(results)}\n`);
    for (const r of results) if (r.error) process.stdout.write(`${r.name} @ ${r.pages}: ${r.error}\n`);
  }
  if (failed) return 70;
  if (opts.check && results.some((r) => r.withinTarget === false)) return 1;
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(
      `bench: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    process.exitCode = 70;
  },
);
