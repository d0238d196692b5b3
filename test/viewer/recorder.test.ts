import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/core/errno.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/mmap.js';
import type { ViewerRun } from '../../src/schema/viewer.js';
import { VIEWER_SCHEMA_VERSION } from '../../src/schema/viewer.js';
import { Simulator } from '../../src/sim/simulator.js';
import { StateCursor, undelta } from '../../src/viewer/decode.js';
import { recordReplay } from '../../src/viewer/explore.js';
import { recordSimulator, ViewerRecorder } from '../../src/viewer/recorder.js';

const RACE = 'hmmx3:fault-vs-dontneed:correct:seed:1:0.1.0:coherence:8:hmm1:AAAAAAEBAQE:daefdc44';

/** The CPU state name, pfn and page flags of `vpn` after event `step`. */
function cpuAt(run: ViewerRun, vpn: number, step: number): [string, number] {
  const c = new StateCursor(run.cpu, run.pages.length, 0);
  c.seek(step);
  const cell = run.pages.indexOf(vpn);
  return [run.legend.cpu[c.state[cell] as number] as string, c.pfn[cell] as number];
}

function deviceAt(run: ViewerRun, dev: number, vpn: number, step: number): [string, number, string] {
  const c = new StateCursor(run.device, run.pages.length, run.devices.length);
  c.seek(step);
  const cell = c.cell(dev, run.pages.indexOf(vpn));
  const change = c.change[cell] as number;
  const flags = change < 0 ? '' : (run.strings[run.devicePage.flags[change] as number] as string);
  return [run.legend.device[c.state[cell] as number] as string, c.pfn[cell] as number, flags];
}

function kinds(run: ViewerRun): string[] {
  return run.events.kind.map((k) => run.legend.events[k] as string);
}

describe('recordReplay: the fault-vs-dontneed race', () => {
  const { result, run } = recordReplay(RACE);
  const [vpn0, vpn1] = run.pages as [number, number];
  const failing = run.interleaving?.failingStep as number;

  it('records the two pages, the threads, the device and the schema version', () => {
    expect(run.schema).toBe(VIEWER_SCHEMA_VERSION);
    expect(run.source).toBe('explore');
    expect(run.pages).toEqual([0x7effffffe000 / 4096, 0x7efffffff000 / 4096]);
    expect(run.threads).toEqual(['dev0', 'dontneed']);
    expect(run.devices).toEqual([{ name: 'dev0', device: 0 }]);
    expect(run.vmas).toMatchObject({ start: [vpn0], end: [vpn1 + 1], from: [-1], to: [-1] });
    expect(run.strings[run.vmas.prot[0] as number]).toBe('rw-p');
  });

  it('has the CPU mapping both pages writable before the run and neither after the zap', () => {
    expect(cpuAt(run, vpn0, -1)).toEqual(['rw', 1]);
    expect(cpuAt(run, vpn1, -1)).toEqual(['rw', 2]);
    // The zap runs after the mirror callbacks returned (the mirrors_sem release) and before the end.
    const start = kinds(run).indexOf('invalidate-start');
    const end = kinds(run).indexOf('invalidate-end');
    const released = run.events.label.findIndex(
      (l) => run.strings[l] === 'release rwsem hmm->mirrors_sem (read)',
    );
    expect(start < released && released < end).toBe(true);
    expect(cpuAt(run, vpn0, released)).toEqual(['none', -1]);
    expect(cpuAt(run, vpn0, released - 1)).toEqual(['rw', 1]);
  });

  it('has the device entry pointing at the freed page at the violation step', () => {
    expect(kinds(run)[failing]).toBe('violation');
    expect(failing).toBe(run.events.kind.length - 1);
    expect(deviceAt(run, 0, vpn0, failing)).toEqual(['rw', 1, 'buddy']);
    expect(deviceAt(run, 0, vpn1, failing)).toEqual(['rw', 2, 'buddy']);
    const store = kinds(run).indexOf('device-store');
    expect(deviceAt(run, 0, vpn0, store - 1)).toEqual(['none', -1, '']);
    expect(deviceAt(run, 0, vpn0, store)).toEqual(['rw', 1, 'buddy']);
    expect(cpuAt(run, vpn0, failing)).toEqual(['none', -1]);
  });

  it('records the schedule: the preemption, the switches and the checker', () => {
    const k = kinds(run);
    const inter = run.interleaving;
    expect(inter?.checker).toBe('coherence');
    expect(inter?.message).toBe(result.violation?.message);
    expect(inter?.replay).toBe(RACE);
    expect(inter?.preemptions).toEqual([k.indexOf('preempt')]);
    expect(inter?.kept).toEqual(inter?.preemptions);
    expect(k.filter((x) => x === 'switch')).toHaveLength(2);
    const starts = k.flatMap((x, i) => (x === 'invalidate-start' ? [i] : []));
    expect(starts).toHaveLength(1);
    expect([run.events.a[starts[0] as number], run.events.b[starts[0] as number]]).toEqual([vpn0, vpn1 + 1]);
    expect(run.strings[run.events.label[starts[0] as number] as number]).toBe('CLEAR');
    expect(run.threads[run.events.thread[starts[0] as number] as number]).toBe('dontneed');
  });

  it('gives the same bytes for the same run', () => {
    expect(JSON.stringify(recordReplay(RACE).run)).toBe(JSON.stringify(run));
  });
});

