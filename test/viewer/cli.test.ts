import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { VIEWER_SCHEMA_VERSION } from '../../src/schema/viewer.js';
import { recordReplay } from '../../src/viewer/explore.js';
import { viewerHtml } from '../../src/viewer/page.js';
import { hmmsimIn } from '../cli/run.js';

const RACE = 'hmmx3:fault-vs-dontneed:correct:seed:1:0.1.0:coherence:8:hmm1:AAAAAAEBAQE:daefdc44';
const dir = mkdtempSync(join(tmpdir(), 'hmmsim-viewer-cli-'));
const hmmsim = (...args: string[]) => hmmsimIn(args);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The record a page embeds. */
function recordOf(html: string): { schema: string; source: string; events: { kind: number[] } } {
  const m = /<script type="application\/json" id="run">(.*?)<\/script>/s.exec(html);
  if (m === null) throw new Error('no record in the page');
  return JSON.parse(m[1] as string);
}

describe('hmmsim --html', () => {
  it('replay --html writes the page of the run, the same bytes as the library makes', async () => {
    const file = join(dir, 'replay.html');
    const r = await hmmsim('replay', RACE, '--html', file);
    expect(r.code).toBe(1);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe(`viewer: ${file}`);
    expect(readFileSync(file, 'utf8')).toBe(viewerHtml(recordReplay(RACE).run));
  });

  it('explore --html writes the page of the violation found (its replay), and keeps --json one document', async () => {
    const file = join(dir, 'explore.html');
    const r = await hmmsim('explore', 'fault-vs-dontneed', '--json', '--html', file);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).violation.replay).toBe(RACE);
    expect(readFileSync(file, 'utf8')).toBe(readFileSync(join(dir, 'replay.html'), 'utf8'));
  });

  it('explore --html with no violation writes nothing and says so', async () => {
    const file = join(dir, 'none.html');
    const r = await hmmsim('explore', 'fault-vs-dontneed', '--protocol', 'seq', '--html', file);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('hmmsim: no violation found: --html writes no page\n');
    expect(() => readFileSync(file)).toThrow(/ENOENT/);
  });

  it('demo --html records the demo from the device open', async () => {
    const file = join(dir, 'demo.html');
    const r = await hmmsim(
      'demo',
      '--list-nodes',
      '200',
      '--tree-nodes',
      '200',
      '--lookups',
      '100',
      '--no-report',
      '--html',
      file,
    );
    expect(r.code).toBe(0);
    const run = recordOf(readFileSync(file, 'utf8'));
    expect(run.schema).toBe(VIEWER_SCHEMA_VERSION);
    expect(run.source).toBe('demo');
    expect(run.events.kind.length).toBeGreaterThan(100);
  });

  it('refuses a directory as the page before running anything (exit 2, one line)', async () => {
    const r = await hmmsim('replay', RACE, '--html', dir);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`hmmsim: error: --html: cannot write ${dir} (EISDIR)\n`);
  });
});
