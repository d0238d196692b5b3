/**
 * hmmsim's main demo: one process, one device, one address space. The process builds a linked list
 * and a binary search tree with its own allocator; device kernels walk them through the very same
 * pointers, sum values and write results back; the CPU then changes part of the tree (updates,
 * deletes that give pages back with MADV_DONTNEED, inserts), which invalidates the device's mappings
 * and pulls migrated pages back; the device walks again; finally the CPU reads every result back.
 *
 *   phase          who     what happens underneath
 *   build          CPU     page faults; nothing mirrored yet
 *   device pass 1  device  replayable faults, HMM populate, migration by policy, eviction if short
 *   cpu update     CPU     CPU faults on device pages (migrate back), madvise/COW invalidations
 *   device pass 2  device  faults only where the CPU changed things or pages were evicted
 *   cpu check      CPU     reads every result back: each page it reads that is on the device comes back
 *
 * Every value each side read is checked against host-side models (expect.ts), and the kernel's
 * books (src/check) and the mirror's coherence are checked after each phase. The result carries
 * what the report (src/report) plots.
 */

import { checkAccounting } from '../check/accounting.js';
import { checkCoherence } from '../check/coherence.js';
import { PAGE_SIZE } from '../core/addr.js';
import { ArgumentError } from '../core/errno.js';
import { Prng, streamSeed } from '../core/prng.js';
import { COST_PROFILE_DEFAULT, costModelTerms } from '../device/cost.js';
import type { DeviceCounters } from '../device/device.js';
import { parsePolicy } from '../drivers/dmirror/policy.js';
import type { DemoReport } from '../report/types.js';
import type { DeviceFile } from '../sim/devicefile.js';
import type { Process } from '../sim/process.js';
import { Simulator } from '../sim/simulator.js';
import { buildTree, TREE_NODE_SIZE, TREE_SUM, type Tree } from './bst.js';
import {
  type CheckResult,
  checkList,
  checkListWalk,
  checkLookupCounts,
  checkLookups,
  checkTree,
  checkTreeSum,
  expectedSubtreeSums,
} from './expect.js';
import { Heap } from './heap.js';
import { listWalk, treeLookup, treeSum } from './kernels.js';
import { buildList, LIST_NODE_SIZE, type List } from './list.js';
import { type LookupBatch, lookupKeys, stageLookupBatch } from './lookup.js';
import { MemorySnapshot } from './snapshot.js';

export interface DemoOptions {
  seed?: number;
  /** Linked-list nodes (16 bytes each). */
  listNodes?: number;
  /** Tree nodes (32 bytes each). */
  treeNodes?: number;
  /** Keys the lookup kernel searches for. */
  lookups?: number;
  /** Device threads of the lookup kernel. */
  threads?: number;
  /** Migration policy on device faults: 'none', 'page' or 'block:k'. */
  policy?: string;
  /** Device memory in pages; smaller than the working set means eviction. */
  devicePages?: number;
  costProfile?: string;
  /** Told when each phase starts (for progress bars). */
  onPhase?: (name: string, index: number, phases: number) => void;
}

export const DEMO_DEFAULTS = {
  seed: 1,
  listNodes: 100_000,
  treeNodes: 100_000,
  lookups: 20_000,
  threads: 64,
  policy: 'block:4',
  devicePages: 4096,
  costProfile: COST_PROFILE_DEFAULT,
} as const;

/** Bounds on the sizes (a limit on everything: host memory and run time). */
export const DEMO_LIMITS = {
  listNodes: [1, 1 << 21],
  treeNodes: [16, 1 << 21],
  lookups: [1, 1 << 20],
  threads: [1, 1024],
  devicePages: [16, 1 << 22],
} as const;

export const DEMO_PHASES = ['build', 'device pass 1', 'cpu update', 'device pass 2', 'cpu check'] as const;

