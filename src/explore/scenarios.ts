/**
 * The built-in scenarios, named `<a>-vs-<b>`: each a device operation racing one CPU-side change
 * of the same pages. Each is small (2 pages, 2 threads) so that every schedule with up to two
 * preemptions can be run, thousands per second.
 */

import { PAGE_SIZE } from '../core/addr.js';
import { PROT_READ } from '../mm/mmap.js';
import type { Task } from '../sched/index.js';
import type { Process } from '../sim/process.js';
import { generatedByName } from './generate.js';
import type { Scenario, ScenarioContext } from './scenario.js';
import {
  deviceCommandsSucceeded,
  LEN,
  NPAGES,
  type OneDevice,
  oneDevice,
  pattern,
  type TwoDevices,
  twoDevices,
  withState,
} from './scenario_setup.js';
import { LIFECYCLE_SCENARIOS } from './scenarios_lifecycle.js';
import { MODERN_MULTI_SCENARIOS, MULTI_SCENARIOS } from './scenarios_multi.js';

/** A device fault racing munmap. */
export const faultVsMunmap: Scenario<OneDevice> = {
  name: 'fault-vs-munmap',
  description:
    'device 0 reads 2 pages it has not mapped (a device fault: hmm_range_fault) while the CPU munmaps ' +
    'them (mmap_sem for write; the invalidation frees the pages)',
  setup: (_sim, ctx) => oneDevice(ctx),
  threads: (s, ctx) => [
    { name: 'dev0', body: ctx.dev(s.dev).read(s.a, NPAGES) },
    { name: 'munmap', body: ctx.cpu(s.p).munmap(s.a, LEN) },
  ],
};

/** A device write fault racing mprotect(PROT_READ). */
export const faultVsMprotect: Scenario<OneDevice> = {
  name: 'fault-vs-mprotect',
  description:
    'device 0 writes 2 pages (a write fault on the device) while the CPU makes them read-only with ' +
    'mprotect (mmap_sem for write; the device must not keep a writable entry)',
  setup: (_sim, ctx) => oneDevice(ctx),
  threads: (s, ctx) => [
    { name: 'dev0', body: ctx.dev(s.dev).write(s.a, pattern(0xd0)) },
    { name: 'mprotect', body: ctx.cpu(s.p).mprotect(s.a, LEN, PROT_READ) },
  ],
};

/** A device fault racing MADV_DONTNEED. */
export const faultVsDontneed: Scenario<OneDevice> = {
  name: 'fault-vs-dontneed',
  description:
    'device 0 reads 2 pages (a device fault) while the CPU drops them with MADV_DONTNEED, which ' +
    "holds mmap_sem only for read, as the fault does: the seed protocol's race (docs/explorer.md)",
  setup: (_sim, ctx) => oneDevice(ctx),
  threads: (s, ctx) => [
    { name: 'dev0', body: ctx.dev(s.dev).read(s.a, NPAGES) },
    { name: 'dontneed', body: ctx.cpu(s.p).dontneed(s.a, LEN) },
  ],
  check: deviceCommandsSucceeded,
};

/** A device fault racing another device's migration of the same pages. */
export const faultVsMigrate: Scenario<TwoDevices> = {
  name: 'fault-vs-migrate',
  description:
    'device 0 reads 2 pages (a device fault) while device 1 migrates them to its own memory ' +
    '(migrate_vma under mmap_sem for read; the system pages are freed)',
  setup: (_sim, ctx) => twoDevices(ctx),
  threads: (s, ctx) => [
    { name: 'dev0', body: ctx.dev(s.dev).read(s.a, NPAGES) },
    { name: 'dev1-migrate', body: ctx.dev(s.dev1).migrate(s.a, NPAGES) },
  ],
};

/** A migration to device memory racing CPU faults on the same pages. */
export const migrateVsCpufault: Scenario<OneDevice> = {
  name: 'migrate-vs-cpufault',
  description:
    'device 0 migrates 2 pages to its memory, the first written, the second a hole, while the CPU ' +
    'writes the hole and reads both (a CPU fault on a migration or device-private entry migrates ' +
    'the page back; one that fills the hole first makes the migration skip it)',
  setup: (_sim, ctx) => {
    const p = ctx.createProcess();
    const a = ctx.anonymous(p, NPAGES, 1);
    return { p, a, dev: ctx.openDevice(0, p) };
  },
  threads: (s, ctx) => {
    const cpu = ctx.cpu(s.p);
    return [
      { name: 'dev0-migrate', body: ctx.dev(s.dev).migrate(s.a, NPAGES) },
      {
        name: 'cpu',
        body: (function* () {
          yield* cpu.write(s.a + PAGE_SIZE, pattern(0xc1, PAGE_SIZE));
          yield* cpu.read(s.a, LEN);
        })(),
      },
    ];
  },
};

