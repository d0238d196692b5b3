import {
  Executor,
  type LockdepGraph,
  type RunResult,
  type Strategy,
  type Task,
} from '../../src/sched/index.js';

/** Round robin: the next runnable thread after the one that just ran, by id. */
export const roundRobin: Strategy = {
  pick(runnable, current) {
    if (current === null) return 0;
    for (let i = 0; i < runnable.length; i++) if (runnable[i]!.id > current.id) return i;
    return 0;
  },
};

/** Runs bodies as threads T0, T1, ... on a new Executor and returns the result. */
export function runThreads(
  bodies: Array<() => Task>,
  opts: { strategy?: Strategy; lockdep?: LockdepGraph } = {},
): RunResult {
  const ex = new Executor(opts);
  for (const [i, b] of bodies.entries()) ex.spawn(`T${i}`, b());
  return ex.run();
}
