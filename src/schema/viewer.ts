/**
 * The viewer's run record: one simulator run as data, for the interactive viewer (docs/viewer.md)
 * and for any tool that reads runs. Types only: a reader loads no simulator code.
 *
 * Layout. The record is columnar: every table is an object of equal-length arrays (one entry per
 * row), never an array of objects, so a million events stay a few tens of MB of JSON. Monotone
 * columns (`step`, `time`) are delta-coded: entry i holds the difference to entry i - 1 (entry 0
 * holds its value). Small enumerations (states, event kinds, thread names, labels) are indexes into
 * the tables of `legend` and `strings`, which the record carries itself, so a reader needs no code
 * table of its own.
 *
 * Steps. A run is a sequence of events, numbered from 0 (`events`). The scrubber's position s is
 * "after event s"; the state at s is the initial state (step -1) with every change whose `step` is
 * at most s applied. A change recorded at step -1 is the state before the first event.
 */

/** The format version: bump it when a field changes meaning or unit, or a required field comes or goes. */
export const VIEWER_SCHEMA_VERSION = 'hmmsim-viewer/1';

/**
 * A CPU page-table entry's state, as the viewer colours it: none, present read-only or writable, the
 * shared zero page, PROT_NONE (NUMA hinting or mprotect), a migration entry, a device-private entry
 * (of device `dev`), a device-exclusive entry, a huge (PMD) mapping, read-only or writable.
 */
export type ViewerCpuState =
  | 'none'
  | 'ro'
  | 'rw'
  | 'zero'
  | 'protnone'
  | 'migration'
  | 'device-private'
  | 'device-exclusive'
  | 'huge-ro'
  | 'huge-rw'
  | 'swap';

/** A device page-table or TLB entry's state: none, read-only, writable, or atomic (device-exclusive). */
export type ViewerDeviceState = 'none' | 'ro' | 'rw' | 'atomic';

/**
 * What an event is: a scheduler step of a thread (`step`, its label the point it yielded at; the
 * viewer classes labels that name a fault, lock or migration), a switch to another thread, a
 * preemption, an invalidation start or end (range in `a`..`b`, pages, and the MMU_NOTIFY_ event in
 * `c`), a mirror callback, hmm_range_valid, a device page-table store / erase / clear, a DMA, a
 * kernel log line, and the checker's violation. Added within hmmsim-viewer/1 (a reader
 * that knows only the kinds above finds the new ones named in `legend.events`): an interval
 * notifier's invalidate call (`interval-invalidate`: the invalidated range in `a`..`b`, the
 * MMU_NOTIFY_ event in `c`, the interval's range and the sequence count in the label); the exact
 * `lock` / `unlock` of a lock (lockdep's lock_acquire / lock_release), a `dma` transfer (pages in `a`,
 * bytes in `b`, the device in `c`) and a `migrate` step of migrate_vma (range in `a`..`b`, pages
 * collected in `c`).
 */
export type ViewerEventKind =
  | 'step'
  | 'fault'
  | 'lock'
  | 'unlock'
  | 'migrate'
  | 'dma'
  | 'switch'
  | 'preempt'
  | 'invalidate-start'
  | 'invalidate-end'
  | 'mirror-callback'
  | 'range-valid'
  | 'device-store'
  | 'device-erase'
  | 'device-clear'
  | 'kernel'
  | 'violation'
  | 'interval-invalidate';

/** The tables a record's codes index: `cpu[code]` names a CPU state, and so on. */
export interface ViewerLegend {
  /** CPU states by code. */
  cpu: ViewerCpuState[];
  /** Device page-table and TLB states by code. */
  device: ViewerDeviceState[];
  /** Event kinds by code. */
  events: ViewerEventKind[];
}

/** The events, one row each (columnar). */
export interface ViewerEvents {
  /** Simulated ns at the event, delta-coded. */
  time: number[];
  /** The thread (index into `threads`) the event happened on; -1 for none (setup, the machine). */
  thread: number[];
  /** The kind (index into `legend.events`). */
  kind: number[];
  /** First argument: a start vpn (invalidation, device write), else 0. */
  a: number[];
  /** Second argument: an end vpn (exclusive; invalidation), a pfn (device store), else 0. */
  b: number[];
  /** Third argument: a device index (device writes), the MMU_NOTIFY_ event (invalidation), else 0. */
  c: number[];
  /** Its label (index into `strings`): the yield point, the kernel line, the checker's message. */
  label: number[];
}

/** A table of page-state changes (columnar): the CPU's, a device page table's, or a TLB's. */
export interface ViewerChanges {
  /** The event after which the change holds (-1: the initial state), delta-coded, non-decreasing. */
  step: number[];
  /** The device (index into `devices`); absent for the CPU table. */
  dev?: number[];
  /** The page (index into `pages`). */
  page: number[];
  /** The new state (index into `legend.cpu` or `legend.device`). */
  state: number[];
  /** The pfn mapped or referenced by the entry (a RAM or device pfn, or of a migration entry), -1 for none. */
  pfn: number[];
}

