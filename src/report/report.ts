/**
 * `hmmsim demo --report`: one self-contained HTML document from a `DemoReport`. Inline CSS and inline
 * SVG only (no scripts, fonts or links), so the file opens offline and can be attached to an issue;
 * and no clock or randomness, so the same run renders byte for byte the same document.
 */

import type { DemoReport } from '../schema/index.js';
import {
  byName,
  costsPlot,
  costTerms,
  formatNumber,
  kindColor,
  kindOrder,
  PLACEMENT_COLORS,
  PLACEMENTS,
  residencyPlot,
  timelinePlot,
} from './plots.js';

export { formatNumber } from './plots.js';

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for element content and quoted attribute values alike. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] as string);
}

function formatValue(v: string | number): string {
  return typeof v === 'number' ? formatNumber(v) : v;
}

const CSS = `
body { font: 14px/1.45 system-ui, sans-serif; color: #1b1e23; max-width: 760px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.4em; margin: 0 0 .3em; }
h2 { font-size: 1.1em; margin: 1.6em 0 .5em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { text-align: left; padding: .15em .8em .15em 0; border-bottom: 1px solid #e4e6ea; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.meta { margin: 0 0 .6em; color: #555b66; }
.badge { display: inline-block; padding: 0 .5em; border-radius: 3px; font-weight: 600; color: #fff; }
.badge.ok, .check.ok .mark { background: #3ca951; }
.badge.failed, .check.failed .mark { background: #d93a3a; }
ul.checks { list-style: none; padding: 0; }
.check .mark { display: inline-block; width: 1.2em; text-align: center; color: #fff; border-radius: 3px; margin-right: .4em; }
.check .detail { color: #555b66; }
figure.plot { margin: 1.6em 0; }
figure.plot figcaption { margin-bottom: .4em; }
figure.plot svg { max-width: 100%; height: auto; }
ul.legend { list-style: none; padding: 0; margin: 0 0 .3em; font-size: 12px; }
ul.legend li { display: inline-block; margin-right: 1em; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: .3em; }
.empty { color: #555b66; font-style: italic; }
.warning { border-left: 3px solid #d98a00; padding: .2em .6em; background: #fff6e0; }
`;

/** An HTML table; `numeric` columns align right. */
export function table(
  head: readonly string[],
  rows: readonly string[][],
  numeric: readonly boolean[] = [],
): string {
  const th = head.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows.map((r) => {
    const cells = r.map((c, i) => `<td${numeric[i] ? ' class="num"' : ''}>${escapeHtml(c)}</td>`);
    return `<tr>${cells.join('')}</tr>`;
  });
  return `<table>\n<thead><tr>${th}</tr></thead>\n<tbody>\n${body.join('\n')}\n</tbody>\n</table>`;
}

function header(data: DemoReport): string {
  const badge = data.ok ? '<span class="badge ok">ok</span>' : '<span class="badge failed">FAILED</span>';
  const config = Object.entries(data.config).map(([k, v]) => [k, formatValue(v)]);
  return [
    '<header>',
    `<h1>${escapeHtml(data.title)}</h1>`,
    `<p class="meta">seed ${escapeHtml(String(data.seed))} ${badge}</p>`,
    producer(data),
    ...(data.warnings ?? []).map((w) => `<p class="warning">warning: ${escapeHtml(w)}</p>`),
    config.length > 0 ? table(['setting', 'value'], config) : '',
    '</header>',
  ].join('\n');
}

/** What made the page: the hmmsim version and command line, and the run record's format. */
function producer(data: DemoReport): string {
  const lines: string[] = [];
  if (data.producer !== undefined) {
    const { version, command } = data.producer;
    lines.push(
      `<p class="meta">made by hmmsim ${escapeHtml(version)}: <code>${escapeHtml(command)}</code></p>`,
    );
  }
  if (data.schema !== undefined) lines.push(`<p class="meta">run record ${escapeHtml(data.schema)}</p>`);
  return lines.join('\n');
}

function checks(data: DemoReport): string {
  if (data.checks.length === 0)
    return '<section>\n<h2>Checks</h2>\n<p class="empty">no checks</p>\n</section>';
  const items = data.checks.map((c) => {
    const cls = c.ok ? 'ok' : 'failed';
    const mark = c.ok ? '✓' : '✗';
    return `<li class="check ${cls}"><span class="mark">${mark}</span>${escapeHtml(c.name)} <span class="detail">${escapeHtml(c.detail)}</span></li>`;
  });
  return `<section>\n<h2>Checks</h2>\n<ul class="checks">\n${items.join('\n')}\n</ul>\n</section>`;
}

