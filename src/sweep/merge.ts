/**
 * Joining the shards of a sweep (`hmmsim sweep --merge`): records of one sweep (equal settings)
 * whose points together cover every configuration exactly once make the record the unsharded sweep
 * gives, byte for byte once serialised.
 */

import { ArgumentError } from '../core/errno.js';
import { SWEEP_SCHEMA_VERSION, type SweepPoint, type SweepRecord } from '../schema/sweep.js';

/** The whole sweep's record from its shards; an ArgumentError naming `merge` if they do not fit. */
export function mergeSweepRecords(records: readonly unknown[]): SweepRecord {
  if (records.length === 0) throw new ArgumentError('merge', 'expected at least one sweep record');
  const checked = records.map((r, i) => checkRecord(r, i));
  const first = checked[0] as SweepRecord;
  const settings = JSON.stringify(first.settings);
  const byIndex = new Map<number, SweepPoint>();
  checked.forEach((r, i) => {
    if (JSON.stringify(r.settings) !== settings)
      throw new ArgumentError(
        'merge',
        `record ${i + 1} is of another sweep (its settings differ from record 1's)`,
      );
    for (const p of r.points) {
      if (byIndex.has(p.index))
        throw new ArgumentError('merge', `configuration ${p.index} is in more than one record`);
      byIndex.set(p.index, p);
    }
  });
  const n = first.settings.configurations;
  const missing: number[] = [];
  for (let i = 0; i < n && missing.length < 5; i++) if (!byIndex.has(i)) missing.push(i);
  if (missing.length > 0)
    throw new ArgumentError(
      'merge',
      `configurations missing (first ${missing.join(', ')}): a shard is absent`,
    );
  return {
    schema: SWEEP_SCHEMA_VERSION,
    settings: first.settings,
    points: [...byIndex.values()].sort((a, b) => a.index - b.index),
  };
}

function checkRecord(r: unknown, i: number): SweepRecord {
  const rec = r as Partial<SweepRecord> | null;
  if (rec === null || typeof rec !== 'object' || rec.schema !== SWEEP_SCHEMA_VERSION)
    throw new ArgumentError('merge', `record ${i + 1} is not a ${SWEEP_SCHEMA_VERSION} record`);
  if (typeof rec.settings !== 'object' || rec.settings === null || !Array.isArray(rec.points))
    throw new ArgumentError('merge', `record ${i + 1} has no settings or points`);
  for (const p of rec.points)
    if (
      p === null ||
      typeof p !== 'object' ||
      !Number.isInteger(p.index) ||
      p.index < 0 ||
      p.index >= rec.settings.configurations
    )
      throw new ArgumentError('merge', `record ${i + 1} has a point with no valid index`);
  return rec as SweepRecord;
}
