/**
 * struct mm_struct: one address space — its page tables, its VMAs (sorted by address), mmap_sem,
 * the rss counters, its mmu notifiers and its memcg.
 *
 * Lifetimes follow the kernel: mm_users counts users of the address space (the process, and any
 * mmget() such as a registered HMM range); when it drops to 0 the address space is torn down
 * (exit_mmap). mm_count counts references to the struct itself (mmgrab, e.g. a registered notifier).
 *
 * @see include/linux/mm_types.h, kernel/fork.c (mmput), mm/mmap.c (find_vma, exit_mmap) (Linux v5.3)
 */

import { KernelBug } from '../core/assert.js';
import type { Task } from '../sched/index.js';
import { currentOrNull, MemKind, memRead, memWrite, nameForFootprints, RwSem } from '../sched/index.js';
import type { Kernel } from './kernel.js';
import type { MmuNotifier } from './mmu_notifier.js';
import { PG_anon, PG_swapbacked } from './page.js';
import { LEVEL_PGD } from './pagetable.js';
import type { Vma } from './vma.js';

/** MM_FILEPAGES: rss counter of file-backed pages. @see include/linux/mm_types_task.h */
export const MM_FILEPAGES = 0;
/** MM_ANONPAGES: rss counter of anonymous pages. */
export const MM_ANONPAGES = 1;
/** MM_SWAPENTS: count of swap entries in the page tables (not resident). */
export const MM_SWAPENTS = 2;
/** MM_SHMEMPAGES: rss counter of shmem pages. */
export const MM_SHMEMPAGES = 3;

/**
 * mm_struct: one process address space (its VMAs, page-table root, mmap_sem, rss counters and notifiers).
 * @see include/linux/mm_types.h
 */
export class MmStruct {
  /** The kernel this address space lives in. */
  readonly kernel: Kernel;
  /** Per-kernel id, 1-based, for logs and reports. */
  readonly id: number;
  /** mm->pgd: the index of the top-level page table in the kernel's PageTablePool. */
  readonly pgd: number;
  /** VMAs sorted by start, non-overlapping. */
  readonly vmas: Vma[] = [];
  /** mm->mmap_sem (mmap_lock since v5.8): guards the VMA list; faults take it for read. */
  readonly mmapSem: RwSem;
  /** rss_stat: MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES. */
  readonly rss = [0, 0, 0, 0];
  /** mmu notifiers, newest first. */
  readonly notifiers: MmuNotifier[] = [];
  /** The memory cgroup this mm's pages are charged to (mm->memcg via its owner). */
  readonly memcgId: number;
  /** mm->hmm: the slot the HMM layer hangs its per-mm struct on. */
  hmm: unknown = null;
  /** mm_users: references that keep the address space (VMAs, page tables) alive; 0 runs exit_mmap. */
  users = 1;
  /** mm_count: references that keep the mm_struct itself alive; 0 frees the pgd. */
  count = 1;
  /** mm->hugetlb_usage in pages (HugetlbPages of /proc/pid/status; hugetlb is not in rss). */
  hugetlbUsage = 0;
  /** MMF_HUGE_ZERO_PAGE: this mm holds a reference on the huge zero page (huge_memory.ts). */
  hugeZero = false;
  /** exit_mmap has run: no VMAs, no page tables below the pgd. */
  dead = false;

  constructor(kernel: Kernel, id: number, memcgId: number) {
    this.kernel = kernel;
    this.id = id;
    this.memcgId = memcgId;
    this.pgd = kernel.pt.allocTable(LEVEL_PGD);
    this.mmapSem = new RwSem('mmap_sem');
    // One lockdep class, but each mm's its own lock to DPOR: a forked child's mmap_sem does not
    // order the parent's steps (the id is the same in every execution: mms are numbered in order).
    nameForFootprints(this.mmapSem, `mmap_sem ${id}`);
  }

  /**
   * find_vma: the first VMA with end > addr (it may start above addr), or null. The caller holds
   * mmap_lock (mmap_assert_locked, mm/mmap.c v6.19; v5.3 required it without asserting): a LockdepBug
   * otherwise, at the call. Code outside any thread (checkers, tests) is not kernel context and
   * is not checked.
   */
  findVma(addr: number): Vma | null {
    if (currentOrNull() !== null) this.mmapSem.assertHeld('any');
    const i = this.findVmaIndex(addr);
    return i < this.vmas.length ? (this.vmas[i] as Vma) : null;
  }

