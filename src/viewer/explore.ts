/**
 * An explorer run recorded for the viewer: replay() with an observer that records every step and
 * preemption, then the violation as the last event, and the schedule as the record's interleaving.
 */

import { type ExploreReplayOptions, type ExploreReplayResult, replay } from '../explore/explore.js';
import type { ScenarioContext } from '../explore/scenario.js';
import type { ViewerRun } from '../schema/viewer.js';
import { type ViewerFinishOptions, ViewerRecorder } from './recorder.js';

/** What recordReplay returns: the replay's own result and the viewer's record of the run. */
export interface RecordedReplay {
  /** What replay() returned. */
  result: ExploreReplayResult;
  /** The run, for the viewer. */
  run: ViewerRun;
}

/** Follows the explorer's devices: each one's page table, TLB and device memory. */
function trackScenario(rec: ViewerRecorder, ctx: ScenarioContext): void {
  for (const d of ctx.devices) {
    rec.trackDevice({
      name: d.name,
      device: d.device,
      mm: d.mm,
      pt: d.pt,
      tlb: d.tlb,
      owns: (pfn) => d.owns(pfn),
    });
  }
}

/**
 * Replays `replayString` (as replay() does, same checks, same errors) and records the run: every
 * step, preemption and tracepoint, the page tables after each, and the violation it ends in.
 */
export function recordReplay(
  replayString: string,
  opts: Omit<ExploreReplayOptions, 'observe'> = {},
  finish: Pick<ViewerFinishOptions, 'maxEvents'> = {},
): RecordedReplay {
  let rec: ViewerRecorder | null = null;
  const preemptions: number[] = [];
  const result = replay(replayString, {
    ...opts,
    observe: (ctx) => {
      const r = new ViewerRecorder(ctx.sim, { source: 'explore', counterEvery: 1, clock: 'steps' });
      rec = r;
      trackScenario(r, ctx);
      r.start();
      return {
        step: (t, point) => r.step(t.name, point, t.executor.steps),
        preempt: (from, to) => {
          r.preempt(from.name, to.name);
          preemptions.push(r.events - 1);
        },
      };
    },
  });
  const r = rec as ViewerRecorder | null;
  if (r === null) throw new Error('recordReplay: the replay ran without its observer');
  const v = result.violation;
  const failingStep = v === null ? -1 : r.violation(v.checker, v.message.split('\n', 1)[0] as string, null);
  const run = r.finish({
    ...finish,
    interleaving: {
      scenario: result.scenario,
      driver: result.driver,
      replay: v?.replay ?? replayString,
      preemptions,
      kept: [...preemptions],
      checker: v?.checker ?? null,
      message: v?.message ?? null,
      failingStep,
    },
  });
  run.title = `${result.scenario} on ${result.driver} (${result.protocol})`;
  return { result, run };
}
