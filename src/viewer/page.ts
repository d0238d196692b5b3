/**
 * The viewer page: one self-contained HTML file (the record as inline JSON, the bundled script and
 * the styles inline; nothing fetched, so it opens offline and can be attached to a bug report). The
 * script is built by `npm run build` (scripts/build-viewer.mjs) into dist/viewer/client.js; this
 * module reads it from there, from src/ and from dist/ alike (both sit two levels below the root).
 */

import { readFileSync } from 'node:fs';
import type { ViewerRun } from '../schema/viewer.js';

const CLIENT = new URL('../../dist/viewer/client.js', import.meta.url);

let client: string | null = null;

/** The bundled page script; a clear error if the package was not built. */
function clientScript(): string {
  if (client === null) {
    try {
      client = readFileSync(CLIENT, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? String(e);
      throw new Error(`viewer: the page script ${CLIENT.pathname} is missing (${code}): run 'npm run build'`);
    }
  }
  return client;
}

/** JSON safe inside a <script> element: no '<' (so no '</script>'), no U+2028/2029. */
function inlineJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
body{font:13px system-ui,sans-serif;margin:0;color:#222;background:#fff}
header{padding:8px 12px;border-bottom:1px solid #ddd;position:sticky;top:0;background:#fff;z-index:2}
h1{font-size:16px;margin:0 0 4px}
#meta,.note{color:#666;margin:2px 0}
.controls{display:flex;gap:6px;align-items:center}
.controls button{min-width:28px}
#scrub{flex:1}
#status{font-family:ui-monospace,monospace;margin-top:4px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
main{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:12px;padding:12px}
section{border:1px solid #ddd;border-radius:4px;padding:8px;min-width:0}
section h2{font-size:13px;margin:0 0 6px}
#map-section,#timeline-section{grid-column:1 / span 2}
canvas{width:100%;display:block}
#map-wrap{max-height:60vh;overflow:auto}
.legend{margin:2px 0;color:#444}
.swatch{display:inline-block;width:10px;height:10px;margin:0 3px 0 8px;border:1px solid #999;vertical-align:middle}
#tip{position:fixed;background:#222;color:#fff;padding:6px 8px;border-radius:4px;white-space:pre;font:12px ui-monospace,monospace;pointer-events:none;z-index:5}
#interleaving .rows{position:relative;height:300px;overflow:auto;border-top:1px solid #ddd}
#interleaving .spacer{position:relative}
.irow{display:grid;gap:6px;height:20px;line-height:20px;font:12px ui-monospace,monospace;white-space:nowrap}
.irow span{overflow:hidden;text-overflow:ellipsis}
.rows .irow{position:absolute;left:0;right:0;cursor:pointer}
.irow.head{font-weight:bold}
.irow.current{background:#fff3b0}
.irow.preempt{color:#d62728}
.irow.failing{background:#fdd;color:#a00;font-weight:bold}
.irow .cell{background:#eef5fb}
.replay{font:11px ui-monospace,monospace;word-break:break-all;color:#555}
table.counters{border-collapse:collapse;font:12px ui-monospace,monospace}
table.counters td,table.counters th{padding:1px 8px;border-bottom:1px solid #eee;text-align:left}
table.counters td.num{text-align:right}
#counters{max-height:340px;overflow:auto}
`;

/** The viewer page of `run`: a complete HTML document, the same bytes for the same record. */
export function viewerHtml(run: ViewerRun): string {
  const title = escapeHtml(run.title);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · hmmsim viewer</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${title}</h1>
<p id="meta"></p>
<div class="controls">
<button id="prev" title="previous event (←)">◀</button>
<button id="play" title="play / pause (space)">▶</button>
<button id="next" title="next event (→)">▶|</button>
<input id="scrub" type="range" min="-1" max="0" value="-1" aria-label="event">
<button id="zoomout" title="zoom the map out">−</button>
<button id="zoomin" title="zoom the map in (or the mouse wheel on the map)">+</button>
</div>
<div id="status"></div>
</header>
<main>
<section id="map-section"><h2>Address space: CPU page table, device page tables and TLBs</h2><div id="legends"></div><div id="map-wrap"><canvas id="map"></canvas></div></section>
<section id="timeline-section"><h2>Timeline</h2><canvas id="timeline"></canvas></section>
<section><h2>Interleaving</h2><div id="interleaving"></div></section>
<section><h2>Counters and costs</h2><div id="counters"></div></section>
</main>
<div id="tip" hidden></div>
<script type="application/json" id="run">${inlineJson(run)}</script>
<script>${clientScript()}</script>
</body>
</html>
`;
}