describe('ViewerRecorder on a facade run', () => {
  function facadeRun(maxEvents?: number): ViewerRun {
    const sim = new Simulator({ seed: 3, ramPages: 256 });
    const p = sim.createProcess();
    const rec = recordSimulator(sim, [], { counterEvery: 1 });
    const a = p.mmap(4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    p.write(a, new Uint8Array(4096).fill(7));
    p.read(a + 4096, 1);
    p.mprotect(a, 4096, PROT_READ);
    p.munmap(a, 4 * 4096);
    return rec.finish({ maxEvents });
  }

  it('follows a page from none to rw to ro to none, and the VMA from mmap to munmap', () => {
    const run = facadeRun();
    const vpn = run.pages[0] as number;
    const n = run.events.kind.length;
    expect(run.pages).toHaveLength(2);
    expect(cpuAt(run, vpn, -1)[0]).toBe('none');
    const states = new Set<string>();
    for (let s = 0; s < n; s++) states.add(cpuAt(run, vpn, s)[0]);
    expect([...states]).toEqual(['none', 'rw', 'ro']);
    expect(cpuAt(run, run.pages[1] as number, n - 1)[0]).toBe('none');
    expect(cpuAt(run, vpn, n - 1)[0]).toBe('none');
    expect(run.vmas.start.length).toBeGreaterThanOrEqual(1);
    expect(run.vmas.to.every((t) => t >= 0)).toBe(true);
    // a read of untouched anonymous memory maps the shared zero page
    const zero = [...Array(n).keys()].some((s) => cpuAt(run, run.pages[1] as number, s)[0] === 'zero');
    expect(zero).toBe(true);
  });

  it('samples the counters at every event, the kernel faults counted', () => {
    const run = facadeRun();
    const k = run.counters.names.indexOf('kernel.pgfault');
    expect(k).toBeGreaterThanOrEqual(0);
    expect(undelta(run.counters.step).at(-1)).toBe(run.events.kind.length - 1);
    expect(run.counters.values.at(-1)?.[k]).toBeGreaterThan(0);
    expect(run.counters.values[0]?.[k]).toBe(0);
  });

  it('keeps one event in every k beyond maxEvents, and says so', () => {
    const full = facadeRun();
    const run = facadeRun(4);
    const total = full.events.kind.length;
    const every = Math.ceil(total / 4);
    expect(run.sampled).toEqual({ every, total });
    expect(run.events.kind).toHaveLength(Math.ceil(total / every));
    expect(run.cpu.state).toEqual(full.cpu.state);
  });

  it('refuses bad options with an ArgumentError naming them', () => {
    const sim = new Simulator({ seed: 1, ramPages: 64 });
    expect(() => new ViewerRecorder(sim, { counterEvery: 0 })).toThrow(ArgumentError);
    expect(() => new ViewerRecorder(sim, { counterEvery: 0 })).toThrow(/counterEvery/);
    const r = recordSimulator(sim);
    expect(() => r.finish({ maxEvents: 0 })).toThrow(/maxEvents/);
    expect(() => r.start()).toThrow(ArgumentError);
    expect(sim.log.tap).not.toBe(null);
    r.finish();
    // finished: unsubscribed, the log's tap is gone and the tracepoints are free again
    expect(sim.log.tap).toBe(null);
    expect(sim.trace.enabled).toBe(false);
  });
});
