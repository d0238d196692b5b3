#!/usr/bin/env node
// Regenerates the viewer's screenshots in docs/ (`npm run docs:screenshots`, which builds first): the
// fault-vs-dontneed race, replayed and recorded, at its violation step, one PNG per view: the address
// space map, the timeline and the interleaving. Uses the built package (dist/) and Debian's Chromium.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordReplay, viewerHtml } from '../dist/index.js';
import { launchChromium } from './chromium.mjs';

const RACE = 'hmmx3:fault-vs-dontneed:correct:seed:1:0.1.0:coherence:8:hmm1:AAAAAAEBAQE:daefdc44';
const VIEWS = [
  ['#map-section', 'docs/viewer-map.png'],
  ['#timeline-section', 'docs/viewer-timeline.png'],
  ['section:has(#interleaving)', 'docs/viewer-interleaving.png'],
];

const dir = mkdtempSync(join(tmpdir(), 'hmmsim-shots-'));
const file = join(dir, 'race.html');
writeFileSync(file, viewerHtml(recordReplay(RACE).run));
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 }, deviceScaleFactor: 1 });
  await page.goto(`file://${file}`);
  await page.waitForSelector('body[data-ready=true]');
  // The known step: the violation (the page opens there); the tooltip of the device's stale entry shown.
  const at = await page.evaluate(() => globalThis.hmmViewer.cellCenter(0x7effffffe000 / 4096, 'dev0 pt'));
  await page.mouse.move(at.x, at.y);
  for (const [selector, out] of VIEWS) {
    const box = await page.locator(selector).boundingBox();
    // The map's shot reaches below its section, where the tooltip hangs.
    const below = out.endsWith('map.png') ? 120 : 0;
    await page.screenshot({ path: out, clip: { ...box, height: box.height + below } });
    console.log(`wrote ${out}`);
  }
} finally {
  await browser.close();
  rmSync(dir, { recursive: true, force: true });
}
