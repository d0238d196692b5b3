import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SweepRecord } from '../../src/schema/sweep.js';
import { hmmsimIn } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'hmmsim-sweep-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hmmsim = (args: string[]) => hmmsimIn(args, { NO_COLOR: '', FORCE_COLOR: '' });

/** 64 pages of vector add, 2 policies x 2 levels: 4 configurations. */
const SMALL = ['sweep', '--workload', 'stream', '--footprint', '256KiB', '--oversubscription', '1,2'];
const POLICIES = ['--policy', 'none,page', '--threads', '4'];

describe('hmmsim sweep (end to end, through main() in process)', () => {
  it('--json prints the sweep record; --report writes the page with its three plots and tables', async () => {
    const report = join(dir, 'sweep.html');
    const r = await hmmsim([...SMALL, ...POLICIES, '--jobs', '1', '--json', '--report', report]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as SweepRecord;
    expect(doc.schema).toBe('hmmsim-sweep/1');
    expect(doc.settings.policies).toEqual(['none', 'page']);
    expect(doc.points.map((p) => [p.policy, p.oversubscription, p.faults])).toEqual([
      ['none', 1, 63],
      ['none', 2, 63],
      ['page', 1, 63],
      ['page', 2, 126],
    ]);
    const html = readFileSync(report, 'utf8');
    for (const plot of ['sweep-time', 'sweep-bytes', 'sweep-residency'])
      expect(html).toMatch(new RegExp(`<figure class="plot" data-plot="${plot}">[\\s\\S]*?<svg`));
    // settings head + 8 rows, points head + 4, cost terms head + 4
    expect(html.match(/<tr>/g)?.length).toBe(1 + 8 + 1 + 4 + 1 + 4);
    expect(html).not.toMatch(/<script/);
  });

  it('the table names every configuration', async () => {
    const r = await hmmsim([...SMALL, ...POLICIES, '--jobs', '1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('hmmsim sweep: stream, 0 MiB, 2 policies x 2 levels');
    expect(r.stdout.split('\n').filter((l) => /^ {2}(none|page) /.test(l))).toHaveLength(4);
  });

  it('--jobs 2 (worker threads) prints the same bytes as --jobs 1', async () => {
    const one = await hmmsim([...SMALL, ...POLICIES, '--jobs', '1', '--json']);
    const two = await hmmsim([...SMALL, ...POLICIES, '--jobs', '2', '--json']);
    expect(two.stderr).toBe('');
    expect(two.code).toBe(0);
    expect(two.stdout).toBe(one.stdout);
  }, 60_000);

  it('--shard slices, merged with --merge, are the whole sweep byte for byte', async () => {
    const whole = await hmmsim([...SMALL, ...POLICIES, '--jobs', '1', '--json']);
    const files = [];
    for (const i of [0, 1, 2]) {
      const r = await hmmsim([...SMALL, ...POLICIES, '--jobs', '1', '--json', '--shard', `${i}/3`]);
      expect(r.code).toBe(0);
      files.push(join(dir, `s${i}.json`));
      writeFileSync(files[i] as string, r.stdout);
    }
    const merged = await hmmsim(['sweep', '--merge', ...files, '--json']);
    expect(merged.code).toBe(0);
    expect(merged.stdout).toBe(whole.stdout);
    const missing = await hmmsim(['sweep', '--merge', files[0] as string, files[2] as string]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^hmmsim: error: --merge: configurations missing \(first 1\)/);
  });

  it('replays a trace file', async () => {
    const trace = join(dir, 'small.trace');
    writeFileSync(trace, '# two threads\n0 0 0x100000 8192 r\n1 1 0x102000 4 w\n2 cpu 0x100000 1 r\n');
    const r = await hmmsim([
      'sweep',
      '--workload',
      trace,
      '--policy',
      'page',
      '--oversubscription',
      '1',
      '--jobs',
      '1',
      '--json',
    ]);
    expect(r.stderr).toBe('');
    const doc = JSON.parse(r.stdout) as SweepRecord;
    expect(doc.settings.workload).toBe('small.trace');
    expect(doc.settings.trace?.format).toBe('hmmsim');
    expect(doc.settings.footprintBytes).toBe(3 * 4096);
    expect(doc.points[0]).toMatchObject({ faults: 3, pagesToDevice: 3, cpuFaults: 1 });
    writeFileSync(trace, '0 0 0x100000 8192 r\n1 1 0x102000 4 x\n');
    const bad = await hmmsim(['sweep', '--workload', trace, '--jobs', '1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("hmmsim: error: --workload: line 2: expected 'r' or 'w', got 'x'\n");
  });

  it('bad arguments exit 2 with one line naming the option', async () => {
    const cases: [string[], RegExp][] = [
      [['--footprint', '1XB'], /^hmmsim: error: --footprint: expected a size/],
      [['--policy', 'lru'], /^hmmsim: error: --policy: expected 'none', 'page'/],
      [['--oversubscription', '0,1'], /^hmmsim: error: --oversubscription: expected positive numbers/],
      [['--shard', '2/2'], /^hmmsim: error: --shard: expected i\/n/],
      [
        ['--workload', join(dir, 'none')],
        /^hmmsim: error: --workload: expected a generator .* or a trace file/,
      ],
      [['--jobs', '0'], /^hmmsim: error: --jobs: expected an integer in 1\.\.256/],
      [['--threads', '2000'], /^hmmsim: error: --threads: expected an integer in 1\.\.1024/],
      [['--footprint', '4KiB'], /^hmmsim: error: --footprint: expected an integer in 262144\.\./],
      [['--api', 'new'], /^hmmsim: error: --api: expected seed or modern/],
      [['--cost-profile', 'x'], /^hmmsim: error: --cost-profile: expected one of pcie4-a100/],
    ];
    for (const [args, msg] of cases) {
      const r = await hmmsim(['sweep', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stdout).toBe('');
    }
  });
});
