/**
 * The viewer's recorder: any simulator run turned into a ViewerRun (src/schema/viewer.ts).
 *
 * Events come from two sources: the machine's tracepoints (invalidations, mirror callbacks,
 * hmm_range_valid, device page-table writes: exact, and emitted mid-step) and the scheduler's steps
 * (the event log's records, which the recorder taps, or `step()` called by a driver of the executor
 * such as the explorer). Page-table state is not traced by the mm (the kernel has no tracepoint on
 * set_pte_at): the recorder diffs the page tables of every mm and every tracked device page table and
 * TLB at each event instead. A tracepoint fires before its write, so the diff runs before such an event
 * is appended (what changed since belongs to the previous event); a step is recorded when it ends, so
 * the diff runs after a step is appended (what changed belongs to the step). Only present entries are
 * visited (the walk skips page-table holes), so a diff costs the resident pages, not the VMAs' size.
 *
 * Nothing is recorded, and nothing costs anything, until `start()`; `finish()` unsubscribes and
 * returns the record. The same run gives the same record, byte for byte (JSON.stringify of it).
 */

import { ArgumentError, describeValue } from '../core/errno.js';
import { HMMSIM_VERSION } from '../core/version.js';
import type { DevicePageTable } from '../device/device_pagetable.js';
import type { DeviceTlb } from '../device/tlb.js';
import type { MmStruct } from '../mm/mm.js';
import { MMU_NOTIFY_EVENT_NAMES, type MmuNotifierRange } from '../mm/mmu_notifier.js';
import type { LockTraceEvent } from '../sched/lockdep.js';
import { currentOrNull, HELD_READ, HELD_WRITE, type Thread } from '../sched/thread.js';
import type {
  ViewerChanges,
  ViewerEventKind,
  ViewerInterleaving,
  ViewerPageInfo,
  ViewerRun,
} from '../schema/viewer.js';
import { VIEWER_SCHEMA_VERSION } from '../schema/viewer.js';
import type { DeviceFile } from '../sim/devicefile.js';
import type { Simulator } from '../sim/simulator.js';
import { EVENT_KINDS, Interner, kindOfPoint, sampleEvents } from './columns.js';
import { CPU_STATES, DEVICE_STATES, type DecodedEntry, deviceEntry, pmdEntry, pteEntry } from './states.js';

/** A device whose page table (and TLB, if given) the recorder follows. */
export interface ViewerDeviceSource {
  /** Its name on the page ('dev0'). */
  readonly name: string;
  /** The simulator's device number. */
  readonly device: number;
  /** The mm it mirrors: its entries are shown beside that mm's pages. */
  readonly mm: MmStruct;
  /** Its page table. */
  readonly pt: DevicePageTable;
  /** Its TLB, if it has one. */
  readonly tlb?: DeviceTlb;
  /** Whether `pfn` is its device memory (names the device of a device-private CPU entry). */
  owns?(pfn: number): boolean;
}

/** How to record. */
export interface ViewerRecorderOptions {
  /** The page's title (default 'hmmsim run'). */
  title?: string;
  /** What recorded the run (default 'sim'). */
  source?: ViewerRun['source'];
  /**
   * The events' clock: 'ns' (default) the executor's simulated ns; 'steps' its step count, a logical
   * clock for runs whose scheduler never sleeps (the explorer's).
   */
  clock?: 'ns' | 'steps';
  /**
   * With clock 'ns': where the run's simulated time is kept, when not in the executor (a sweep's
   * scheduler never sleeps; its time is the device cost model's clock, `Simulator.deviceClockUs`).
   * Read at every event; it must not decrease.
   */
  nowNs?: () => number;
  /** Events between two samples of the counters (default 64). */
  counterEvery?: number;
  /**
   * Table entries a diff may visit per event, amortised (default: no limit, a diff at every event).
   * With a limit a diff runs only once the events since the last one pay for the entries it visits,
   * so a big run (a sweep configuration) records in time linear in its events; a change then shows
   * at the event of the diff that saw it, up to (entries / limit) events late.
   */
  diffBudget?: number;
}

