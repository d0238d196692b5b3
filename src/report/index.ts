/**
 * The HTML report of `hmmsim demo`: the data contract the demo fills, and its renderer.
 */

export type { DemoReport, TimelineKind } from '../schema/index.js';
export { aggregateTimeline, MAX_POINTS, TIMELINE_KINDS, type TimelinePoint } from './plots.js';
export { escapeHtml, formatNumber, renderReport } from './report.js';
