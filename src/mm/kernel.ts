/**
 * The simulated machine's kernel state that outlives any one thread: physical memory, the
 * page-table pool, the objects page->mapping points at, every mm, the lockdep graph and the log.
 */

import { Counters } from '../core/counters.js';
import { ArgumentError } from '../core/errno.js';
import type { EventLog } from '../core/eventlog.js';
import { Tracepoints } from '../core/trace.js';
import type { Strategy } from '../sched/index.js';
import { Executor, LockdepGraph } from '../sched/index.js';
import { AddressSpace } from './file.js';
import { type ThpMode, ThpState } from './huge_memory.js';
import { HugetlbPool } from './hugetlb.js';
import { MmStruct } from './mm.js';
import type { MmTracepoints } from './mm_trace.js';
import { PhysMem } from './page_alloc.js';
import { PageTablePool } from './pagetable.js';
import { AnonVma } from './rmap.js';
import { Slab } from './slab.js';

/** The kernel releases whose mm behaviour the simulator can follow. */
export type KernelVersion = 'v5.3' | 'v6.19';
/** The Linux versions whose behaviour the simulation can follow (Kernel.version). */
export const KERNEL_VERSIONS: readonly KernelVersion[] = ['v5.3', 'v6.19'];

/**
 * Every mm behaviour that changed between v5.3 (the seed) and today, one named switch each, so mm
 * code asks `mm.kernel.behaviour.x` and never compares versions. docs/fidelity.md ("Kernel
 * versions") lists each switch with the release and commit that changed it.
 */
export interface KernelBehaviour {
  /** FOLL_PIN adds GUP_PIN_COUNTING_BIAS (1024) to a small page's refcount (v5.7); v5.3 pins are plain references. */
  readonly pinCounting: boolean;
  /** FOLL_PIN takes no reference on the shared zero page (v6.5). */
  readonly pinSkipsZeroPage: boolean;
  /** Anonymous pages carry PG_anon_exclusive; a FOLL_PIN read of a shared one unshares it first (v5.19). */
  readonly anonExclusive: boolean;
  /** fork copies an exclusive, maybe-pinned anonymous page instead of sharing it (v5.9). */
  readonly forkCopiesPinned: boolean;
  /** COW reuses an anonymous page only if exclusive or its one reference is the mapping's (v5.9). */
  readonly cowReuseNeedsSoleRef: boolean;
  /** mremap knows MREMAP_DONTUNMAP (v5.7), on any mapping but VM_DONTEXPAND/VM_PFNMAP ones (v5.13). */
  readonly mremapDontunmap: boolean;
  /** mremap looks the VMA up before anything else (-EFAULT if none), as v5.16 made it; v5.3 shrank without one. */
  readonly mremapVmaLookupFirst: boolean;
  /** MADV_FREE clears hwpoison entries (v6.0); v5.3 skipped every non-swap entry. */
  readonly madvFreeClearsHwpoison: boolean;
  /** Reclaim keeps a lazyfree page someone holds an extra reference on (v5.18); v5.3 unmapped it anyway. */
  readonly lazyfreeKeepsReferenced: boolean;
  /** FOLL_LONGTERM needs FOLL_PIN; FOLL_PIN with FOLL_GET is a WARN and -EINVAL (is_valid_gup_args, v6.3). */
  readonly gupStrictFlags: boolean;
  /** try_to_migrate turns a writable device-private entry into a writable migration entry (by v6.19); v5.3 made every one read. */
  readonly deviceMigrationKeepsWrite: boolean;
}

const BEHAVIOURS: Record<KernelVersion, KernelBehaviour> = {
  'v5.3': {
    pinCounting: false,
    pinSkipsZeroPage: false,
    anonExclusive: false,
    forkCopiesPinned: false,
    cowReuseNeedsSoleRef: false,
    mremapDontunmap: false,
    mremapVmaLookupFirst: false,
    madvFreeClearsHwpoison: false,
    lazyfreeKeepsReferenced: false,
    gupStrictFlags: false,
    deviceMigrationKeepsWrite: false,
  },
  'v6.19': {
    pinCounting: true,
    pinSkipsZeroPage: true,
    anonExclusive: true,
    forkCopiesPinned: true,
    cowReuseNeedsSoleRef: true,
    mremapDontunmap: true,
    mremapVmaLookupFirst: true,
    madvFreeClearsHwpoison: true,
    lazyfreeKeepsReferenced: true,
    gupStrictFlags: true,
    deviceMigrationKeepsWrite: true,
  },
};

/** The switches of a release; an unknown version is an ArgumentError naming `kernel`. */
export function kernelBehaviour(version: KernelVersion): KernelBehaviour {
  const b = Object.hasOwn(BEHAVIOURS, version) ? BEHAVIOURS[version] : undefined;
  if (b === undefined)
    throw new ArgumentError(
      'kernel',
      `expected one of ${KERNEL_VERSIONS.join(', ')}, got ${String(version)}`,
    );
  return b;
}

