/**
 * The timeline's events from the tracepoints: today's API (test_hmm's migrate to the device and the
 * interval notifier's invalidation on MADV_DONTNEED), the DMA, lock acquire and release, and the
 * explorer's logical clock.
 */
import { describe, expect, it } from 'vitest';
import type { ViewerRun } from '../../src/schema/viewer.js';
import { Simulator } from '../../src/sim/simulator.js';
import { undelta } from '../../src/viewer/decode.js';
import { recordReplay } from '../../src/viewer/explore.js';
import { deviceFileSource, recordSimulator, ViewerRecorder } from '../../src/viewer/recorder.js';

const RACE = 'hmmx3:fault-vs-dontneed:correct:seed:1:0.1.0:coherence:8:hmm1:AAAAAAEBAQE:daefdc44';
const MADV_DONTNEED = 4;

/** Each event as [kind, thread, label, a, b, c]. */
function rows(run: ViewerRun): [string, string, string, number, number, number][] {
  const e = run.events;
  return e.kind.map((k, i) => [
    run.legend.events[k] as string,
    run.threads[e.thread[i] as number] ?? '-',
    run.strings[e.label[i] as number] as string,
    e.a[i] as number,
    e.b[i] as number,
    e.c[i] as number,
  ]);
}

describe("today's API on the timeline", () => {
  const sim = new Simulator({ ramPages: 1024, kernel: 'v6.19', devices: [{ memoryPages: 16 }] });
  const p = sim.createProcess();
  const fd = sim.openDevice(0, p, { api: 'modern' });
  const addr = p.mmap(2 * 4096, 3, 0x22);
  p.write(addr, new Uint8Array(2 * 4096).fill(7));
  const rec = recordSimulator(sim, [deviceFileSource(fd)]);
  expect(fd.migrate(addr, 2).cpages).toBe(2);
  p.madvise(addr, 4096, MADV_DONTNEED);
  const run = rec.finish();
  const r = rows(run);
  const v = addr / 4096;
  const m = 'HMM_DMIRROR_MIGRATE';

  it('records the migrate steps, the MIGRATE invalidation of the interval and the DMA, with their ranges', () => {
    expect(r.slice(1, 4)).toEqual([
      ['lock', m, 'acquire rwsem mmap_sem (read)', 0, 0, 0],
      ['interval-invalidate', m, 'MIGRATE seq 3 interval 0x0-0x1ffffffffff000', v, v + 2, 6],
      ['migrate', m, 'migrate_vma_setup 2 pages, 2 collected', v, v + 2, 2],
    ]);
    expect(r.slice(8, 10)).toEqual([
      ['dma', m, 'dma to-device 2 pages', 2, 8192, 0],
      ['migrate', m, 'migrate_vma_pages 2 pages, 2 collected', v, v + 2, 2],
    ]);
    expect(r[15]).toEqual(['migrate', m, 'migrate_vma_finalize 2 pages, 2 collected', v, v + 2, 2]);
    expect(r.filter((x) => x[0] === 'dma')).toHaveLength(1);
  });

  it('records the CLEAR invalidation of MADV_DONTNEED over one page, and the device entry it erases', () => {
    const i = r.findIndex((x) => x[0] === 'interval-invalidate' && x[5] === 1);
    expect(r[i]).toEqual([
      'interval-invalidate',
      'madvise[1]',
      'CLEAR seq 5 interval 0x0-0x1ffffffffff000',
      v,
      v + 1,
      1,
    ]);
    expect(r.slice(i + 1, i + 5)).toEqual([
      ['lock', 'madvise[1]', 'down_read mmap_sem', 0, 0, 0],
      ['lock', 'madvise[1]', 'acquire mutex dmirror.mutex', 0, 0, 0],
      ['device-erase', 'madvise[1]', 'erase', v, 0, 0],
      ['unlock', 'madvise[1]', 'release mutex dmirror.mutex', 0, 0, 0],
    ]);
  });

  it('pairs every acquire with a release of the same lock on the same thread', () => {
    const held = new Map<string, number>();
    for (const [kind, thread, label] of r) {
      const name = label.replace(/^(acquire|release) /, '');
      if (label.startsWith('acquire '))
        held.set(`${thread} ${name}`, (held.get(`${thread} ${name}`) ?? 0) + 1);
      if (label.startsWith('release ')) {
        expect(kind).toBe('unlock');
        expect(held.get(`${thread} ${name}`)).toBe(1);
        held.delete(`${thread} ${name}`);
      }
    }
    expect([...held.keys()]).toEqual([]);
  });
});

describe('an explorer run on the timeline', () => {
  const { run } = recordReplay(RACE);
  const r = rows(run);

  it('records the release of dmirror.mutex by the invalidation before dev0 retakes it', () => {
    const cb = r.findIndex((x) => x[0] === 'mirror-callback');
    expect(r.slice(cb + 2, cb + 4)).toEqual([
      ['lock', 'dontneed', 'acquire mutex dmirror.mutex', 0, 0, 0],
      ['unlock', 'dontneed', 'release mutex dmirror.mutex', 0, 0, 0],
    ]);
    expect(r.filter((x) => x[2] === 'release mutex dmirror.mutex').map((x) => x[1])).toEqual([
      'dev0',
      'dontneed',
      'dev0',
    ]);
  });

  it("times events by the executor's step, increasing, the same on every run of the schedule", () => {
    expect(run.clock).toBe('steps');
    const t = undelta(run.events.time);
    for (let i = 1; i < t.length; i++) expect(t[i]).toBeGreaterThanOrEqual(t[i - 1] as number);
    const steps = t.filter((_, i) => r[i]?.[0] === 'step' || r[i]?.[0] === 'preempt');
    expect(new Set(t).size).toBeGreaterThan(5);
    expect(t.at(-1)).toBeGreaterThan(t[0] as number);
    expect(steps.length).toBeGreaterThan(0);
    expect(undelta(recordReplay(RACE).run.events.time)).toEqual(t);
  });

  it("refuses a clock it does not know, naming 'clock'", () => {
    const sim = new Simulator();
    expect(() => new ViewerRecorder(sim, { clock: 'ms' as 'ns' })).toThrow(/'clock'/);
  });
});