/** A colour key: name and swatch per entry. */
export function legend(entries: readonly [string, string][]): string {
  const items = entries.map(
    ([name, color]) => `<li><span class="swatch" style="background:${color}"></span>${escapeHtml(name)}</li>`,
  );
  return `<ul class="legend">${items.join('')}</ul>`;
}

/** A `<figure>` holding one plot (or `empty` when there is none), tagged `data-plot=name`. */
export function figure(name: string, caption: string, svg: string | null, empty: string, key = ''): string {
  const body = svg === null ? `<p class="empty">${escapeHtml(empty)}</p>` : `${key}\n${svg}`;
  return `<figure class="plot" data-plot="${name}">\n<figcaption>${caption}</figcaption>\n${body}\n</figure>`;
}

function timelineFigure(data: DemoReport): string {
  const buckets = data.timelineBuckets;
  const pages =
    buckets === undefined
      ? data.timeline.reduce((sum, e) => sum + (Number.isFinite(e.pages) ? e.pages : 0), 0)
      : Object.values(buckets.pages).reduce((sum, s) => sum + s.reduce((a, b) => a + b, 0), 0);
  const kinds = kindOrder(
    buckets === undefined ? data.timeline.map((e) => e.kind) : Object.keys(buckets.pages),
  );
  const events = buckets?.events ?? data.timeline.length;
  const bucketed =
    buckets === undefined
      ? ''
      : ` <strong>Bucketed</strong>: more events than the ${formatNumber(data.timeline.length)} kept one by one, ` +
        `so each point sums a window of ${formatNumber(buckets.widthUs)} µs.`;
  const dropped =
    (data.traceDropped ?? 0) > 0
      ? ` <strong>${formatNumber(data.traceDropped as number)} events dropped</strong> by the trace and not plotted.`
      : '';
  const caption =
    '<strong>Device faults and migrations over time</strong>: cumulative pages per event kind on the ' +
    `simulated clock, one panel per kind; dashed rules mark the start of each phase. ${formatNumber(events)} events, ` +
    `${formatNumber(pages)} pages.${bucketed}${dropped}`;
  const key = legend(kinds.map((k) => [k, kindColor(k)]));
  return figure('timeline', caption, timelinePlot(data), 'no events', key);
}

function residencyFigure(data: DemoReport): string {
  const caption =
    '<strong>Device residency per region</strong>: where each region’s pages are at the end of each ' +
    'phase, in device memory, in system memory, or not yet mapped.';
  const key = legend(PLACEMENTS.map((p) => [p, PLACEMENT_COLORS[p]]));
  return figure('residency', caption, residencyPlot(data.residency), 'no residency samples', key);
}

function costsFigure(data: DemoReport): string {
  const total = data.costs.total ?? costTerms(data.costs).reduce((sum, t) => sum + t.us, 0);
  const caption =
    '<strong>Simulated cost by term</strong>: simulated µs charged to each term of the cost model; ' +
    `total ${formatNumber(total)} µs. The clock is serial and counts memory-system overheads only ` +
    '(no overlap of DMA with fault servicing, no device compute): it ranks policies, it does not predict run time.';
  return figure('costs', caption, costsPlot(data.costs), 'no cost terms');
}

function counters(data: DemoReport): string {
  const names = Object.keys(data.counters).sort(byName);
  const what = data.counterDescriptions ?? {};
  const body =
    names.length === 0
      ? '<p class="empty">no counters</p>'
      : table(
          ['counter', 'value', 'what it counts'],
          names.map((n) => [n, formatNumber(data.counters[n] as number), what[n] ?? '']),
          [false, true, false],
        );
  return `<section>\n<h2>Counters</h2>\n${body}\n</section>`;
}

function costModel(data: DemoReport): string {
  const { profile, terms } = data.costModel;
  const body =
    terms.length === 0
      ? '<p class="empty">no terms</p>'
      : table(
          ['term', 'value', 'source'],
          terms.map((t) => [t.name, t.value, t.source]),
        );
  const where = '<p>Each source is explained, with links, in docs/costs.md of the hmmsim package.</p>';
  return `<section>\n<h2>Cost model</h2>\n<p>profile <strong>${escapeHtml(profile)}</strong></p>\n${body}\n${where}\n</section>`;
}

/** The whole report as one HTML document. */
export function renderReport(data: DemoReport): string {
  return htmlPage(data.title, [
    header(data),
    checks(data),
    timelineFigure(data),
    residencyFigure(data),
    costsFigure(data),
    counters(data),
    costModel(data),
  ]);
}

/** One self-contained page: the shared head and stylesheet, then `body`'s parts (the sweep report's too). */
export function htmlPage(title: string, body: readonly string[]): string {
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    ...body,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
