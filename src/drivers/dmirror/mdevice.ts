/**
 * struct dmirror_device: one simulated device — its memory, hot-plugged as MEMORY_DEVICE_PRIVATE
 * pages through hmm_devmem_add, with the free list, the allocation counters and the devmem ops:
 * `free` takes a page back when its last user goes, `fault` migrates a page the CPU touched back
 * to system memory.
 *
 * Divergence from lib/test_hmm.c: the device has real memory, so a device page's data lives in that
 * page's own frame (written only by the DMA engine); test_hmm backs each device page with a system
 * page because it has no device behind it. The device memory is added once, whole, at creation
 * (test_hmm grows it in 256 MiB chunks).
 *
 * @see lib/test_hmm.c (dmirror_devmem_alloc_page, dmirror_devmem_free, dmirror_devmem_fault)
 */

import { PAGE_SIZE } from '../../core/addr.js';
import { KernelBug } from '../../core/assert.js';
import { SimDevice, type SimDeviceOptions } from '../../device/device.js';
import type { HmmDevmem, HmmDevmemOps } from '../../hmm/seed/devmem.js';
import { hmmDevmemAdd, hmmDevmemPageGetDrvdata, hmmDevmemPageSetDrvdata } from '../../hmm/seed/devmem.js';
import type { Kernel } from '../../mm/kernel.js';
import type { Vma } from '../../mm/vma.js';
import { policyCpuFault, policySink } from '../../policy/events.js';
import type { Task } from '../../sched/index.js';
import { SpinLock } from '../../sched/index.js';
import type { Dmirror } from './dmirror.js';
import { dmirrorDevmemFault } from './migrate.js';

/**
 * struct dmirror_device: one device's private memory, its free list and allocation counters, and
 * the devmem ops that free a page and migrate it back on a CPU fault (see the file comment).
 *
 * @see lib/test_hmm.c (struct dmirror_device)
 */
export class DmirrorDevice {
  /** The kernel whose mm this device mirrors. */
  readonly kernel: Kernel;
  /** The simulated hardware: its memory frames, MMU and DMA engine. */
  readonly device: SimDevice;
  /** The MEMORY_DEVICE_PRIVATE pages hot-plugged for the device memory (hmm_devmem_add). */
  readonly devmem: HmmDevmem;
  /**
   * Free device pfns given back, LIFO as the kernel's list through page->zone_device_data; below
   * them, the pages never handed out (`fresh` on), lowest first, as the list built at creation
   * would hand them out, without building it (a page at a time, for every device page of every run).
   */
  private readonly freePages: number[] = [];
  private fresh = 0;
  /** Pages handed out and taken back (calloc, cfree). */
  calloc = 0;
  /** Pages taken back by the devmem `free` op (mdevice->cfree). */
  cfree = 0;
  /** Guards the free list and the counters. */
  readonly lock: SpinLock;
  /** What each page's drvdata word holds (a host-side copy, so allocation reads no hash table). */
  private readonly owners: (Dmirror | undefined)[] = [];
  /**
   * The driver's books for eviction: the vpn each in-use page backs in its owner's mm, and its
   * allocation sequence number, each stored plus one (0: none, so that the arrays need no fill and
   * a run that never allocates a page never touches their memory); `lra` lists (page, sequence) in
   * allocation order, and an entry whose page was freed or reallocated since is stale and skipped.
   */
  private readonly vpnOf: Float64Array;
  private readonly seqOf: Float64Array;
  private lra: { pfn: number; seq: number }[] = [];
  private lraHead = 0;
  private seq = 0;
  /** Contexts opened on this device, for ids. */
  private contexts = 0;

  constructor(kernel: Kernel, id: number, memoryPages: number, opts: SimDeviceOptions = {}) {
    this.kernel = kernel;
    this.device = new SimDevice(id, memoryPages, kernel.mem, opts);
    this.lock = new SpinLock(`dmirror_device${id}.lock`);
    const devmem = hmmDevmemAdd(kernel, this.ops, this.device, memoryPages * PAGE_SIZE);
    if (typeof devmem === 'number') throw new KernelBug(`dmirror: hmm_devmem_add failed with ${devmem}`);
    this.devmem = devmem;
    this.vpnOf = kernel.mem.arrays.f64(memoryPages);
    this.seqOf = kernel.mem.arrays.f64(memoryPages);
  }

  /** Device pages on the free list now. */
  get freeCount(): number {
    return this.freePages.length + this.device.memoryPages - this.fresh;
  }

  /** dmirror_devmem_alloc_page: a free device page, referenced and locked for migration, or -1. */
  allocPage(owner: Dmirror): number {
    this.lock.lock();
    let pfn = this.freePages.pop();
    if (pfn === undefined && this.fresh < this.device.memoryPages) pfn = this.devmem.pfnFirst + this.fresh++;
    if (pfn !== undefined) this.calloc++;
    this.lock.unlock();
    if (pfn === undefined) return -1;
    const mem = this.kernel.mem;
    mem.getPage(pfn);
    if (!mem.trylockPage(pfn)) throw new KernelBug(`dmirror: free device page ${pfn} was locked`);
    // The word keeps its last owner while the page is free (test_hmm reuses it as the free-list
    // link), so a page going back to the same dmirror needs no write.
    const k = pfn - this.devmem.pfnFirst;
    if (this.owners[k] !== owner) {
      this.owners[k] = owner;
      hmmDevmemPageSetDrvdata(this.devmem, pfn, owner);
    }
    return pfn;
  }

  /** An id for a new context (open file) on this device. */
  newContextId(): number {
    return this.contexts++;
  }