/** Options of finish(). */
export interface ViewerFinishOptions {
  /** Keep at most this many events (sample evenly beyond; state changes are all kept). Default: all. */
  maxEvents?: number;
  /** An explorer run's schedule and violation. */
  interleaving?: ViewerInterleaving;
}

interface Entry {
  state: number;
  pfn: number;
  gen: number;
}

type ChangeCols = Record<(typeof CHANGE_COLS)[number], number[]>;

const CHANGE_COLS = ['step', 'dev', 'key', 'state', 'pfn'] as const;

/** Page keys: the mm's index times 2^36 plus the vpn (vpns are below 2^36). */
const MM_STRIDE = 2 ** 36;
const PAGE = 4096;

function changeCols(): ChangeCols {
  return columns(...CHANGE_COLS);
}

/** Records a simulator run for the viewer (see the file comment). */
export class ViewerRecorder {
  private readonly strings = new Interner();
  private readonly threads = new Interner();
  private readonly ev = columns('time', 'thread', 'kind', 'a', 'b', 'c', 'label');
  private readonly cpu = changeCols();
  private readonly cpuPage = pageInfoCols();
  private readonly dev = changeCols();
  private readonly devPage = pageInfoCols();
  private readonly tlb = changeCols();
  private readonly devices: ViewerDeviceSource[] = [];
  private readonly mmIndex = new Map<MmStruct, number>();
  private readonly prevCpu = new Map<number, Entry>();
  private readonly prevDev: Map<number, Entry>[] = [];
  private readonly prevTlb: Map<number, Entry>[] = [];
  /** Each device page table was written since its last diff (or is new). */
  private readonly ptDirty: boolean[] = [];
  private readonly vmaLive = new Map<string, number>();
  /** The diff that last saw each VMA. */
  private readonly vmaGen: number[] = [];
  private readonly vmas = columns('start', 'end', 'prot', 'mm', 'from', 'to');
  private readonly counterNames = new Map<string, number>();
  private readonly counterSteps: number[] = [];
  private readonly counterValues: number[][] = [];
  private readonly lastPoint = new Map<string, string>();
  private readonly unsubscribe: (() => void)[] = [];
  /** The devices whose copy engine is subscribed. */
  private readonly dmaTraced = new Set<number>();
  private readonly counterEvery: number;
  private readonly diffBudget: number;
  /** The event count at the last diff. */
  private diffedAt = 0;
  private gen = 0;
  /** The thread of the last step (-1: none yet). */
  private stepThread = -1;
  /** A tracepoint was recorded since the last step: the step in progress has events of its own. */
  private midStep = false;
  private lastTime = 0;
  private started = false;
  private finished = false;
  private prevTap: ((time: number, thread: string, text: string) => void) | null = null;

  constructor(
    /** The machine recorded. */
    readonly sim: Simulator,
    private readonly options: ViewerRecorderOptions = {},
  ) {
    if (typeof options !== 'object' || options === null)
      throw new ArgumentError('options', `expected an object, got ${describeValue(options)}`);
    const every = options.counterEvery ?? 64;
    if (!Number.isSafeInteger(every) || every < 1)
      throw new ArgumentError('counterEvery', `expected a positive integer, got ${describeValue(every)}`);
    this.counterEvery = every;
    if (options.clock !== undefined && options.clock !== 'ns' && options.clock !== 'steps')
      throw new ArgumentError('clock', `expected 'ns' or 'steps', got ${describeValue(options.clock)}`);
    if (options.nowNs !== undefined && (typeof options.nowNs !== 'function' || options.clock === 'steps'))
      throw new ArgumentError(
        'nowNs',
        `expected a function, with clock 'ns', got ${describeValue(options.nowNs)}`,
      );
    const budget = options.diffBudget ?? Number.POSITIVE_INFINITY;
    if (!(budget >= 1))
      throw new ArgumentError('diffBudget', `expected a number >= 1, got ${describeValue(budget)}`);
    this.diffBudget = budget;
  }

