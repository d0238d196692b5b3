/**
 * Built-in scenarios with three and four threads: the races real drivers meet, where a device
 * fault, an munmap, a migration and a CPU fault happen at once. Each keeps to 2 pages so that
 * bounded search (and, for the smaller ones, unbounded search) still ends; docs/explorer.md has
 * their sizes under dfs and dpor.
 */

import { alignUp, PAGE_SIZE } from '../core/addr.js';
import { MADV_HUGEPAGE } from '../mm/madvise.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../mm/mmap.js';
import type { Process } from '../sim/process.js';
import type { ExploreDevice, Scenario, ScenarioContext } from './scenario.js';
import { deviceCommandsSucceeded, oneDevice, pattern, twoDevices, withState } from './scenario_setup.js';

type OneDevice = ReturnType<typeof oneDevice>;
interface TwoDevices extends OneDevice {
  /** Device 1, open on the same process. */
  dev1: ReturnType<typeof oneDevice>['dev'];
}

const NPAGES = 2;
const LEN = NPAGES * PAGE_SIZE;

/** Device 0 faults, device 1 migrates and the CPU munmaps, all on the same 2 pages. */
export const faultMunmapMigrate: Scenario<TwoDevices> = {
  name: 'fault-munmap-migrate',
  description:
    'device 0 reads 2 pages (a device fault) while device 1 migrates them to its memory and the CPU ' +
    'munmaps them: three threads, two invalidations, one of them freeing device pages',
  setup: (_sim, ctx) => twoDevices(ctx),
  threads: (s, ctx) => [
    { name: 'dev0', body: ctx.dev(s.dev).read(s.a, NPAGES) },
    { name: 'dev1-migrate', body: ctx.dev(s.dev1).migrate(s.a, NPAGES) },
    { name: 'munmap', body: ctx.cpu(s.p).munmap(s.a, LEN) },
  ],
};

interface ForkState extends OneDevice {
  child: Process | null;
}

/** Device 0 migrates, the CPU faults the pages back and the process forks. */
export const migrateCpufaultFork: Scenario<ForkState> = {
  name: 'migrate-cpufault-fork',
  description:
    'device 0 migrates 2 pages to its memory while the CPU writes the second and another CPU thread ' +
    'forks (copying device-private entries, write-protecting for copy-on-write); the child then ' +
    'reads both pages',
  setup: (_sim, ctx) => withState(oneDevice(ctx), { child: null }),
  threads: (s, ctx) => [
    { name: 'dev0-migrate', body: ctx.dev(s.dev).migrate(s.a, NPAGES) },
    { name: 'cpu', body: ctx.cpu(s.p).write(s.a + PAGE_SIZE, pattern(0xc2, PAGE_SIZE)) },
    {
      name: 'fork',
      body: (function* () {
        s.child = yield* ctx.cpu(s.p).fork();
        if (s.child !== null) yield* ctx.cpu(s.child).read(s.a, LEN);
      })(),
    },
  ],
  check: (s) => (s.child === null ? 'fork failed' : null),
};

/** Two devices fault the same pages while the CPU drops them with MADV_DONTNEED. */
export const twoFaultsVsDontneed: Scenario<TwoDevices> = {
  name: 'twofaults-vs-dontneed',
  description:
    'devices 0 and 1 read the same 2 pages (two device faults, two mirrors) while the CPU drops them ' +
    "with MADV_DONTNEED (mmap_sem for read on all three sides: the seed protocol's race, twice)",
  setup: (_sim, ctx) => twoDevices(ctx),
  threads: (s, ctx) => [
    { name: 'dev0', body: ctx.dev(s.dev).read(s.a, NPAGES) },
    { name: 'dev1', body: ctx.dev(s.dev1).read(s.a, NPAGES) },
    { name: 'dontneed', body: ctx.cpu(s.p).dontneed(s.a, LEN) },
  ],
  check: deviceCommandsSucceeded,
};

/** The process exits while two devices fault a batch of its pages each. */
export const exitDuringFaultBatch: Scenario<TwoDevices> = {
  name: 'exit-vs-faultbatch',
  description:
    'devices 0 and 1 each fault a batch (device 0 both pages, then device 1 writes them) while the ' +
    "process exits: exit_mmap calls every mirror's release(); no device may hold an entry afterwards",
  setup: (_sim, ctx) => twoDevices(ctx),
  threads: (s, ctx) => [
    { name: 'dev0', body: ctx.dev(s.dev).read(s.a, NPAGES) },
    { name: 'dev1', body: ctx.dev(s.dev1).write(s.a, pattern(0xd4)) },
    { name: 'exit', body: ctx.cpu(s.p).exit() },
  ],
};

