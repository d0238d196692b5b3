/**
 * A made-up run of any size, for the viewer's bench and its big-file test: a million events cost a
 * second to make, where a simulator run that long takes minutes. Deterministic (a xorshift of its
 * own; no ambient randomness): the same arguments give the same record.
 */

import { ArgumentError, describeValue } from '../core/errno.js';
import { HMMSIM_VERSION } from '../core/version.js';
import type { ViewerChanges, ViewerPageInfo, ViewerRun } from '../schema/viewer.js';
import { VIEWER_SCHEMA_VERSION } from '../schema/viewer.js';
import { EVENT_KINDS } from './columns.js';
import { deltas } from './recorder.js';
import { CPU_STATES, DEVICE_STATES } from './states.js';

const LABELS = [
  'mutex_lock dmirror.mutex',
  'hmm_vma_walk',
  'down_read mmap_sem',
  'migrate_vma_pages',
  'dma copy',
];

/** A synthetic ViewerRun of `events` events over `pages` pages in 4 VMAs, 4 threads and one device. */
export function syntheticRun(events: number, pages = 4096): ViewerRun {
  if (!Number.isSafeInteger(events) || events < 1 || events > 10_000_000)
    throw new ArgumentError('events', `expected an integer in 1..10,000,000, got ${describeValue(events)}`);
  if (!Number.isSafeInteger(pages) || pages < 4 || pages > 1 << 20)
    throw new ArgumentError('pages', `expected an integer in 4..2^20, got ${describeValue(pages)}`);
  let x = 0x9e3779b9;
  const rand = (n: number): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
  const base = 0x7f0000000;
  const ev = {
    time: [] as number[],
    thread: [] as number[],
    kind: [] as number[],
    a: [] as number[],
    b: [] as number[],
    c: [] as number[],
    label: [] as number[],
  };
  const cpu = changes();
  const dev = changes();
  const tlb = changes();
  let t = 0;
  for (let i = 0; i < events; i++) {
    t += 100 + rand(400);
    ev.time.push(t);
    ev.thread.push(rand(4));
    const kind = rand(EVENT_KINDS.length - 1); // never 'violation'
    ev.kind.push(kind);
    const page = rand(pages);
    ev.a.push(base + page);
    ev.b.push(base + page + 1);
    ev.c.push(0);
    ev.label.push(rand(LABELS.length));
    if (rand(4) === 0) push(cpu, i, page, 1 + rand(CPU_STATES.length - 1), 1000 + page);
    if (rand(10) === 0) push(dev, i, page, rand(DEVICE_STATES.length), 1000 + page);
    if (rand(10) === 0) push(tlb, i, page, rand(3), 1000 + page);
  }
  const quarter = Math.floor(pages / 4);
  const samples = Math.ceil(events / 1000);
  const counters = Array.from({ length: samples }, (_, s) => [s * 7, s * 3, s * 1000]);
  return {
    schema: VIEWER_SCHEMA_VERSION,
    title: `synthetic run: ${events} events, ${pages} pages`,
    producer: HMMSIM_VERSION,
    seed: 0,
    source: 'synthetic',
    legend: { cpu: [...CPU_STATES], device: [...DEVICE_STATES], events: [...EVENT_KINDS] },
    strings: [...LABELS, 'rw-p', ''],
    threads: ['t0', 't1', 't2', 't3'],
    devices: [{ name: 'dev0', device: 0 }],
    mms: [1],
    pages: Array.from({ length: pages }, (_, p) => base + p),
    pageMm: new Array<number>(pages).fill(0),
    vmas: {
      start: [0, 1, 2, 3].map((q) => base + q * quarter),
      end: [1, 2, 3, 4].map((q) => (q === 4 ? base + pages : base + q * quarter)),
      prot: [LABELS.length, LABELS.length, LABELS.length, LABELS.length],
      mm: [0, 0, 0, 0],
      from: [-1, -1, -1, -1],
      to: [-1, -1, -1, -1],
    },
    events: { ...ev, time: deltas(ev.time) },
    cpu: { ...cpu, step: deltas(cpu.step) },
    cpuPage: pageInfo(cpu.step.length),
    device: { ...dev, step: deltas(dev.step) },
    devicePage: pageInfo(dev.step.length),
    tlb: { ...tlb, step: deltas(tlb.step) },
    counters: {
      names: ['kernel.pgfault', 'dev0.faults', 'dev0.cost.total'],
      step: deltas(Array.from({ length: samples }, (_, s) => Math.min(events - 1, s * 1000))),
      values: counters,
      every: 1000,
    },
    interleaving: null,
    sampled: null,
  };
}

function changes(): Required<ViewerChanges> {
  return { step: [], dev: [], page: [], state: [], pfn: [] };
}

function push(c: Required<ViewerChanges>, step: number, page: number, state: number, pfn: number): void {
  c.step.push(step);
  c.dev.push(0);
  c.page.push(page);
  c.state.push(state);
  c.pfn.push(state === 0 ? -1 : pfn);
}

function pageInfo(n: number): ViewerPageInfo {
  return {
    refcount: new Array<number>(n).fill(1),
    mapcount: new Array<number>(n).fill(1),
    flags: new Array<number>(n).fill(LABELS.length + 1),
    memcg: new Array<number>(n).fill(-1),
  };
}
