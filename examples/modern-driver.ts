/**
 * A driver of your own on today's HMM API (Linux v6.19, `Documentation/mm/hmm.rst`), registered on
 * the simulator and used through the facade: minigpu, a device with a page table of its own that
 *
 *  - mirrors the opener's address space with an mmu interval notifier, whose invalidate erases the
 *    device entries under the driver lock after mmu_interval_set_seq (and skips the MMU_NOTIFY_MIGRATE
 *    events its own migrations issue, which carry it as owner);
 *  - fills its page table with hmm.rst's loop: mmu_interval_read_begin, mmap_read_lock,
 *    hmm_range_fault, -EBUSY again, lock, mmu_interval_read_retry, program, unlock;
 *  - has device-private memory of its own (memremap_pages with folio_free and migrate_to_ram);
 *  - migrates pages to it with migrate_vma_setup / pages / finalize, its copy and map between;
 *  - takes a page for device atomics with make_device_exclusive;
 *  - evicts its memory by pfn with migrate_device_range when told to release it;
 *
 * and then hands it to the race explorer, which runs every built-in scenario on it.
 *
 *   npx tsx examples/modern-driver.ts
 *
 * docs/writing-a-driver.md ("Today's API") quotes this file; test/examples.test.ts runs it, checks
 * what it prints, and checks that every snippet the doc quotes is still here, word for word.
 */

import { pathToFileURL } from 'node:url';
import {
  ArgumentError,
  currentOrNull,
  type DeviceKernel,
  type DmirrorReadResult,
  type DmirrorSnapshotResult,
  type DmirrorWriteResult,
  type Driver,
  device,
  dmirrorDevice,
  EBUSY,
  EFAULT,
  EINVAL,
  ENOENT,
  ENOTTY,
  ExploreDrivers,
  errnoName,
  explore,
  hmm,
  MADV_DONTNEED,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MMU_NOTIFY_EVENT_NAMES,
  MMU_NOTIFY_MIGRATE,
  MmuIntervalNotifier,
  type MmuNotifierRange,
  type ModernDriverContext,
  Mutex,
  mm,
  mmuIntervalNotifierInsert,
  mmuIntervalNotifierRemove,
  mmuIntervalReadBegin,
  mmuIntervalReadRetry,
  mmuIntervalSetSeq,
  PAGE_SIZE,
  POLICY_NONE,
  PROT_READ,
  PROT_WRITE,
  type Process,
  SCENARIOS,
  type ScenarioDriverFactory,
  Simulator,
  type Task,
} from 'hmmsim';

const { HMM_PFN_REQ_FAULT, HMM_PFN_REQ_WRITE, HMM_PFN_WRITE, hmmPfnTest, hmmPfnToPage, hmmRangeFault } =
  hmm.modern;

/** The interval minigpu mirrors: every user address (test_hmm inserts [0, ULONG_MAX & PAGE_MASK)). */
const WHOLE_AS = 2 ** 47;

/** One open of minigpu by one process. */
export class MiniGpu implements Driver {
  readonly driverName: string;
  readonly mm: mm.MmStruct;
  /** The device page table (the coherence checker compares it with the CPU's). */
  readonly pt: device.DevicePageTable;
  /** The driver lock: taken by invalidate and around every write of `pt`. */
  readonly mutex = new Mutex('minigpu.mutex');
  readonly notifier = new MmuIntervalNotifier();
  policy = POLICY_NONE;
  closed = false;
  /** What the driver did, for the printout. */
  readonly log: string[] = [];
  /** hmm_range_fault rounds and -EBUSY / read_retry restarts. */
  readonly stats = { walks: 0, ebusy: 0, retry: 0 };
  private readonly dma: device.DmaEngine;
  private pagemap: mm.MemremapPagemap | null = null;
  private readonly freePages: number[] = [];

  constructor(ctx: ModernDriverContext) {
    this.driverName = ctx.name;
    this.mm = ctx.mm;
    this.pt = new device.DevicePageTable(ctx.trace);
    this.dma = ctx.mdevice.device.dma;
  }

  // -- 1. the interval notifier ---------------------------------------------------------------------

  /** open(): device memory first, then the notifier over the whole address space. */
  *open(): Task<number> {
    const ret = this.addDeviceMemory(16);
    if (ret < 0) return ret;
    return yield* mmuIntervalNotifierInsert(this.notifier, this.mm, 0, WHOLE_AS, {
      invalidate: (sub, range, curSeq) => this.invalidate(sub, range, curSeq),
    });
  }