interface ForkState extends OneDevice {
  child: Process | null;
}

/** A device fault racing the OOM reaper's non-blockable invalidation. */
export const faultVsOomreap: Scenario<OneDevice> = {
  name: 'fault-vs-oomreap',
  description:
    'device 0 reads 2 pages (a device fault) while the OOM reaper tears the process memory down: the ' +
    'only non-blockable invalidation (a callback that would sleep must trylock and return -EAGAIN), ' +
    'under mmap_sem for read',
  setup: (_sim, ctx) => oneDevice(ctx),
  threads: (s, ctx) => [
    { name: 'dev0', body: ctx.dev(s.dev).read(s.a, NPAGES) },
    { name: 'oom-reaper', body: ctx.cpu(s.p).oomReap() },
  ],
  check: deviceCommandsSucceeded,
};

/** A device write racing fork's copy-on-write protection. */
export const forkVsDevwrite: Scenario<ForkState> = {
  name: 'fork-vs-devwrite',
  description:
    'device 0 writes 2 pages twice while the process forks and the child reads them (fork ' +
    'write-protects the parent for copy-on-write under mmap_sem for write; the child must see the ' +
    'memory as it was at the fork, never a later device write)',
  setup: (_sim, ctx) => withState(oneDevice(ctx), { child: null }),
  threads: (s, ctx) => {
    const dev = ctx.dev(s.dev);
    return [
      {
        name: 'dev0',
        body: (function* () {
          yield* dev.write(s.a, pattern(0xd1));
          yield* dev.write(s.a, pattern(0xd2));
        })(),
      },
      {
        name: 'fork',
        body: (function* () {
          s.child = yield* ctx.cpu(s.p).fork();
          if (s.child !== null) yield* ctx.cpu(s.child).read(s.a, LEN);
        })(),
      },
    ];
  },
  check: (s) => (s.child === null ? 'fork failed' : null),
};

/** A device access racing the exit of the process it mirrors. */
export const exitVsDevaccess: Scenario<OneDevice> = {
  name: 'exit-vs-devaccess',
  description:
    "device 0 reads then writes 2 pages while the process exits (exit_mmap calls the mirror's " +
    'release(); the device must hold no entry once the address space is torn down)',
  setup: (_sim, ctx) => oneDevice(ctx),
  threads: (s, ctx) => {
    const dev = ctx.dev(s.dev);
    return [
      {
        name: 'dev0',
        body: (function* () {
          yield* dev.read(s.a, NPAGES);
          yield* dev.write(s.a, pattern(0xd3));
        })(),
      },
      { name: 'exit', body: ctx.cpu(s.p).exit() },
    ];
  },
};

// -- today's API only (test_hmm's commands): scenarios with `api: 'modern'` ------------------------

/** A process with NPAGES written by the CPU and device 0 open on today's API (the driver under test). */
function modernDevice(ctx: ScenarioContext): OneDevice {
  return oneDevice(ctx);
}

/** modernDevice, then `first` run to completion in setup (the device maps or holds the pages). */
function modernDeviceAfter(ctx: ScenarioContext, first: (s: OneDevice) => Task<unknown>): OneDevice {
  const s = modernDevice(ctx);
  ctx.run(first(s));
  return s;
}

/** EXCLUSIVE racing a CPU write of one of its pages. */
export const exclusiveVsCpuwrite: Scenario<OneDevice> = {
  name: 'exclusive-vs-cpuwrite',
  api: 'modern',
  description:
    'device 0 takes 2 pages for atomics (make_device_exclusive, then an ATOMIC entry under the ' +
    'mutex, then the page unlocked) while the CPU writes the first page and reads both: the CPU ' +
    'fault restores the PTE under the page lock and revokes the ATOMIC entry',
  setup: (_sim, ctx) => modernDevice(ctx),
  threads: (s, ctx) => {
    const cpu = ctx.cpu(s.p);
    return [
      { name: 'dev0-exclusive', body: ctx.dev(s.dev).exclusive(s.a, NPAGES) },
      {
        name: 'cpu',
        body: (function* () {
          yield* cpu.write(s.a, pattern(0xe1, PAGE_SIZE));
          yield* cpu.read(s.a, LEN);
        })(),
      },
    ];
  },
};

