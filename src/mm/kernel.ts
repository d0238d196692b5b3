/**
 * The simulated machine's kernel state that outlives any one thread: physical memory, the
 * page-table pool, the objects page->mapping points at, every mm, the lockdep graph and the log.
 */

import { Counters } from '../core/counters.js';
import type { EventLog } from '../core/eventlog.js';
import type { Strategy } from '../sched/index.js';
import { Executor, LockdepGraph } from '../sched/index.js';
import { AddressSpace } from './file.js';
import { type ThpMode, ThpState } from './huge_memory.js';
import { HugetlbPool } from './hugetlb.js';
import { MmStruct } from './mm.js';
import { PhysMem } from './page_alloc.js';
import { PageTablePool } from './pagetable.js';
import { AnonVma } from './rmap.js';

export interface KernelOptions {
  ramPages: number;
  contents?: boolean;
  log?: EventLog;
  stepsMax?: number;
  /** Memory section size in pages (PhysMemOptions.sectionPages). */
  sectionPages?: number;
  /** /sys/kernel/mm/transparent_hugepage/enabled (default 'madvise'). */
  thp?: ThpMode;
  /** Pages in the 2 MiB hugetlb pool, taken from RAM at boot (nr_hugepages; default 0). */
  hugetlbPages?: number;
}

export class Kernel {
  readonly mem: PhysMem;
  /** Starts small (table 0 is unused; one process with one mapping needs 4) and doubles on demand. */
  readonly pt = new PageTablePool(6);
  readonly lockdep = new LockdepGraph();
  readonly counters = new Counters();
  readonly log: EventLog | undefined;
  readonly stepsMax: number;
  /** page->mapping ids -> the anon_vma or address_space they name. */
  readonly mappings = new Map<number, AnonVma | AddressSpace>();
  readonly mms = new Set<MmStruct>();
  /** Transparent huge pages: the setting and the huge zero page. */
  readonly thp: ThpState;
  /** The 2 MiB hstate's pool. */
  readonly hugetlb: HugetlbPool;
  private nextMappingId = 1;
  private nextMmId = 1;

  constructor(opts: KernelOptions) {
    this.mem = new PhysMem({
      ramPages: opts.ramPages,
      contents: opts.contents,
      sectionPages: opts.sectionPages,
    });
    this.thp = new ThpState(opts.thp);
    this.hugetlb = new HugetlbPool(this.mem, opts.hugetlbPages ?? 0);
    this.log = opts.log;
    this.stepsMax = opts.stepsMax ?? 50_000_000;
  }

  newAnonVma(): AnonVma {
    const av = new AnonVma(this.nextMappingId++);
    this.mappings.set(av.id, av);
    return av;
  }

  newAddressSpace(name: string, size: number, shmem: boolean, memcgId: number): AddressSpace {
    const as = new AddressSpace(this.nextMappingId++, name, size, shmem, memcgId);
    this.mappings.set(as.id, as);
    return as;
  }

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
   * Discards the machine: its memory and page tables are recycled into the next machines built in
   * this process. Nothing of this kernel (no mm, process, device, driver) may be used afterwards.
   * For the explorer, which builds and discards a machine per schedule.
   */
  release(): void {
    this.mem.release();
    this.pt.release();
  }

  trace(text: string): void {
    this.log?.record(0, 'kernel', text);
  }
}