  /** Number of events recorded so far. */
  get events(): number {
    return this.ev.kind.length;
  }

  /** Follows a device's page table and TLB from now on (a device opened after start() too). */
  trackDevice(d: ViewerDeviceSource): void {
    if (typeof d !== 'object' || d === null || typeof d.pt !== 'object')
      throw new ArgumentError('device', `expected a device with a page table, got ${describeValue(d)}`);
    if (this.devices.some((x) => x.pt === d.pt)) return;
    this.devices.push(d);
    this.prevDev.push(new Map());
    this.ptDirty.push(true);
    this.prevTlb.push(new Map());
    if (this.started) {
      this.subscribeDma(d.device);
      this.diff(true);
    }
  }

  /** Subscribes to the machine and records the state before the first event (step -1). */
  start(): this {
    if (this.started) throw new ArgumentError('recorder', 'already started');
    this.started = true;
    const t = this.sim.trace;
    this.unsubscribe.push(
      t.subscribe('mmu_notifier_invalidate_range_start', (e) =>
        this.invalidation('invalidate-start', e.range),
      ),
      t.subscribe('mmu_notifier_invalidate_range_end', (e) => this.invalidation('invalidate-end', e.range)),
      t.subscribe('hmm_mirror_callback', (e) => this.traced('mirror-callback', 0, 0, 0, e.callback)),
      t.subscribe('hmm_range_valid', (e) =>
        this.traced('range-valid', e.range.start / PAGE, e.range.end / PAGE, 0, 'hmm_range_valid'),
      ),
      t.subscribe('device_pt_store', (e) =>
        this.ptWrite('device-store', e.pt, e.vpn, e.pfn, e.write ? 'store rw' : 'store ro'),
      ),
      t.subscribe('device_pt_erase', (e) => this.ptWrite('device-erase', e.pt, e.vpn, 0, 'erase')),
      t.subscribe('device_pt_clear', (e) => this.ptWrite('device-clear', e.pt, 0, 0, 'clear')),
      ...this.subscribeKernel(),
    );
    for (const d of this.devices) this.subscribeDma(d.device);
    const log = this.sim.log;
    this.prevTap = log.tap;
    const prev = this.prevTap;
    log.tap = (time, thread, text) => {
      prev?.(time, thread, text);
      this.logged(time, thread, text);
    };
    this.diff(true);
    return this;
  }

  /**
   * A scheduler step of `thread` ended: `point` is what the step did (the point it was scheduled
   * at), `time` the simulated ns. For executors that do not log (the explorer's); a logged step is
   * recorded from the event log.
   */
  step(thread: string, point: string, time: number): void {
    this.stepEnded(thread, point, time, kindOfPoint(point));
  }

  /**
   * A step ended. Its changes since its last tracepoint belong to that tracepoint's event (a device
   * store shows at the store); a step with no tracepoint owns its changes.
   */
  private stepEnded(thread: string, label: string, time: number, as: ViewerEventKind): void {
    if (this.midStep) this.diff();
    this.midStep = false;
    this.append('step', thread, time, 0, 0, 0, label, as);
    this.diff();
  }

  /** A preemption: `from` (still runnable) is switched out, `to` runs. */
  preempt(from: string, to: string): void {
    this.append('preempt', from, this.lastTime, 0, 0, 0, `${from} preempted; ${to} runs`);
  }

  /** The checker's violation, as the run's last event; returns its event index. */
  violation(checker: string, message: string, thread: string | null): number {
    this.diff(true);
    this.append('violation', thread, this.lastTime, 0, 0, 0, `${checker}: ${message}`);
    return this.events - 1;
  }

