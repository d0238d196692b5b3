import { ArgumentError } from '../../core/errno.js';
import { dependent, type Footprint, FootprintRecorder, whyDependent } from '../dependency.js';
import type { Thread } from '../thread.js';
import { indexOfThread, type Strategy } from './strategy.js';

/** DporStrategy's options. */
export interface DporOptions {
  /** Preemption bound (bounded POR); default Infinity: every schedule up to equivalence. */
  preemptions?: number;
  /** Footprint check mode (dependency.ts): a declared step that touches more fails. Default false. */
  check?: boolean;
  /**
   * Memory is recorded by object (the explorer's memory footprints): a step is charged MEMORY, the
   * catch-all, only for state no object names. Default false: every undeclared step touches MEMORY.
   */
  precise?: boolean;
  /**
   * Counts every race analysed by what made its two steps dependent (whyDependent, with the numbers
   * of the object's name folded: 'pte _ (read/write)'): a profile of what still forces dependence.
   */
  profile?: Map<string, number>;
  /**
   * Thread ids of the first steps, replayed by every execution: a unit of a split search
   * (src/explore/dpor_shard.ts) starts its search below them with empty backtrack sets, and with
   * `prefixSleep` as the sleep set of their last node (empty if not given).
   */
  prefix?: readonly number[];
  /** Unbounded only: the sleep set of the prefix's last node, as the split search computed it. */
  prefixSleep?: ReadonlyMap<number, Footprint>;
}

/** One event of the current execution: the state before it (a node) and the step taken from it. */
interface Node {
  /** Ids of the threads runnable at this node, ascending. */
  runnable: number[];
  /** Thread that took the step. */
  tid: number;
  /** What the step touched. */
  fp: Footprint;
  /** Threads to run from this node (source set); includes every one already run. */
  backtrack: Set<number>;
  /** Threads already run from this node. */
  done: Set<number>;
  /** Sleep set at this node: threads whose next step (with its footprint) need not run here. */
  sleep: Map<number, Footprint>;
  /** Preemptions before this node. */
  preBefore: number;
}

/**
 * Source-set dynamic partial-order reduction with sleep sets (Abdulla, Aronis, Jonsson, Sagonas,
 * "Source Sets: A Foundation for Optimal Dynamic Partial Order Reduction", JACM 64(4), 2017,
 * Algorithm 1), stateless like DfsStrategy: every execution re-runs the scenario and replays a
 * prefix. The dependency relation is dependency.ts's, over the footprints the executor records.
 *
 * After each execution, every race e ⋖ e' (dependent steps of two threads, e not happening before
 * e' through a third step) is reversed: with v the steps after e that do not happen after it, then
 * e', some initial thread of v (one whose first step in v happens after nothing in v) joins the
 * backtrack set of the node before e unless one already is there. The next execution is the
 * deepest node with a backtrack thread not yet run and not asleep. A thread is put to sleep at a
 * node once it has been run from it, and stays asleep below while only independent steps run; an
 * execution whose every runnable thread is asleep is sleep-set blocked: the strategy lets it finish
 * but analyses nothing after the block (its continuations are covered elsewhere).
 *
 * With a preemption bound (Coons, Musuvathi, McKinley, "Bounded Partial-Order Reduction", OOPSLA
 * 2013) a reversal that would exceed the bound is not added, a reversal that preempts is also added
 * conservatively at the latest earlier node where switching to that thread is free, and sleep sets
 * are off (they are unsound with bounding: the sleeping schedule may be the only one within the
 * bound).
 */
