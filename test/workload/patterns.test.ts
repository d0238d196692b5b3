import { describe, expect, it } from 'vitest';
import { PAGE_SIZE } from '../../src/core/addr.js';
import { ArgumentError } from '../../src/core/errno.js';
import {
  BFS_DEGREE,
  bfsTarget,
  makeWorkload,
  PATHFINDER_ROWS,
  type Workload,
  type WorkloadPhase,
} from '../../src/workload/patterns/index.js';

/** A phase as text: device phases per thread, accesses as 'r12' / 'w12'. */
interface Shown {
  kind: string;
  name: string;
  threads: string[][];
}

const code = (c: number) => `${c % 2 === 1 ? 'w' : 'r'}${Math.floor(c / 2)}`;

function show(ph: WorkloadPhase): Shown {
  if (ph.kind === 'cpu') return { kind: 'cpu', name: ph.name, threads: [[...ph.accesses()].map(code)] };
  const threads: string[][] = [];
  for (let t = 0; t < ph.threads; t++) threads.push([...ph.thread(t)].map(code));
  return { kind: 'device', name: ph.name, threads };
}

function run(
  name: string,
  pages: number,
  iterations = 1,
  threads = 4,
  seed = 1,
): { w: Workload; phases: Shown[] } {
  const w = makeWorkload(name, { footprint: pages * PAGE_SIZE, iterations, threads, seed });
  return { w, phases: [...w.phases()].map(show) };
}

const total = (s: Shown) => s.threads.reduce((n, t) => n + t.length, 0);