/** What a CPU change's tooltip tells about the struct page it maps, at the time of the change. */
export interface ViewerPageInfo {
  /** page_ref_count, per CPU change (-1 for none). */
  refcount: number[];
  /** page_mapcount, per CPU change (-1 for none). */
  mapcount: number[];
  /** The PG_ flags as one label (index into `strings`). */
  flags: number[];
  /** The memory cgroup's name (index into `strings`; -1 for none). */
  memcg: number[];
}

/** A VMA's life: its range in pages, flags, and the events after which it appeared and went. */
export interface ViewerVmas {
  /** First vpn. */
  start: number[];
  /** End vpn (exclusive). */
  end: number[];
  /** Its VM_ flags as a label (index into `strings`: 'rw-p', 'r--s', ...). */
  prot: number[];
  /** The mm it belongs to (index into `mms`). */
  mm: number[];
  /** The event after which it exists (-1: from the start). */
  from: number[];
  /** The event after which it is gone; -1 while it lives to the end. */
  to: number[];
}

/** Counters and costs over time, sampled (columnar by sample). */
export interface ViewerCounters {
  /** Counter names (`kernel.<vm event>`, `dev<N>.<counter>`, `dev<N>.cost.<term>` in ns). */
  names: string[];
  /** The event after which each sample was taken, delta-coded. */
  step: number[];
  /** values[i][k]: counter k at sample i. */
  values: number[][];
  /** Events between samples (1: every event). */
  every: number;
}

/** The schedule of an explorer run and how it failed (only on records of explorer runs). */
export interface ViewerInterleaving {
  /** The scenario explored. */
  scenario: string;
  /** The driver (variant) it ran against. */
  driver: string;
  /** The replay string that reproduces the run. */
  replay: string;
  /** The events (indexes into `events`) at which a preemption switched a runnable thread out. */
  preemptions: number[];
  /**
   * The preemptions the shrunk schedule kept: a shrink drops every preemption it can while the same
   * violation remains, so a shrunk run's preemptions are all kept (equal to `preemptions`).
   */
  kept: number[];
  /** The checker that reported the violation, or null for a clean run. */
  checker: string | null;
  /** The checker's message, or null. */
  message: string | null;
  /** The event at which it was reported (-1 for none). */
  failingStep: number;
}

/** A device of the run: its name and its device number on the machine. */
export interface ViewerDevice {
  /** 'dev0', or the scenario's name for it. */
  name: string;
  /** The simulator's device number (its memory). */
  device: number;
}

/** One recorded run: what the viewer page embeds and the library exports (see the file comment). */
export interface ViewerRun {
  /** VIEWER_SCHEMA_VERSION. */
  schema: string;
  /** A title for the page. */
  title: string;
  /** The hmmsim version that recorded the run. */
  producer: string;
  /** The simulator's seed. */
  seed: number;
  /** What recorded it: 'sim' (any run), 'explore', 'demo', 'sweep' (one configuration), or 'synthetic' (the bench's made-up run). */
  source: 'sim' | 'explore' | 'demo' | 'sweep' | 'synthetic';
  /** The codes' names. */
  legend: ViewerLegend;
  /** Labels, by index. */
  strings: string[];
  /** Thread names, by index. */
  threads: string[];
  /** The devices whose page tables and TLBs were recorded. */
  devices: ViewerDevice[];
  /** The mm ids recorded, by index. */
  mms: number[];
  /** The pages shown, ascending vpns: a page index is a position here. */
  pages: number[];
  /** The mm (index into `mms`) of each page. */
  pageMm: number[];
  /** VMA lives. */
  vmas: ViewerVmas;
  /** Events. */
  events: ViewerEvents;
  /**
   * What `events.time` counts: absent (or 'ns') simulated ns; 'steps' an explorer run's logical
   * clock, the executor's step count at the event (its scheduler never sleeps, so its ns stay 0).
   * Added within hmmsim-viewer/1: a reader that does not know it reads an explorer run's times as ns.
   */
  clock?: 'ns' | 'steps';
  /** CPU page-table changes. */
  cpu: ViewerChanges;
  /** The struct page of each CPU change. */
  cpuPage: ViewerPageInfo;
  /** Device page-table changes. */
  device: ViewerChanges;
  /** The struct page each device change maps (a freed page shows PG_buddy). */
  devicePage: ViewerPageInfo;
  /** Device TLB changes. */
  tlb: ViewerChanges;
  /** Counters and costs over time. */
  counters: ViewerCounters;
  /** The explorer's schedule and violation, or null for other runs. */
  interleaving: ViewerInterleaving | null;
  /**
   * Null when every event was kept; else the recorder kept one event in `every` of `total` (state
   * changes are all kept, attached to the last kept event), and the page says so.
   */
  sampled: {
    /** One event kept in this many. */
    every: number;
    /** Events the run had. */
    total: number;
  } | null;
}
