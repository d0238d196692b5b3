/**
 * The footprint checker's eyes on memory (test mode, `checkFootprints`): the machine's tracepoints
 * that write device page tables, notifier state or range state are forwarded to the recorder, so a
 * step that declared it touches no memory (src/sched/dependency.ts) and does fails with a
 * FootprintError naming the tracepoint.
 */

import { noteMemory } from '../sched/index.js';
import type { ScenarioContext } from './scenario.js';

/** Subscribes the footprint check to every memory-writing tracepoint of ctx's machine. */
export function forwardMemoryTouches(ctx: ScenarioContext): void {
  const trace = ctx.sim.trace;
  trace.subscribe('device_pt_store', () => noteMemory('device_pt_store'));
  trace.subscribe('device_pt_erase', () => noteMemory('device_pt_erase'));
  trace.subscribe('device_pt_clear', () => noteMemory('device_pt_clear'));
  trace.subscribe('mmu_notifier_invalidate_range_start', () => noteMemory('invalidate_range_start'));
  trace.subscribe('mmu_notifier_invalidate_range_end', () => noteMemory('invalidate_range_end'));
  trace.subscribe('hmm_range_valid', () => noteMemory('hmm_range_valid'));
}