/** Four threads: a device fault, a migration, a CPU write and an munmap of one page. */
export const fourWay: Scenario<TwoDevices> = {
  name: 'fault-migrate-cpu-munmap',
  description:
    'device 0 reads 2 pages, device 1 migrates them, the CPU writes the first and another CPU thread ' +
    'munmaps the second: four threads on one address space',
  setup: (_sim, ctx) => twoDevices(ctx),
  threads: (s, ctx) => [
    { name: 'dev0', body: ctx.dev(s.dev).read(s.a, NPAGES) },
    { name: 'dev1-migrate', body: ctx.dev(s.dev1).migrate(s.a, NPAGES) },
    { name: 'cpu', body: ctx.cpu(s.p).write(s.a, pattern(0xc3, PAGE_SIZE)) },
    { name: 'munmap', body: ctx.cpu(s.p).munmap(s.a + PAGE_SIZE, PAGE_SIZE) },
  ],
};

/** A device kernel loading a page twice (through its TLB) while the CPU munmaps it. */
export const kernelVsMunmap: Scenario<
  OneDevice & {
    /** The bytes the kernel's loads returned, in order. */
    loads: number[];
  }
> = {
  name: 'kernel-vs-munmap',
  description:
    'a device kernel on device 0 loads the first page twice (replayable fault, then a TLB hit) ' +
    'while the CPU munmaps both pages: the invalidation must erase the entry and flush the TLB, so ' +
    'the second load faults instead of reading a freed page',
  setup: (_sim, ctx) => withState(oneDevice(ctx), { loads: [] }),
  threads: (s, ctx) => [
    {
      name: 'dev0-kernel',
      body: (function* () {
        const launch = s.dev.launch;
        if (launch === undefined) throw new Error(`${s.dev.name}: the driver cannot launch kernels`);
        try {
          yield* launch.call(
            s.dev,
            function* (k) {
              s.loads.push(yield* k.load8(s.a));
              s.loads.push(yield* k.load8(s.a));
            },
            { preemptible: true },
          );
        } catch (e) {
          if (!ctx.tolerate(e, s.dev.name)) throw e;
        }
      })(),
    },
    { name: 'munmap', body: ctx.cpu(s.p).munmap(s.a, LEN) },
  ],
  check: (s) =>
    s.loads.every((b) => b === 0x10) ? null : `the kernel loaded ${s.loads.join(', ')}, not 0x10`,
};

/** Device-exclusive access, a migration to another device and a CPU write, all on the same 2 pages. */
export const exclusiveMigrateCpuwrite: Scenario<TwoDevices> = {
  name: 'exclusive-migrate-cpuwrite',
  api: 'modern',
  description:
    'device 0 takes 2 pages for atomics (make_device_exclusive) while device 1 migrates them to its ' +
    'memory and the CPU writes the first and reads both: a device-exclusive entry is no migration ' +
    'candidate (MIGRATE then reads it back as ENOENT, as test_hmm does), a device-private one is ' +
    'faulted back to RAM before it can be made exclusive, and the CPU fault revokes either',
  setup: (_sim, ctx) => twoDevices(ctx),
  threads: (s, ctx) => [
    { name: 'dev0-exclusive', body: ctx.dev(s.dev).exclusive(s.a, NPAGES) },
    { name: 'dev1-migrate', body: ctx.dev(s.dev1).migrate(s.a, NPAGES) },
    {
      name: 'cpu',
      body: (function* () {
        const cpu = ctx.cpu(s.p);
        yield* cpu.write(s.a, pattern(0xe3, PAGE_SIZE));
        yield* cpu.read(s.a, LEN);
      })(),
    },
  ],
};

/** The three- and four-thread built-ins (registered with SCENARIOS). */
export const MULTI_SCENARIOS: readonly Scenario[] = [
  faultMunmapMigrate,
  migrateCpufaultFork,
  twoFaultsVsDontneed,
  exitDuringFaultBatch,
  fourWay,
  kernelVsMunmap,
];

/** A 2 MiB THP of the test process, its pages each filled with their own byte, and device 0. */
export interface OneThp {
  /** The process. */
  p: Process;
  /** The PMD-aligned start of the THP. */
  a: number;
  /** Device 0, opened with the driver under test. */
  dev: ExploreDevice;
}

const THP_PAGES = 512;
const THP_SIZE = THP_PAGES * PAGE_SIZE;

