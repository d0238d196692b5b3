/**
 * The viewer page's script (bundled into the page at build time, scripts/build-viewer.mjs): reads
 * the embedded record, builds the views and drives them all from one scrubber. Keys: ← → step,
 * Home / End, space plays and pauses. `window.hmmViewer` lets tests and the screenshot script seek
 * and find cells; the page works the same without it.
 */

import type { ViewerRun } from '../../schema/viewer.js';
import { CPU_COLORS, DEVICE_COLORS, EVENT_COLORS } from './colors.js';
import { MapView } from './map.js';
import { Model } from './model.js';
import { CountersView, InterleavingView } from './panels.js';
import { clockText, TimelineView } from './timeline.js';

function byId<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`viewer: #${id} is missing from the page`);
  return e as T;
}

function legend(
  root: HTMLElement,
  title: string,
  colors: Record<string, string>,
  names: readonly string[],
): void {
  const p = document.createElement('p');
  p.className = 'legend';
  p.append(`${title}: `);
  for (const n of names) {
    const sw = document.createElement('span');
    sw.className = 'swatch';
    sw.style.background = colors[n] ?? '#000';
    p.append(sw, `${n} `);
  }
  root.append(p);
}

function boot(): void {
  const run = JSON.parse(byId('run').textContent ?? '{}') as ViewerRun;
  const model = new Model(run);
  const scrub = byId<HTMLInputElement>('scrub');
  const status = byId('status');
  scrub.min = '-1';
  scrub.max = String(model.n - 1);
  let playing = false;
  const seek = (step: number): void => {
    const s = Math.max(-1, Math.min(model.n - 1, Math.round(step)));
    model.seek(s);
    scrub.value = String(s);
    status.textContent = describe(model, s);
    map.render();
    timeline.render();
    inter.render();
    counters.render();
  };
  const map = new MapView(byId('map'), byId('tip'), model);
  const timeline = new TimelineView(byId('timeline'), model, seek);
  const inter = new InterleavingView(byId('interleaving'), model, seek);
  const counters = new CountersView(byId('counters'), model);
  const legends = byId('legends');
  legend(legends, 'CPU', CPU_COLORS, run.legend.cpu);
  legend(legends, 'device', DEVICE_COLORS, run.legend.device);
  legend(legends, 'events', EVENT_COLORS, run.legend.events);
  const outline = document.createElement('p');
  outline.className = 'legend';
  outline.textContent = 'red outline: a device entry whose page was free (PG_buddy) when it was stored';
  legends.append(outline);
  byId('meta').textContent = meta(run);
  scrub.addEventListener('input', () => seek(Number(scrub.value)));
  const play = (): void => {
    playing = !playing;
    byId('play').textContent = playing ? '❚❚' : '▶';
    const tick = (): void => {
      if (!playing) return;
      if (model.at >= model.n - 1) {
        playing = false;
        byId('play').textContent = '▶';
        return;
      }
      seek(model.at + Math.max(1, Math.round(model.n / 600)));
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  };
  byId('play').addEventListener('click', play);
  byId('prev').addEventListener('click', () => seek(model.at - 1));
  byId('next').addEventListener('click', () => seek(model.at + 1));
  byId('zoomin').addEventListener('click', () => {
    map.zoom *= 2;
    map.render();
  });
  byId('zoomout').addEventListener('click', () => {
    map.zoom = Math.max(1, map.zoom / 2);
    map.render();
  });
  document.addEventListener('keydown', (e) => {
    if (e.target instanceof HTMLInputElement && e.target !== scrub) return;
    const keys: Record<string, () => void> = {
      ArrowLeft: () => seek(model.at - 1),
      ArrowRight: () => seek(model.at + 1),
      Home: () => seek(-1),
      End: () => seek(model.n - 1),
      ' ': play,
    };
    const action = keys[e.key];
    if (action === undefined) return;
    e.preventDefault();
    action();
  });
  window.addEventListener('resize', () => seek(model.at));
  const start =
    run.interleaving !== null && run.interleaving.failingStep >= 0 ? run.interleaving.failingStep : -1;
  seek(start);
  (window as unknown as { hmmViewer: unknown }).hmmViewer = {
    seek,
    get step() {
      return model.at;
    },
    events: model.n,
    cellCenter: (vpn: number, row: string) => map.cellCenter(vpn, row),
  };
  document.body.dataset.ready = 'true';
}

function describe(m: Model, s: number): string {
  if (s < 0) return `before the first event (of ${m.n})`;
  const th = m.thread(s);
  return `event ${s} of ${m.n} · t = ${clockText(m.run, m.time[s] as number)} · ${th} · ${m.kind(s)}: ${m.label(s)}`;
}

function meta(run: ViewerRun): string {
  const sampled =
    run.sampled === null
      ? ''
      : ` · SAMPLED: one event in ${run.sampled.every} of ${run.sampled.total} kept (every state change is kept)`;
  return `${run.schema} · hmmsim ${run.producer} · seed ${run.seed} · ${run.source} · ${run.pages.length} pages · ${run.events.kind.length} events${sampled}`;
}

boot();
