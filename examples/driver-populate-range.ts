/**
 * The usage pattern of Documentation/vm/hmm.rst (Linux v5.3), "Address space mirroring
 * implementation and API", as a runnable program: a minimal device driver of its own (not dmirror)
 * that mirrors a process address space with an hmm_mirror and populates its device page table with
 * `driver_populate_range`, line by line, using the flags/values tables and the default_flags /
 * pfn_flags_mask policy of the document's "Leverage default_flags and pfn_flags_mask" section.
 *
 *   npx tsx examples/driver-populate-range.ts
 *
 * What it shows, in order:
 *  1. populating 8 pages: read everywhere, write for one page (default_flags = VALID,
 *     pfn_flags_mask = WRITE, pfns[k] = WRITE), and what hmm_range_fault reports for each page;
 *  2. a CPU munmap: the mirror's sync_cpu_device_pagetables() takes the driver's update lock and
 *     erases the device entries before the CPU page table changes;
 *  3. the same populate racing a CPU MADV_DONTNEED, under several schedules of the explorer
 *     (sim.executor(strategy)): some schedules make the driver retry, and in every one the device
 *     never maps a page the CPU no longer maps;
 *  4. the rule for a non-blockable update (the OOM reaper): the callback may only trylock the update
 *     lock, and returns -EAGAIN when the device is busy with it.
 *
 * `main(log)` returns the facts it printed, so test/examples.test.ts keeps this file honest.
 */

import { pathToFileURL } from 'node:url';
import {
  EAGAIN,
  EBUSY,
  errnoName,
  hmm,
  MADV_DONTNEED,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  Mutex,
  mm,
  msleep,
  PROT_READ,
  PROT_WRITE,
  type Process,
  RandomStrategy,
  Simulator,
  type Task,
} from 'hmmsim';

const PAGE_SIZE = 4096;
const PAGE_SHIFT = 12;

// -- the driver's entry format ---------------------------------------------------------------------
//
// hmm.rst writes `range.flags[HMM_PFN_VALID] = (1 << 63); range.flags[HMM_PFN_WRITE] = (1 << 62);`.
// hmmsim's entries are JS numbers, `pfn * 2**pfnShift + flags` (docs/fidelity.md), so a driver puts
// its flag bits below pfnShift; this one uses the top two of its 8 flag bits, in the doc's spirit.
const PFN_SHIFT = 8;
const VALID = 1 << 7; // the doc's 1 << 63
const WRITE = 1 << 6; // the doc's 1 << 62
const DEVICE_PRIVATE = 1 << 5;
const ERROR = 0x01; // values[] are whole entries, never VALID
const NONE = 0x00;
const SPECIAL = 0x02;

/** range.flags: the driver's bit for each HMM flag, indexed by HMM_PFN_VALID / _WRITE / _DEVICE_PRIVATE. */
const FLAGS: number[] = [];
FLAGS[hmm.HMM_PFN_VALID] = VALID;
FLAGS[hmm.HMM_PFN_WRITE] = WRITE;
FLAGS[hmm.HMM_PFN_DEVICE_PRIVATE] = DEVICE_PRIVATE;

/** range.values: the driver's whole entry for each special state, indexed by HMM_PFN_ERROR / _NONE / _SPECIAL. */
const VALUES: number[] = [];
VALUES[hmm.HMM_PFN_ERROR] = ERROR;
VALUES[hmm.HMM_PFN_NONE] = NONE;
VALUES[hmm.HMM_PFN_SPECIAL] = SPECIAL;

// -- a minimal driver --------------------------------------------------------------------------------

/** One device context mirroring one process: its page table, its update lock, its mirror. */
class ToyDriver {
  readonly name: string;
  readonly mm: mm.MmStruct;
  /** The device page table: virtual page number -> { pfn, write }. */
  readonly pt = new Map<number, { pfn: number; write: boolean }>();
  /** hmm.rst's `driver->update`: taken by sync_cpu_device_pagetables and around hmm_range_valid(). */
  readonly update: Mutex;
  readonly mirror: hmm.HmmMirror;
  /** What happened, for the printout. */
  readonly events: string[] = [];
  retries = { ebusy: 0, invalid: 0, lostWrite: 0 };

  constructor(name: string, p: Process) {
    this.name = name;
    this.mm = p.mm;
    this.update = new Mutex(`${name}.update`);
    this.mirror = new hmm.HmmMirror({
      syncCpuDevicePagetables: (_mirror, update) => this.syncCpuDevicePagetables(update),
      release: () => this.release(),
    });
  }