  /** Unsubscribes and returns the record. */
  finish(opts: ViewerFinishOptions = {}): ViewerRun {
    if (!this.started || this.finished)
      throw new ArgumentError('recorder', 'not started, or already finished');
    const max = opts.maxEvents;
    if (max !== undefined && (!Number.isSafeInteger(max) || max < 1))
      throw new ArgumentError('maxEvents', `expected a positive integer, got ${describeValue(max)}`);
    this.diff(true);
    this.sampleCounters(true);
    this.finished = true;
    for (const u of this.unsubscribe) u();
    this.sim.log.tap = this.prevTap;
    return this.build(opts);
  }

  // -- events ---------------------------------------------------------------------------------------

  /** Lockdep's lock_acquire / lock_release, and the mm's interval-notifier and migrate_vma tracepoints. */
  private subscribeKernel(): (() => void)[] {
    const lock = this.sim.kernel.lockdep.trace;
    const mm = this.sim.kernel.tracepoints;
    const migrate = (name: 'migrate_vma_setup' | 'migrate_vma_pages' | 'migrate_vma_finalize') =>
      mm.subscribe(name, (e) =>
        this.traced(
          'migrate',
          e.start / PAGE,
          e.end / PAGE,
          e.cpages,
          `${name} ${e.npages} pages, ${e.cpages} collected`,
        ),
      );
    return [
      lock.subscribe('lock_acquire', (e) => this.lockEvent('lock', e)),
      lock.subscribe('lock_release', (e) => this.lockEvent('unlock', e)),
      mm.subscribe('mmu_interval_notifier_invalidate', (e) => {
        const name = MMU_NOTIFY_EVENT_NAMES[e.event] ?? `event ${e.event}`;
        const interval = `0x${e.start.toString(16)}-0x${e.end.toString(16)}`;
        this.traced(
          'interval-invalidate',
          e.rangeStart / PAGE,
          e.rangeEnd / PAGE,
          e.event,
          `${name} seq ${e.seq} interval ${interval}`,
        );
      }),
      migrate('migrate_vma_setup'),
      migrate('migrate_vma_pages'),
      migrate('migrate_vma_finalize'),
    ];
  }

  /** The device_dma tracepoint of device `n` (once per device number). */
  private subscribeDma(n: number): void {
    if (this.dmaTraced.has(n)) return;
    this.dmaTraced.add(n);
    const i = this.devices.findIndex((d) => d.device === n);
    this.unsubscribe.push(
      this.sim
        .deviceDma(n)
        .trace.subscribe('device_dma', (e) =>
          this.traced('dma', e.pages, e.bytes, i, `dma ${e.direction} ${e.pages} pages`),
        ),
    );
  }

  private lockEvent(kind: 'lock' | 'unlock', e: LockTraceEvent): void {
    const mode = e.mode === HELD_READ ? ' (read)' : e.mode === HELD_WRITE ? ' (write)' : '';
    this.tracedOn(
      e.thread,
      kind,
      0,
      0,
      0,
      `${kind === 'lock' ? 'acquire' : 'release'} ${e.lock.kind} ${e.lock.name}${mode}`,
    );
  }

  private invalidation(kind: ViewerEventKind, r: MmuNotifierRange): void {
    const name = MMU_NOTIFY_EVENT_NAMES[r.event] ?? `event ${r.event}`;
    this.traced(kind, r.start / PAGE, r.end / PAGE, r.event, name);
  }

  /** A device page-table write (traced before it happens): diffed at the next event. */
  private ptWrite(kind: ViewerEventKind, pt: DevicePageTable, vpn: number, pfn: number, label: string): void {
    const i = this.devices.findIndex((d) => d.pt === pt);
    this.traced(kind, vpn, pfn, i, label);
    if (i >= 0) this.ptDirty[i] = true;
  }

  /** A tracepoint: the diff first (the write has not happened yet), then the event. */
  private traced(kind: ViewerEventKind, a: number, b: number, c: number, label: string): void {
    this.tracedOn(currentOrNull(), kind, a, b, c, label);
  }

