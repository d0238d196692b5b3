/**
 * The bounded window of a rendered interleaving. A schedule can run up to EXPLORE_STEPS_MAX steps
 * (a livelock ends there); rendering every one would be hundreds of thousands of lines nobody reads
 * (and `Math.max(...rows)` over them overflowed the stack). The failure is at the end of the run,
 * so the window is the last TRACE_WINDOW_ROWS rows, with a line saying how many came before.
 */

/** Rows (steps and preemption markers) an interleaving shows at most. */
export const TRACE_WINDOW_ROWS = 400;

/** The last `max` rows of `rows`, and how many steps were left out before them. */
export function traceWindow<R extends { step: number }>(
  rows: readonly R[],
  max = TRACE_WINDOW_ROWS,
): { rows: readonly R[]; omittedSteps: number } {
  if (rows.length <= max) return { rows, omittedSteps: 0 };
  const cut = rows.length - max;
  let omittedSteps = 0;
  for (let i = 0; i < cut; i++) if ((rows[i] as R).step >= 0) omittedSteps++;
  return { rows: rows.slice(cut), omittedSteps };
}

/** The widest thread name of `rows`, at least `min` (a loop: no spread of a long array). */
export function threadColumnWidth(rows: readonly { thread: string }[], min = 6): number {
  let width = min;
  for (const r of rows) if (r.thread.length > width) width = r.thread.length;
  return width;
}

/** The line that stands for the steps left out of the window. */
export function omittedLine(omittedSteps: number): string {
  return `      … ${omittedSteps} earlier steps not shown …`;
}
