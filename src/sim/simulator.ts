/**
 * The user-facing facade (DESIGN.md, "The test-facing contract"): a Simulator holds one simulated
 * machine; processes, files and devices are created from it. Each call runs on the scheduler to
 * completion, turns -errno into HmmError, bad arguments into ArgumentError and forbidden CPU
 * accesses into SegvError. Every operation also has a generator form on `process.task` so several
 * threads can run one scenario under any schedule.
 */

import { PAGE_SIZE } from '../core/addr.js';
import { ArgumentError, check, describeValue } from '../core/errno.js';
import { EventLog } from '../core/eventlog.js';
import { Prng, parseSeed } from '../core/prng.js';
import { Tracepoints } from '../core/trace.js';
import { COST_PROFILE_DEFAULT, type CostTerm, costProfile } from '../device/cost.js';
import type { DeviceCounters, SimDevice } from '../device/device.js';
import type { DevicePageTableTracepoints } from '../device/device_pagetable.js';
import type { DmaEngine } from '../device/dma.js';
import { checkTlbEntries, DEVICE_TLB_ENTRIES_DEFAULT } from '../device/tlb.js';
import { DmirrorDevice } from '../drivers/dmirror/mdevice.js';
import { checkDmirrorVariant, type DmirrorVariant } from '../drivers/dmirror/variants.js';
import type { Driver, DriverFactory, HmmApi } from '../drivers/driver.js';
import { DriverRegistry } from '../drivers/registry.js';
import { TestHmmDevice } from '../drivers/test_hmm/device.js';
import { DEVICE_MEMORY_KINDS, type DeviceMemoryKind } from '../drivers/test_hmm/uapi.js';
import type { HmmMachine, HmmProtocol, HmmTracepoints } from '../hmm/seed/types.js';
import { hmmMachine, isHmmProtocol } from '../hmm/seed/validity.js';
import { THP_MODES, type ThpMode } from '../mm/huge_memory.js';
import { Kernel, type KernelVersion, kernelBehaviour } from '../mm/kernel.js';
import { MemCgroup } from '../mm/memcg.js';
import { MmStruct } from '../mm/mm.js';
import {
  PAGES_PER_SECTION,
  PG_anon,
  PG_buddy,
  PG_dirty,
  PG_head,
  PG_locked,
  PG_reserved,
  PG_swapbacked,
  PG_tail,
  sectionAlign,
  ZONE_DEVICE,
} from '../mm/page.js';
import { checkRamPages } from '../mm/page_alloc.js';
import { tryToFreePages } from '../mm/vmscan.js';
import { checkPolicy, type MigrationPolicy } from '../policy/policy.js';
import type { PolicyTracepoints } from '../policy/trace.js';
import type { Executor, Strategy, Task } from '../sched/index.js';
import { checkBoolean, checkHandle, checkInt, checkLength, checkOptions } from './args.js';
import { DeviceFile } from './devicefile.js';
import { Process } from './process.js';
import { SimFile } from './simfile.js';

/** Every tracepoint of a simulated machine, by name. */
export type SimTracepoints = HmmTracepoints & DevicePageTableTracepoints & PolicyTracepoints;

/** How to build a Simulator: the seed, the machine's sizes, its devices and the kernel behaviour to follow. */
export interface SimulatorOptions {
  /** A non-negative safe integer, or a string parseSeed accepts (default 0). */
  seed?: number | string;
  /** Pages of RAM (default 65,536 = 256 MiB). */
  ramPages?: number;
  /** Keep page contents (default true); false runs policy-only simulations faster. */
  contents?: boolean;
  /** Keep this many events as text in `sim.log` (the hash is always kept; 0..2^24, default 0). */
  logEvents?: number;
  /** Steps one call may take before it fails with StepLimitError (a livelock guard; 1..2^53-1). */
  stepsMax?: number;
  /** Simulated devices (default: two), each with its device memory size in pages. */
  devices?: DeviceOptions[];
  /**
   * How HMM tracks range validity (docs/explorer.md): 'seed' (default) is the v5.3 `range->valid`
   * flag of the seed document; 'seq' is a per-mirror sequence count with v5.5
   * mmu_interval_notifier semantics. The dmirror driver works unchanged with both.
   */
  protocol?: HmmProtocol;
  /** Memory section size in pages (default 32,768 = 128 MiB); the explorer uses small ones. */
  sectionPages?: number;
  /**
   * Whose mm behaviour to follow where it changed since the seed (docs/fidelity.md, "Kernel
   * versions"): 'v5.3' (default) or 'v6.19' (FOLL_PIN counting, fork copying pinned pages, COW never
   * reusing a pinned page, MREMAP_DONTUNMAP, ...).
   */
  kernel?: KernelVersion;
  /**
   * Transparent huge pages, as /sys/kernel/mm/transparent_hugepage/enabled: 'always', 'madvise'
   * (default: only MADV_HUGEPAGE regions) or 'never'.
   */
  thp?: ThpMode;
  /**
   * 2 MiB hugetlb pages reserved from RAM at boot for MAP_HUGETLB (nr_hugepages; default 0, so a
   * MAP_HUGETLB mmap fails with ENOMEM as on a kernel with an empty pool).
   */
  hugetlbPages?: number;
}