  /** A tracepoint on thread `t` (null: the machine's). */
  private tracedOn(
    t: Thread | null,
    kind: ViewerEventKind,
    a: number,
    b: number,
    c: number,
    label: string,
  ): void {
    this.diff();
    const time =
      t === null ? this.lastTime : this.options.clock === 'steps' ? t.executor.steps : t.executor.nowNs;
    this.append(kind, t === null ? null : t.name, time, a, b, c, label);
    this.midStep = true;
  }

  /** An event-log record: a step's end (or exit), or a kernel line. */
  private logged(time: number, thread: string, text: string): void {
    if (thread === 'kernel') {
      this.diff();
      this.append('kernel', null, this.lastTime, 0, 0, 0, text);
      return;
    }
    const did = this.lastPoint.get(thread) ?? 'start';
    this.lastPoint.set(thread, text);
    const label = text === 'exit' || text.startsWith('failed') ? `${did} → ${text}` : did;
    this.stepEnded(thread, label, time, kindOfPoint(did));
  }

  private append(
    kind: ViewerEventKind,
    thread: string | null,
    time: number,
    a: number,
    b: number,
    c: number,
    label: string,
    as: ViewerEventKind = kind,
  ): void {
    const th = thread === null ? -1 : this.threads.id(thread);
    if (th !== -1 && kind !== 'preempt') {
      // A scheduler switch: this step ran on another thread than the last one.
      if (th !== this.stepThread && this.stepThread !== -1 && th !== -1)
        this.push('switch', th, time, 0, 0, 0, `→ ${thread}`);
      this.stepThread = th;
    }
    this.push(as, th, time, a, b, c, label);
    if (this.events % this.counterEvery === 0) this.sampleCounters(false);
  }

  private push(
    kind: ViewerEventKind,
    th: number,
    time: number,
    a: number,
    b: number,
    c: number,
    label: string,
  ): void {
    const ev = this.ev;
    const now = this.options.nowNs;
    this.lastTime = Math.max(this.lastTime, now === undefined ? time : now());
    ev.time.push(this.lastTime);
    ev.thread.push(th);
    ev.kind.push(EVENT_KINDS.indexOf(kind));
    ev.a.push(a);
    ev.b.push(b);
    ev.c.push(c);
    ev.label.push(this.strings.id(label));
  }

  // -- state ----------------------------------------------------------------------------------------

  private mmId(mm: MmStruct): number {
    let i = this.mmIndex.get(mm);
    if (i === undefined) {
      i = this.mmIndex.size;
      this.mmIndex.set(mm, i);
    }
    return i;
  }

  /**
   * Compares every table with what was last seen and records the differences at the last event;
   * unless `force`d, only when the diff budget allows (see ViewerRecorderOptions.diffBudget).
   */
  private diff(force = false): void {
    const step = this.events - 1;
    if (!force && this.diffBudget !== Number.POSITIVE_INFINITY) {
      let entries = this.prevCpu.size;
      for (const m of this.prevDev) entries += m.size;
      for (const m of this.prevTlb) entries += m.size;
      if ((this.events - this.diffedAt) * this.diffBudget < entries) return;
    }
    this.diffedAt = this.events;
    this.gen++;
    for (const mm of this.sim.kernel.mms) this.diffMm(mm, step);
    for (const [key, e] of this.prevCpu) {
      if (e.gen === this.gen) continue;
      this.prevCpu.delete(key);
      this.cpuChange(step, key, 0, -1);
    }
    this.endVmas(step);
    this.devices.forEach((d, i) => {
      this.diffDevice(d, i, step);
    });
  }

