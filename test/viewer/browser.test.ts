/**
 * The viewer page in a real browser (Debian's Chromium, driven by playwright-core): one launch for
 * the file, one tab reused. The pages are made here from real runs (the fault-vs-dontneed race) and
 * from a synthetic million-event record. Timings are bench/viewer.ts's; the bounds here are only
 * generous guards against a page that freezes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../scripts/chromium.mjs';
import type { ViewerRun } from '../../src/schema/viewer.js';
import { recordReplay } from '../../src/viewer/explore.js';
import { viewerHtml } from '../../src/viewer/page.js';
import { recordSweepConfiguration } from '../../src/viewer/sweep.js';
import { syntheticRun } from '../../src/viewer/synthetic.js';

const RACE = 'hmmx3:fault-vs-dontneed:correct:seed:1:0.1.0:coherence:8:hmm1:AAAAAAEBAQE:daefdc44';
const VPN0 = 0x7effffffe000 / 4096;
const VPN1 = 0x7efffffff000 / 4096;

let dir: string;
let browser: Browser;
let page: Page;
let sweep: ViewerRun;
/** 64 pages of vector add on 32 device pages: a few thousand events, sampled to 500 here. */
const SWEEP = {
  workload: 'stream',
  footprint: 256 * 1024,
  oversubscription: [2],
  policies: ['page'],
  threads: 4,
};
const errors: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hmmsim-viewer-'));
  writeFileSync(join(dir, 'race.html'), viewerHtml(recordReplay(RACE).run));
  writeFileSync(join(dir, 'big.html'), viewerHtml(syntheticRun(1_000_000)));
  sweep = recordSweepConfiguration(SWEEP, { config: 'page@2', maxEvents: 500 }).run;
  writeFileSync(join(dir, 'sweep.html'), viewerHtml(sweep));
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function open(name: string): Promise<void> {
  await page.goto(`file://${join(dir, name)}`);
  await page.waitForSelector('body[data-ready=true]', { timeout: 60_000 });
}

/** The tooltip of `vpn`'s cell in `row` ('cpu', 'dev0 pt', 'dev0 tlb'), by hovering it. */
async function tooltip(vpn: number, row: string): Promise<string> {
  const at = await page.evaluate(
    ([v, r]) =>
      (
        globalThis as unknown as {
          hmmViewer: { cellCenter(v: number, r: string): { x: number; y: number } | null };
        }
      ).hmmViewer.cellCenter(v as number, r as string),
    [vpn, row] as const,
  );
  if (at === null) throw new Error(`no cell for ${vpn} in ${row}`);
  await page.mouse.move(0, 0);
  await page.mouse.move(at.x, at.y);
  return (await page.textContent('#tip')) ?? '';
}

async function status(): Promise<string> {
  return (await page.textContent('#status')) ?? '';
}

describe('the fault-vs-dontneed race in the viewer', () => {
  it('loads with no console error and opens at the violation step', async () => {
    await open('race.html');
    expect(errors).toEqual([]);
    expect(await status()).toMatch(/^event 38 of 39 · .* violation: coherence: dev0 maps 0x7effffffe000/);
    expect(await page.textContent('#meta')).toContain('hmmsim-viewer/1');
  });

  it('shows the device entry pointing at the freed page at the violation step', async () => {
    expect(await tooltip(VPN0, 'dev0 pt')).toBe(
      '0x7effffffe000 · dev0 pt\nstate: rw\npfn: 1\nrefcount: 0\nmapcount: 0\nflags: buddy\nmemcg: -',
    );
    expect(await tooltip(VPN1, 'dev0 pt')).toContain('pfn: 2\nrefcount: 0\nmapcount: 0\nflags: buddy');
    expect(await tooltip(VPN0, 'cpu')).toBe('0x7effffffe000 · cpu\nstate: none');
    expect(await page.locator('#interleaving .failing').textContent()).toContain('!! coherence: dev0 maps');
  });

  it('steps with the keyboard: Home, arrows, End', async () => {
    await page.keyboard.press('Home');
    expect(await status()).toBe('before the first event (of 39)');
    const cpu = await tooltip(VPN0, 'cpu');
    expect(cpu).toMatch(/^0x7effffffe000 · cpu\nstate: rw\npfn: 1\nrefcount: \d+\nmapcount: 1\n/);
    expect(await tooltip(VPN0, 'dev0 pt')).toBe('0x7effffffe000 · dev0 pt\nstate: none');
    await page.keyboard.press('ArrowRight');
    expect(await status()).toMatch(/^event 0 of 39 · .* dev0 · step: <start>$/);
    await page.keyboard.press('End');
    await page.keyboard.press('ArrowLeft');
    expect(await status()).toMatch(/^event 37 of 39 · .* dev0 · lock: mutex_lock dmirror.mutex$/);
    expect(await page.locator('#interleaving .current').getAttribute('data-event')).toBe('37');
  });

  it('scrubs: the slider moves every view to the chosen event', async () => {
    await page.locator('#scrub').fill('24');
    expect(await status()).toMatch(/^event 24 of 39 · t = step \d+ · dontneed · invalidate-end: CLEAR$/);
    expect(await page.locator('#map').getAttribute('data-step')).toBe('24');
    expect(await tooltip(VPN0, 'cpu')).toBe('0x7effffffe000 · cpu\nstate: none');
    await page.locator('#scrub').fill('9');
    expect(await tooltip(VPN0, 'cpu')).toContain('state: rw\npfn: 1');
    expect(await page.locator('#interleaving .current').getAttribute('data-event')).toBe('9');
    expect(errors).toEqual([]);
  });
});

describe('a million events', () => {
  it('opens, steps and jumps without freezing', async () => {
    await open('big.html');
    expect(await page.textContent('#meta')).toContain('1000000 events');
    expect(await status()).toBe('before the first event (of 1000000)');
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) await page.keyboard.press('ArrowRight');
    expect(await status()).toMatch(/^event 9 of 1000000 · /);
    await page.keyboard.press('End');
    expect(await status()).toMatch(/^event 999999 of 1000000 · /);
    await page.locator('#scrub').fill('500000');
    expect(await status()).toMatch(/^event 500000 of 1000000 · /);
    expect(performance.now() - t0).toBeLessThan(30_000);
    expect(errors).toEqual([]);
  }, 120_000);
});

describe('a sweep configuration, sampled', () => {
  it('loads with no console error and says on the page that it is sampled', async () => {
    const s = sweep.sampled as { every: number; total: number };
    expect(s.total).toBeGreaterThan(500);
    expect(s.every).toBe(Math.ceil(s.total / 500));
    errors.length = 0;
    await open('sweep.html');
    expect(errors).toEqual([]);
    expect(await page.isVisible('#meta')).toBe(true);
    expect(await page.textContent('#meta')).toContain(
      `sweep · ${sweep.pages.length} pages · ${sweep.events.kind.length} events · SAMPLED: one event in ${s.every} of ${s.total} kept`,
    );
    await page.keyboard.press('Home');
    await page.keyboard.press('ArrowRight');
    expect(await status()).toMatch(new RegExp(`^event 0 of ${sweep.events.kind.length} `));
  });
});