  /** Records that `pfn` now backs `vpn` of its owner's mm: it joins the allocation-order list. */
  noteMapped(pfn: number, vpn: number): void {
    const k = pfn - this.devmem.pfnFirst;
    this.owners[k]?.resident.set(vpn, pfn);
    this.vpnOf[k] = vpn + 1;
    this.seqOf[k] = this.seq + 1;
    this.lra.push({ pfn, seq: this.seq++ });
  }

  /**
   * Up to n in-use pages, least recently allocated first, skipping those `keep` protects (they
   * stay in the list). Taking a victim drops it from the list; a page that fails to move is simply
   * not evicted.
   */
  lraVictims(
    n: number,
    keep: (owner: Dmirror, vpn: number) => boolean,
  ): {
    /** The dmirror whose mm the page backs. */
    owner: Dmirror;
    /** The virtual page number (address / PAGE_SIZE) the page backs in the owner's mm. */
    vpn: number;
  }[] {
    const out: { owner: Dmirror; vpn: number }[] = [];
    const kept: { pfn: number; seq: number }[] = [];
    while (out.length < n && this.lraHead < this.lra.length) {
      const e = this.lra[this.lraHead++]!;
      const k = e.pfn - this.devmem.pfnFirst;
      if (this.seqOf[k] !== e.seq + 1) continue;
      const owner = this.owners[k]!;
      const vpn = (this.vpnOf[k] as number) - 1;
      if (keep(owner, vpn)) kept.push(e);
      else {
        this.seqOf[k] = 0;
        out.push({ owner, vpn });
      }
    }
    // The kept entries go back in front of the rest, in the slots just taken: rebuilding the list
    // with concat left an array with no spare capacity, so every next push copied it whole.
    for (let i = kept.length - 1; i >= 0; i--) this.lra[--this.lraHead] = kept[i]!;
    if (this.lraHead > 4096 && this.lraHead * 2 > this.lra.length) {
      this.lra.splice(0, this.lraHead);
      this.lraHead = 0;
    }
    return out;
  }

  /** The live placement of `pfn` in the eviction books (its owner and vpn), or null. */
  placement(pfn: number): {
    /** The dmirror whose mm the page backs. */
    owner: Dmirror;
    /** The virtual page it backs there. */
    vpn: number;
  } | null {
    const k = pfn - this.devmem.pfnFirst;
    if (!(k >= 0 && k < this.device.memoryPages) || this.seqOf[k] === 0) return null;
    return { owner: this.owners[k] as Dmirror, vpn: (this.vpnOf[k] as number) - 1 };
  }

  /**
   * dmirror_fops_release's part in the books: every page `owner` leaves in device memory stops
   * pointing at it (drvdata, owner word, eviction books), since the struct dmirror is about to be
   * freed. Its pages stay where they are, unowned: a CPU fault or the process's exit brings them
   * back, and eviction no longer picks them.
   */
  dropOwner(owner: Dmirror): void {
    for (let k = 0; k < this.owners.length; k++) {
      if (this.owners[k] !== owner) continue;
      this.owners[k] = undefined;
      this.seqOf[k] = 0;
      hmmDevmemPageSetDrvdata(this.devmem, this.devmem.pfnFirst + k, undefined);
    }
  }

  /** Takes `pfn` out of the eviction books (a policy chose it as a victim). */
  forget(pfn: number): void {
    const k = pfn - this.devmem.pfnFirst;
    if (k >= 0 && k < this.device.memoryPages) this.seqOf[k] = 0;
  }

  /** Live placements, least recently allocated first. */
  *placements(): Generator<{
    /** The device page. */
    pfn: number;
    /** The dmirror whose mm it backs. */
    owner: Dmirror;
    /** The virtual page it backs there. */
    vpn: number;
  }> {
    for (let i = this.lraHead; i < this.lra.length; i++) {
      const e = this.lra[i] as { pfn: number; seq: number };
      const k = e.pfn - this.devmem.pfnFirst;
      if (this.seqOf[k] === e.seq + 1)
        yield { pfn: e.pfn, owner: this.owners[k] as Dmirror, vpn: (this.vpnOf[k] as number) - 1 };
    }
  }

  /** Which dmirror put data in this device page (rpage->zone_device_data in test_hmm); meaningful while the page is in use. */
  ownerOf(pfn: number): Dmirror {
    return hmmDevmemPageGetDrvdata(this.devmem, pfn) as Dmirror;
  }

  /** Whether `pfn` is one of this device's private pages (in [pfnFirst, pfnLast)). */
  owns(pfn: number): boolean {
    return pfn >= this.devmem.pfnFirst && pfn < this.devmem.pfnLast;
  }

  private readonly ops: HmmDevmemOps = {
    free: (_devmem, pfn) => this.freePage(pfn),
    fault: (_devmem, vma, addr, pfn, _flags) => this.fault(vma, addr, pfn),
  };

  /** dmirror_devmem_free: the page's last user is gone; its contents go with it. */
  private freePage(pfn: number): void {
    this.kernel.mem.clearPage(pfn);
    const k = pfn - this.devmem.pfnFirst;
    this.seqOf[k] = 0;
    const owner = this.owners[k];
    const vpn = (this.vpnOf[k] as number) - 1;
    if (owner !== undefined && vpn >= 0 && owner.resident.get(vpn) === pfn) owner.resident.delete(vpn);
    this.lock.lock();
    this.freePages.push(pfn);
    this.cfree++;
    this.lock.unlock();
  }

  private fault(vma: Vma, addr: number, pfn: number): Task<number> {
    const owner = this.ownerOf(pfn);
    // The owner's policy hears of it (UVM's thrashing detector counts it); the page goes back anyway.
    if (owner !== undefined) policyCpuFault(policySink(owner.pt.trace, this.device), owner.policy, addr, pfn);
    return dmirrorDevmemFault(this, vma, addr, pfn);
  }
}