  private diffMm(mm: MmStruct, step: number): void {
    const m = this.mmId(mm);
    const pool = this.sim.kernel.pt;
    const visit = (vpn: number, now: DecodedEntry): void => {
      const key = m * MM_STRIDE + vpn;
      const before = this.prevCpu.get(key);
      if (before === undefined) {
        if (now.state === 0) return;
        this.prevCpu.set(key, { state: now.state, pfn: now.pfn, gen: this.gen });
      } else {
        before.gen = this.gen;
        if (before.state === now.state && before.pfn === now.pfn) return;
        if (now.state === 0) {
          this.prevCpu.delete(key);
        } else {
          before.state = now.state;
          before.pfn = now.pfn;
        }
      }
      this.cpuChange(step, key, now.state, now.pfn);
    };
    // The walk hands over each PTE table (its slots read directly) or PMD entry: one lookup per table.
    const table = (t: number, start: number, end: number): number => {
      // None slots are skipped: a page seen before and none now is found by diff()'s sweep.
      const first = t * 512 + ((start / PAGE) % 512);
      const vpn0 = start / PAGE;
      for (let i = 0, n = (end - start) / PAGE; i < n; i++) {
        const lo = pool.lo[first + i] as number;
        const hi = pool.hi[first + i] as number;
        if (lo !== 0 || hi !== 0) visit(vpn0 + i, pteEntry(lo, hi));
      }
      return 0;
    };
    const pmd = (slot: number, start: number, end: number): number => {
      const lo = pool.lo[slot] as number;
      const hi = pool.hi[slot] as number;
      for (let a = start; a < end; a += PAGE) visit(a / PAGE, pmdEntry(lo, hi, (a / PAGE) % 512));
      return 0;
    };
    for (const vma of mm.vmas) {
      this.vmaSeen(m, vma.start, vma.end, vma.flags, step);
      pool.walk(mm.pgd, vma.start, vma.end, {
        present: table,
        hole: () => 0,
        huge: pmd,
        swapPmd: pmd,
      });
    }
  }

  private vmaSeen(m: number, start: number, end: number, flags: number, step: number): void {
    const prot = `${flags & 1 ? 'r' : '-'}${flags & 2 ? 'w' : '-'}${flags & 4 ? 'x' : '-'}${flags & 8 ? 's' : 'p'}`;
    const key = `${m}:${start}:${end}:${prot}`;
    const v = this.vmas;
    const live = this.vmaLive.get(key);
    if (live !== undefined) {
      this.vmaGen[live] = this.gen;
      return;
    }
    this.vmaLive.set(key, v.start.length);
    this.vmaGen.push(this.gen);
    v.start.push(start / PAGE);
    v.end.push(end / PAGE);
    v.prot.push(this.strings.id(prot));
    v.mm.push(m);
    v.from.push(step);
    v.to.push(-1);
  }

  /** VMAs not seen in this diff are gone since `step`. */
  private endVmas(step: number): void {
    for (const [key, i] of this.vmaLive) {
      if (this.vmaGen[i] === this.gen) continue;
      this.vmas.to[i] = step;
      this.vmaLive.delete(key);
    }
  }

  private cpuChange(step: number, key: number, state: number, pfn: number): void {
    const c = this.cpu;
    c.step.push(step);
    c.key.push(key);
    c.state.push(state);
    c.pfn.push(pfn);
    c.dev.push(
      CPU_STATES[state] === 'device-private' ? this.devices.findIndex((d) => d.owns?.(pfn) === true) : -1,
    );
    this.pushPageInfo(this.cpuPage, CPU_STATES[state] !== 'zero' ? pfn : -1);
  }

  /** The struct page of `pfn` now, for a change's tooltip (-1: none). */
  private pushPageInfo(p: ViewerPageInfo, pfn: number): void {
    const info = pfn >= 0 ? this.pageInfo(pfn) : null;
    p.refcount.push(info?.refcount ?? -1);
    p.mapcount.push(info?.mapcount ?? -1);
    p.flags.push(this.strings.id(info === null ? '' : info.flags.join(',')));
    p.memcg.push(info === null || info.memcg === null ? -1 : this.strings.id(info.memcg));
  }

  private pageInfo(pfn: number): ReturnType<Simulator['page']> | null {
    if (!this.sim.kernel.mem.store.isValidPfn(pfn)) return null;
    return this.sim.page(pfn);
  }