export interface DemoResult {
  ok: boolean;
  seed: number;
  config: Record<string, string | number>;
  checks: CheckResult[];
  /** Device counters, then the kernel's as `kernel.<name>`. */
  counters: Record<string, number>;
  /** Simulated µs per cost term, and 'total'. */
  costs: Record<string, number>;
  /** Everything the HTML report shows. */
  report: DemoReport;
}

type Config = Required<Omit<DemoOptions, 'onPhase'>>;

/** The state one demo run carries from phase to phase. */
interface Run {
  readonly cfg: Config;
  readonly sim: Simulator;
  readonly p: Process;
  readonly fd: DeviceFile;
  readonly list: List;
  readonly tree: Tree;
  readonly batch: LookupBatch;
  readonly heaps: Heap[];
  /** Pages holding live blocks after the build: what the device works on. */
  readonly workingSet: number;
  readonly checks: CheckResult[];
  readonly phases: DemoReport['phases'];
  readonly residency: DemoReport['residency'];
}

export function runDemo(opts: DemoOptions = {}): DemoResult {
  const cfg = checkOptions(opts);
  const sim = new Simulator({
    seed: cfg.seed,
    ramPages: ramFor(cfg),
    devices: [{ memoryPages: cfg.devicePages, costProfile: cfg.costProfile }],
  });
  const p = sim.createProcess();
  const phase = phaseRunner(opts.onPhase);
  const run = phase(null, 'build', () => build(cfg, sim, p));
  phase(run, 'device pass 1', () => devicePass(run));
  phase(run, 'cpu update', () => cpuUpdate(run));
  phase(run, 'device pass 2', () => devicePass(run));
  phase(run, 'cpu check', () => cpuCheck(run));
  run.fd.close();
  return result(run);
}

/** Runs one phase: timestamps on the cost clock, then residency and the kernel-wide checks. */
function phaseRunner(onPhase: DemoOptions['onPhase']) {
  let index = 0;
  return <T>(run: Run | null, name: string, body: () => T): T => {
    onPhase?.(name, index++, DEMO_PHASES.length);
    const startUs = run === null ? 0 : clock(run);
    const out = body();
    const r = (run ?? out) as Run;
    r.phases.push({ name, startUs, endUs: clock(r) });
    recordResidency(r, name);
    checkMachine(r, name);
    return out;
  };
}

function clock(run: Run): number {
  return run.sim.deviceCosts(0).total;
}

/** Phase 1: the CPU builds the structures and the lookup keys; the device opens a mirror. */
function build(cfg: Config, sim: Simulator, p: Process): Run {
  const listHeap = new Heap(p, 'list nodes');
  const treeHeap = new Heap(p, 'tree nodes');
  const lookupHeap = new Heap(p, 'lookup arrays');
  // One stream per use, drawn from the run's seed, so changing one size leaves the others' data alone.
  const seeds = new Prng(cfg.seed);
  const list = buildList(listHeap, { n: cfg.listNodes, seed: seeds.nextU32() });
  const tree = buildTree(treeHeap, { n: cfg.treeNodes, seed: seeds.nextU32() });
  // A tenth more nodes allocated together (so they fill whole pages), which the update phase deletes.
  tree.insert(newKeys(tree, Math.ceil(cfg.treeNodes / 10), new Prng(seeds.nextU32()), TEMP_KEYS));
  const batch = stageLookupBatch(lookupHeap, lookupKeys(tree, cfg.lookups, seeds.nextU32()));
  lookupHeap.flush();
  const fd = sim.openDevice(0, p, { policy: cfg.policy });
  const checks: CheckResult[] = [
    checkList(p, list, { prefixes: false }),
    checkTree(p, tree, { sums: false }),
  ];
  const heaps = [listHeap, treeHeap, lookupHeap];
  const workingSet = heaps.reduce((n, h) => n + h.stats().pagesInUse, 0);
  return { cfg, sim, p, fd, list, tree, batch, heaps, workingSet, checks, phases: [], residency: [] };
}

