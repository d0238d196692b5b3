/**
 * The workload generators by name, for the sweep and the CLI (docs/policies.md, "Workloads"): each
 * imitates one benchmark the migration-policy literature measures (peers-and-costs.md §7c).
 */

import { ArgumentError } from '../../core/errno.js';
import { backpropWorkload } from './backprop.js';
import { bfsWorkload } from './bfs.js';
import { gemmWorkload } from './gemm.js';
import { randomWorkload } from './random.js';
import { hotspotWorkload, sradWorkload } from './stencil.js';
import { streamWorkload } from './stream.js';
import { nwWorkload, pathfinderWorkload } from './wavefront.js';
import { checkWorkloadParams, type Workload, type WorkloadParams } from './workload.js';

export { BFS_DEGREE, bfsTarget } from './bfs.js';
export { PATHFINDER_PYRAMID, PATHFINDER_ROWS } from './wavefront.js';
export * from './workload.js';

/** A generator: parameters to a workload. */
export type WorkloadGenerator = (p: WorkloadParams) => Workload;

/** Every generator by name, in the order the docs list them. */
export const WORKLOADS: Readonly<Record<string, WorkloadGenerator>> = {
  stream: streamWorkload,
  hotspot: hotspotWorkload,
  srad: sradWorkload,
  nw: nwWorkload,
  pathfinder: pathfinderWorkload,
  gemm: gemmWorkload,
  backprop: backpropWorkload,
  bfs: bfsWorkload,
  random: randomWorkload,
};

/** The named generator's workload; ArgumentError naming `workload` or the bad parameter otherwise. */
export function makeWorkload(name: string, p: WorkloadParams): Workload {
  const gen = Object.hasOwn(WORKLOADS, name) ? WORKLOADS[name] : undefined;
  if (gen === undefined)
    throw new ArgumentError(
      'workload',
      `expected one of ${Object.keys(WORKLOADS).join(', ')}, got '${name}'`,
    );
  return gen(checkWorkloadParams(p));
}

export {
  backpropWorkload,
  bfsWorkload,
  gemmWorkload,
  hotspotWorkload,
  nwWorkload,
  pathfinderWorkload,
  randomWorkload,
  sradWorkload,
  streamWorkload,
};
