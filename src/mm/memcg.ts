/**
 * Memory cgroups, reduced to what HMM's accounting rules need: a page is charged to one cgroup
 * when it is allocated for a process and uncharged when it is freed; a charge past the limit fails
 * (the fault then returns VM_FAULT_OOM). Migration moves a charge from the old page to the new one
 * (mem_cgroup_migrate) instead of charging again, which is why migrating a device page back to
 * system memory can never fail on the limit (hmm.rst, "Memory cgroup (memcg) and rss accounting").
 *
 * Divergence: no hierarchy, no reclaim, no kmem accounting; page tables are not charged.
 *
 * @see mm/memcontrol.c (Linux v5.3)
 */

import { ArgumentError } from '../core/errno.js';

/**
 * struct mem_cgroup, reduced to a page counter with a limit (see the file comment). @see mm/memcontrol.c
 * (Linux v5.3)
 */
export class MemCgroup {
  /** Index in the MemcgTable; page->memcg_data stores it (0 = uncharged). */
  readonly id: number;
  /** Name for reports (the cgroup directory name). */
  readonly name: string;
  /** memory.limit_in_bytes, in pages; Infinity for no limit. */
  limitPages: number;
  /** memory.usage_in_bytes, in pages: what is charged now. */
  usagePages = 0;
  /** memory.max_usage_in_bytes, in pages: the high-water mark of usagePages. */
  maxUsagePages = 0;
  /** How many charges failed on the limit (memory.failcnt). */
  failcnt = 0;

  constructor(id: number, name: string, limitPages: number) {
    this.id = id;
    this.name = name;
    this.limitPages = limitPages;
  }

  /** try_charge: false when the charge would pass the limit. */
  tryCharge(npages: number): boolean {
    if (this.usagePages + npages > this.limitPages) {
      this.failcnt++;
      return false;
    }
    this.usagePages += npages;
    if (this.usagePages > this.maxUsagePages) this.maxUsagePages = this.usagePages;
    return true;
  }

  /** mem_cgroup_uncharge for `npages` pages: they were freed or their charge moved away. */
  uncharge(npages: number): void {
    this.usagePages -= npages;
  }
}

/** Every memory cgroup of a machine, by id; id 0 is none, id 1 the root (no limit). */
export class MemcgTable {
  private readonly groups: (MemCgroup | undefined)[] = [undefined];
  /** root_mem_cgroup: unlimited, where uncharged tasks live. */
  readonly root: MemCgroup;

  constructor() {
    this.root = this.create('root', Number.POSITIVE_INFINITY);
  }

  /** A new cgroup with `limitPages` (default no limit); ArgumentError if negative or NaN. */
  create(name: string, limitPages = Number.POSITIVE_INFINITY): MemCgroup {
    if (!(limitPages >= 0)) throw new ArgumentError('limitPages', `expected >= 0, got ${limitPages}`);
    const cg = new MemCgroup(this.groups.length, name, limitPages);
    this.groups.push(cg);
    return cg;
  }

  /** The cgroup with `id`, or undefined. */
  get(id: number): MemCgroup | undefined {
    return this.groups[id];
  }

  /** Every cgroup, root first, in creation order. */
  all(): MemCgroup[] {
    return this.groups.filter((g): g is MemCgroup => g !== undefined);
  }
}