  private diffDevice(d: ViewerDeviceSource, i: number, step: number): void {
    const m = this.mmId(d.mm);
    // A device page table changes only by the writes it traces: diffed after one, not at every event.
    if (this.ptDirty[i] === true) {
      this.ptDirty[i] = false;
      const prev = this.prevDev[i] as Map<number, Entry>;
      d.pt.forEach((vpn) => {
        this.devChange(this.dev, prev, i, m * MM_STRIDE + vpn, deviceEntry(d.pt, vpn), step);
      });
      this.dropUnseen(this.dev, prev, i, step);
    }
    if (d.tlb === undefined) return;
    const prevT = this.prevTlb[i] as Map<number, Entry>;
    for (const e of d.tlb.cached()) {
      this.devChange(this.tlb, prevT, i, m * MM_STRIDE + e.vpn, { state: e.write ? 2 : 1, pfn: e.pfn }, step);
    }
    this.dropUnseen(this.tlb, prevT, i, step);
  }

  private devChange(
    cols: ChangeCols,
    prev: Map<number, Entry>,
    dev: number,
    key: number,
    now: { state: number; pfn: number },
    step: number,
  ): void {
    const before = prev.get(key);
    if (before !== undefined) {
      before.gen = this.gen;
      if (before.state === now.state && before.pfn === now.pfn) return;
      before.state = now.state;
      before.pfn = now.pfn;
    } else {
      prev.set(key, { state: now.state, pfn: now.pfn, gen: this.gen });
    }
    pushChange(cols, step, dev, key, now.state, now.pfn);
    if (cols === this.dev) this.pushPageInfo(this.devPage, now.pfn);
  }

  private dropUnseen(cols: ChangeCols, prev: Map<number, Entry>, dev: number, step: number): void {
    for (const [key, e] of prev) {
      if (e.gen === this.gen) continue;
      prev.delete(key);
      pushChange(cols, step, dev, key, 0, -1);
      if (cols === this.dev) this.pushPageInfo(this.devPage, -1);
    }
  }

  private sampleCounters(force: boolean): void {
    const step = this.events - 1;
    if (!force && this.counterSteps[this.counterSteps.length - 1] === step) return;
    const row: number[] = [];
    const put = (name: string, value: number): void => {
      let k = this.counterNames.get(name);
      if (k === undefined) {
        k = this.counterNames.size;
        this.counterNames.set(name, k);
      }
      row[k] = value;
    };
    for (const [name, value] of Object.entries(this.sim.stats().counters)) put(`kernel.${name}`, value);
    for (const d of new Set(this.devices.map((x) => x.device))) {
      for (const [name, value] of Object.entries(this.sim.deviceCounters(d))) put(`dev${d}.${name}`, value);
      for (const [name, value] of Object.entries(this.sim.deviceCosts(d))) put(`dev${d}.cost.${name}`, value);
    }
    if (this.counterSteps[this.counterSteps.length - 1] === step) {
      this.counterValues[this.counterValues.length - 1] = row;
      return;
    }
    this.counterSteps.push(step);
    this.counterValues.push(row);
  }

  // -- the record -----------------------------------------------------------------------------------

