/**
 * Graph traversal: Rodinia's bfs on a seeded random graph, the irregular workload of the
 * oversubscription literature (frontier-driven gathers into many distinct pages per launch).
 *
 * The graph: V vertices of BFS_DEGREE out-edges each, edge k of vertex v going to a vertex drawn
 * from a hash of (seed, v, k); Rodinia's arrays (graph_nodes: 8 bytes per vertex, graph_edges: 4
 * bytes per edge, graph_mask, updating_graph_mask, graph_visited: a byte each, cost: 4 bytes) fill
 * the footprint. Nothing is stored but the visited flags: edges are recomputed from the hash.
 *
 * One traversal from a source, level by level, as Rodinia's host loop: the host clears `stop`;
 * `Kernel` scans graph_mask and, for each frontier vertex, reads its node and edges, checks each
 * neighbour's visited flag and writes cost and updating_graph_mask for the unvisited ones;
 * `Kernel2` scans updating_graph_mask and moves the updated vertices into the mask and visited
 * (setting `stop`); the host reads `stop` and loops while it was set. At page level a thread takes
 * one page of mask (4096 vertices) at a time, grid-stride. At the end the host reads cost.
 * `iterations` traversals start from different sources.
 */

import { PAGE_SIZE } from '../../core/addr.js';
import type { AccessCode, CpuPhase, Workload, WorkloadParams, WorkloadPhase } from './workload.js';
import { ArrayLayout, cpuSweep, gridPhase, readOf, writeOf } from './workload.js';

/** Out-edges per vertex (Rodinia's generated graphs average about 6; a power of two here). */
export const BFS_DEGREE = 8;
/** Bytes per vertex across the arrays: node 8, edges 4 each, three flags, cost 4. */
const BYTES_PER_VERTEX = 8 + 4 * BFS_DEGREE + 3 + 4;

/** The vertex edge k of v leads to (a hash, so no edge list is kept on the host). */
export function bfsTarget(seed: number, vertices: number, v: number, k: number): number {
  let h = (Math.imul(v ^ seed, 0x85ebca6b) ^ Math.imul(k + 1, 0xc2b2ae35)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return ((h ^ (h >>> 16)) >>> 0) % vertices;
}

/** Rodinia bfs (see the file comment). */
export function bfsWorkload(p: WorkloadParams): Workload {
  const V = Math.max(1, Math.floor(p.footprint / BYTES_PER_VERTEX));
  const pages = (bytes: number) => Math.ceil(bytes / PAGE_SIZE);
  const layout = new ArrayLayout();
  const nodes = layout.add('graph_nodes', pages(8 * V));
  const edges = layout.add('graph_edges', pages(4 * BFS_DEGREE * V));
  const mask = layout.add('graph_mask', pages(V));
  const updating = layout.add('updating_graph_mask', pages(V));
  const visitedArr = layout.add('graph_visited', pages(V));
  const cost = layout.add('cost', pages(4 * V));
  const stop = layout.add('stop', 1);
  const chunks = pages(V);
  const page = (base: number, bytesPer: number, v: number) => base + Math.floor((v * bytesPer) / PAGE_SIZE);
  const hostStop = (name: string, write: boolean): CpuPhase => ({
    kind: 'cpu',
    name,
    accesses: () => [write ? writeOf(stop) : readOf(stop)],
  });
  return {
    name: 'bfs',
    imitates: 'Rodinia bfs: level-synchronous traversal of a seeded random graph, host loop on a stop flag',
    arrays: layout.arrays,
    *phases(): Iterable<WorkloadPhase> {
      for (let it = 0; it < p.iterations; it++) {
        // The level each vertex was reached at (-1: not yet): written once, so a launch's streams,
        // however late they are consumed, see the flags as they were when the level started.
        const levelOf = new Int32Array(V).fill(-1);
        const source = (it * 7919) % V;
        levelOf[source] = 0;
        let frontier = [source];
        for (let level = 0; ; level++) {
          const L = level;
          const f = frontier;
          const next = discover(f, levelOf, (v, k) => bfsTarget(p.seed, V, v, k));
          for (const u of next) levelOf[u] = L + 1;
          const visitedThen = (u: number) => levelOf[u] !== -1 && (levelOf[u] as number) <= L;
          yield hostStop('host clears stop', true);
          yield gridPhase('Kernel', p.threads, chunks, function* (c): Iterable<AccessCode> {
            yield readOf(mask + c);
            const end = (c + 1) * PAGE_SIZE;
            for (let i = lowerBound(f, c * PAGE_SIZE); i < f.length && (f[i] as number) < end; i++) {
              const v = f[i] as number;
              yield writeOf(mask + c);
              yield readOf(page(nodes, 8, v));
              yield readOf(page(cost, 4, v));
              for (let k = 0; k < BFS_DEGREE; k++) {
                yield readOf(page(edges, 4, v * BFS_DEGREE + k));
                const u = bfsTarget(p.seed, V, v, k);
                yield readOf(page(visitedArr, 1, u));
                if (!visitedThen(u)) {
                  yield writeOf(page(cost, 4, u));
                  yield writeOf(page(updating, 1, u));
                }
              }
            }
          });
          const touched = new Uint8Array(chunks);
          for (const u of next) touched[Math.floor(u / PAGE_SIZE)] = 1;
          yield gridPhase('Kernel2', p.threads, chunks, function* (c): Iterable<AccessCode> {
            yield readOf(updating + c);
            if (touched[c] === 0) return;
            yield writeOf(mask + c);
            yield writeOf(visitedArr + c);
            yield writeOf(stop);
            yield writeOf(updating + c);
          });
          yield hostStop('host reads stop', false);
          if (next.length === 0) break;
          frontier = next;
        }
      }
      yield cpuSweep('host reads cost', cost, pages(4 * V));
    },
  };
}

/** The neighbours of the frontier not reached yet, each once, in vertex order. */
function discover(
  frontier: readonly number[],
  levelOf: Int32Array,
  target: (v: number, k: number) => number,
): number[] {
  const seen = new Set<number>();
  for (const v of frontier)
    for (let k = 0; k < BFS_DEGREE; k++) {
      const u = target(v, k);
      if (levelOf[u] === -1) seen.add(u);
    }
  return [...seen].sort((a, b) => a - b);
}

/** The first index of sorted `a` whose value is >= x. */
function lowerBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((a[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