  /** hmm_mirror_register needs mmap_sem held for write. */
  *open(): Task<number> {
    yield* this.mm.mmapSem.downWrite();
    try {
      return hmm.hmmMirrorRegister(this.mirror, this.mm);
    } finally {
      this.mm.mmapSem.upWrite();
    }
  }

  *close(): Task {
    yield* hmm.hmmMirrorUnregister(this.mirror);
  }

  /**
   * sync_cpu_device_pagetables(): called (through the mm's mmu notifier) BEFORE the CPU page table
   * changes over [update.start, update.end). It must erase (or write-protect) the device entries
   * there and return only when the device can no longer use them. It takes the same update lock
   * the populate path holds around hmm_range_valid(). When the update may not block (the OOM
   * reaper), it may only trylock, and returns -EAGAIN if it would have to sleep.
   */
  syncCpuDevicePagetables(update: hmm.HmmUpdate): number | Task<number> {
    if (!update.blockable) {
      if (!this.update.trylock()) {
        this.events.push(
          `sync_cpu_device_pagetables(${span(update)}, blockable=false): update lock busy -> -EAGAIN`,
        );
        return -EAGAIN;
      }
      this.erase(update, false);
      this.update.unlock();
      return 0;
    }
    return this.syncBlocking(update);
  }

  private *syncBlocking(update: hmm.HmmUpdate): Task<number> {
    yield* this.update.lock();
    this.erase(update, true);
    this.update.unlock();
    return 0;
  }

  private erase(update: hmm.HmmUpdate, blockable: boolean): void {
    let n = 0;
    for (let vpn = update.start / PAGE_SIZE; vpn < update.end / PAGE_SIZE; vpn++)
      if (this.pt.delete(vpn)) n++;
    this.events.push(
      `sync_cpu_device_pagetables(${span(update)}, blockable=${blockable}): erased ${n} device entries`,
    );
  }

  /** release(): the mm is going away; stop every device access to it. */
  private *release(): Task {
    yield* this.update.lock();
    this.pt.clear();
    this.update.unlock();
  }
}

function span(u: { start: number; end: number }): string {
  return `[0x${u.start.toString(16)}, 0x${u.end.toString(16)})`;
}

// -- driver_populate_range, as hmm.rst writes it -----------------------------------------------------

/**
 * Populate the device page table over [start, end): read access everywhere, and write access for
 * the page at index `writeIndex` (or none). Returns 0 or -errno.
 */
function* driverPopulateRange(
  driver: ToyDriver,
  start: number,
  end: number,
  writeIndex: number | null,
): Task<number> {
  const npages = (end - start) / PAGE_SIZE;
  // range.start = ...; range.end = ...; range.pfns = ...; range.flags = ...; range.values = ...;
  // range.pfn_shift = ...;
  const range = new hmm.HmmRange({
    pfns: new Float64Array(npages),
    flags: FLAGS,
    values: VALUES,
    pfnShift: PFN_SHIFT,
    // "Leverage default_flags and pfn_flags_mask": at least read everywhere ...
    defaultFlags: VALID,
    // ... and let each entry's own WRITE bit through, so one page can ask for write.
    pfnFlagsMask: writeIndex === null ? 0 : WRITE,
  });
  // range->pfns[index_of_write] = (1 << 62);
  if (writeIndex !== null) range.pfns[writeIndex] = WRITE;
  const request = range.pfns.slice();

  // hmm_range_register(&range). v5.3 takes (range, mirror, start, end, page_shift).
  let ret = hmm.hmmRangeRegister(range, driver.mirror, start, end, PAGE_SHIFT);
  if (ret) return ret;

  // Just wait for range to be valid, safe to ignore return value as we will use the return value
  // of hmm_range_fault() below under the mmap_sem to ascertain the validity of the range.
  yield* hmm.hmmRangeWaitUntilValid(range, hmm.HMM_RANGE_DEFAULT_TIMEOUT);

  for (;;) {
    // again:
    yield* driver.mm.mmapSem.downRead();
    // The doc calls hmm_range_snapshot() here; hmm_range_fault() is the same pattern and faults
    // what the requests ask for. `block` = true: faults may sleep, mmap_sem stays held.
    ret = yield* hmm.hmmRangeFault(range, true);
    // The doc tests `if (ret)`, but success is a page count >= 0: only ret < 0 is an error.
    if (ret < 0) {
      driver.mm.mmapSem.upRead();
      if (ret === -EBUSY) {
        // No need to check hmm_range_wait_until_valid() return value: on retry we will get the
        // proper error from hmm_range_fault().
        driver.retries.ebusy++;
        yield* hmm.hmmRangeWaitUntilValid(range, hmm.HMM_RANGE_DEFAULT_TIMEOUT);
        range.pfns.set(request); // the walk wrote results over the requests
        continue; // goto again
      }
      yield* hmm.hmmRangeUnregister(range);
      return ret;
    }
    // Not in hmm.rst, but needed with v5.3: when a page before the one asking for write has to be
    // faulted, HMM faults the rest of the PMD chunk with THAT page's read decision and overwrites
    // the requests there with NONE first (docs/kernel-hmm.md §2.10), so a write request can come back
    // read-only. Ask again: the pages are present now, and the write request is honoured.
    if (writeIndex !== null && !(hmm.hmmEntryFlags(range, range.pfns[writeIndex] as number) & WRITE)) {
      driver.retries.lostWrite++;
      driver.mm.mmapSem.upRead();
      range.pfns.set(request);
      continue; // goto again
    }
    // take_lock(driver->update): the lock sync_cpu_device_pagetables() takes.
    yield* driver.update.lock();
    if (!hmm.hmmRangeValid(range)) {
      // An invalidation overlapped the range since the walk: what pfns says may be stale.
      driver.retries.invalid++;
      driver.update.unlock();
      driver.mm.mmapSem.upRead();
      range.pfns.set(request);
      continue; // goto again
    }

    // Use pfns array content to update device page table.
    for (let i = 0; i < npages; i++) {
      const e = range.pfns[i] as number;
      const pfn = hmm.hmmDeviceEntryToPfn(range, e);
      if (pfn < 0) continue; // NONE, ERROR or SPECIAL: nothing to map
      const write = (hmm.hmmEntryFlags(range, e) & WRITE) !== 0;
      driver.pt.set(start / PAGE_SIZE + i, { pfn, write });
    }

    yield* hmm.hmmRangeUnregister(range);
    driver.update.unlock();
    driver.mm.mmapSem.upRead();
    return 0;
  }
}

