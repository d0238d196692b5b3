import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { costProfileOption, policyOption, sizeOption } from '../../src/cli/demo.js';
import { hmmsimIn } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'hmmsim-demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hmmsim = (args: string[]) => hmmsimIn(args, { NO_COLOR: '', FORCE_COLOR: '' });

const SMALL = ['--list-nodes', '2000', '--tree-nodes', '2000', '--lookups', '400'];

describe('hmmsim demo (end to end, through main() in process)', () => {
  it('--json prints one document { ok, seed, counters, costs, report } and writes the report with its plots', async () => {
    const report = join(dir, 'r.html');
    const r = await hmmsim(['demo', ...SMALL, '--seed', '5', '--json', '--report', report]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(doc).slice(0, 5)).toEqual(['ok', 'seed', 'counters', 'costs', 'report']);
    expect(doc.ok).toBe(true);
    expect(doc.seed).toBe(5);
    expect(doc.report).toBe(report);
    const counters = doc.counters as Record<string, number>;
    expect(counters.faults).toBeGreaterThan(0);
    expect(counters['kernel.pgfault']).toBeGreaterThan(0);
    expect((doc.costs as Record<string, number>).total).toBeGreaterThan(0);
    const html = readFileSync(report, 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    for (const plot of ['timeline', 'residency', 'costs'])
      expect(html).toMatch(new RegExp(`<figure class="plot" data-plot="${plot}">[\\s\\S]*?<svg`));
    expect(html).not.toMatch(/<script/);
  });

  it('the human summary names what happened and where the report is', async () => {
    const report = join(dir, 'human.html');
    const r = await hmmsim([
      'demo',
      ...SMALL,
      '--policy',
      'page',
      '--device-pages',
      '16',
      '--report',
      report,
    ]);
    expect(r.code).toBe(0);
    for (const line of [
      'pages mirrored',
      'device faults',
      'CPU faults on device pages',
      'invalidations',
      'migrated to device memory',
      'migrated to system memory',
      'copied by the DMA engine',
      'total',
    ])
      expect(r.stdout).toContain(line);
    expect(r.stdout).toMatch(/migrated to system memory\s+[\d,]+ pages \([1-9][\d,]* of them evicted\)/);
    expect(r.stdout).toMatch(/check: ok/);
    expect(r.stdout).toContain(`report: ${report}`);
    expect(r.stdout).not.toContain('\x1b[');
  });

  it('--no-report writes nothing and reports null', async () => {
    const r = await hmmsim(['demo', ...SMALL, '--no-report', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).report).toBeNull();
  });

  it("--api modern runs on today's test_hmm, and the reproducing command says so; the seed's does not", async () => {
    const r = await hmmsim(['demo', ...SMALL, '--api', 'modern', '--no-report', '--json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { ok: boolean; command: string; settings: Record<string, unknown> };
    expect(doc.ok).toBe(true);
    expect(doc.command.endsWith(' --api modern')).toBe(true);
    expect(doc.settings['HMM API']).toBe("today's (test_hmm, v6.19 mm)");
    const seed = JSON.parse((await hmmsim(['demo', ...SMALL, '--no-report', '--json'])).stdout) as {
      command: string;
    };
    expect(seed.command).not.toMatch(/--api/);
  });

  it('bad input is one line on stderr and exit 2, before any work', async () => {
    for (const args of [
      ['demo', '--api', 'v7'],
      ['demo', '--list-nodes', '0'],
      ['demo', '--report', join(dir, 'no', 'such', 'dir', 'r.html')],
      ['demo', '--bogus'],
    ]) {
      const r = await hmmsim(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).toMatch(/^hmmsim: error: /);
    }
  });
});

describe('hmmsim demo option parsers', () => {
  it('accept the documented forms and reject the rest with an InvalidArgumentError (exit 2, one line)', () => {
    expect(sizeOption('listNodes')('2_000')).toBe(2000);
    expect(policyOption('block:4')).toBe('block:4');
    expect(policyOption('none')).toBe('none');
    expect(costProfileOption('pcie3-v100')).toBe('pcie3-v100');
    for (const bad of [
      () => sizeOption('listNodes')('0'),
      () => sizeOption('treeNodes')('many'),
      () => sizeOption('devicePages')('99999999999'),
      () => sizeOption('threads')('1.5'),
      () => policyOption('sometimes'),
      () => policyOption('block:19'),
      () => costProfileOption('nvlink'),
    ])
      expect(bad).toThrow(InvalidArgumentError);
  });
});

describe("hmmsim demo --policy's error", () => {
  it('names what parsePolicy found wrong: the unknown uvm parameter, or the unknown name', () => {
    expect(() => policyOption('uvm:bogus=3')).toThrow(/uvm has no parameter 'bogus'/);
    expect(() => policyOption('sometimes')).toThrow(/got 'sometimes'\.$/);
    expect(policyOption('uvm:threshold=60')).toMatch(/^uvm/);
  });
});
