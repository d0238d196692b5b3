/**
 * The versioned run record: what a run of hmmsim reports, as data (docs/schema.md). Types and the
 * version string only: the simulator produces records, the report and the viewer read them, and
 * neither side needs the other's code.
 */

export type { TimelineEvent, TimelineKind } from './events.js';
export type { DemoReport } from './run.js';
export type { SweepPoint, SweepRecord, SweepSettings } from './sweep.js';
export { SCHEMA_VERSION } from './version.js';
