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
import { DEVICE_COUNTER_DESCRIPTIONS, type DeviceCounters } from '../device/device.js';
import { VM_EVENT_DESCRIPTIONS } from '../mm/vm_event.js';
import { parsePolicy, policyClampPages } from '../policy/policy.js';
import { type DemoReport, SCHEMA_VERSION } from '../schema/index.js';
import type { DeviceFile } from '../sim/devicefile.js';
import type { Process } from '../sim/process.js';
import { Simulator } from '../sim/simulator.js';
import { buildTree, TREE_NODE_SIZE, TREE_SUM, type Tree } from '../workload/bst.js';
import { thousands } from '../workload/bytes.js';
import { Heap } from '../workload/heap.js';
import { listWalk, treeLookup, treeSum } from '../workload/kernels.js';
import { buildList, LIST_NODE_SIZE, type List } from '../workload/list.js';
import { type LookupBatch, lookupKeys, stageLookupBatch } from '../workload/lookup.js';
import { MemorySnapshot } from '../workload/snapshot.js';
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
import { DemoProgress, type ProgressSink } from './progress.js';
import { Timeline } from './timeline.js';

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
  /**
   * The HMM API generation of the driver: 'seed' (default; v5.3 dmirror on a v5.3 mm) or 'modern'
   * (today's test_hmm on a v6.19 mm, its launches serviced by the svm engine's modern service).
   */
  api?: 'seed' | 'modern';
  /** Told when each phase starts (for progress bars). */
  onPhase?: (name: string, index: number, phases: number) => void;
  /** Told how far the run is, within phases too: `done` of `total` units of work (progress.ts). */
  onProgress?: ProgressSink;
  /** Told each warning as it arises (the result lists them too). */
  onWarning?: (text: string) => void;
  /** Timeline events the report keeps one by one (default TRACE_EVENTS_MAX); beyond, it plots time buckets. */
  timelineEventsMax?: number;
  /** Told the machine and the open device once the build phase is done (the viewer starts recording there). */
  onBuilt?: (sim: Simulator, fd: DeviceFile) => void;
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
  api: 'seed',
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
  /** What the user should know about the run before trusting its figures (e.g. thrashing). */
  warnings: string[];
  /** Everything the HTML report shows. */
  report: DemoReport;
}

type Config = Required<
  Omit<DemoOptions, 'onPhase' | 'onProgress' | 'onWarning' | 'timelineEventsMax' | 'onBuilt'>
>;

/**
 * A working set this many times device memory thrashes: every pass evicts what it migrated before
 * reusing it (measured: 2.1x with the default policy makes each device pass 60 times longer).
 */
export const THRASHING_RATIO = 2;

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
  readonly warnings: string[];
  readonly progress: DemoProgress;
  readonly timeline: Timeline;
}

export function runDemo(opts: DemoOptions = {}): DemoResult {
  const cfg = checkOptions(opts);
  const sim = new Simulator({
    seed: cfg.seed,
    ramPages: ramFor(cfg),
    devices: [{ memoryPages: cfg.devicePages, costProfile: cfg.costProfile }],
    kernel: cfg.api === 'modern' ? 'v6.19' : 'v5.3',
  });
  const p = sim.createProcess();
  const timeline = new Timeline(opts.timelineEventsMax);
  const trace = hardware(sim, cfg).cost.trace;
  // Drained as the run goes (at every progress report), so the trace never fills and drops events.
  const progress = new DemoProgress(phaseWeights(cfg), (done, total) => {
    timeline.drain(trace);
    opts.onProgress?.(done, total);
  });
  const phase = phaseRunner(opts.onPhase, progress);
  const run = phase(null, 'build', () => build(cfg, sim, p, { progress, timeline }));
  warnIfThrashing(run, opts.onWarning);
  opts.onBuilt?.(sim, run.fd);
  phase(run, 'device pass 1', () => devicePass(run));
  phase(run, 'cpu update', () => cpuUpdate(run));
  phase(run, 'device pass 2', () => devicePass(run));
  phase(run, 'cpu check', () => cpuCheck(run));
  run.fd.close();
  progress.finish();
  return result(run);
}

/**
 * Units of work per phase (progress.ts), as the ticks count them: tree nodes inserted and nodes
 * read back in the build; nodes visited and keys looked up by the device; nodes read back at the end.
 */
function phaseWeights(cfg: Config): number[] {
  const { listNodes, treeNodes, lookups } = cfg;
  const built = treeNodes + tempNodes(cfg);
  const after = treeNodes + Math.ceil(treeNodes / 20);
  return [
    listNodes + 2 * built,
    listNodes + built + lookups,
    Math.ceil(treeNodes / 4),
    listNodes + after + lookups,
    listNodes + after,
  ];
}