/** Eviction of device memory by pfn racing another device's fault on the same pages. */
export const releaseVsDevfault: Scenario<TwoDevices> = {
  name: 'release-vs-devfault',
  api: 'modern',
  description:
    "device 0's 2 pages (migrated to it in setup) are evicted by HMM_DMIRROR_RELEASE " +
    '(migrate_device_range, by pfn) while device 1 reads them (hmm_range_fault faults another ' +
    "device's private pages back through migrate_to_ram): both migrate the same pages to RAM",
  setup: (_sim, ctx) => {
    const s = modernDevice(ctx);
    ctx.run(ctx.dev(s.dev).migrate(s.a, NPAGES));
    return twoDevices(ctx, s);
  },
  threads: (s, ctx) => [
    { name: 'dev0-release', body: ctx.dev(s.dev).release(s.a, NPAGES) },
    { name: 'dev1', body: ctx.dev(s.dev1).read(s.a, NPAGES) },
  ],
  check: deviceCommandsSucceeded,
};

/** Removing the interval notifier (close) racing an invalidation of pages the device maps. */
export const removeVsInvalidate: Scenario<OneDevice> = {
  name: 'remove-vs-invalidate',
  api: 'modern',
  description:
    'device 0 maps 2 pages (read in setup), then closes (mmu_interval_notifier_remove: deferred while ' +
    'an invalidation is in flight, and waits for it) while the CPU munmaps them: no callback may run ' +
    'once the removal returns, and the device must not keep the pages',
  setup: (_sim, ctx) => modernDeviceAfter(ctx, (s) => ctx.dev(s.dev).read(s.a, NPAGES)),
  threads: (s, ctx) => [
    { name: 'dev0-close', body: s.dev.close() },
    { name: 'munmap', body: ctx.cpu(s.p).munmap(s.a, LEN) },
  ],
  check: (s) => (s.dev.pt.size === 0 ? null : `dev0 still maps ${s.dev.pt.size} page(s) after close`),
};

/**
 * The device's memory removed (dmirror_device_remove_chunks, which test_hmm runs for
 * HMM_DMIRROR_RELEASE and at unbind) while the CPU faults on its pages.
 */
export const unbindVsCpufault: Scenario<OneDevice> = {
  name: 'unbind-vs-cpufault',
  api: 'modern',
  description:
    "device 0's 2 pages (migrated to it in setup) are evicted and its memory removed " +
    '(HMM_DMIRROR_RELEASE: migrate_device_range by pfn, then memunmap_pages, which waits for the ' +
    "pages' last references) while the CPU reads them (device-private faults: migrate_to_ram): " +
    'the CPU must read what it wrote, whichever side moves a page back',
  setup: (_sim, ctx) => modernDeviceAfter(ctx, (s) => ctx.dev(s.dev).migrate(s.a, NPAGES)),
  threads: (s, ctx) => [
    { name: 'dev0-unbind', body: ctx.dev(s.dev).release(s.a, NPAGES) },
    { name: 'cpu', body: ctx.cpu(s.p).read(s.a, LEN) },
  ],
  check: deviceCommandsSucceeded,
};

/** The scenarios that need a driver on today's API (EXCLUSIVE, RELEASE, interval removal, unbind). */
export const MODERN_SCENARIOS: readonly Scenario[] = [
  exclusiveVsCpuwrite,
  releaseVsDevfault,
  removeVsInvalidate,
  unbindVsCpufault,
];

/** Every built-in scenario the seed API's drivers can run (and today's too), by name. */
export const SCENARIOS: readonly Scenario[] = [
  faultVsMunmap,
  faultVsMprotect,
  faultVsDontneed,
  faultVsMigrate,
  migrateVsCpufault,
  faultVsOomreap,
  forkVsDevwrite,
  exitVsDevaccess,
];

/** Every built-in scenario list, in the order --list shows them. */
function builtinLists(): readonly (readonly Scenario[])[] {
  return [SCENARIOS, MULTI_SCENARIOS, MODERN_SCENARIOS, MODERN_MULTI_SCENARIOS, LIFECYCLE_SCENARIOS];
}

/** The built-in scenario called `name`, or undefined. */
export function scenarioByName(name: string): Scenario | undefined {
  for (const list of builtinLists()) for (const s of list) if (s.name === name) return s;
  return generatedByName(name);
}

/** The names of every built-in scenario (not the generated ones), for error messages. */
export function builtinScenarioNames(): string[] {
  return builtinLists().flatMap((list) => list.map((s) => s.name));
}

// The shared setup helpers stay importable from here (the library exports this module).
export { deviceCommandsSucceeded, pattern } from './scenario_setup.js';