  invalidate(sub: MmuIntervalNotifier, range: MmuNotifierRange, curSeq: number): boolean | Task<boolean> {
    // Our own migration: migrate_vma holds the pages, and we update our table ourselves.
    if (range.event === MMU_NOTIFY_MIGRATE && range.owner === this) return true;
    if (!range.blockable) {
      if (!this.mutex.trylock()) return false; // the OOM reaper: "would have slept"
      this.eraseLocked(sub, range, curSeq);
      return true;
    }
    return this.invalidateBlocking(sub, range, curSeq);
  }

  private *invalidateBlocking(sub: MmuIntervalNotifier, range: MmuNotifierRange, curSeq: number) {
    yield* this.mutex.lock();
    this.eraseLocked(sub, range, curSeq);
    return true;
  }

  /** Under the mutex: publish the new sequence count, erase the range, unlock. */
  private eraseLocked(sub: MmuIntervalNotifier, range: MmuNotifierRange, curSeq: number): void {
    mmuIntervalSetSeq(sub, curSeq);
    const n = this.pt.eraseRange(range.start / PAGE_SIZE, Math.ceil(range.end / PAGE_SIZE));
    this.mutex.unlock();
    if (n > 0) this.log.push(`invalidate ${MMU_NOTIFY_EVENT_NAMES[range.event]}: erased ${n} entries`);
  }

  // -- 2. populating the device page table ----------------------------------------------------------

  /** Fault [start, end) in for the device (write access if `write`) and map it. 0 or -errno. */
  *populate(start: number, end: number, write: boolean): Task<number> {
    const range: hmm.modern.HmmRange = {
      notifier: this.notifier,
      notifierSeq: 0,
      start,
      end,
      hmmPfns: new Float64Array((end - start) / PAGE_SIZE),
      defaultFlags: HMM_PFN_REQ_FAULT + (write ? HMM_PFN_REQ_WRITE : 0),
      pfnFlagsMask: 0,
      devPrivateOwner: this, // our own device-private pages are reported, not faulted back
    };
    if (!this.mm.mmgetNotZero()) return -EFAULT;
    let ret: number;
    for (;;) {
      range.notifierSeq = yield* mmuIntervalReadBegin(this.notifier);
      yield* this.mm.mmapSem.downRead();
      ret = yield* hmmRangeFault(range);
      this.mm.mmapSem.upRead();
      this.stats.walks++;
      if (ret === -EBUSY) {
        this.stats.ebusy++;
        continue; // an invalidation ran during the walk: walk again
      }
      if (ret !== 0) break;
      yield* this.mutex.lock();
      if (mmuIntervalReadRetry(this.notifier, range.notifierSeq)) {
        this.mutex.unlock();
        this.stats.retry++;
        continue; // one ran since read_begin: the pfns may be stale
      }
      this.program(range);
      this.mutex.unlock();
      break;
    }
    yield* mm.mmput(this.mm);
    return ret;
  }

  /** Under the mutex: one device entry per page, writable if the CPU's is. */
  private program(range: hmm.modern.HmmRange): void {
    for (let i = 0; i < range.hmmPfns.length; i++) {
      const e = range.hmmPfns[i] as number;
      this.pt.store(range.start / PAGE_SIZE + i, hmmPfnToPage(e), hmmPfnTest(e, HMM_PFN_WRITE));
    }
  }

  // -- 3. device memory -----------------------------------------------------------------------------

  /** memremap_pages: `npages` of device-private memory owned by this driver. */
  private addDeviceMemory(npages: number): number {
    const kernel = this.mm.kernel;
    const res = mm.requestFreeMemRegion(kernel, npages * PAGE_SIZE);
    if (typeof res === 'number') return res;
    const pagemap: mm.MemremapPagemap = {
      type: mm.MEMORY_DEVICE_PRIVATE,
      owner: this, // what devPrivateOwner and pgmapOwner name
      range: { start: res.start, end: res.start + npages * PAGE_SIZE - 1 },
      pfnFirst: 0,
      pfnLast: 0,
      ops: {
        folioFree: (pfn) => this.freePages.push(pfn), // the last reference is gone
        migrateToRam: (vmf) => this.migrateToRam(vmf), // the CPU touched one of our pages
      },
    };
    const first = mm.memremapPages(kernel, pagemap);
    if (first < 0) return first;
    for (let pfn = pagemap.pfnLast - 1; pfn >= pagemap.pfnFirst; pfn--) this.freePages.push(pfn);
    this.pagemap = pagemap;
    return 0;
  }