/** One line, as soon as the working set is known: the run ahead will thrash, and take long. */
function warnIfThrashing(run: Run, onWarning: DemoOptions['onWarning']): void {
  const ratio = run.workingSet / run.cfg.devicePages;
  if (ratio <= THRASHING_RATIO) return;
  const text =
    `working set ${thousands(run.workingSet)} pages is ${ratio.toFixed(1)}x device memory ` +
    `(${thousands(run.cfg.devicePages)} pages): expect thrashing, each device pass evicting ` +
    'what it migrated before it is reused, and a long run';
  run.warnings.push(text);
  onWarning?.(text);
}

/** Runs one phase: timestamps on the cost clock, then residency and the kernel-wide checks. */
function phaseRunner(onPhase: DemoOptions['onPhase'], progress: DemoProgress) {
  let index = 0;
  return <T>(run: Run | null, name: string, body: () => T): T => {
    progress.startPhase(index);
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
function build(
  cfg: Config,
  sim: Simulator,
  p: Process,
  { progress, timeline }: Pick<Run, 'progress' | 'timeline'>,
): Run {
  const listHeap = new Heap(p, 'list nodes');
  const treeHeap = new Heap(p, 'tree nodes');
  const lookupHeap = new Heap(p, 'lookup arrays');
  // One stream per use, drawn from the run's seed, so changing one size leaves the others' data alone.
  const seeds = new Prng(cfg.seed);
  const list = buildList(listHeap, { n: cfg.listNodes, seed: seeds.nextU32() });
  const { tick } = progress;
  const tree = buildTree(treeHeap, { n: cfg.treeNodes, seed: seeds.nextU32(), tick });
  // A tenth more nodes allocated together (so they fill whole pages), which the update phase deletes.
  tree.insert(newKeys(tree, tempNodes(cfg), new Prng(seeds.nextU32()), TEMP_KEYS), undefined, tick);
  const batch = stageLookupBatch(lookupHeap, lookupKeys(tree, cfg.lookups, seeds.nextU32()));
  lookupHeap.flush();
  const fd = sim.openDevice(0, p, { api: cfg.api, policy: cfg.policy });
  const checks: CheckResult[] = [
    checkList(p, list, { prefixes: false, tick }),
    checkTree(p, tree, { sums: false, tick }),
  ];
  const heaps = [listHeap, treeHeap, lookupHeap];
  const workingSet = heaps.reduce((n, h) => n + h.stats().pagesInUse, 0);
  const warnings: string[] = [];
  return {
    cfg,
    sim,
    p,
    fd,
    list,
    tree,
    batch,
    heaps,
    workingSet,
    checks,
    phases: [],
    residency: [],
    warnings,
    progress,
    timeline,
  };
}

/** Phases 2 and 4: the device walks the list and the tree and looks keys up, on the CPU's pointers. */
function devicePass(run: Run): void {
  const { fd, list, tree, batch, checks, cfg } = run;
  const { tick } = run.progress;
  const [walk] = fd.launch(listWalk(list.head, tick));
  checks.push(checkListWalk(list, walk!));
  const [sum] = fd.launch(treeSum(tree.rootAddr, tick));
  checks.push(checkTreeSum(tree, sum!));
  const kernel = treeLookup(tree.rootAddr, batch.keysAddr, batch.keys.length, batch.outAddr, tick);
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
  checks.push(freedPages(trim?.pages ?? 0, tempNodes(cfg) * TREE_NODE_SIZE));
  tree.insert(newKeys(tree, Math.ceil(cfg.treeNodes / 20), prng, NEW_KEYS));
  checks.push(treeInvariant(tree));
}

/**
 * Deleting the nodes inserted together must give whole pages back (the madvise that invalidates),
 * when they filled at least two pages: fewer bytes need not cover one page boundary to boundary.
 */
function freedPages(pages: number, bytes: number): CheckResult {
  const must = bytes >= 2 * PAGE_SIZE;
  return {
    name: 'CPU frees whole pages (MADV_DONTNEED)',
    ok: pages > 0 || !must,
    detail: must
      ? `${pages} pages given back by the allocator's trim`
      : `${pages} pages given back by the allocator's trim (the ${bytes} deleted bytes need not fill a page)`,
  };
}

/** Nodes inserted together in the build and deleted in the update: a tenth of the tree. */
function tempNodes(cfg: Config): number {
  return Math.ceil(cfg.treeNodes / 10);
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
  const { tick } = run.progress;
  checks.push(checkList(p, list, { tick }), checkTree(p, tree, { tick }), checkLookups(p, tree, batch));
}

/** After each phase: the kernel's books balance and the device mirrors nothing stale. */
function checkMachine(run: Run, phase: string): void {
  const books = checkAccounting(run.sim.kernel);
  run.checks.push({
    name: `kernel books after ${phase}`,
    ok: books.length === 0,
    detail: books[0] ?? 'rss, mapcounts, refcounts and memcg recount exactly',
  });
  const d = run.fd.driver;
  const view = {
    mm: d.mm,
    pt: d.pt,
    tlb: d.tlb,
    owns: (pfn: number) => d.owns(pfn),
    pgmapOwner: d.pgmapOwner,
  };
  const name = (d as { readonly name?: string }).name ?? 'dev0';
  const stale = checkCoherence(run.sim.kernel, [{ ...view, name }]);
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
  const config = configOf(run, counters);
  const ok = checks.every((c) => c.ok);
  const model = hardware(sim, run.cfg).cost;
  run.timeline.drain(model.trace);
  const report: DemoReport = {
    schema: SCHEMA_VERSION,
    title: 'hmmsim demo: a linked list and a binary search tree shared with a device',
    seed: cfg.seed,
    ok,
    config,
    checks,
    counters,
    counterDescriptions: counterDescriptions(counters),
    costs,
    costModel: { profile: model.profile.name, terms: costModelTerms(model.profile) },
    phases: run.phases,
    timeline: run.timeline.events,
    ...timelineExtras(run, model.traceDropped),
    residency: run.residency,
    ...(run.warnings.length > 0 ? { warnings: run.warnings } : {}),
  };
  return { ok, seed: cfg.seed, config, checks, counters, costs, warnings: run.warnings, report };
}

/** Buckets when the timeline was cut, and what the trace dropped before it was drained (if any). */
function timelineExtras(run: Run, dropped: number): Partial<DemoReport> {
  return {
    ...(run.timeline.cut ? { timelineBuckets: run.timeline.buckets() } : {}),
    ...(dropped > 0 ? { traceDropped: dropped } : {}),
  };
}

function counterDescriptions(counters: Record<string, number>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(counters)) {
    const text = name.startsWith('kernel.')
      ? VM_EVENT_DESCRIPTIONS[name.slice('kernel.'.length)]
      : (DEVICE_COUNTER_DESCRIPTIONS as Record<string, string>)[name];
    if (text !== undefined) out[name] = text;
  }
  return out;
}

function countersOf(device: DeviceCounters, kernel: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = { ...device };
  for (const k of Object.keys(kernel).sort()) out[`kernel.${k}`] = kernel[k] as number;
  return out;
}

function configOf(run: Run, counters: Record<string, number>): Record<string, string | number> {
  const { cfg } = run;
  // Only when it happened, so that runs whose blocks fit keep their settings table.
  const clamp: Record<string, number> =
    (counters.policyClamps ?? 0) > 0
      ? { 'policy clamped to (pages)': policyClampPages(cfg.devicePages) }
      : {};
  return {
    'list nodes': cfg.listNodes,
    'tree nodes': cfg.treeNodes,
    lookups: cfg.lookups,
    'device threads': cfg.threads,
    policy: cfg.policy,
    // Only for today's API, so that a seed-API run keeps its settings table (and report) as it was.
    ...(cfg.api === 'modern' ? { 'HMM API': "today's (test_hmm, v6.19 mm)" } : {}),
    ...clamp,
    'device memory (pages)': cfg.devicePages,
    'working set (pages)': run.workingSet,
    'cost profile': cfg.costProfile,
  };
}

/** The device's hardware (cost model, counters), whichever API generation drives it. */
function hardware(sim: Simulator, cfg: Config) {
  return (cfg.api === 'modern' ? sim.modernDevice(0) : sim.device(0)).device;
}

/** RAM for the structures, their copies and page tables, with room to spare. */
function ramFor(cfg: Config): number {
  const bytes = cfg.listNodes * LIST_NODE_SIZE + cfg.treeNodes * TREE_NODE_SIZE * 1.1 + cfg.lookups * 8;
  return Math.max(16_384, Math.ceil((bytes * 4) / PAGE_SIZE) + 8192);
}

function checkOptions(opts: DemoOptions): Config {
  const cfg = { ...DEMO_DEFAULTS, ...withoutUndefined(opts) } as Config & Partial<DemoOptions>;
  delete cfg.onPhase;
  delete cfg.onProgress;
  delete cfg.onWarning;
  delete cfg.onBuilt;
  delete cfg.timelineEventsMax;
  for (const [name, [lo, hi]] of Object.entries(DEMO_LIMITS)) {
    const v = cfg[name as keyof typeof DEMO_LIMITS];
    if (!Number.isInteger(v) || v < lo || v > hi)
      throw new ArgumentError(name, `expected an integer in ${lo}..${hi}, got ${v}`);
  }
  // The Simulator's rule (src/sim): any non-negative safe integer; seeds >= 2^32 are other machines.
  if (!Number.isSafeInteger(cfg.seed) || cfg.seed < 0)
    throw new ArgumentError('seed', `expected a non-negative safe integer, got ${cfg.seed}`);
  parsePolicy(cfg.policy, 'policy');
  if (cfg.api !== 'seed' && cfg.api !== 'modern')
    throw new ArgumentError('api', `expected 'seed' or 'modern', got ${String(cfg.api)}`);
  return cfg;
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