/** How to boot a simulated kernel: its release, RAM size and the optional logging and limits. */
export interface KernelOptions {
  /** Which release's mm behaviour to follow (default 'v5.3', the seed). */
  version?: KernelVersion;
  /** RAM size in 4 KiB pages. */
  ramPages: number;
  /** Keep page contents (bytes) in memory; off, pages hold only metadata and reads return zeros. */
  contents?: boolean;
  /** Where kernel trace lines and executor steps are recorded; none by default. */
  log?: EventLog;
  /** Step budget of each Executor run on this kernel (default STEPS_MAX_DEFAULT). */
  stepsMax?: number;
  /** Memory section size in pages (PhysMemOptions.sectionPages). */
  sectionPages?: number;
  /** Device memory to reserve struct pages for (PhysMemOptions.reservePages). */
  reservePages?: number;
  /** /sys/kernel/mm/transparent_hugepage/enabled (default 'madvise'). */
  thp?: ThpMode;
  /** Pages in the 2 MiB hugetlb pool, taken from RAM at boot (nr_hugepages; default 0). */
  hugetlbPages?: number;
}

/**
 * The simulated mm core of one machine: physical memory, page tables, lockdep, counters and every mm. @see
 * mm/ (Linux v5.3 and v6.19)
 */
export class Kernel {
  /** Physical memory: the page allocator, struct page state and page contents. */
  readonly mem: PhysMem;
  /** Starts small (table 0 is unused; one process with one mapping needs 4) and doubles on demand. */
  readonly pt = new PageTablePool(6);
  /** Lock-order graph shared by every thread run on this kernel. */
  readonly lockdep = new LockdepGraph();
  /** The mm's tracepoints (mm_trace.ts): today's API steps, for the viewer. */
  readonly tracepoints = new Tracepoints<MmTracepoints>();
  /** kmalloc's caches and KASAN (slab.ts): off unless a caller turns it on (the explorer does). */
  readonly slab = new Slab();
  /** Event counters (vm_event-style: faults, migrations, invalidations). */
  readonly counters = new Counters();
  /** The trace log, if one was given in KernelOptions. */
  readonly log: EventLog | undefined;
  /** Step budget of each Executor run on this kernel. */
  readonly stepsMax: number;
  /** page->mapping ids -> the anon_vma or address_space they name. */
  readonly mappings = new Map<number, AnonVma | AddressSpace>();
  /** Every live mm_struct, for the checkers and teardown. */
  readonly mms = new Set<MmStruct>();
  /** The release whose mm behaviour this kernel follows. */
  readonly version: KernelVersion;
  /** The switches of `version` (kernelBehaviour()). */
  readonly behaviour: KernelBehaviour;
  /**
   * Pages MADV_FREE made lazyfree, oldest first: the model's stand-in for the inactive file LRU
   * that folio_mark_lazyfree moves them to. Entries may be stale; reclaim (vmscan.ts) rechecks.
   */
  readonly lazyfree = new Set<number>();
  /**
   * Pages a migrate_vma holds between migrate_vma_setup and migrate_vma_finalize, with the
   * migration's pgmap_owner. Not kernel state: the checkers read it to tell the owning driver's
   * window (its MMU_NOTIFY_MIGRATE invalidation skipped, the driver updating its own entries during
   * the migration, as test_hmm and nouveau do) from an invalidation another driver missed.
   */
  readonly migrateOwners = new Map<number, unknown>();
  /** Transparent huge pages: the setting and the huge zero page. */
  readonly thp: ThpState;
  /** The 2 MiB hstate's pool. */
  readonly hugetlb: HugetlbPool;
  private nextMappingId = 1;
  private nextMmId = 1;

  constructor(opts: KernelOptions) {
    this.version = opts.version ?? 'v5.3';
    this.behaviour = kernelBehaviour(this.version);
    this.mem = new PhysMem({
      ramPages: opts.ramPages,
      contents: opts.contents,
      sectionPages: opts.sectionPages,
      reservePages: opts.reservePages,
    });
    this.thp = new ThpState(opts.thp);
    this.hugetlb = new HugetlbPool(this.mem, opts.hugetlbPages ?? 0);
    this.log = opts.log;
    this.stepsMax = opts.stepsMax ?? 50_000_000;
  }

  /** anon_vma_alloc(): a new anon_vma with a fresh page->mapping id. */
  newAnonVma(): AnonVma {
    const av = new AnonVma(this.nextMappingId++);
    this.mappings.set(av.id, av);
    return av;
  }

  /** A new file mapping (address_space) of `size` pages, shmem or not, charged to memcg `memcgId`. */
  newAddressSpace(name: string, size: number, shmem: boolean, memcgId: number): AddressSpace {
    const as = new AddressSpace(this.nextMappingId++, name, size, shmem, memcgId);
    this.mappings.set(as.id, as);
    return as;
  }

  /** mm_alloc(): a new, empty mm_struct charged to memcg `memcgId`. */
  newMm(memcgId: number): MmStruct {
    const mm = new MmStruct(this, this.nextMmId++, memcgId);
    this.mms.add(mm);
    return mm;
  }

  /** An executor wired to this kernel's lockdep graph and log. */
  executor(strategy?: Strategy): Executor {
    return new Executor({ strategy, lockdep: this.lockdep, log: this.log, stepsMax: this.stepsMax });
  }

  /**
   * Discards the machine: its memory, page tables and bookkeeping arrays (PhysMem.arrays) are
   * recycled into the next machines built in this process. Nothing of this kernel (no mm, process,
   * device, driver) may be used afterwards, nor a buffer its calls returned: the bytes of a CPU or
   * device read come from the machine's arrays (a device read's are the driver's bounce buffer).
   * For the explorer, which builds and discards a machine per schedule.
   */
  release(): void {
    this.mem.release();
    this.pt.release();
  }

  /** Records `text` in the trace log as a kernel line; does nothing without a log. */
  trace(text: string): void {
    this.log?.record(0, 'kernel', text);
  }
}
