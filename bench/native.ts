/**
 * Native side of the benchmarks: compiles bench/native/baseline.c with `cc -O2` (or $CC) into
 * bench/.build/ and runs it, parsing the JSON lines it prints.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Measurement } from './stats.js';

const SOURCE = fileURLToPath(new URL('./native/baseline.c', import.meta.url));
const BUILD_DIR = fileURLToPath(new URL('./.build/', import.meta.url));
const BINARY = `${BUILD_DIR}baseline`;

export interface NativeInfo {
  compiler: string;
  pageSize: number;
  kernel: string;
}

export type NativeBuild = { ok: true; binary: string; compiler: string } | { ok: false; reason: string };

/** Compiles the baseline. Never throws: a missing or failing compiler is reported as `ok: false`. */
export function buildNative(): NativeBuild {
  const cc = process.env.CC || 'cc';
  const version = spawnSync(cc, ['--version'], { encoding: 'utf8' });
  if (version.error || version.status !== 0) {
    return {
      ok: false,
      reason: `no C compiler (${cc}): ${version.error?.message ?? `exit ${version.status}`}`,
    };
  }
  mkdirSync(BUILD_DIR, { recursive: true });
  const args = ['-O2', '-std=c11', '-Wall', '-Wextra', '-o', BINARY, SOURCE];
  const r = spawnSync(cc, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    return { ok: false, reason: `${cc} ${args.join(' ')} failed:\n${r.stderr || r.error?.message}` };
  }
  return { ok: true, binary: BINARY, compiler: (version.stdout.split('\n')[0] ?? cc).trim() };
}

export interface NativeRun {
  info: { pageSize: number; kernel: string } | null;
  /** Keyed by `${op}:${pages}`. */
  results: Map<string, Measurement>;
  errors: Map<string, string>;
}

export const nativeKey = (op: string, pages: number): string => `${op}:${pages}`;

/** Runs the baseline for the given ops and page counts; `progress` receives one line per result. */
export async function runNative(
  binary: string,
  ops: readonly string[],
  pages: readonly number[],
  opts: { reps: number; warmup: number },
  progress: (line: string) => void,
): Promise<NativeRun> {
  const args = [
    '--reps',
    String(opts.reps),
    '--warmup',
    String(opts.warmup),
    '--pages',
    pages.join(','),
    ...ops,
  ];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const run: NativeRun = { info: null, results: new Map(), errors: new Map() };
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
  for await (const line of createInterface({ input: child.stdout })) {
    if (!line.trim()) continue;
    const rec = JSON.parse(line) as Record<string, unknown>;
    if (rec.type === 'info') {
      run.info = { pageSize: Number(rec.pageSize), kernel: String(rec.kernel) };
    } else if (rec.type === 'result') {
      const m: Measurement = {
        pages: Number(rec.pages),
        reps: Number(rec.reps),
        warmup: Number(rec.warmup),
        medianNs: Number(rec.medianNs),
        nsPerPage: Number(rec.nsPerPage),
        samplesNs: (rec.samplesNs as number[]).map(Number),
      };
      run.results.set(nativeKey(String(rec.op), m.pages), m);
      progress(
        `native ${String(rec.op).padEnd(15)} ${String(m.pages).padStart(7)} pages: ${fmt(m.nsPerPage)} ns/page`,
      );
    } else if (rec.type === 'error') {
      const msg = `errno ${rec.errno} (${rec.message})`;
      run.errors.set(nativeKey(String(rec.op), Number(rec.pages)), msg);
      progress(`native ${String(rec.op).padEnd(15)} ${String(rec.pages).padStart(7)} pages: FAILED ${msg}`);
    }
  }
  const code = await exited;
  if (code !== 0) throw new Error(`${binary} exited with status ${code}`);
  return run;
}

export function fmt(x: number | null): string {
  if (x === null) return '-';
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}