// -- the program --------------------------------------------------------------------------------------

/** What main() printed, as data. */
export interface Facts {
  /** Step 1: per page of the range, 'R', 'W' or '-' (not mapped by the device). */
  populated: string;
  /** Step 1: passes that came back without the requested write (v5.3's lost request). */
  lostWrite: number;
  /** Step 1: device pfns per page (the shared zero page shows up for pages only read). */
  pfns: number[];
  zeroPfn: number;
  /** Step 2: the mirror's callback lines during the munmap, and the device table after it. */
  munmapEvents: string[];
  afterMunmap: string;
  /** Step 3: one line per schedule: its seed, the populate's result, retries, device entries. */
  schedules: {
    seed: number;
    ret: number;
    ebusy: number;
    invalid: number;
    mapped: number;
    coherent: boolean;
  }[];
  /** Step 4: the non-blockable update with the lock held, then free. */
  reaperBusy: boolean;
  reaperEvents: string[];
  reaperFree: boolean;
}

/** The device table over npages from start, one letter per page. */
function table(driver: ToyDriver, start: number, npages: number): string {
  let s = '';
  for (let i = 0; i < npages; i++) {
    const e = driver.pt.get(start / PAGE_SIZE + i);
    s += e === undefined ? '-' : e.write ? 'W' : 'R';
  }
  return s;
}

/** hmm.h's invariant: every device entry maps the frame the CPU maps there, writable only if the CPU's is. */
function coherent(driver: ToyDriver, p: Process): boolean {
  for (const [vpn, e] of driver.pt) {
    const pte = p.pte(vpn * PAGE_SIZE);
    if (pte.kind !== 'present' || pte.pfn !== e.pfn || (e.write && !pte.write)) return false;
  }
  return true;
}

