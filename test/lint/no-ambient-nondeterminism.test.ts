/**
 * The determinism lint (lint/no-ambient-nondeterminism.grit, applied by biome.json's overrides)
 * fires on each ambient source of time, randomness and deferral below src/, and not in src/cli/.
 * Biome runs on fixture files in a temporary tree laid out like this one, under this repo's own
 * overrides, so the test fails if a pattern or the override's paths stop matching.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'hmmsim-lint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** One banned use per line; the line number is the diagnostic's. */
const BANNED = [
  'export const a = Math.random();',
  'export const b = globalThis.Math.random();',
  'export const c = Date.now();',
  'export const d = performance.now();',
  'export const e = new Date();',
  'setTimeout(() => 0, 5);',
  'setInterval(() => 0, 5);',
  'export const f = process.hrtime();',
  'export const g = process.hrtime.bigint();',
  'setImmediate(() => 0);',
  'queueMicrotask(() => 0);',
];

interface Diagnostic {
  category: string;
  message: string;
  location: { path: string; start: { line: number } };
}

/** The repo's biome.json with its plugin paths made absolute, in `dir`. */
function writeConfig(): void {
  const config = JSON.parse(readFileSync('biome.json', 'utf8')) as {
    overrides: { includes: string[]; plugins?: string[] }[];
  };
  const overrides = config.overrides.map((o) => ({
    ...o,
    plugins: o.plugins?.map((p) => resolve(p)),
  }));
  writeFileSync(
    join(dir, 'biome.json'),
    JSON.stringify({ linter: { enabled: true, rules: { preset: 'none' } }, overrides }),
  );
}

function lint(files: Record<string, string>): Diagnostic[] {
  writeConfig();
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  const r = spawnSync(resolve('node_modules/.bin/biome'), ['lint', '--reporter=json', '.'], {
    cwd: dir,
    encoding: 'utf8',
  });
  const doc = JSON.parse(r.stdout) as { diagnostics: Diagnostic[] };
  return doc.diagnostics.filter((d) => d.category === 'plugin');
}

describe('lint/no-ambient-nondeterminism.grit', () => {
  it('flags every banned use below src/ (one diagnostic per line) and none in src/cli/', () => {
    const text = `${BANNED.join('\n')}\n`;
    const found = lint({ 'src/sim/ambient.ts': text, 'src/cli/ambient.ts': text });
    expect(found.every((d) => d.location.path === 'src/sim/ambient.ts')).toBe(true);
    expect(found.map((d) => d.location.start.line).sort((x, y) => x - y)).toEqual(
      BANNED.map((_, i) => i + 1),
    );
    const at = (line: number) => found.find((d) => d.location.start.line === line)?.message;
    expect(at(8)).toBe(
      "process.hrtime() reads the wall clock: use the scheduler's virtual time (src/sched), or take a clock from the caller (src/cli).",
    );
    expect(at(9)).toBe(at(8));
    expect(at(10)).toMatch(/^setImmediate\(\) defers work to the event loop/);
    expect(at(11)).toMatch(/^queueMicrotask\(\) defers work to the event loop/);
  });
});