  /** A free device page, referenced and locked (zone_device_page_init), or -1. */
  private allocDevicePage(): number {
    const pfn = this.freePages.pop();
    if (pfn === undefined) return -1;
    mm.zoneDevicePageInit(this.mm.kernel, pfn);
    return pfn;
  }

  owns(pfn: number): boolean {
    const pm = this.pagemap;
    return pm !== null && pfn >= pm.pfnFirst && pfn < pm.pfnLast;
  }

  get pgmapOwner(): unknown {
    return this;
  }

  /** Device pages on the free list. */
  get freeDevicePages(): number {
    return this.freePages.length;
  }

  // -- 4. migrating to the device -------------------------------------------------------------------

  /** Move [addr, addr + npages pages) to device memory, map it, read it back. */
  *migrate(addr: number, npages: number): Task<DmirrorReadResult | number> {
    const vma = this.mm.vmaAt(addr);
    if (vma === null || addr + npages * PAGE_SIZE > vma.end) return -EINVAL;
    const args: mm.MigrateVma = {
      vma,
      src: new Float64Array(npages),
      dst: new Float64Array(npages),
      start: addr,
      end: addr + npages * PAGE_SIZE,
      pgmapOwner: this, // the MIGRATE invalidation carries it: our invalidate skips it
      flags: mm.MIGRATE_VMA_SELECT_SYSTEM,
      cpages: 0,
      npages: 0,
    };
    yield* this.mm.mmapSem.downRead();
    const ret = yield* mm.migrateVmaSetup(args);
    if (ret === 0) {
      this.allocAndCopy(args); // our step: a device page per collected page, the data copied
      yield* mm.migrateVmaPages(args); // the CPU entries become device-private entries
      yield* this.mapMigrated(args); // our step: map what moved, under the driver lock
      mm.migrateVmaFinalize(args); // unlock and release the pages
    }
    this.mm.mmapSem.upRead();
    if (ret !== 0) return ret;
    return yield* this.read(addr, npages);
  }

  private allocAndCopy(args: mm.MigrateVma): void {
    const src = args.src as Float64Array;
    const dst = args.dst as Float64Array;
    const to: number[] = [];
    const from: number[] = [];
    for (let i = 0; i < args.npages; i++) {
      const flags = mm.migratePfnFlags(src[i] as number);
      if (!(flags & mm.MIGRATE_PFN_MIGRATE)) continue;
      const dpage = this.allocDevicePage();
      if (dpage < 0) continue; // out of device memory: this page stays where it is
      dst[i] = mm.migratePfnSet(mm.migratePfn(dpage), flags & mm.MIGRATE_PFN_WRITE); // writable iff it was
      to.push(dpage);
      from.push(mm.migratePfnToPage(src[i] as number)); // -1 for a hole: zero-filled
    }
    this.dma.submit(to, from);
  }

  private *mapMigrated(args: mm.MigrateVma): Task {
    const src = args.src as Float64Array;
    const dst = args.dst as Float64Array;
    yield* this.mutex.lock();
    for (let i = 0; i < args.npages; i++) {
      const dpage = mm.migratePfnToPage(dst[i] as number);
      if (dpage < 0 || !(mm.migratePfnFlags(src[i] as number) & mm.MIGRATE_PFN_MIGRATE)) continue;
      const write = (mm.migratePfnFlags(dst[i] as number) & mm.MIGRATE_PFN_WRITE) !== 0;
      this.pt.store(args.start / PAGE_SIZE + i, dpage, write);
    }
    this.mutex.unlock();
  }

  // -- 5. the CPU touches a device page: migrate_to_ram ---------------------------------------------

