/**
 * A minimal driver on today's device-memory API for the mm tests: one memremap'd region of
 * `npages` (private or coherent), a free list, migrate-to-device and a migrate_to_ram that moves the
 * faulting page back with migrate_vma_setup(faultPage). Copies are memcpy (mem.copyPage); the
 * driver's records (freed pages, faults, notifier ranges) are what the tests assert on.
 */

import { PAGE_SIZE } from '../../src/core/addr.js';
import { VM_FAULT_OOM, VM_FAULT_SIGBUS } from '../../src/mm/fault.js';
import type { Kernel } from '../../src/mm/kernel.js';
import type { MemremapPagemap } from '../../src/mm/memremap.js';
import { memremapPages, requestFreeMemRegion, zoneDevicePageInit } from '../../src/mm/memremap.js';
import { migratePfn, migratePfnFlags, migratePfnToPage } from '../../src/mm/migrate.js';
import type { MigrateVma } from '../../src/mm/migrate_device.js';
import {
  MIGRATE_PFN_MIGRATE,
  MIGRATE_VMA_SELECT_DEVICE_COHERENT,
  MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
  MIGRATE_VMA_SELECT_SYSTEM,
  migrateVmaFinalize,
  migrateVmaPages,
  migrateVmaSetup,
} from '../../src/mm/migrate_device.js';
import type { MmStruct } from '../../src/mm/mm.js';
import type { DevFault } from '../../src/mm/page.js';
import { MEMORY_DEVICE_COHERENT, MEMORY_DEVICE_PRIVATE } from '../../src/mm/page.js';
import type { Vma } from '../../src/mm/vma.js';
import type { Executor, Strategy, Task } from '../../src/sched/index.js';
import { DfsStrategy, schedule } from '../../src/sched/index.js';
import type { Process } from '../../src/sim/process.js';
import { ANON, locked, RW, setup } from '../mm/helpers.js';

export type Kind = 'private' | 'coherent';

export class ModernDevice {
  readonly kernel: Kernel;
  readonly pgmap: MemremapPagemap;
  readonly first: number;
  readonly free: number[] = [];
  /** Pages folioFree returned, in order. */
  readonly freed: number[] = [];
  /** Pages migrateToRam was called for. */
  readonly faults: number[] = [];
  /** Set to make the next migrateToRam find no system page. */
  oom = false;
  /** Runs inside migrateToRam after setup, and after finalize (to look at the fault page). */
  onFault: ((args: MigrateVma) => void) | null = null;
  afterFault: ((args: MigrateVma) => void) | null = null;
  /** A scheduling point between setup and pages in toDevice (the DMA copy), for races. */
  yieldInCopy = false;
  /** The flags toDevice collects with. */
  toDeviceFlags = MIGRATE_VMA_SELECT_SYSTEM;

  constructor(kernel: Kernel, kind: Kind, npages: number) {
    this.kernel = kernel;
    const range = requestFreeMemRegion(kernel, npages * PAGE_SIZE);
    if (typeof range === 'number') throw new Error(`request_free_mem_region: ${range}`);
    this.pgmap = {
      type: kind === 'private' ? MEMORY_DEVICE_PRIVATE : MEMORY_DEVICE_COHERENT,
      owner: this,
      range: { start: range.start, end: range.start + npages * PAGE_SIZE - 1 },
      pfnFirst: 0,
      pfnLast: 0,
      ops: {
        folioFree: (pfn) => {
          this.freed.push(pfn);
          this.free.push(pfn);
        },
        migrateToRam: (vmf) => this.migrateToRam(vmf),
      },
    };
    const first = memremapPages(kernel, this.pgmap);
    if (first < 0) throw new Error(`memremap_pages: ${first}`);
    this.first = first;
    for (let i = npages - 1; i >= 0; i--) this.free.push(first + i);
  }

  get selectDevice(): number {
    return this.pgmap.type === MEMORY_DEVICE_PRIVATE
      ? MIGRATE_VMA_SELECT_DEVICE_PRIVATE
      : MIGRATE_VMA_SELECT_DEVICE_COHERENT;
  }

  /** dmirror_devmem_alloc_page: a free page, refcount 1 and locked; -1 if none. */
  alloc(): number {
    const pfn = this.free.pop();
    if (pfn === undefined) return -1;
    zoneDevicePageInit(this.kernel, pfn);
    return pfn;
  }

