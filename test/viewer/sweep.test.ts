/**
 * A sweep configuration recorded for the viewer (src/viewer/sweep.ts): the configuration by name,
 * the same point as unrecorded, and what the diff budget keeps exact.
 */
import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/core/errno.js';
import type { ViewerChanges, ViewerRun } from '../../src/schema/viewer.js';
import { checkSweepSpec, runSweepPoint, sweepConfigurations } from '../../src/sweep/index.js';
import { StateCursor } from '../../src/viewer/decode.js';
import { deviceFileSource, recordSimulator, type ViewerRecorder } from '../../src/viewer/recorder.js';
import { recordSweepConfiguration, sweepConfigurationByName } from '../../src/viewer/sweep.js';

/** 64 pages of vector add on 32 device pages. */
const SPEC = {
  workload: 'stream',
  footprint: 256 * 1024,
  oversubscription: [1, 2],
  policies: ['page'],
  threads: 4,
};

/** Every cell's [state, pfn] after the last event. */
function finalCells(run: ViewerRun, changes: ViewerChanges, devices: number): string {
  const c = new StateCursor(changes, run.pages.length, devices);
  c.seek(run.events.kind.length - 1);
  return `${[...c.state]}|${[...c.pfn]}`;
}

describe('recordSweepConfiguration', () => {
  const rec = recordSweepConfiguration(SPEC, { config: 'page@2' });

  it('runs the named configuration and reports the point an unrecorded run reports', () => {
    const s = checkSweepSpec(SPEC);
    expect(rec.configuration).toEqual({ index: 1, policy: 'page', oversubscription: 2 });
    expect(rec.point).toEqual(runSweepPoint(s, sweepConfigurations(s)[1] as never));
    expect(rec.point.faults).toBe(126);
    expect(rec.run.source).toBe('sweep');
    expect(rec.run.sampled).toBeNull();
  });

  it("keeps the device's cost clock: times rise to the point's simulated time, in ns", () => {
    // The sweep's scheduler never sleeps (its executor's ns stay 0): the page's time is the cost model's.
    let t = 0;
    const at = (rec.run.events.time as number[]).map((d) => (t += d));
    expect(at[0]).toBe(0);
    expect(at.every((x, i) => i === 0 || x >= (at[i - 1] as number))).toBe(true);
    expect(at[at.length - 1]).toBe(Math.round(rec.point.simulatedUs * 1000));
    expect(new Set(at).size).toBeGreaterThan(100);
  });

  it('refuses a nowNs that is not a function, or with the step clock', () => {
    const s = checkSweepSpec(SPEC);
    runSweepPoint(s, sweepConfigurations(s)[0] as never, (sim) => {
      expect(() => recordSimulator(sim, [], { nowNs: 5 as never })).toThrow(ArgumentError);
      expect(() => recordSimulator(sim, [], { clock: 'steps', nowNs: () => 0 })).toThrow(/nowNs/);
    });
  });

  it('under its diff budget ends in the same page states as a diff at every event', () => {
    // The budget delays a change to a later event; the states at the end are all seen.
    const s = checkSweepSpec(SPEC);
    let r: ViewerRecorder | null = null;
    runSweepPoint(s, sweepConfigurations(s)[1] as never, (sim, fd) => {
      r = recordSimulator(sim, [deviceFileSource(fd)], { source: 'sweep' });
    });
    const exact = (r as ViewerRecorder | null)?.finish() as ViewerRun;
    const run = rec.run;
    expect(run.events.kind).toEqual(exact.events.kind);
    expect(run.pages).toEqual(exact.pages);
    expect(finalCells(run, run.cpu, 0)).toBe(finalCells(exact, exact.cpu, 0));
    expect(finalCells(run, run.device, 1)).toBe(finalCells(exact, exact.device, 1));
  });

  it('names the configuration by <policy>@<level>, the first by default; a bad name lists the valid ones', () => {
    const s = checkSweepSpec(SPEC);
    expect(sweepConfigurationByName(s)).toEqual({ index: 0, policy: 'page', oversubscription: 1 });
    expect(sweepConfigurationByName(s, 'page@2.0').index).toBe(1);
    for (const bad of ['page', 'page@', 'page@3', 'uvm@1', '@1'])
      expect(() => sweepConfigurationByName(s, bad)).toThrow(
        `invalid argument 'config': expected one of page@1, page@2, got '${bad}'`,
      );
    expect(() => recordSweepConfiguration(SPEC, null as never)).toThrow(ArgumentError);
  });
});