  *migrateToRam(vmf: mm.DevFault): Task<number> {
    const start = vmf.address - (vmf.address % PAGE_SIZE);
    const args: mm.MigrateVma = {
      vma: vmf.vma as mm.Vma,
      src: new Float64Array(1),
      dst: new Float64Array(1),
      start,
      end: start + PAGE_SIZE,
      pgmapOwner: this,
      flags: mm.MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
      faultPage: vmf.pfn, // locked by the fault path
      cpages: 0,
      npages: 0,
    };
    if ((yield* mm.migrateVmaSetup(args)) !== 0) return mm.VM_FAULT_SIGBUS;
    const src = args.src as Float64Array;
    const dst = args.dst as Float64Array;
    if (mm.migratePfnFlags(src[0] as number) & mm.MIGRATE_PFN_MIGRATE) {
      const mem = this.mm.kernel.mem;
      const page = mem.allocPage();
      if (page < 0) {
        mm.migrateVmaFinalize(args);
        return mm.VM_FAULT_OOM;
      }
      mem.trylockPage(page); // a new page: the lock is free
      this.dma.submit([page], [mm.migratePfnToPage(src[0] as number)]);
      dst[0] = mm.migratePfn(page);
      // Our invalidate skipped this MIGRATE event: drop the device entry ourselves.
      yield* this.mutex.lock();
      this.pt.erase(start / PAGE_SIZE);
      this.mutex.unlock();
      this.log.push(`migrate_to_ram: the CPU touched device pfn ${vmf.pfn}, now in RAM`);
    }
    yield* mm.migrateVmaPages(args);
    mm.migrateVmaFinalize(args);
    return 0;
  }

  // -- 6. device atomics ----------------------------------------------------------------------------

  /** Take each page for device atomics: the CPU's next access restores it first. */
  *exclusive(addr: number, npages: number): Task<DmirrorReadResult | number> {
    const mem = this.mm.kernel.mem;
    yield* this.mm.mmapSem.downRead();
    let ret = 0;
    for (let a = addr; a < addr + npages * PAGE_SIZE && ret === 0; a += PAGE_SIZE) {
      const pfn = yield* mm.makeDeviceExclusive(this.mm, a, this);
      if (pfn < 0) {
        ret = pfn;
        break;
      }
      yield* this.mutex.lock();
      this.pt.storeAtomic(a / PAGE_SIZE, pfn);
      this.mutex.unlock();
      mem.unlockPage(mem.store.compoundHead(pfn));
      mem.putPage(pfn);
    }
    this.mm.mmapSem.upRead();
    if (ret < 0) return ret;
    return yield* this.read(addr, npages);
  }

  // -- 7. eviction ----------------------------------------------------------------------------------

  /** Evict every page of our memory in use, whoever maps it, to system memory, by pfn. */
  *release(_addr: number, _npages: number): Task<{ cpages: number; faults: number } | number> {
    const pm = this.pagemap;
    if (pm === null) return { cpages: 0, faults: 0 };
    const kernel = this.mm.kernel;
    const npages = pm.pfnLast - pm.pfnFirst;
    const src = new Float64Array(npages);
    const dst = new Float64Array(npages);
    yield* mm.migrateDeviceRange(kernel, src, pm.pfnFirst, npages);
    const to: number[] = [];
    const from: number[] = [];
    for (let i = 0; i < npages; i++) {
      if (!(mm.migratePfnFlags(src[i] as number) & mm.MIGRATE_PFN_MIGRATE)) continue;
      const page = kernel.mem.allocPage();
      if (page < 0) continue; // stays on the device
      kernel.mem.trylockPage(page);
      dst[i] = mm.migratePfn(page);
      to.push(page);
      from.push(mm.migratePfnToPage(src[i] as number));
    }
    this.dma.submit(to, from);
    yield* mm.migrateDevicePages(kernel, src, dst, npages);
    mm.migrateDeviceFinalize(kernel, src, dst, npages);
    return { cpages: to.length, faults: 0 };
  }

  // -- the rest of the Driver interface -------------------------------------------------------------

  /** The device reads through its table; a page it does not map is faulted in first. */
  *read(addr: number, npages: number): Task<DmirrorReadResult | number> {
    const data = new Uint8Array(npages * PAGE_SIZE);
    let faults = 0;
    for (;;) {
      yield* this.mutex.lock();
      const missing = this.copy(addr, npages, data, false);
      this.mutex.unlock();
      if (missing < 0) return { data, cpages: npages, faults };
      const ret = yield* this.populate(missing, addr + npages * PAGE_SIZE, false);
      if (ret !== 0) return ret;
      faults++;
    }
  }

  /** The device writes `bytes` (whole pages) through its table, write-faulting what it must. */
  *write(addr: number, bytes: Uint8Array): Task<DmirrorWriteResult | number> {
    const npages = Math.ceil(bytes.length / PAGE_SIZE);
    const data = new Uint8Array(npages * PAGE_SIZE);
    data.set(bytes);
    let faults = 0;
    for (;;) {
      yield* this.mutex.lock();
      const missing = this.copy(addr, npages, data, true);
      this.mutex.unlock();
      if (missing < 0) return { cpages: npages, faults };
      const ret = yield* this.populate(missing, addr + npages * PAGE_SIZE, true);
      if (ret !== 0) return ret;
      faults++;
    }
  }