  /** Index of the first VMA with end > addr (vmas.length if none). */
  findVmaIndex(addr: number): number {
    memRead(MemKind.vma, this.id, 0);
    const v = this.vmas;
    let lo = 0;
    let hi = v.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((v[mid] as Vma).end > addr) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /**
   * The VMA containing addr, or null: the model's lookup for paths that reach a VMA another way in
   * the kernel (rmap, a page's mapping), so it asserts no lock; find_vma does.
   */
  vmaAt(addr: number): Vma | null {
    const vma = this.vmas[this.findVmaIndex(addr)] ?? null;
    return vma !== null && vma.start <= addr ? vma : null;
  }

  /** insert_vm_struct(): links `vma` into the sorted VMA list; a KernelBug if it overlaps another. */
  insertVma(vma: Vma): void {
    memWrite(MemKind.vma, this.id, 0);
    const i = this.findVmaIndex(vma.start);
    const next = this.vmas[i];
    if (next !== undefined && next.start < vma.end)
      throw new KernelBug(`insert_vm_struct: ${vma} overlaps ${next}`);
    this.vmas.splice(i, 0, vma);
  }

  /** Unlinks `vma` from the VMA list; a KernelBug if it is not there. */
  removeVma(vma: Vma): void {
    memWrite(MemKind.vma, this.id, 0);
    const i = this.vmas.indexOf(vma);
    if (i < 0) throw new KernelBug(`remove_vma: ${vma} is not in mm ${this.id}`);
    this.vmas.splice(i, 1);
  }

  /** mm_counter(page): which rss counter a page mapped here counts in. */
  mmCounter(pfn: number): number {
    const f = this.kernel.mem.store.flags[pfn] as number;
    if (f & PG_anon) return MM_ANONPAGES;
    return f & PG_swapbacked ? MM_SHMEMPAGES : MM_FILEPAGES;
  }

  /** Resident pages (file + anon + shmem, not swap entries), as get_mm_rss(). */
  get totalRss(): number {
    return (
      (this.rss[MM_FILEPAGES] as number) +
      (this.rss[MM_ANONPAGES] as number) +
      (this.rss[MM_SHMEMPAGES] as number)
    );
  }

  /** mmget(): takes an mm_users reference; a KernelBug once users reached 0. */
  mmget(): void {
    if (this.users <= 0) throw new KernelBug('mmget: mm_users is 0');
    this.users++;
  }

  /** mmget_not_zero: false once the address space is being torn down. */
  mmgetNotZero(): boolean {
    if (this.users <= 0) return false;
    this.users++;
    return true;
  }

  /** mmgrab(): takes an mm_count reference, keeping the struct (not the address space) alive. */
  mmgrab(): void {
    this.count++;
  }

  /** mmdrop: the last reference frees the pgd (__mmdrop). */
  mmdrop(): void {
    if (this.count <= 0) throw new KernelBug('mmdrop: mm_count underflow');
    this.count--;
    if (this.count > 0) return;
    if (!this.dead) throw new KernelBug(`__mmdrop: mm ${this.id} freed before exit_mmap`);
    this.kernel.pt.freeTable(this.pgd);
    this.kernel.mms.delete(this);
  }
}

/** How mmput tears an address space down; set by mmap.ts (exit_mmap) to keep this file cycle-free. */
export const mmHooks: {
  /** exit_mmap(): unmaps every VMA and frees the page tables when mm_users drops to 0. */
  exitMmap: (mm: MmStruct) => Task;
} = {
  exitMmap: () => {
    throw new KernelBug('exit_mmap not wired');
  },
};

/**
 * add_mm_counter / inc_mm_counter / dec_mm_counter: every rss update goes through these, as the
 * kernel's do (it keeps per-cpu counters behind them; the model, one array).
 * @see include/linux/mm.h (Linux v5.3)
 */
export function addMmCounter(mm: MmStruct, member: number, value: number): void {
  mm.rss[member] = (mm.rss[member] as number) + value;
}

/** inc_mm_counter(): one more page in rss counter `member` (MM_FILEPAGES..MM_SHMEMPAGES). */
export function incMmCounter(mm: MmStruct, member: number): void {
  mm.rss[member] = (mm.rss[member] as number) + 1;
}

/** dec_mm_counter(): one page fewer in rss counter `member`. */
export function decMmCounter(mm: MmStruct, member: number): void {
  mm.rss[member] = (mm.rss[member] as number) - 1;
}

/** mmput: the last user tears the address space down (exit_mmap) and drops the struct. */
export function* mmput(mm: MmStruct): Task {
  if (mm.users <= 0) throw new KernelBug(`mmput: mm_users underflow on mm ${mm.id}`);
  mm.users--;
  if (mm.users > 0) return;
  yield* mmHooks.exitMmap(mm);
  mm.mmdrop();
}
