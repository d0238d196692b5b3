/**
 * The viewer on a big run: `npm run bench:viewer [-- --events N --runs R]`. See docs/viewer.md.
 *
 * Makes a synthetic record of N events (default 1,000,000; src/viewer/synthetic.ts), writes its page,
 * opens it R times (default 3) in Debian's Chromium and measures, each time: the time to first render
 * (navigation until the page says it is ready), the time per keyboard step (→, 50 presses, as a user
 * sees it: key to repaint through the driver), the time per step and per random jump inside the page
 * (seek() only, no driver), and prints the medians with the file's size. Run `npm run build` first.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { launchChromium } from '../scripts/chromium.mjs';
import { viewerHtml } from '../src/viewer/page.js';
import { syntheticRun } from '../src/viewer/synthetic.js';
import { median } from './stats.js';

const { values } = parseArgs({
  options: { events: { type: 'string', default: '1000000' }, runs: { type: 'string', default: '3' } },
});
const events = Number(values.events);
const runs = Number(values.runs);

let t0 = performance.now();
const html = viewerHtml(syntheticRun(events));
const makeMs = performance.now() - t0;
const dir = mkdtempSync(join(tmpdir(), 'hmmsim-viewer-bench-'));
const file = join(dir, 'big.html');
writeFileSync(file, html);

const browser = await launchChromium();
const rows: Record<string, number[]> = { firstRender: [], keyStep: [], seekStep: [], seekJump: [] };
try {
  for (let r = 0; r < runs; r++) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    t0 = performance.now();
    await page.goto(`file://${file}`);
    await page.waitForSelector('body[data-ready=true]', { timeout: 300_000 });
    rows.firstRender?.push(performance.now() - t0);
    t0 = performance.now();
    for (let i = 0; i < 50; i++) await page.keyboard.press('ArrowRight');
    await page.textContent('#status');
    rows.keyStep?.push((performance.now() - t0) / 50);
    const [step, jump] = await page.evaluate((n) => {
      const v = (globalThis as unknown as { hmmViewer: { seek(s: number): void } }).hmmViewer;
      let t = performance.now();
      for (let i = 0; i < 100; i++) v.seek(Math.floor(n / 2) + i);
      const perStep = (performance.now() - t) / 100;
      t = performance.now();
      for (let i = 0; i < 20; i++) v.seek((i * 48_271) % n);
      return [perStep, (performance.now() - t) / 20];
    }, events);
    rows.seekStep?.push(step as number);
    rows.seekJump?.push(jump as number);
    await page.close();
  }
} finally {
  await browser.close();
  rmSync(dir, { recursive: true, force: true });
}

console.log(
  `viewer bench: ${events} events, page ${(html.length / 1e6).toFixed(1)} MB, made in ${makeMs.toFixed(0)} ms`,
);
for (const [name, ms] of Object.entries(rows)) {
  console.log(
    `${name.padEnd(12)} median ${median(ms).toFixed(1).padStart(8)} ms  (${ms.map((x) => x.toFixed(1)).join(', ')})`,
  );
}