  /** Under the mutex: copy page by page; the first address the table cannot serve, or -ENOENT if none. */
  private copy(addr: number, npages: number, data: Uint8Array, write: boolean): number {
    for (let i = 0; i < npages; i++) {
      const vpn = addr / PAGE_SIZE + i;
      const pfn = this.pt.pfnOf(vpn);
      if (pfn < 0 || (write && !this.pt.isWritable(vpn))) return addr + i * PAGE_SIZE;
      if (write) this.dma.write(pfn, 0, data, i * PAGE_SIZE, PAGE_SIZE);
      else this.dma.read(pfn, 0, data, i * PAGE_SIZE, PAGE_SIZE);
    }
    return -ENOENT;
  }

  // biome-ignore lint/correctness/useYield: minigpu has no SNAPSHOT
  *snapshot(_addr: number, _npages: number): Task<DmirrorSnapshotResult | number> {
    return -ENOTTY;
  }

  // biome-ignore lint/correctness/useYield: refuses before its first step
  *launch<T>(_kernel: DeviceKernel<T>): Task<T[]> {
    throw new ArgumentError('fd', 'minigpu runs no device kernels');
  }

  *close(): Task {
    this.closed = true;
    yield* mmuIntervalNotifierRemove(this.notifier);
    yield* this.mutex.lock();
    this.pt.clear();
    this.mutex.unlock();
  }

  updateLockHeld(): boolean {
    return this.mutex.owner !== null && this.mutex.owner === currentOrNull();
  }
}

// -- the program ------------------------------------------------------------------------------------

/** What main() printed, as data. */
export interface Facts {
  /** 1. the device read: its bytes, fault rounds, walks. */
  firstRead: { text: string; faults: number; walks: number };
  /** 2. after MADV_DONTNEED of page 3: device entries left, and what the notifier said. */
  afterDontneed: { entries: number; log: string[] };
  /** 3. after migrating pages 0-3: the CPU's entry kinds, the device page free count, the read-back. */
  migrated: { kinds: string[]; free: number; text: string };
  /** 4. the CPU read of page 0: what the driver logged, the entry kind after. */
  cpuTouch: { log: string[]; kind: string; text: string };
  /** 5. exclusive on page 4, then a CPU write: kinds before/after, the notifier's log of each. */
  exclusive: { kindBefore: string; kindAfter: string; taking: string[]; cpuWrite: string[] };
  /** 6. release: pages evicted, device pages free, kinds after, page 2's bytes back in RAM. */
  release: { cpages: number; free: number; kinds: string[]; text: string };
  /** 7. the explorer: per built-in scenario, the violation (null) and the schedules it ran. */
  explored: { scenario: string; violation: string | null; schedules: number; complete: boolean }[];
}

/** minigpu for the explorer: each explored machine registers it and opens it with { api: 'modern' }. */
export const exploreMiniGpu: ScenarioDriverFactory = Object.assign(
  (sim: Simulator, n: number, p: Process) => {
    if (!sim.drivers.has('minigpu', 'modern'))
      sim.drivers.registerModern('minigpu', (ctx) => new MiniGpu(ctx));
    return dmirrorDevice(sim.openDevice(n, p, { api: 'modern', variant: 'minigpu' }), n);
  },
  { kernel: 'v6.19' as const }, // explored machines follow today's mm
);

/** The bytes up to the first NUL, as text. */
const text = (b: Uint8Array): string => {
  const nul = b.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? b : b.subarray(0, nul));
};

