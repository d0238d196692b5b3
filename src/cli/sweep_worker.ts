/**
 * A worker thread of `hmmsim sweep --jobs N`: it receives the sweep's spec once, then configuration
 * indices one at a time, and answers each with its point (runSweepPoint, synchronous and
 * deterministic, so which worker runs which configuration changes no byte of the result).
 */

import { parentPort, workerData } from 'node:worker_threads';
import { checkSweepSpec, runSweepPoint, type SweepSpec, sweepConfigurations } from '../sweep/index.js';

/** A message to a worker: run configuration `index`, or stop. */
export type SweepWorkerRequest = { index: number } | { stop: true };

const port = parentPort;
if (port !== null) {
  const spec = checkSweepSpec(workerData as SweepSpec);
  const configs = sweepConfigurations(spec);
  port.on('message', (m: SweepWorkerRequest) => {
    if ('stop' in m) {
      port.close();
      return;
    }
    port.postMessage({ point: runSweepPoint(spec, configs[m.index] as (typeof configs)[number]) });
  });
}
