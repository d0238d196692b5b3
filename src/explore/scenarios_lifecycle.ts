/**
 * Scenarios of a driver's life rather than of one fault (issue 16): holes the device must fault in,
 * repeated and overlapping invalidations, a device closed while its pages sit in device memory, a
 * second mmu notifier user (KVM-like) on the same mm, exit racing a migration, and two devices
 * migrating the same range. Each is small (2 pages, 2 threads) like the ones of scenarios.ts, so
 * that every schedule with up to two preemptions can be run.
 */

import { PAGE_SIZE } from '../core/addr.js';
import { KernelBug } from '../core/assert.js';
import { PROT_READ } from '../mm/mmap.js';
import { MmuNotifier, type MmuNotifierRange, mmuNotifierRegisterLocked } from '../mm/mmu_notifier.js';
import { SpinLock, type Task } from '../sched/index.js';
import type { Scenario, ScenarioContext } from './scenario.js';
import {
  LEN,
  NPAGES,
  type OneDevice,
  oneDevice,
  type TwoDevices,
  twoDevices,
  withState,
} from './scenario_setup.js';

/** Both pages of device 0 migrated to its memory during setup (the device maps them). */
function resident(ctx: ScenarioContext): OneDevice {
  const s = oneDevice(ctx);
  const data = ctx.run(ctx.dev(s.dev).migrate(s.a, NPAGES));
  if (data === null) throw new Error('scenario setup: the migration to device 0 failed');
  return s;
}

const WRITE_BYTES = new Uint8Array(LEN).fill(0xa1);

/** A scenario of one device thread racing one CPU thread on the state `setup` builds. */
function race<S extends OneDevice>(
  name: string,
  description: string,
  setup: (ctx: ScenarioContext) => S,
  dev: [string, (s: S, ctx: ScenarioContext) => Task<unknown>],
  cpu: [string, (s: S, ctx: ScenarioContext) => Task<unknown>],
): Scenario<S> {
  return {
    name,
    description,
    setup: (_sim, ctx) => setup(ctx),
    threads: (s, ctx) => [
      { name: dev[0], body: dev[1](s, ctx) },
      { name: cpu[0], body: cpu[1](s, ctx) },
    ],
  };
}

/** Device 0 open on 2 pages that are holes: no CPU access touched them. */
const holes = (ctx: ScenarioContext): OneDevice => oneDevice(ctx, 0);

/** The device writes holes no CPU touched: hmm_range_fault must fault them in, for write. */
export const holesDevwriteVsCpuread = race(
  'holes-devwrite-vs-cpuread',
  'device 0 writes 2 pages that are holes (hmm_range_fault must fault them in, for write) while ' +
    'the CPU reads them (its own fault maps the zero page, which the device fault must then replace)',
  holes,
  ['dev0', (s, ctx) => ctx.dev(s.dev).write(s.a, WRITE_BYTES)],
  ['cpu', (s, ctx) => ctx.cpu(s.p).read(s.a, LEN)],
);

/** A device read of holes racing munmap. */
export const holesFaultVsMunmap = race(
  'holes-fault-vs-munmap',
  'device 0 reads 2 pages that are holes (hmm_range_fault faults each in: the walk returns to ' +
    'handle_mm_fault and restarts) while the CPU munmaps them',
  holes,
  ['dev0', (s, ctx) => ctx.dev(s.dev).read(s.a, NPAGES)],
  ['munmap', (s, ctx) => ctx.cpu(s.p).munmap(s.a, LEN)],
);

/** One fault racing three invalidations of overlapping ranges. */
export const faultVsInvalidations: Scenario<OneDevice> = {
  name: 'fault-vs-invalidations',
  description:
    'device 0 reads 2 pages twice while the CPU drops the first (MADV_DONTNEED), makes both ' +
    'read-only (mprotect) and unmaps the second: three invalidations, overlapping, one after another',
  setup: (_sim, ctx) => oneDevice(ctx),
  threads: (s, ctx) => {
    const dev = ctx.dev(s.dev);
    const cpu = ctx.cpu(s.p);
    return [
      {
        name: 'dev0',
        body: (function* () {
          yield* dev.read(s.a, NPAGES);
          yield* dev.read(s.a, 1);
        })(),
      },
      {
        name: 'cpu',
        body: (function* () {
          yield* cpu.dontneed(s.a, PAGE_SIZE);
          yield* cpu.mprotect(s.a, LEN, PROT_READ);
          yield* cpu.munmap(s.a + PAGE_SIZE, PAGE_SIZE);
        })(),
      },
    ];
  },
};