/** One simulated device's memory, TLB and cost profile. */
export interface DeviceOptions {
  /** Device memory in pages (default 65,536 = 256 MiB, lib/test_hmm.c's DEVMEM_CHUNK_SIZE). */
  memoryPages?: number;
  /** Device TLB entries per address space (default 1,024; a multiple of 8). */
  tlbEntries?: number;
  /** Cost model profile: 'pcie4-a100' (default), 'pcie3-v100' or 'pcie5-h100' (src/device/cost.ts). */
  costProfile?: string;
  /**
   * Its memory: 'private' (default; MEMORY_DEVICE_PRIVATE, the CPU cannot map it) or 'coherent'
   * (MEMORY_DEVICE_COHERENT, v6.0: CPU-mapped with ordinary PTEs; only today's API can use it).
   */
  kind?: DeviceMemoryKind;
}

/** What `Simulator.page` reports of one struct page, for tests that check refcounts and flags. */
export interface PageInfo {
  /** The page frame number asked for. */
  pfn: number;
  /** page_ref_count. */
  refcount: number;
  /** page_mapcount: how many page tables map it. */
  mapcount: number;
  /** The PG_* flags set, by name (locked, dirty, anon, ...). */
  flags: string[];
  /** The memory cgroup charged for it, or null if none. */
  memcg: string | null;
  /** ZONE_DEVICE for device-private memory, else the normal zone. */
  zone: 'normal' | 'device';
  /** compound_head: the head of the THP (or hugetlb page) this page belongs to; itself if none. */
  compoundHead: number;
  /** The head's folio_entire_mapcount (PMD mappings of the compound page); 0 for a small page. */
  entireMapcount: number;
}

/** RAM of a machine whose options name none, in pages: 256 MiB. */
export const RAM_PAGES_DEFAULT = 65_536;

/** A simulated machine: kernel, RAM, devices and drivers, seeded so that every run is reproducible. */
export class Simulator {
  /** The simulated kernel below the facade, for checkers and driver authors. */
  readonly kernel: Kernel;
  /** The run's seed: the same seed gives the same bytes. */
  readonly seed: number;
  /** The run's seeded PRNG, the only source of randomness in the simulation. */
  readonly prng: Prng;
  /** The event log the demo and the report read. */
  readonly log: EventLog;
  /** The drivers openDevice can open, by name: the built-in ones and any registerDriver adds. */
  readonly drivers = DriverRegistry.withBuiltins();
  /** This machine's event stream: HMM's and the device page tables' tracepoints (core/trace.ts). */
  readonly trace = new Tracepoints<SimTracepoints>();
  /** This machine's HMM settings (range validity, the stream), passed to every driver's mirror. */
  readonly hmm: HmmMachine;
  /** Each device's options, defaults filled in. */
  readonly deviceOptions: Required<DeviceOptions>[];
  private readonly devices: (DmirrorDevice | TestHmmDevice | undefined)[] = [];
  private nextPid = 1;
  private nextFile = 1;

  constructor(options?: SimulatorOptions) {
    const c = simulatorConfig(options);
    this.seed = c.seed;
    this.prng = new Prng(this.seed);
    this.deviceOptions = c.devices;
    this.log = new EventLog(c.logEvents);
    this.kernel = new Kernel({
      version: c.kernel,
      ramPages: c.ramPages,
      contents: c.contents,
      log: this.log,
      stepsMax: c.stepsMax,
      sectionPages: c.sectionPages,
      // each device's memory is hot-plugged when first used; its struct pages need not be copied then
      reservePages: c.devices.reduce((n, d) => n + sectionAlign(d.memoryPages, c.sectionPages), 0),
      thp: c.thp,
      hugetlbPages: c.hugetlbPages,
    });
    this.hmm = hmmMachine(c.protocol, this.trace);
  }