export class DporStrategy implements Strategy {
  /** Preemption bound; Infinity when unbounded. */
  readonly preemptionsMax: number;
  /** Records every step's footprint (the executor installs it while a step runs). */
  readonly recorder: FootprintRecorder;
  private readonly sleepSets: boolean;
  private readonly profile: Map<string, number> | null;
  private readonly nodes: Node[] = [];
  private readonly prefix: readonly number[];
  private readonly prefixSleep: ReadonlyMap<number, Footprint>;
  /** Nodes above it are never backtracked to (freezeAbove). */
  private floor = 0;
  private started = false;
  private execs = 0;
  /** Node the current execution diverges at (runs a new thread there); the steps before it replay. */
  private diverge = 0;
  private pos = 0;
  /** Node at which the current execution became sleep-set blocked, or -1. */
  private blockedAt = -1;
  private blockedRuns = 0;
  /** Sleep set of the next node (computed after each step). */
  private nextSleep: Map<number, Footprint> = new Map();

  constructor(opts: DporOptions = {}) {
    const k = opts.preemptions ?? Number.POSITIVE_INFINITY;
    if (!(k >= 0)) throw new ArgumentError('preemptions', `expected >= 0 or Infinity, got ${k}`);
    this.preemptionsMax = k;
    this.sleepSets = k === Number.POSITIVE_INFINITY;
    this.recorder = new FootprintRecorder(opts.check ?? false, opts.precise ?? false);
    this.profile = opts.profile ?? null;
    this.prefix = opts.prefix ?? [];
    this.prefixSleep = opts.prefixSleep ?? new Map();
  }

  /**
   * From now on, never backtrack to the first `steps` steps: a split search explores their
   * alternatives itself (src/explore/dpor_shard.ts), so races reversed there are dropped.
   */
  freezeAbove(steps: number): void {
    this.floor = steps;
  }

  /** Executions started so far (including the current one). */
  get executions(): number {
    return this.execs;
  }

  /** Executions that ended sleep-set blocked (redundant: counted in executions). */
  get sleepBlocked(): number {
    return this.blockedRuns;
  }

  /** The current execution is sleep-set blocked (every runnable thread asleep at some step). */
  get blocked(): boolean {
    return this.blockedAt >= 0;
  }

  /** Starts the next execution; false once every class of schedules has been run. */
  nextExecution(): boolean {
    if (!this.started) {
      this.started = true;
      this.execs = 1;
      this.begin(0);
      return true;
    }
    if (this.pos < this.nodes.length) {
      throw new Error(
        `DporStrategy: the scenario is nondeterministic: the last execution took ${this.pos} steps ` +
          `but the same schedule took ${this.nodes.length} before`,
      );
    }
    this.analyse();
    for (let i = this.nodes.length - 1; i >= this.floor; i--) {
      const n = this.nodes[i]!;
      const r = this.untried(n);
      if (r < 0) continue;
      if (this.sleepSets) n.sleep.set(n.tid, n.fp);
      n.tid = r;
      n.done.add(r);
      this.nodes.length = i + 1;
      this.execs++;
      this.begin(i);
      return true;
    }
    this.nodes.length = 0;
    return false;
  }

  pick(runnable: readonly Thread[], current: Thread | null): number {
    if (!this.started) {
      this.started = true;
      this.execs = 1;
      this.begin(0);
    }
    const k = this.pos;
    if (k < this.prefix.length || (k <= this.diverge && k < this.nodes.length)) {
      const want = k < this.prefix.length ? this.prefix[k]! : this.nodes[k]!.tid;
      for (let i = 0; i < runnable.length; i++) if (runnable[i]!.id === want) return i;
      throw new Error(
        `DporStrategy: the scenario is nondeterministic: at step ${k} of execution ${this.execs} thread ` +
          `${want} is not runnable (runnable: ${runnable.map((t) => t.id).join(', ')})`,
      );
    }
    const cur = indexOfThread(runnable, current);
    const sleep = this.nextSleep;
    if (cur >= 0 && !sleep.has(runnable[cur]!.id)) return cur;
    if (cur >= 0 && !this.sleepSets) return cur;
    for (let i = 0; i < runnable.length; i++) if (!sleep.has(runnable[i]!.id)) return i;
    if (this.blockedAt < 0) {
      this.blockedAt = k;
      this.blockedRuns++;
    }
    return Math.max(cur, 0);
  }