  private build(opts: ViewerFinishOptions): ViewerRun {
    const n = this.events;
    const keys = new Set<number>([...this.cpu.key, ...this.dev.key, ...this.tlb.key]);
    const sorted = [...keys].sort((x, y) => x - y);
    const pageOf = new Map(sorted.map((k, i) => [k, i]));
    const sample = sampleEvents(n, opts.maxEvents);
    const remap = (s: number): number => (s < 0 ? s : Math.floor(s / sample.every));
    const changes = (c: ChangeCols, withDev: boolean): ViewerChanges => ({
      step: deltas(c.step.map(remap)),
      ...(withDev ? { dev: c.dev } : {}),
      page: c.key.map((k) => pageOf.get(k) as number),
      state: c.state,
      pfn: c.pfn,
    });
    const keep = (col: number[]): number[] =>
      sample.every === 1 ? col : col.filter((_, i) => i % sample.every === 0);
    const names = [...this.counterNames.keys()];
    const interleaving = opts.interleaving ?? null;
    return {
      schema: VIEWER_SCHEMA_VERSION,
      title: this.options.title ?? 'hmmsim run',
      producer: HMMSIM_VERSION,
      seed: this.sim.seed,
      source: this.options.source ?? 'sim',
      legend: { cpu: [...CPU_STATES], device: [...DEVICE_STATES], events: [...EVENT_KINDS] },
      strings: this.strings.list(),
      threads: this.threads.list(),
      devices: this.devices.map((d) => ({ name: d.name, device: d.device })),
      mms: [...this.mmIndex.keys()].map((mm) => mm.id),
      pages: sorted.map((k) => k % MM_STRIDE),
      pageMm: sorted.map((k) => Math.floor(k / MM_STRIDE)),
      vmas: {
        ...this.vmas,
        from: this.vmas.from.map(remap),
        to: this.vmas.to.map((t) => (t === -1 ? -1 : remap(t))),
      },
      ...(this.options.clock === 'steps' ? { clock: 'steps' as const } : {}),
      events: {
        time: deltas(keep(this.ev.time)),
        thread: keep(this.ev.thread),
        kind: keep(this.ev.kind),
        a: keep(this.ev.a),
        b: keep(this.ev.b),
        c: keep(this.ev.c),
        label: keep(this.ev.label),
      },
      cpu: changes(this.cpu, true),
      cpuPage: this.cpuPage,
      device: changes(this.dev, true),
      devicePage: this.devPage,
      tlb: changes(this.tlb, true),
      counters: {
        names,
        step: deltas(this.counterSteps.map(remap)),
        values: this.counterValues.map((row) => names.map((_, k) => row[k] ?? 0)),
        every: this.counterEvery,
      },
      interleaving:
        interleaving === null
          ? null
          : {
              ...interleaving,
              preemptions: interleaving.preemptions.map(remap),
              kept: interleaving.kept.map(remap),
              failingStep: remap(interleaving.failingStep),
            },
      sampled: sample.every === 1 ? null : { every: sample.every, total: n },
    };
  }
}

function pushChange(cols: ChangeCols, ...row: [number, number, number, number, number]): void {
  CHANGE_COLS.forEach((name, i) => {
    cols[name].push(row[i] as number);
  });
}

function pageInfoCols(): ViewerPageInfo {
  return columns('refcount', 'mapcount', 'flags', 'memcg');
}

/** Empty columns named `names`. */
function columns<K extends string>(...names: K[]): Record<K, number[]> {
  return Object.fromEntries(names.map((n) => [n, []])) as unknown as Record<K, number[]>;
}

/** Delta-codes a non-decreasing column (entry 0 keeps its value). */
export function deltas(col: readonly number[]): number[] {
  const out = new Array<number>(col.length);
  let prev = 0;
  for (let i = 0; i < col.length; i++) {
    const v = col[i] as number;
    out[i] = i === 0 ? v : v - prev;
    prev = v;
  }
  return out;
}

/** The device of an open device file (device 0, 'dev0' unless told): its page table, TLB and memory. */
export function deviceFileSource(fd: DeviceFile, device = 0, name = `dev${device}`): ViewerDeviceSource {
  const d = fd.driver;
  return { name, device, mm: fd.process.mm, pt: d.pt, tlb: d.tlb, owns: (pfn) => d.owns(pfn) };
}

/**
 * Starts recording `sim` for the viewer: every mm, the devices given (and any tracked later), from
 * now until `finish()`. The one-call form of `new ViewerRecorder(sim, options).start()`.
 */
export function recordSimulator(
  sim: Simulator,
  devices: readonly ViewerDeviceSource[] = [],
  options: ViewerRecorderOptions = {},
): ViewerRecorder {
  const r = new ViewerRecorder(sim, options);
  for (const d of devices) r.trackDevice(d);
  return r.start();
}