  /** The kernel release whose mm behaviour this machine follows. */
  get kernelVersion(): KernelVersion {
    return this.kernel.version;
  }

  /**
   * Memory pressure on demand: try_to_free_pages, whose one reclaimable kind of page here is the
   * lazyfree page MADV_FREE left clean (src/mm/vmscan.ts). Frees up to `nrPages` of them (default:
   * all) and returns how many it freed. Faults that run out of memory reclaim the same way first.
   */
  reclaim(nrPages = Number.POSITIVE_INFINITY): number {
    if (nrPages !== Number.POSITIVE_INFINITY) checkInt('nrPages', nrPages, 0, 2 ** 31);
    return this.run('reclaim', tryToFreePages(this.kernel, nrPages));
  }

  /** How HMM tracks range validity on this machine ('seed' or 'seq'). */
  get protocol(): HmmProtocol {
    return this.hmm.validity.protocol;
  }

  /** A new process with an empty address space, charged to `memcg` (default: the root cgroup). */
  createProcess(options?: { memcg?: MemCgroup }): Process {
    const opts = checkOptions<{ memcg?: MemCgroup }>('options', options, ['memcg']);
    const memcg =
      opts.memcg === undefined ? this.kernel.mem.memcgs.root : this.own('memcg', opts.memcg, MemCgroup);
    const mm = this.kernel.newMm(memcg.id);
    return new Process(this, this.nextPid++, mm);
  }

  /** Wraps an mm made by fork on this machine. */
  adoptProcess(mm: MmStruct): Process {
    return new Process(this, this.nextPid++, mm);
  }

  /**
   * Checks that `x` is a `cls` of this simulator (a Process, SimFile, DeviceFile, MemCgroup or
   * MmStruct): one made by another Simulator would act on that machine's state from this one.
   */
  own<T extends object>(name: string, x: unknown, cls: abstract new (...args: never[]) => T): T {
    return checkHandle(name, x, cls, (o) => this.owns(o));
  }

  private owns(o: object): boolean {
    if (o instanceof MmStruct) return o.kernel === this.kernel;
    if (o instanceof MemCgroup) return this.kernel.mem.memcgs.get(o.id) === o;
    return (o as { sim?: unknown }).sim === this;
  }

  /** A new in-memory file of `size` bytes (a tmpfs file: its data lives in the page cache). */
  createFile(size: number): SimFile {
    checkLength('size', size, false);
    const as = this.kernel.newAddressSpace(
      `file${this.nextFile++}`,
      size,
      false,
      this.kernel.mem.memcgs.root.id,
    );
    return new SimFile(this, as);
  }

  /** A memory cgroup with a unique non-empty name and a limit in pages (a non-negative safe integer). */
  createMemcg(name: string, limitPages: number): MemCgroup {
    if (typeof name !== 'string' || name === '')
      throw new ArgumentError('name', `expected a non-empty string, got ${describeValue(name)}`);
    checkInt('limitPages', limitPages, 0, Number.MAX_SAFE_INTEGER);
    const memcgs = this.kernel.mem.memcgs;
    if (memcgs.all().some((g) => g.name === name))
      throw new ArgumentError('name', `a memcg named '${name}' exists`);
    return memcgs.create(name, limitPages);
  }

  /**
   * open("/dev/hmm_dmirrorN") by process p. `api` picks the HMM generation the driver is written
   * against: 'seed' (default) opens the v5.3 dmirror, which registers an hmm_mirror on p's address
   * space; 'modern' opens today's test_hmm, which inserts an mmu interval notifier. A device's
   * memory belongs to the generation that first opened it. `variant` names the driver in
   * sim.drivers: on the seed API 'correct' (default), a broken variant of
   * src/drivers/dmirror/variants.ts or a registered one; on the modern API 'test_hmm' (default) or
   * a registered one. `policy` is what device faults migrate ('none', 'page', 'block:k' or a
   * MigrationPolicy; default 'none').
   */
  openDevice(
    n: number,
    p: Process,
    options?: { api?: HmmApi; variant?: DmirrorVariant | string; policy?: string | MigrationPolicy },
  ): DeviceFile {
    checkInt('n', n, 0, this.deviceOptions.length - 1);
    this.own('p', p, Process);
    const opts = checkOptions<NonNullable<typeof options>>('options', options, ['api', 'variant', 'policy']);
    const api = orDefault(opts.api, 'seed');
    if (api !== 'seed' && api !== 'modern')
      throw new ArgumentError('api', `expected 'seed' or 'modern', got ${describeValue(api)}`);
    const policy = checkPolicy(orDefault(opts.policy, 'none'));
    const driver =
      api === 'seed'
        ? this.createSeedDriver(n, p, opts.variant)
        : this.createModernDriver(n, p, opts.variant);
    driver.policy = policy;
    check(this.run('open', driver.open()), 'open');
    return new DeviceFile(this, p, driver);
  }