/** Phases 2 and 4: the device walks the list and the tree and looks keys up, on the CPU's pointers. */
function devicePass(run: Run): void {
  const { fd, list, tree, batch, checks, cfg } = run;
  const [walk] = fd.launch(listWalk(list.head));
  checks.push(checkListWalk(list, walk!));
  const [sum] = fd.launch(treeSum(tree.rootAddr));
  checks.push(checkTreeSum(tree, sum!));
  const kernel = treeLookup(tree.rootAddr, batch.keysAddr, batch.keys.length, batch.outAddr);
  checks.push(checkLookupCounts(tree, batch, fd.launch(kernel, { threads: cfg.threads })));
}

/**
 * Phase 3: the CPU reads the subtree sums the device stored in a quarter of the tree's pages and
 * checks them (CPU faults bring those pages back), changes their values, deletes another range
 * (freeing whole pages: MADV_DONTNEED invalidates the device), and inserts new nodes.
 */
function cpuUpdate(run: Run): void {
  const { p, tree, checks, cfg } = run;
  const prng = new Prng(streamSeed(cfg.seed));
  const range = tree.rangeTouching(0.25, prng);
  checks.push(checkStoredSums(p, tree, range.lo, range.hi));
  tree.update(range.lo, range.hi);
  const { trim } = tree.deleteRange(TEMP_KEYS[0], TEMP_KEYS[1]);
  checks.push(freedPages(trim?.pages ?? 0));
  tree.insert(newKeys(tree, Math.ceil(cfg.treeNodes / 20), prng, NEW_KEYS));
  checks.push(treeInvariant(tree));
}

/** Deleting the nodes inserted together must give whole pages back (the madvise that invalidates). */
function freedPages(pages: number): CheckResult {
  return {
    name: 'CPU frees whole pages (MADV_DONTNEED)',
    ok: pages > 0,
    detail: `${pages} pages given back by the allocator's trim`,
  };
}

/** buildTree draws keys below 2^31; the deleted batch and the later inserts use the upper half. */
const TEMP_KEYS: readonly [number, number] = [2 ** 31, 2 ** 31 + 2 ** 30 - 1];
const NEW_KEYS: readonly [number, number] = [2 ** 31 + 2 ** 30, 2 ** 32 - 2];

/** The CPU reads the sums the device stored in [lo, hi] and compares them with the model's. */
function checkStoredSums(p: Process, tree: Tree, lo: number, hi: number): CheckResult {
  const name = 'CPU reads device-written sums';
  const sums = expectedSubtreeSums(tree);
  const ids = tree.between(lo, hi);
  const mem = new MemorySnapshot(
    p,
    ids.map((id) => tree.addr(id)),
    TREE_NODE_SIZE,
  );
  for (const id of ids) {
    const got = mem.u64(tree.addr(id) + TREE_SUM);
    if (got !== sums.get(id))
      return { name, ok: false, detail: `key ${tree.key(id)}: sum ${got}, expected ${sums.get(id)}` };
  }
  return { name, ok: true, detail: `${ids.length} nodes on ${mem.pages} pages match` };
}

function treeInvariant(tree: Tree): CheckResult {
  const bad = tree.validate();
  return {
    name: 'tree after the CPU update',
    ok: bad === null,
    detail: bad ?? `${tree.size} nodes, ordered`,
  };
}

/** `n` distinct keys in [lo, hi] the tree does not hold. */
function newKeys(tree: Tree, n: number, prng: Prng, [lo, hi]: readonly [number, number]): number[] {
  const keys = new Set<number>();
  while (keys.size < n) {
    const k = lo + prng.below(hi - lo + 1);
    if (tree.find(k) < 0) keys.add(k);
  }
  return [...keys];
}

/** Phase 5: the CPU reads every result back: prefixes, subtree sums, lookup results. */
function cpuCheck(run: Run): void {
  const { p, list, tree, batch, checks } = run;
  checks.push(checkList(p, list), checkTree(p, tree), checkLookups(p, tree, batch));
}

