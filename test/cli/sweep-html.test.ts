import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ViewerRun } from '../../src/schema/viewer.js';
import { viewerHtml } from '../../src/viewer/page.js';
import { recordSweepConfiguration } from '../../src/viewer/sweep.js';
import { hmmsimIn } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'hmmsim-sweep-html-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hmmsim = (args: string[]) => hmmsimIn(args, { NO_COLOR: '', FORCE_COLOR: '' });

/** 64 pages of vector add, 2 policies x 2 levels: 4 configurations. */
const SMALL = [
  'sweep',
  '--workload',
  'stream',
  '--footprint',
  '256KiB',
  '--oversubscription',
  '1,2',
  '--policy',
  'none,page',
  '--threads',
  '4',
];
const SPEC = {
  workload: 'stream',
  footprint: 256 * 1024,
  oversubscription: [1, 2],
  policies: ['none', 'page'],
  threads: 4,
};

function recordOf(html: string): ViewerRun {
  const m = /<script type="application\/json" id="run">(.*?)<\/script>/s.exec(html);
  if (m === null) throw new Error('no record in the page');
  return JSON.parse(m[1] as string) as ViewerRun;
}

describe('hmmsim sweep --html', () => {
  it('writes the chosen configuration, the same bytes under --jobs 1 and 2, and the same points as without it', async () => {
    const files = [join(dir, 'j1.html'), join(dir, 'j2.html')];
    const plain = await hmmsim([...SMALL, '--jobs', '1', '--json']);
    const runs = [];
    for (const [i, jobs] of ['1', '2'].entries()) {
      const r = await hmmsim([
        ...SMALL,
        '--jobs',
        jobs,
        '--json',
        '--html',
        files[i] as string,
        '--html-config',
        'page@2',
      ]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(plain.stdout);
      runs.push(readFileSync(files[i] as string, 'utf8'));
    }
    expect(runs[1]).toBe(runs[0]);
    expect(runs[0]).toBe(viewerHtml(recordSweepConfiguration(SPEC, { config: 'page@2' }).run));
    const run = recordOf(runs[0] as string);
    expect(run.source).toBe('sweep');
    expect(run.title).toBe('sweep stream: page@2');
    expect(run.sampled).toBeNull();
    expect(run.devices).toEqual([{ name: 'dev0', device: 0 }]);
    // page@2 runs on 32 device pages: 126 device faults, and the device table was written.
    const kinds = run.events.kind.map((k) => run.legend.events[k]);
    expect(kinds.filter((k) => k === 'device-store').length).toBeGreaterThan(0);
    expect(JSON.parse(plain.stdout).points[3].faults).toBe(126);
  }, 60_000);

  it('defaults to the first configuration and names the page on stdout', async () => {
    const file = join(dir, 'first.html');
    const r = await hmmsim([...SMALL, '--jobs', '1', '--html', file]);
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe(`viewer: ${file}`);
    expect(recordOf(readFileSync(file, 'utf8')).title).toBe('sweep stream: none@1');
  });

  it('a shard holding the configuration writes the same bytes; one lacking it writes nothing and says so', async () => {
    const none2 = (file: string, ...more: string[]) =>
      hmmsim([...SMALL, '--jobs', '1', ...more, '--html', join(dir, file), '--html-config', 'none@2']);
    await none2('whole.html');
    const r1 = await none2('held.html', '--shard', '1/2');
    expect(r1.code).toBe(0);
    expect(readFileSync(join(dir, 'held.html'), 'utf8')).toBe(readFileSync(join(dir, 'whole.html'), 'utf8'));
    const lacked = join(dir, 'lacked.html');
    const r0 = await none2('lacked.html', '--shard', '0/2');
    expect(r0.code).toBe(0);
    expect(r0.stderr).toBe('hmmsim: --html: none@2 is not in shard 0/2: no viewer page written\n');
    expect(() => readFileSync(lacked)).toThrow(/ENOENT/);
  });

  it('a bad --html-config is one line naming the flag and the valid ones; it needs --html', async () => {
    const r = await hmmsim([...SMALL, '--html', join(dir, 'bad.html'), '--html-config', 'uvm@1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "hmmsim: error: --html-config: expected one of none@1, none@2, page@1, page@2, got 'uvm@1'\n",
    );
    const alone = await hmmsim([...SMALL, '--html-config', 'page@1']);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toBe('hmmsim: error: --html-config: only with --html\n');
    const merge = await hmmsim(['sweep', '--merge', 'a.json', '--html', join(dir, 'm.html')]);
    expect(merge.stderr).toBe('hmmsim: error: --html: not with --merge (it runs nothing)\n');
  });
});