export function main(log: (line: string) => void = console.log): Facts {
  // Today's driver on today's mm (kernel: 'v6.19'); { api: 'modern' } runs on a v5.3 mm core too.
  const sim = new Simulator({
    seed: 1,
    kernel: 'v6.19',
    ramPages: 1024,
    devices: [{ kind: 'private', memoryPages: 16 }],
  });
  // Register the driver on this machine, for { api: 'modern' } opens.
  let gpu: MiniGpu | null = null;
  sim.drivers.registerModern('minigpu', (ctx) => {
    gpu = new MiniGpu(ctx);
    return gpu;
  });
  const p = sim.createProcess();
  const a = p.mmap(8 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  p.write(a, new TextEncoder().encode('hello from the CPU'));
  p.write(a + 2 * PAGE_SIZE, new TextEncoder().encode('page two'));
  const fd = sim.openDevice(0, p, { api: 'modern', variant: 'minigpu' });
  const drv = gpu as unknown as MiniGpu;
  const kinds = (n: number) => Array.from({ length: n }, (_, i) => p.pte(a + i * PAGE_SIZE).kind);
  const drain = (): string[] => drv.log.splice(0);

  log(`opened minigpu on device 0 (${drv.freeDevicePages} device-private pages of its own)`);

  log('\n1. the device reads 8 pages: hmm_range_fault fills its page table');
  const r = fd.read(a, 8);
  const firstRead = { text: text(r.data), faults: r.faults, walks: drv.stats.walks };
  log(`   read "${firstRead.text}"; fault rounds ${r.faults}, hmm_range_fault walks ${drv.stats.walks}`);
  log(`   device entries: ${drv.pt.size}`);

  log('\n2. the CPU drops page 3 (MADV_DONTNEED): the interval notifier erases it from the device');
  p.madvise(a + 3 * PAGE_SIZE, PAGE_SIZE, MADV_DONTNEED);
  const afterDontneed = { entries: drv.pt.size, log: drain() };
  for (const l of afterDontneed.log) log(`   ${l}`);
  log(`   device entries: ${afterDontneed.entries}`);

  log('\n3. migrate pages 0-3 to device memory (migrate_vma_setup / pages / finalize)');
  const m = fd.migrate(a, 4);
  const migrated = { kinds: kinds(4), free: drv.freeDevicePages, text: text(m.data) };
  log(`   CPU entries: ${migrated.kinds.join(', ')}`);
  log(`   device pages free: ${migrated.free}; the device reads "${migrated.text}" from its own memory`);
  log(`   notifier calls seen by the driver: ${drain().length} (its own MIGRATE event is skipped)`);

  log('\n4. the CPU reads page 0: migrate_to_ram brings it back');
  const back = text(p.read(a, 18));
  const cpuTouch = { log: drain(), kind: p.pte(a).kind, text: back };
  for (const l of cpuTouch.log) log(`   ${l}`);
  log(`   the CPU reads "${back}"; page 0 is ${cpuTouch.kind} again`);

  log('\n5. page 4 taken for device atomics (make_device_exclusive), then a CPU write');
  fd.exclusive(a + 4 * PAGE_SIZE, 1);
  const taking = drain();
  for (const l of taking) log(`   ${l} (GUP's write fault broke the zero page's COW)`);
  const kindBefore = p.pte(a + 4 * PAGE_SIZE).kind;
  p.write(a + 4 * PAGE_SIZE, new Uint8Array([1]));
  const cpuWrite = drain();
  const exclusive = { kindBefore, kindAfter: p.pte(a + 4 * PAGE_SIZE).kind, taking, cpuWrite };
  for (const l of cpuWrite) log(`   ${l} (the CPU write revoked the device's atomic entry)`);
  log(`   CPU entry: ${kindBefore}; after the CPU write: ${exclusive.kindAfter}`);

  log('\n6. release: evict the device memory by pfn (migrate_device_range)');
  const rel = fd.release(a, 1);
  const release = {
    cpages: rel.cpages,
    free: drv.freeDevicePages,
    kinds: kinds(4),
    text: text(p.read(a + 2 * PAGE_SIZE, 8)),
  };
  log(`   evicted ${release.cpages} pages; device pages free: ${release.free}`);
  log(`   CPU entries: ${release.kinds.join(', ')}; page 2 reads "${release.text}"`);

  fd.close();
  p.exit();
  log(`   closed; a SNAPSHOT on minigpu would answer ${errnoName(-ENOTTY)}`);

  log('\n7. the explorer runs every built-in scenario on minigpu (every schedule, up to 2 preemptions)');
  const drivers = new ExploreDrivers();
  drivers.register('minigpu', exploreMiniGpu);
  const explored = SCENARIOS.map((s) => {
    const res = explore(s.name, { driver: 'minigpu', drivers });
    const v = res.violation === null ? null : `${res.violation.checker}: ${res.violation.message}`;
    return { scenario: s.name, violation: v, schedules: res.schedulesExplored, complete: res.complete };
  });
  for (const e of explored)
    log(
      `   ${e.scenario}: ${e.violation ?? 'no violation'}, ${e.schedules} schedules, complete: ${e.complete}`,
    );
  return { firstRead, afterDontneed, migrated, cpuTouch, exclusive, release, explored };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