describe('workload generators', () => {
  it('stream: a grid-stride a + b -> c per iteration, then the host reads c', () => {
    const { w, phases } = run('stream', 64, 2);
    expect(w.arrays).toEqual([
      { name: 'a', pages: 21 },
      { name: 'b', pages: 21 },
      { name: 'c', pages: 21 },
    ]);
    expect(phases.map((p) => p.kind)).toEqual(['device', 'device', 'cpu']);
    expect(phases[0]?.threads[1]?.slice(0, 6)).toEqual(['r1', 'r22', 'w43', 'r5', 'r26', 'w47']);
    expect(phases[0]?.threads.map((t) => t.length)).toEqual([18, 15, 15, 15]);
    expect(phases[2]?.threads[0]).toEqual(Array.from({ length: 21 }, (_, i) => `r${42 + i}`));
  });

  it('hotspot: a 5-point stencil over page tiles, the grids swapping each step', () => {
    const { phases } = run('hotspot', 64, 2);
    // s = 4: temp_in 0..15, temp_out 16..31, power 32..47; tile 5 is (1, 1), thread 1's first.
    expect(phases[0]?.threads[1]?.slice(6, 13)).toEqual(['r5', 'r1', 'r9', 'r4', 'r6', 'r37', 'w21']);
    expect(phases[1]?.threads[1]?.slice(6, 13)).toEqual(['r21', 'r17', 'r25', 'r20', 'r22', 'r37', 'w5']);
    // Corner tile 0 has two neighbours.
    expect(phases[0]?.threads[0]?.slice(0, 5)).toEqual(['r0', 'r4', 'r1', 'r32', 'w16']);
    expect(phases[2]).toEqual({
      kind: 'cpu',
      name: 'host writes the result file',
      threads: [Array.from({ length: 16 }, (_, i) => `r${i}`)],
    });
  });

  it('srad: host statistics over the region of J, then two kernels, each iteration', () => {
    const { w, phases } = run('srad', 64, 2);
    expect(w.arrays.map((a) => a.name)).toEqual(['J', 'c', 'dN', 'dS', 'dW', 'dE']);
    expect(phases.map((p) => p.name)).toEqual([
      'host reads the region of interest of J',
      'srad_cuda_1',
      'srad_cuda_2',
      'host reads the region of interest of J',
      'srad_cuda_1',
      'srad_cuda_2',
      'host reads J',
    ]);
    // s = 3, so the 4 x 4 region is the whole 3 x 3 grid.
    expect(phases[0]?.threads[0]).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8']);
    // srad_cuda_2 on tile 4 (centre): c self, S, E; the derivatives; J written.
    expect(phases[2]?.threads[0]?.slice(8, 16)).toEqual([
      'r13',
      'r16',
      'r14',
      'r22',
      'r31',
      'r40',
      'r49',
      'w4',
    ]);
  });

  it('nw: one launch per anti-diagonal, growing then shrinking, then the traceback', () => {
    const { phases } = run('nw', 64, 1);
    // s = 5: 9 diagonals of 1, 2, 3, 4, 5, 4, 3, 2, 1 tiles.
    const launches = phases.filter((p) => p.kind === 'device');
    expect(launches.map((p) => total(p) > 0 && p.threads.filter((t) => t.length > 0).length)).toEqual([
      1, 2, 3, 4, 4, 4, 3, 2, 1,
    ]);
    expect(launches.map((p) => p.name)).toEqual([
      ...Array(5).fill('needle_cuda_shared_1'),
      ...Array(4).fill('needle_cuda_shared_2'),
    ]);
    // Diagonal 2's tiles are (0,2), (1,1), (2,0); (1,1) reads score 0, 1, 5, its reference 31, writes 6.
    expect(launches[2]?.threads[1]).toEqual(['r0', 'r1', 'r5', 'r31', 'w6']);
    expect(phases.at(-1)?.threads[0]).toEqual(['r24', 'r23', 'r18', 'r17', 'r12', 'r11', 'r6', 'r5', 'r0']);
  });

  it('pathfinder: a pyramid of wall rows per launch, src and dst swapping', () => {
    const { w, phases } = run('pathfinder', 2 * (PATHFINDER_ROWS + 2), 1, 2);
    expect(w.arrays).toEqual([
      { name: 'wall', pages: 256 },
      { name: 'result_src', pages: 2 },
      { name: 'result_dst', pages: 2 },
    ]);
    expect(phases.length).toBe(9);
    const rows = Array.from({ length: 16 }, (_, r) => `r${r * 2 + 1}`);
    expect(phases[0]?.threads[1]).toEqual(['r257', ...rows, 'w259']);
    expect(phases[1]?.threads[0]?.[0]).toBe('r258');
    expect(phases[8]?.threads[0]).toEqual(['r256', 'r257']);
  });

  it('gemm: 2 s^3 tile reads per product, row i of the left by column j of the right', () => {
    const { phases } = run('gemm', 64, 1, 1);
    // s = 3; A 0..8, B 9..17, C 18..26, tmp 27..35, D 36..44.
    expect(phases.map(total)).toEqual([9 * 7, 9 * 8, 9]);
    expect(phases[0]?.threads[0]?.slice(0, 7)).toEqual(['r0', 'r9', 'r1', 'r12', 'r2', 'r15', 'w27']);
    expect(phases[1]?.threads[0]?.slice(0, 8)).toEqual([
      'r36',
      'r27',
      'r18',
      'r28',
      'r21',
      'r29',
      'r24',
      'w36',
    ]);
  });

  it('backprop: forward over the weights, a host step, adjust both weight arrays', () => {
    const { w, phases } = run('backprop', 74, 1, 2);
    expect(w.arrays).toEqual([
      { name: 'input_units', pages: 2 },
      { name: 'input_weights', pages: 34 },
      { name: 'input_prev_weights', pages: 34 },
      { name: 'partial_sum', pages: 2 },
      { name: 'hidden_delta', pages: 1 },
    ]);
    expect(phases.map((p) => p.kind)).toEqual(['device', 'cpu', 'device', 'cpu']);
    // Weight page 17 belongs to input unit 1.
    expect(phases[0]?.threads[1]?.slice(24, 27)).toEqual(['r1', 'r19', 'w71']);
    expect(phases[1]?.threads[0]).toEqual(['r70', 'r71', 'w72']);
    expect(phases[2]?.threads[0]?.slice(0, 4)).toEqual(['r72', 'r0', 'w2', 'w36']);
  });

  it('bfs: the frontier of an independently computed traversal, level by level', () => {
    const V = Math.floor((64 * PAGE_SIZE) / 47);
    const { phases } = run('bfs', 64, 1, 2, 7);
    // Independent BFS over the same hash graph.
    const level = new Int32Array(V).fill(-1);
    level[0] = 0;
    let frontier = [0];
    let levels = 0;
    while (frontier.length > 0) {
      const next: number[] = [];
      for (const v of frontier)
        for (let k = 0; k < BFS_DEGREE; k++) {
          const u = bfsTarget(7, V, v, k);
          if (level[u] === -1) {
            level[u] = levels + 1;
            next.push(u);
          }
        }
      frontier = next;
      levels++;
    }
    // Per level: clear stop, Kernel, Kernel2, read stop; one more round finds nothing new.
    const stops = phases.filter((p) => p.name === 'host reads stop').length;
    expect(stops).toBe(levels);
    expect(phases.length).toBe(4 * levels + 1);
    // Level 0: the source's chunk is thread 0's first; it reads mask, clears the source's bit,
    // reads its node and cost, then each edge, the neighbour's visited flag, and (unvisited) writes.
    const first = phases[1]?.threads[0] ?? [];
    expect(first.slice(0, 4)).toEqual([`r${mask()}`, `w${mask()}`, 'r0', `r${cost()}`]);
    const targets = Array.from({ length: BFS_DEGREE }, (_, k) => bfsTarget(7, V, 0, k));
    expect(first.slice(4, 8)).toEqual([
      `r${11 + Math.floor((4 * 0 * BFS_DEGREE) / PAGE_SIZE)}`,
      `r${mask() + 4 + Math.floor((targets[0] as number) / PAGE_SIZE)}`,
      `w${cost() + Math.floor((4 * (targets[0] as number)) / PAGE_SIZE)}`,
      `w${mask() + 2 + Math.floor((targets[0] as number) / PAGE_SIZE)}`,
    ]);
    // Every edge of the source leads to an unvisited vertex but a self-loop: two writes each.
    const writes = first.filter((s) => s.startsWith('w')).length;
    expect(writes).toBe(1 + 2 * targets.filter((u) => u !== 0).length);

    function mask(): number {
      return Math.ceil((8 * V) / PAGE_SIZE) + Math.ceil((4 * BFS_DEGREE * V) / PAGE_SIZE);
    }
    function cost(): number {
      return mask() + 3 * Math.ceil(V / PAGE_SIZE);
    }
  });

  it('random: read-modify-writes of seeded pages, the same for the same seed', () => {
    const a = run('random', 64, 2, 4, 3).phases;
    const b = run('random', 64, 2, 4, 3).phases;
    const c = run('random', 64, 2, 4, 4).phases;
    expect(a).toEqual(b);
    expect(a[0]).not.toEqual(c[0]);
    expect(a[0]).not.toEqual(a[1]);
    expect(a.map(total)).toEqual([128, 128, 64]);
    for (const t of a[0]?.threads ?? [])
      for (let i = 0; i < t.length; i += 2) {
        expect(t[i + 1]).toBe(`w${(t[i] as string).slice(1)}`);
        expect(Number((t[i] as string).slice(1))).toBeLessThan(64);
      }
  });

  it('bad parameters are ArgumentErrors naming them', () => {
    const p = { footprint: 64 * PAGE_SIZE, iterations: 1, threads: 4, seed: 1 };
    expect(() => makeWorkload('nope', p)).toThrow(/invalid argument 'workload'.*stream, hotspot/);
    expect(() => makeWorkload('stream', { ...p, footprint: PAGE_SIZE })).toThrow(ArgumentError);
    expect(() => makeWorkload('stream', { ...p, footprint: PAGE_SIZE })).toThrow(/'footprint'/);
    expect(() => makeWorkload('stream', { ...p, threads: 1025 })).toThrow(/'threads'/);
    expect(() => makeWorkload('stream', { ...p, iterations: 0 })).toThrow(/'iterations'/);
  });
});