/** close() racing a CPU fault on a page the device holds in its memory. */
export const closeVsCpuread: Scenario<OneDevice> = {
  ...race(
    'close-vs-cpuread',
    "device 0's 2 pages sit in its memory (migrated in setup) when the device file is closed while " +
      'the CPU reads them (each CPU fault migrates a device page back and frees it): once the mirror ' +
      'stops hearing invalidations, the device must map nothing',
    resident,
    ['dev0-close', (s) => s.dev.close()],
    ['cpu', (s, ctx) => ctx.cpu(s.p).read(s.a, LEN)],
  ),
  check: (s) => (s.dev.pt.size === 0 ? null : `dev0 still maps ${s.dev.pt.size} page(s) after close`),
};

/** exit racing a migration to the device. */
export const exitVsMigrate = race(
  'exit-vs-migrate',
  'device 0 migrates 2 pages to its memory while the process exits (exit_mmap tears the mm down ' +
    'and calls the mirror’s release; the migration must find no mm, or finish before it goes)',
  oneDevice,
  ['dev0-migrate', (s, ctx) => ctx.dev(s.dev).migrate(s.a, NPAGES)],
  ['exit', (s, ctx) => ctx.cpu(s.p).exit()],
);

/** Two devices migrating the same range, each to its own memory. */
export const migrateVsMigrate: Scenario<TwoDevices> = race(
  'migrate-vs-migrate',
  'devices 0 and 1 migrate the same 2 pages, each to its own memory (the second migration finds ' +
    "the first's device-private entries, or its migration entries, and must not take a page twice)",
  (ctx) => twoDevices(ctx),
  ['dev0-migrate', (s, ctx) => ctx.dev(s.dev).migrate(s.a, NPAGES)],
  ['dev1-migrate', (s, ctx) => ctx.dev(s.dev1).migrate(s.a, NPAGES)],
);

/**
 * A KVM-like second notifier user: kvm_mmu_notifier_invalidate_range_start/end count the
 * invalidations in progress under kvm->mmu_lock (a spinlock: it may not sleep), and KVM's page
 * faults retry while one is. @see virt/kvm/kvm_main.c (v6.19)
 */
export class KvmLikeNotifier {
  /** kvm->mmu_lock. */
  readonly mmuLock = new SpinLock('kvm->mmu_lock');
  /** kvm->mmu_invalidate_in_progress. */
  inProgress = 0;
  /** kvm->mmu_invalidate_seq: bumped at every end. */
  seq = 0;
  /** The classic notifier registered on the mm. */
  readonly mn: MmuNotifier;

  constructor() {
    this.mn = new MmuNotifier({
      invalidateRangeStart: (_mn, _range: MmuNotifierRange) => {
        this.mmuLock.lock();
        this.inProgress++;
        this.mmuLock.unlock();
        return 0;
      },
      invalidateRangeEnd: () => {
        this.mmuLock.lock();
        if (this.inProgress === 0) throw new KernelBug('kvm: invalidate_range_end without a start');
        this.inProgress--;
        this.seq++;
        this.mmuLock.unlock();
      },
    });
  }
}

/** kvm-fault-vs-munmap's state: device 0 on a process whose mm a KVM-like notifier also watches. */
export interface WithKvm extends OneDevice {
  /** The second notifier user. */
  kvm: KvmLikeNotifier;
}

/** A device fault racing munmap on an mm a KVM-like notifier also watches. */
export const kvmFaultVsMunmap: Scenario<WithKvm> = {
  name: 'kvm-fault-vs-munmap',
  description:
    'a KVM-like classic mmu notifier is registered on the mm beside the mirror; device 0 reads 2 ' +
    'pages while the CPU munmaps them: both users see every start paired with its end',
  setup: (sim, ctx) => {
    const s = oneDevice(ctx);
    const kvm = new KvmLikeNotifier();
    const mm = s.p.mm;
    sim.run(
      'kvm register',
      (function* () {
        yield* mm.mmapSem.downWrite();
        try {
          mmuNotifierRegisterLocked(kvm.mn, mm);
        } finally {
          mm.mmapSem.upWrite();
        }
      })(),
    );
    return withState(s, { kvm });
  },
  threads: (s, ctx) => [
    { name: 'dev0', body: ctx.dev(s.dev).read(s.a, NPAGES) },
    { name: 'munmap', body: ctx.cpu(s.p).munmap(s.a, LEN) },
  ],
  check: (s) =>
    s.kvm.inProgress === 0
      ? s.kvm.seq > 0
        ? null
        : 'kvm saw no invalidation of the munmap'
      : `kvm: ${s.kvm.inProgress} invalidation(s) started and never ended`,
};

/** The lifecycle scenarios (seed API and today's), by name. */
export const LIFECYCLE_SCENARIOS: readonly Scenario[] = [
  holesDevwriteVsCpuread,
  holesFaultVsMunmap,
  faultVsInvalidations,
  closeVsCpuread,
  exitVsMigrate,
  migrateVsMigrate,
  kvmFaultVsMunmap,
] as Scenario[];