  /** Moves [start, start + n pages) of `vma` to device memory; returns the args after finalize. */
  *toDevice(vma: Vma, start: number, n: number): Task<MigrateVma> {
    const args: MigrateVma = {
      vma,
      src: new Float64Array(n),
      dst: new Float64Array(n),
      start,
      end: start + n * PAGE_SIZE,
      pgmapOwner: this,
      flags: this.toDeviceFlags,
      cpages: 0,
      npages: 0,
    };
    const ret = yield* migrateVmaSetup(args);
    if (ret !== 0) throw new Error(`migrate_vma_setup: ${ret}`);
    if (this.yieldInCopy) yield* schedule('dma copy');
    const src = args.src as Float64Array;
    const dst = args.dst as Float64Array;
    for (let i = 0; i < args.npages; i++) {
      if (!(migratePfnFlags(src[i] as number) & MIGRATE_PFN_MIGRATE)) continue;
      const dpfn = this.alloc();
      if (dpfn < 0) break;
      const spfn = migratePfnToPage(src[i] as number);
      if (spfn >= 0) this.kernel.mem.copyPage(dpfn, spfn);
      dst[i] = migratePfn(dpfn);
    }
    yield* migrateVmaPages(args);
    migrateVmaFinalize(args);
    return args;
  }

  /** dmirror_devmem_fault: migrate the faulting page (and only it) back to system memory. */
  *migrateToRam(vmf: DevFault): Task<number> {
    this.faults.push(vmf.pfn);
    const vma = vmf.vma as Vma;
    const args: MigrateVma = {
      vma,
      src: new Float64Array(1),
      dst: new Float64Array(1),
      start: vmf.address - (vmf.address % PAGE_SIZE),
      end: vmf.address - (vmf.address % PAGE_SIZE) + PAGE_SIZE,
      pgmapOwner: this,
      flags: this.selectDevice,
      faultPage: vmf.pfn,
      cpages: 0,
      npages: 0,
    };
    if ((yield* migrateVmaSetup(args)) !== 0) return VM_FAULT_SIGBUS;
    this.onFault?.(args);
    const src = args.src as Float64Array;
    const dst = args.dst as Float64Array;
    const spfn = migratePfnToPage(src[0] as number);
    if (spfn >= 0 && migratePfnFlags(src[0] as number) & MIGRATE_PFN_MIGRATE) {
      const mem = this.kernel.mem;
      const dpfn = this.oom ? -1 : mem.allocPage();
      if (dpfn < 0) {
        migrateVmaFinalize(args);
        return VM_FAULT_OOM;
      }
      mem.trylockPage(dpfn);
      mem.copyPage(dpfn, spfn);
      dst[0] = migratePfn(dpfn);
    }
    yield* migrateVmaPages(args);
    migrateVmaFinalize(args);
    this.afterFault?.(args);
    return 0;
  }
}

/** The VMA of addr in mm (it must exist). */
export function vmaOf(mm: MmStruct, addr: number): Vma {
  const v = mm.vmaAt(addr);
  if (v === null) throw new Error(`no vma at ${addr}`);
  return v;
}

/**
 * A 'v6.19' machine with one process whose `n` anonymous pages, written with `byte`, were moved to
 * a `kind` device of `devPages` pages by toDevice.
 */
export function movedToDevice(kind: Kind, n: number, byte: number, devPages = 8) {
  const { sim, p } = setup({ kernel: 'v6.19' });
  const dev = new ModernDevice(sim.kernel, kind, devPages);
  const a = p.mmap(n * PAGE_SIZE, RW, ANON);
  p.write(a, new Uint8Array(n * PAGE_SIZE).fill(byte));
  const old = p.pte(a).pfn;
  const args = sim.run(
    'to-device',
    locked(p.mm, 'read', () => dev.toDevice(vmaOf(p.mm, a), a, n)),
  );
  return { sim, p, dev, a, old, args };
}

/** Runs `body` once per schedule a bounded DFS (2 preemptions) explores; returns how many ran. */
export function eachDfsSchedule(body: (dfs: Strategy) => void): number {
  const dfs = new DfsStrategy(2);
  let runs = 0;
  while (dfs.nextExecution()) {
    runs++;
    body(dfs);
  }
  return runs;
}

/** Spawns a CPU read of [a, a + len) on `ex`; the returned function gives what it read (null before). */
export function spawnCpuRead(ex: Executor, p: Process, a: number, len: number): () => Uint8Array | null {
  let read: Uint8Array | null = null;
  ex.spawn(
    'cpu',
    (function* (): Task {
      read = yield* p.task.read(a, len);
    })(),
  );
  return () => read;
}