/** After each phase: the kernel's books balance and the device mirrors nothing stale. */
function checkMachine(run: Run, phase: string): void {
  const books = checkAccounting(run.sim.kernel);
  run.checks.push({
    name: `kernel books after ${phase}`,
    ok: books.length === 0,
    detail: books[0] ?? 'rss, mapcounts, refcounts and memcg recount exactly',
  });
  const d = run.fd.dmirror;
  const stale = checkCoherence(run.sim.kernel, [d]);
  run.checks.push({
    name: `mirror coherence after ${phase}`,
    ok: stale === null,
    detail: stale ?? `${d.pt.size} device entries agree with the CPU page table`,
  });
}

/** Pages of each heap's arenas on the device, in system memory, and not mapped at all. */
function recordResidency(run: Run, phase: string): void {
  for (const heap of run.heaps) {
    const counts = { devicePages: 0, systemPages: 0, unmappedPages: 0 };
    for (const r of heap.regions())
      for (let a = r.start; a < r.end; a += PAGE_SIZE) {
        const kind = run.p.pte(a).kind;
        if (kind === 'device-private') counts.devicePages++;
        else if (kind === 'present') counts.systemPages++;
        else counts.unmappedPages++;
      }
    run.residency.push({ phase, region: heap.name, ...counts });
  }
}

function result(run: Run): DemoResult {
  const { sim, cfg, checks } = run;
  const counters = countersOf(sim.deviceCounters(0), sim.stats().counters);
  const costs = sim.deviceCosts(0) as Record<string, number>;
  const config = configOf(run);
  const ok = checks.every((c) => c.ok);
  const model = sim.device(0).device.cost;
  const report: DemoReport = {
    title: 'hmmsim demo: a linked list and a binary search tree shared with a device',
    seed: cfg.seed,
    ok,
    config,
    checks,
    counters,
    costs,
    costModel: { profile: model.profile.name, terms: costModelTerms(model.profile) },
    phases: run.phases,
    timeline: model.trace.map((e) => ({ tUs: e.tUs, kind: e.kind, pages: e.pages })),
    residency: run.residency,
  };
  return { ok, seed: cfg.seed, config, checks, counters, costs, report };
}

function countersOf(device: DeviceCounters, kernel: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = { ...device };
  for (const k of Object.keys(kernel).sort()) out[`kernel.${k}`] = kernel[k] as number;
  return out;
}

function configOf(run: Run): Record<string, string | number> {
  const { cfg } = run;
  return {
    'list nodes': cfg.listNodes,
    'tree nodes': cfg.treeNodes,
    lookups: cfg.lookups,
    'device threads': cfg.threads,
    policy: cfg.policy,
    'device memory (pages)': cfg.devicePages,
    'working set (pages)': run.workingSet,
    'cost profile': cfg.costProfile,
  };
}

/** RAM for the structures, their copies and page tables, with room to spare. */
function ramFor(cfg: Config): number {
  const bytes = cfg.listNodes * LIST_NODE_SIZE + cfg.treeNodes * TREE_NODE_SIZE * 1.1 + cfg.lookups * 8;
  return Math.max(16_384, Math.ceil((bytes * 4) / PAGE_SIZE) + 8192);
}

function checkOptions(opts: DemoOptions): Config {
  const cfg = { ...DEMO_DEFAULTS, ...withoutUndefined(opts) } as Config & { onPhase?: unknown };
  delete cfg.onPhase;
  for (const [name, [lo, hi]] of Object.entries(DEMO_LIMITS)) {
    const v = cfg[name as keyof typeof DEMO_LIMITS];
    if (!Number.isInteger(v) || v < lo || v > hi)
      throw new ArgumentError(name, `expected an integer in ${lo}..${hi}, got ${v}`);
  }
  if (!Number.isInteger(cfg.seed) || cfg.seed < 0 || cfg.seed > 0xffff_ffff)
    throw new ArgumentError('seed', `expected an integer in 0..2^32-1, got ${cfg.seed}`);
  parsePolicy(cfg.policy, 'policy');
  return cfg;
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