export function main(log: (line: string) => void = console.log): Facts {
  const NPAGES = 8;
  const WRITE_INDEX = 5;
  const sim = new Simulator({ seed: 1, ramPages: 1024, devices: [] });
  const p = sim.createProcess();
  const a = p.mmap(NPAGES * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  p.write(a, new TextEncoder().encode('hello from the CPU')); // page 0: written (writable PTE)
  p.read(a + 3 * PAGE_SIZE, 1); // page 3: read (the shared zero page, read-only)

  const driver = new ToyDriver('toydev', p);
  const reg = sim.run('open', driver.open());
  log(`hmm_mirror_register: ${reg}`);

  // 1. Read everywhere, write for page WRITE_INDEX.
  log(
    `\n1. driver_populate_range over ${NPAGES} pages: default_flags = VALID, pfn_flags_mask = WRITE, pfns[${WRITE_INDEX}] = WRITE`,
  );
  const ret = sim.run('populate', driverPopulateRange(driver, a, a + NPAGES * PAGE_SIZE, WRITE_INDEX));
  const lostWrite = driver.retries.lostWrite;
  const populated = table(driver, a, NPAGES);
  const pfns = Array.from({ length: NPAGES }, (_, i) => driver.pt.get(a / PAGE_SIZE + i)?.pfn ?? -1);
  const zeroPfn = mm.ZERO_PFN;
  log(
    `   first pass: page ${WRITE_INDEX}'s write request was lost in a read fault of its chunk; asked again: ${lostWrite} time(s)`,
  );
  log(`   returned ${ret}; device table (R read-only, W writable): ${populated}`);
  for (let i = 0; i < NPAGES; i++) {
    const why =
      i === 0
        ? 'the CPU maps it writable: HMM reports WRITE whatever was asked'
        : i === WRITE_INDEX
          ? 'write requested: HMM write-faulted it (a private copy of the zero page)'
          : i > WRITE_INDEX
            ? "v5.3 faults the rest of the PMD chunk with the first faulting page's write decision"
            : 'read only: the shared zero page';
    log(`   page ${i}: pfn ${pfns[i]} ${populated[i]}  (${why})`);
  }
  log(`   device and CPU agree: ${coherent(driver, p)}`);

  // 2. A CPU munmap of the last two pages: the device entries go first.
  log(`\n2. CPU munmap of pages 6-7`);
  driver.events.length = 0;
  p.munmap(a + 6 * PAGE_SIZE, 2 * PAGE_SIZE);
  const munmapEvents = [...driver.events];
  for (const e of munmapEvents) log(`   ${e}`);
  const afterMunmap = table(driver, a, NPAGES);
  log(`   device table now: ${afterMunmap}; device and CPU agree: ${coherent(driver, p)}`);

  // 3. The populate racing a CPU MADV_DONTNEED, under several random schedules.
  log(`\n3. populate (pages 0-5) racing MADV_DONTNEED of pages 0-5, one random schedule per seed`);
  const schedules: Facts['schedules'] = [];
  for (let seed = 1; seed <= 8; seed++) {
    driver.pt.clear();
    driver.retries = { ebusy: 0, invalid: 0, lostWrite: 0 };
    const ex = sim.executor(new RandomStrategy(seed));
    const dev = ex.spawn('device', driverPopulateRange(driver, a, a + 6 * PAGE_SIZE, null));
    ex.spawn('cpu', p.task.madvise(a, 6 * PAGE_SIZE, MADV_DONTNEED));
    const r = ex.run();
    if (r.status !== 'done') throw new Error(`schedule ${seed}: ${r.status} ${r.failure?.message ?? ''}`);
    const s = {
      seed,
      ret: dev.result as number,
      ebusy: driver.retries.ebusy,
      invalid: driver.retries.invalid,
      mapped: driver.pt.size,
      coherent: coherent(driver, p),
    };
    schedules.push(s);
    log(
      `   seed ${seed}: populate ${s.ret === 0 ? 'ok' : errnoName(s.ret)}, -EBUSY retries ${s.ebusy}, ` +
        `!hmm_range_valid retries ${s.invalid}, device entries ${s.mapped}, device and CPU agree: ${s.coherent}`,
    );
  }

  // 4. A non-blockable update (the OOM reaper) while the device holds the update lock.
  log(`\n4. the OOM reaper (a non-blockable update) while the driver holds its update lock`);
  sim.run('populate', driverPopulateRange(driver, a, a + 6 * PAGE_SIZE, null));
  driver.events.length = 0;
  const ex = sim.executor();
  ex.spawn('device', holdUpdateLock(driver));
  const reaper = ex.spawn('oom_reaper', mm.oomReapTaskMm(p.mm));
  ex.run();
  const reaperBusy = reaper.result === false;
  const reaperEvents = [...driver.events];
  for (const e of reaperEvents) log(`   ${e}`);
  log(`   reaper finished: ${!reaperBusy} (false: it skipped the VMA and will try again)`);
  driver.events.length = 0;
  const reaperFree = sim.run('oom_reaper', mm.oomReapTaskMm(p.mm));
  for (const e of driver.events) log(`   ${e}`);
  log(`   with the lock free, the reaper finished: ${reaperFree}; device table: ${table(driver, a, NPAGES)}`);

  sim.run('close', driver.close());
  p.exit();
  return {
    populated,
    lostWrite,
    pfns,
    zeroPfn,
    munmapEvents,
    afterMunmap,
    schedules,
    reaperBusy,
    reaperEvents,
    reaperFree,
  };
}

/** The device busy programming its page table: holds the update lock across a sleep. */
function* holdUpdateLock(driver: ToyDriver): Task {
  yield* driver.update.lock();
  yield* msleep(1);
  driver.update.unlock();
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