  private createSeedDriver(n: number, p: Process, variant: unknown): Driver {
    const name: unknown = orDefault(variant, 'correct');
    const checked = typeof name === 'string' && this.drivers.has(name) ? name : checkDmirrorVariant(name);
    p.alive();
    const tlbEntries = (this.deviceOptions[n] as Required<DeviceOptions>).tlbEntries;
    const ctx = { mdevice: this.device(n), mm: p.mm, hmm: this.hmm, trace: this.trace, tlbEntries };
    return this.drivers.create(checked, ctx);
  }

  private createModernDriver(n: number, p: Process, variant: unknown): Driver {
    const name: unknown = orDefault(variant, 'test_hmm');
    if (typeof name !== 'string' || !this.drivers.has(name, 'modern'))
      throw new ArgumentError(
        'variant',
        `expected a modern-API driver (${this.drivers.names('modern').join(', ')}), got ${describeValue(name)}`,
      );
    p.alive();
    const tlbEntries = (this.deviceOptions[n] as Required<DeviceOptions>).tlbEntries;
    return this.drivers.createModern(name, {
      mdevice: this.modernDevice(n),
      mm: p.mm,
      trace: this.trace,
      tlbEntries,
    });
  }

  /** Makes a driver openable on this machine by name (openDevice's `variant` option). */
  registerDriver(name: string, factory: DriverFactory): void {
    this.drivers.register(name, factory);
  }

  /** The seed-API dmirror device n (its memory is hot-plugged when first used). */
  device(n: number): DmirrorDevice {
    checkInt('n', n, 0, this.deviceOptions.length - 1);
    const d = this.devices[n];
    if (d instanceof DmirrorDevice) return d;
    if (d !== undefined)
      throw new ArgumentError('n', `device ${n} is in use by today's test_hmm ({ api: 'modern' })`);
    const o = this.deviceOptions[n] as Required<DeviceOptions>;
    if (o.kind !== 'private')
      throw new ArgumentError(
        'n',
        `device ${n} has ${o.kind} memory, which the seed API cannot use (open it with { api: 'modern' })`,
      );
    const made = new DmirrorDevice(this.kernel, n, o.memoryPages, { costProfile: o.costProfile });
    this.devices[n] = made;
    return made;
  }

  /** Today's test_hmm device n (struct dmirror_device of v6.19), created when first used. */
  modernDevice(n: number): TestHmmDevice {
    checkInt('n', n, 0, this.deviceOptions.length - 1);
    const d = this.devices[n];
    if (d instanceof TestHmmDevice) return d;
    if (d !== undefined)
      throw new ArgumentError('n', `device ${n} is in use by the seed-API dmirror ({ api: 'seed' })`);
    const o = this.deviceOptions[n] as Required<DeviceOptions>;
    const made = new TestHmmDevice(this.kernel, n, o.memoryPages, o.kind, { costProfile: o.costProfile });
    this.devices[n] = made;
    return made;
  }

  /** Device n's pages in use: allocated by its driver and not yet given back (0 before any open). */
  deviceUsedPages(n: number): number {
    checkInt('n', n, 0, this.deviceOptions.length - 1);
    const d = this.devices[n];
    if (d === undefined) return 0;
    return d instanceof DmirrorDevice ? d.device.memoryPages - d.freeCount : d.pagesInUse;
  }

  /** Device n's hardware, whichever generation drives it (the seed's when nobody has opened it yet). */
  private hardware(n: number): SimDevice {
    const d = this.devices[n];
    return d !== undefined ? d.device : this.device(n).device;
  }

