/**
 * A sweep configuration recorded for the viewer: runSweepPoint with the recorder started once the
 * device is open, so the page shows the workload's phases (device launches, CPU touches, migrations,
 * evictions) on the configuration's machine. The point is the one the sweep reports: the recorder
 * only reads the machine, so recording changes no byte of it.
 */

import { ArgumentError, describeValue } from '../core/errno.js';
import type { SweepPoint } from '../schema/sweep.js';
import type { ViewerRun } from '../schema/viewer.js';
import { runSweepPoint } from '../sweep/run.js';
import {
  type CheckedSweepSpec,
  checkSweepSpec,
  type SweepConfiguration,
  type SweepSpec,
  sweepConfigurations,
} from '../sweep/spec.js';
import { VIEWER_EVENTS_MAX } from './columns.js';
import { deviceFileSource, recordSimulator, type ViewerRecorder } from './recorder.js';

/**
 * Table entries a sweep's diffs visit per event, amortised: a configuration's resident pages run
 * to the hundreds of thousands, so diffing at every event would cost events x pages.
 */
export const SWEEP_DIFF_BUDGET = 32;

/** A configuration's name as `--html-config` takes it: `<policy>@<oversubscription>` ('page@1.5'). */
export function sweepConfigurationName(c: SweepConfiguration): string {
  return `${c.policy}@${c.oversubscription}`;
}

/**
 * The configuration `name` ('<policy>@<oversubscription>') names, or the sweep's first when
 * undefined; an ArgumentError naming `config` and listing the valid names otherwise.
 */
export function sweepConfigurationByName(s: CheckedSweepSpec, name?: string): SweepConfiguration {
  const all = sweepConfigurations(s);
  if (name === undefined) return all[0] as SweepConfiguration;
  const at = typeof name === 'string' ? name.lastIndexOf('@') : -1;
  const policy = at < 0 ? '' : name.slice(0, at);
  const level = at < 0 ? Number.NaN : Number(name.slice(at + 1));
  const found = all.find((c) => c.policy === policy && c.oversubscription === level && at < name.length - 1);
  if (found === undefined)
    throw new ArgumentError(
      'config',
      `expected one of ${all.map(sweepConfigurationName).join(', ')}, got ${typeof name === 'string' ? `'${name}'` : describeValue(name)}`,
    );
  return found;
}

/** Options of recordSweepConfiguration. */
export interface RecordSweepOptions {
  /** The configuration, `<policy>@<oversubscription>` (default: the sweep's first). */
  config?: string;
  /** Events kept before the record is sampled (default VIEWER_EVENTS_MAX, 1,000,000). */
  maxEvents?: number;
}

/** What recordSweepConfiguration returns. */
export interface RecordedSweepConfiguration {
  /** The configuration run. */
  configuration: SweepConfiguration;
  /** Its point, as the sweep reports it. */
  point: SweepPoint;
  /** The run, for the viewer (sampled beyond `maxEvents` events, and the page says so). */
  run: ViewerRun;
}

/** Runs one configuration of `spec` with the viewer's recorder on (see the file comment). */
export function recordSweepConfiguration(
  spec: SweepSpec,
  opts: RecordSweepOptions = {},
): RecordedSweepConfiguration {
  if (typeof opts !== 'object' || opts === null)
    throw new ArgumentError('opts', `expected an object, got ${describeValue(opts)}`);
  const s = checkSweepSpec(spec);
  const c = sweepConfigurationByName(s, opts.config);
  let rec: ViewerRecorder | null = null;
  const point = runSweepPoint(s, c, (sim, fd) => {
    rec = recordSimulator(sim, [deviceFileSource(fd)], {
      source: 'sweep',
      diffBudget: SWEEP_DIFF_BUDGET,
      // the sweep's time is the device's cost clock: its scheduler never sleeps, so its ns stay 0
      nowNs: () => Math.round(sim.deviceClockUs(0) * 1000),
    });
  });
  const r = rec as ViewerRecorder | null;
  if (r === null) throw new Error('recordSweepConfiguration: the device never opened');
  const run = r.finish({ maxEvents: opts.maxEvents ?? VIEWER_EVENTS_MAX });
  run.title = `sweep ${s.trace?.name ?? s.workload}: ${sweepConfigurationName(c)}`;
  return { configuration: c, point, run };
}