/** mmap 4 MiB, MADV_HUGEPAGE on its aligned 2 MiB, one CPU write of it (a THP fault), device 0 open. */
function oneThp(ctx: ScenarioContext): OneThp {
  const p = ctx.createProcess();
  const raw = p.mmap(2 * THP_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  const a = alignUp(raw, THP_SIZE);
  p.madvise(a, THP_SIZE, MADV_HUGEPAGE);
  if (!ctx.run(ctx.cpu(p).write(a, thpBytes()))) throw new Error('scenario setup: the THP write failed');
  return { p, a, dev: ctx.openDevice(0, p) };
}

let thpPattern: Uint8Array | null = null;

/** 2 MiB, page i filled with 0x10 + (i mod 64): shared between schedules, never modified. */
function thpBytes(): Uint8Array {
  if (thpPattern === null) {
    thpPattern = new Uint8Array(THP_SIZE);
    for (let i = 0; i < THP_PAGES; i++) thpPattern.fill(0x10 + (i % 64), i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
  }
  return thpPattern;
}

/** Device 0 migrates a THP whole while the CPU unmaps half of it and reads its first page. */
export const thpMigrateMunmapHalf: Scenario<OneThp> = {
  name: 'thp-migrate-vs-munmap-half',
  api: 'modern',
  description:
    'device 0 migrates a 2 MiB THP to its memory as one folio (v6.19 device-private THP: a PMD ' +
    'migration entry, then a device-private PMD) while the CPU munmaps the upper half (splitting ' +
    'whichever PMD it meets) and reads the first page (faulting the folio, or its page, back)',
  machine: { ramPages: 2048, devicePages: 1024 },
  setup: (_sim, ctx) => oneThp(ctx),
  threads: (s, ctx) => [
    { name: 'dev0-migrate', body: ctx.dev(s.dev).migrate(s.a, THP_PAGES) },
    { name: 'munmap-half', body: ctx.cpu(s.p).munmap(s.a + THP_SIZE / 2, THP_SIZE / 2) },
    { name: 'cpu', body: ctx.cpu(s.p).read(s.a, PAGE_SIZE) },
  ],
};

/** OneThp, and the child the fork made (null until it forks, or if it failed). */
export interface OneThpFork extends OneThp {
  /** The fork's child. */
  child: Process | null;
}

/** Device 0 migrates a THP whole while the process forks and writes one of its pages. */
export const thpForkVsMigrate: Scenario<OneThpFork> = {
  name: 'thp-fork-vs-migrate',
  api: 'modern',
  description:
    'device 0 migrates a 2 MiB THP to its memory as one folio while the process forks (copying the ' +
    'PMD, whichever it is, read-only into both) and the child reads its second page (faulting the ' +
    'THP back in the parent too) and the parent writes its third (copy-on-write of a THP)',
  machine: { ramPages: 2048, devicePages: 1024 },
  setup: (_sim, ctx) => withState(oneThp(ctx), { child: null }),
  threads: (s, ctx) => [
    { name: 'dev0-migrate', body: ctx.dev(s.dev).migrate(s.a, THP_PAGES) },
    {
      name: 'fork',
      body: (function* () {
        s.child = yield* ctx.cpu(s.p).fork();
        if (s.child !== null) yield* ctx.cpu(s.child).read(s.a + PAGE_SIZE, PAGE_SIZE);
      })(),
    },
    { name: 'cpu', body: ctx.cpu(s.p).write(s.a + 2 * PAGE_SIZE, pattern(0xe7, PAGE_SIZE)) },
  ],
  check: (s) => (s.child === null ? 'fork failed' : null),
};

/** thp-fork-vs-migrate with the parent's munmap of the THP's upper half as a fourth thread. */
export const thpForkMunmapMigrate: Scenario<OneThpFork> = {
  ...thpForkVsMigrate,
  name: 'thp-fork-munmap-migrate',
  description:
    "thp-fork-vs-migrate with a fourth thread: the parent munmaps the THP's upper half, splitting " +
    'its PMD (a present, migration or device-private one) while the child may be migrating the ' +
    'device folio back, so the migration meets PTE mappings of a large folio in the other mm',
  threads: (s, ctx) => [
    ...thpForkVsMigrate.threads(s, ctx),
    { name: 'munmap-half', body: ctx.cpu(s.p).munmap(s.a + THP_SIZE / 2, THP_SIZE / 2) },
  ],
};

/**
 * The three- and four-thread built-ins of today's API only (device-exclusive access,
 * device-private THP): a modern-API driver (test_hmm or a test_hmm.* variant) runs them.
 */
export const MODERN_MULTI_SCENARIOS: readonly Scenario[] = [
  exclusiveMigrateCpuwrite,
  thpMigrateMunmapHalf,
  thpForkVsMigrate,
  thpForkMunmapMigrate,
];