  /** Device n's copy engine (its `trace` is the device_dma tracepoint the viewer records). */
  deviceDma(n: number): DmaEngine {
    checkInt('n', n, 0, this.deviceOptions.length - 1);
    return this.hardware(n).dma;
  }

  /** Device n's counters (a copy): TLB, faults, invalidations, migrations, DMA. */
  deviceCounters(n: number): DeviceCounters {
    checkInt('n', n, 0, this.deviceOptions.length - 1);
    return { ...this.hardware(n).counters };
  }

  /** Device n's simulated cost so far, µs per term and 'total' (src/device/cost.ts). */
  deviceCosts(n: number): Record<CostTerm | 'total', number> {
    checkInt('n', n, 0, this.deviceOptions.length - 1);
    return this.hardware(n).cost.costs();
  }

  /** Device n's simulated clock, µs: every cost charged to it so far (src/device/cost.ts). */
  deviceClockUs(n: number): number {
    checkInt('n', n, 0, this.deviceOptions.length - 1);
    return this.hardware(n).cost.nowUs;
  }

  /** An executor for multi-threaded scenarios on this machine. */
  executor(strategy?: Strategy): Executor {
    if (strategy !== undefined && typeof (strategy as Partial<Strategy> | null)?.pick !== 'function')
      throw new ArgumentError(
        'strategy',
        `expected a Strategy (an object with pick), got ${describeValue(strategy)}`,
      );
    return this.kernel.executor(strategy);
  }

  /** Runs one task to completion on its own executor (what every facade call does). */
  run<T>(name: string, task: Task<T>): T {
    if (typeof name !== 'string')
      throw new ArgumentError('name', `expected a string, got ${describeValue(name)}`);
    return this.kernel.executor().runTask(name, task);
  }

  /** The struct page of `pfn`, decoded. */
  page(pfn: number): PageInfo {
    const s = this.kernel.mem.store;
    checkInt('pfn', pfn, 0, Number.MAX_SAFE_INTEGER);
    s.checkPfn(pfn);
    const f = s.flags[pfn] as number;
    const names: [number, string][] = [
      [PG_locked, 'locked'],
      [PG_dirty, 'dirty'],
      [PG_anon, 'anon'],
      [PG_swapbacked, 'swapbacked'],
      [PG_reserved, 'reserved'],
      [PG_buddy, 'buddy'],
      [PG_head, 'head'],
      [PG_tail, 'tail'],
    ];
    const memcg = this.kernel.mem.memcgs.get(s.memcg[pfn] as number);
    return {
      pfn,
      refcount: s.refcount[pfn] as number,
      mapcount: s.mapcount[pfn] as number,
      flags: names.filter(([bit]) => f & bit).map(([, n]) => n),
      memcg: s.memcg[pfn] === 0 || memcg === undefined ? null : memcg.name,
      zone: s.zone[pfn] === ZONE_DEVICE ? 'device' : 'normal',
      compoundHead: s.compoundHead(pfn),
      entireMapcount: s.entireMapcountOf(pfn),
    };
  }

  /** RAM in pages and the kernel's event counters, for a run's summary. */
  stats(): {
    /** System RAM in pages (PAGE_SIZE each). */
    ramPages: number;
    /** RAM pages on the free lists now. */
    freePages: number;
    /** RAM pages allocated now: ramPages - freePages. */
    usedPages: number;
    /** The kernel's event counters by name (vm_event-style: faults, migrations, invalidations). */
    counters: Record<string, number>;
  } {
    const mem = this.kernel.mem;
    return {
      ramPages: mem.ramPages,
      freePages: mem.freePages,
      usedPages: mem.ramPages - mem.freePages,
      counters: this.kernel.counters.toJSON(),
    };
  }

  /** HugePages_Total of /proc/meminfo: pages in the 2 MiB hugetlb pool. */
  hugetlbTotal(): number {
    return this.kernel.hugetlb.total;
  }

  /** HugePages_Free: pool pages not mapped anywhere (reserved ones included, as in meminfo). */
  hugetlbFree(): number {
    return this.kernel.hugetlb.free;
  }

  /** HugePages_Rsvd: pages reserved by mappings and not yet faulted in. */
  hugetlbReserved(): number {
    return this.kernel.hugetlb.resv;
  }

  /** PAGE_SIZE in bytes (4,096). */
  get pageSize(): number {
    return PAGE_SIZE;
  }
}