  /**
   * The next step replays the prefix before the node this execution diverges at: its footprint is
   * the node's, recorded when the node was made (the scenario is deterministic, and stepped()
   * checks the thread). Not in check mode, which checks every step's footprint.
   */
  replaying(): boolean {
    return this.started && this.pos < this.diverge && !this.recorder.check;
  }

  stepped(t: Thread, runnable: readonly Thread[], fp: Footprint): void {
    if (!this.started) {
      this.started = true;
      this.execs = 1;
      this.begin(0);
    }
    const k = this.pos++;
    const nodes = this.nodes;
    if (k < this.diverge) {
      if (nodes[k]!.tid !== t.id)
        throw new Error(`DporStrategy: the scenario is nondeterministic at step ${k}`);
      return;
    }
    let n: Node;
    if (k === this.diverge && k < nodes.length) {
      n = nodes[k]!;
      if (n.tid !== t.id) throw new Error(`DporStrategy: the scenario is nondeterministic at step ${k}`);
      n.fp = fp;
    } else {
      const prev = k > 0 ? nodes[k - 1]! : null;
      const ids = runnable.map((x) => x.id);
      n = {
        runnable: ids,
        tid: t.id,
        fp,
        backtrack: new Set([t.id]),
        done: new Set([t.id]),
        sleep: k === this.prefix.length - 1 ? new Map(this.prefixSleep) : this.nextSleep,
        preBefore:
          prev === null ? 0 : prev.preBefore + (preempted(k > 1 ? nodes[k - 2]! : null, prev) ? 1 : 0),
      };
      nodes.push(n);
    }
    this.nextSleep = this.sleepSets ? sleepAfterStep(n.sleep, t.id, fp) : new Map();
  }

  private begin(diverge: number): void {
    this.diverge = diverge;
    this.pos = 0;
    this.blockedAt = -1;
    this.nextSleep = new Map();
  }

  /** A backtrack thread of node n not yet run and not asleep, or -1. */
  private untried(n: Node): number {
    for (const r of n.backtrack) if (!n.done.has(r) && !n.sleep.has(r)) return r;
    return -1;
  }

  /** Finds the races of the last execution and extends the backtrack sets. */
  private analyse(): void {
    const nodes = this.nodes;
    const end = this.blockedAt >= 0 ? this.blockedAt : nodes.length;
    let threads = 0;
    for (let j = 0; j < end; j++) threads = Math.max(threads, nodes[j]!.tid + 1);
    const clocks: Int32Array[] = [];
    const lastOf = new Int32Array(threads).fill(-1);
    const races: number[] = [];
    for (let j = 0; j < end; j++) {
      const e = nodes[j]!;
      const before = lastOf[e.tid]!;
      const c = before >= 0 ? clocks[before]!.slice() : new Int32Array(threads).fill(-1);
      races.length = 0;
      for (let k = j - 1; k >= 0; k--) {
        const f = nodes[k]!;
        if (f.tid === e.tid || c[f.tid]! >= k || !dependent(f.fp, e.fp)) continue;
        races.push(k);
        const ck = clocks[k]!;
        for (let x = 0; x < threads; x++) if (ck[x]! > c[x]!) c[x] = ck[x]!;
      }
      c[e.tid] = j;
      clocks.push(c);
      lastOf[e.tid] = j;
      // races between steps of the replayed prefix were reversed by an earlier execution
      if (j >= this.diverge) for (const k of races) this.reverse(k, j, clocks);
      if (this.profile !== null && j >= this.diverge) for (const k of races) this.count(nodes[k]!.fp, e.fp);
    }
  }

  private count(a: Footprint, b: Footprint): void {
    const p = this.profile as Map<string, number>;
    const key = (whyDependent(a, b) ?? '?').replace(
      / (0x[0-9a-f]+|\d+:0x[0-9a-f]+|\d+:\d+|\d+)(?= |$)/g,
      ' _',
    );
    p.set(key, (p.get(key) ?? 0) + 1);
  }

  /** Race e_k ⋖ e_j: make some initial of notdep(e_k).e_j run at node k. */
  private reverse(k: number, j: number, clocks: Int32Array[]): void {
    const nodes = this.nodes;
    const p = nodes[k]!.tid;
    const v: number[] = [];
    for (let m = k + 1; m < j; m++) if (clocks[m]![p]! < k) v.push(m);
    v.push(j);
    const initials: number[] = [];
    const seen = new Set<number>();
    for (let a = 0; a < v.length; a++) {
      const m = v[a]!;
      const r = nodes[m]!.tid;
      if (seen.has(r)) continue;
      seen.add(r);
      let first = true;
      for (let b = 0; b < a && first; b++) {
        const o = v[b]!;
        if (clocks[m]![nodes[o]!.tid]! >= o) first = false;
      }
      if (first) initials.push(r);
    }
    const node = nodes[k]!;
    for (const r of initials) if (node.backtrack.has(r)) return;
    const runnable = initials.filter((r) => node.runnable.includes(r));
    if (runnable.length === 0) return; // e_j was not enabled at node k: not reversible
    const awake = runnable.filter((r) => !node.sleep.has(r));
    const r = (awake.length > 0 ? awake : runnable)[0]!;
    if (this.preemptionsMax === Number.POSITIVE_INFINITY) {
      node.backtrack.add(r);
      return;
    }
    const prev = k > 0 ? nodes[k - 1]! : null;
    if (this.fits(node, prev, r)) node.backtrack.add(r);
    if (prev !== null && prev.tid !== r && node.runnable.includes(prev.tid)) this.addAtFreeSwitch(k, r);
  }

  /** Whether running r at `node` stays within the preemption bound. */
  private fits(node: Node, prev: Node | null, r: number): boolean {
    const pre = prev !== null && prev.tid !== r && node.runnable.includes(prev.tid) ? 1 : 0;
    return node.preBefore + pre <= this.preemptionsMax;
  }

  /** Bounded POR's conservative point: the latest node before k where switching to r preempts nobody. */
  private addAtFreeSwitch(k: number, r: number): void {
    const nodes = this.nodes;
    for (let i = k - 1; i >= 0; i--) {
      const n = nodes[i]!;
      const prev = i > 0 ? nodes[i - 1]! : null;
      if (prev !== null && n.runnable.includes(prev.tid)) continue;
      if (n.runnable.includes(r) && this.fits(n, prev, r)) n.backtrack.add(r);
      return;
    }
  }
}

/** Whether the step taken at `n` preempted the thread that took the step before it (`prev`'s). */
function preempted(prev: Node | null, n: Node): boolean {
  return prev !== null && isPreemption(prev.tid, n.tid, n.runnable);
}

/**
 * Whether running `tid` after `prevTid` is a preemption: `prevTid` could have gone on (it is among
 * the runnable ids) and another thread runs instead. The bound counts these.
 */
export function isPreemption(prevTid: number, tid: number, runnable: readonly number[]): boolean {
  return prevTid !== tid && runnable.includes(prevTid);
}

/**
 * The sleep set after thread `tid` took a step with footprint `fp` from a node whose sleep set is
 * `sleep`: the sleepers its step is independent of stay asleep; the rest (and `tid`) wake.
 */
export function sleepAfterStep(
  sleep: ReadonlyMap<number, Footprint>,
  tid: number,
  fp: Footprint,
): Map<number, Footprint> {
  const next = new Map<number, Footprint>();
  for (const [q, f] of sleep) if (q !== tid && !dependent(f, fp)) next.set(q, f);
  return next;
}