const SIMULATOR_OPTIONS: readonly (keyof SimulatorOptions)[] = [
  'seed',
  'kernel',
  'thp',
  'hugetlbPages',
  'ramPages',
  'contents',
  'logEvents',
  'stepsMax',
  'devices',
  'protocol',
  'sectionPages',
];
const DEVICE_OPTIONS: readonly (keyof DeviceOptions)[] = ['memoryPages', 'tlbEntries', 'costProfile', 'kind'];
/** Events `logEvents` may keep as text (16 Mi). */
const LOG_EVENTS_MAX = 2 ** 24;
/** Devices one machine may have. */
const DEVICES_MAX = 16;

/** Every option checked (ArgumentError naming the bad or unknown one), defaults filled in. */
function simulatorConfig(options: unknown) {
  const opts = checkOptions<SimulatorOptions>('options', options, SIMULATOR_OPTIONS);
  const seed = parseSeed(orDefault(opts.seed, 0));
  const ramPages = orDefault(opts.ramPages, RAM_PAGES_DEFAULT);
  checkRamPages(ramPages);
  const { sectionPages, stepsMax } = opts;
  if (sectionPages !== undefined) checkInt('sectionPages', sectionPages, 1, PAGES_PER_SECTION);
  const contents = orDefault(opts.contents, true);
  checkBoolean('contents', contents);
  const logEvents = orDefault(opts.logEvents, 0);
  checkInt('logEvents', logEvents, 0, LOG_EVENTS_MAX);
  if (stepsMax !== undefined) checkInt('stepsMax', stepsMax, 1, Number.MAX_SAFE_INTEGER);
  const protocol = orDefault(opts.protocol, 'seed');
  if (!isHmmProtocol(protocol))
    throw new ArgumentError('protocol', `expected 'seed' or 'seq', got ${describeValue(protocol)}`);
  const devices = checkDevices(orDefault(opts.devices, [{}, {}]));
  // kernelBehaviour() names `kernel` in its ArgumentError; null is refused here, as for every option.
  const kernel = orDefault(opts.kernel, 'v5.3');
  kernelBehaviour(kernel);
  const thp = orDefault(opts.thp, 'madvise');
  if (typeof thp !== 'string' || !(THP_MODES as readonly string[]).includes(thp))
    throw new ArgumentError('thp', `expected one of ${THP_MODES.join(', ')}, got ${describeValue(thp)}`);
  const hugetlbPages = orDefault(opts.hugetlbPages, 0);
  checkInt('hugetlbPages', hugetlbPages, 0, Math.floor(ramPages / 512));
  return {
    seed,
    kernel,
    thp,
    hugetlbPages,
    ramPages,
    sectionPages,
    contents,
    logEvents,
    stepsMax,
    protocol,
    devices,
  };
}

/** An option's value, or its default when absent: only undefined is absent (null is checked, and rejected). */
function orDefault<T>(v: T | undefined, d: T): T {
  return v === undefined ? d : v;
}

function checkDevices(devices: unknown): Required<DeviceOptions>[] {
  if (!Array.isArray(devices) || devices.length > DEVICES_MAX)
    throw new ArgumentError(
      'devices',
      `expected an array of at most ${DEVICES_MAX} device options, got ${describeValue(devices)}`,
    );
  return devices.map((options: unknown, i) => {
    const d = checkOptions<DeviceOptions>(`devices[${i}]`, options, DEVICE_OPTIONS);
    const memoryPages = orDefault(d.memoryPages, 65_536);
    checkInt(`devices[${i}].memoryPages`, memoryPages, 1, 2 ** 24);
    const tlbEntries = orDefault(d.tlbEntries, DEVICE_TLB_ENTRIES_DEFAULT);
    checkTlbEntries(tlbEntries);
    const profile = orDefault(d.costProfile, COST_PROFILE_DEFAULT);
    if (typeof profile !== 'string')
      throw new ArgumentError('costProfile', `expected a profile name, got ${describeValue(profile)}`);
    const kind = orDefault(d.kind, 'private');
    if (!(DEVICE_MEMORY_KINDS as readonly unknown[]).includes(kind))
      throw new ArgumentError(
        `devices[${i}].kind`,
        `expected ${DEVICE_MEMORY_KINDS.map((k) => `'${k}'`).join(' or ')}, got ${describeValue(kind)}`,
      );
    return { memoryPages, tlbEntries, costProfile: costProfile(profile).name, kind };
  });
}
