/**
 * The mirror-coherence checker: the invariant hmm.h states for every mirror, "at any moment each
 * virtual page maps the same memory in the CPU and the device page tables, or one side has no
 * entry", made exact for a device that gets its entries only through HMM:
 *
 * - a device entry maps the frame the CPU's PTE maps at that address (a present PTE's pfn, or for a
 *   device-private entry the device page itself, and then only on the device that owns it, or for
 *   a device-exclusive entry its page, read-only or atomic: v6.19's make_device_exclusive); an
 *   atomic (test_hmm ATOMIC) entry only that: once the CPU maps the page again, its atomics are gone;
 * - or the CPU side has no usable entry (none, PROT_NONE, a migration entry) while an invalidation
 *   covering the address is in flight: the driver has been told, the CPU changed its side, and the
 *   invalidation has not yet ended. Once it has ended the device must have no entry there either;
 * - never a frame that is free (PG_buddy RAM, or a device page back on its free list), in flight or
 *   not, and nothing at all once the address space has been torn down;
 * - never a writable device entry where the CPU's entry is read-only, once no invalidation covering
 *   the address is in flight (a protection downgrade must erase or downgrade the device entry).
 *
 * - every translation the device TLB caches is one the device page table holds, with no more
 *   permission: a driver that erases entries must invalidate the TLB too.
 *
 * "In flight" is hmm.inflight of the mm (invalidate_range_start done, _end not yet), recorded by
 * src/hmm/hmm.ts for the checkers. The checker reads the page tables and the page store and writes
 * nothing; it is cheap enough to run after every scheduler step (a few entries per device).
 *
 * @see include/linux/hmm.h (v5.3, the comment above struct hmm_mirror_ops), Documentation/vm/hmm.rst
 */

import { hex, PAGE_SIZE } from '../core/addr.js';
import type { DriverView } from '../drivers/driver.js';
import { mmHmm } from '../hmm/seed/hmm.js';
import type { Kernel } from '../mm/kernel.js';
import type { MmStruct } from '../mm/mm.js';
import { PG_buddy, pgmapFreeRefcount, ZONE_DEVICE } from '../mm/page.js';
import {
  describePte,
  isDeviceExclusiveType,
  isDevicePrivateType,
  isMigrationType,
  isWriteSwpType,
  ptePfn,
  ptePresent,
  pteProtnone,
  pteWrite,
  swpType,
} from '../mm/pte.js';

/** One device's view of one address space, as the checker needs it: a narrow view of a driver. */
export type MirrorView = Pick<
  DriverView,
  'mm' | 'pt' | 'tlb' | 'owns' | 'pgmapOwner' | 'liveUntilCleared'
> & {
  /** For messages, e.g. 'dev0'. */
  readonly name: string;
  /**
   * The file is being closed (release has begun): the device can no longer use it, so its entries
   * are dead until the release clears them (test_hmm clears after mmu_interval_notifier_remove).
   */
  readonly closed?: boolean;
};

/** A closed mirror whose table nothing walks any more (DriverView.liveUntilCleared): not checked. */
function retired(m: MirrorView): boolean {
  return m.closed === true && m.liveUntilCleared !== true;
}

/** Every coherence violation, one readable line each (at most `max`). */
export function coherenceViolations(
  kernel: Kernel,
  mirrors: readonly MirrorView[],
  max = Number.POSITIVE_INFINITY,
): string[] {
  const out: string[] = [];
  for (const m of mirrors) {
    if (out.length >= max) break;
    if (retired(m)) continue;
    const stale = tlbViolation(m);
    if (stale !== null) out.push(stale);
    if (m.pt.size === 0) continue;
    m.pt.forEach((vpn, pfn, write) => {
      if (out.length >= max) return;
      const v = checkEntry(kernel, m, vpn, pfn, write);
      if (v !== null) out.push(v);
    });
  }
  return out;
}

/** The first coherence violation, or null. */
export function checkCoherence(kernel: Kernel, mirrors: readonly MirrorView[]): string | null {
  for (const m of mirrors) {
    if (retired(m)) continue;
    const stale = tlbViolation(m);
    if (stale !== null) return stale;
    if (m.pt.size === 0) continue;
    const found = m.pt.findEntry(checkEntry, kernel, m);
    if (found !== null) return found;
  }
  return null;
}

/** A TLB entry the device page table does not back (gone, another frame, or less permission). */
export function tlbViolation(m: MirrorView): string | null {
  if (m.tlb === undefined || m.tlb.size === 0) return null;
  for (const e of m.tlb.cached()) {
    const pfn = m.pt.pfnOf(e.vpn);
    if (pfn === e.pfn && (!e.write || m.pt.isWritable(e.vpn))) continue;
    const pt = pfn < 0 ? 'no entry' : `pfn ${pfn}${m.pt.isWritable(e.vpn) ? ' rw' : ' ro'}`;
    return `${m.name}: stale TLB entry at ${hex(e.vpn * PAGE_SIZE)}: TLB pfn ${e.pfn}${e.write ? ' rw' : ' ro'}, device page table ${pt} (the driver did not invalidate the TLB)`;
  }
  return null;
}

/**
 * True if pfn is held by a migrate_vma whose pgmap_owner is this driver's (a THP's pages by its
 * head, the one src entry that holds the folio).
 */
function ownMigration(kernel: Kernel, m: MirrorView, pfn: number): boolean {
  const head = kernel.mem.store.compoundHead(pfn);
  return m.pgmapOwner !== undefined && kernel.migrateOwners.get(head) === m.pgmapOwner;
}

/** True if an invalidation of mm covering addr is in flight (hmm.inflight). */
export function invalidationInFlight(mm: MmStruct, addr: number): boolean {
  const hmm = mmHmm(mm);
  if (hmm === null) return false;
  for (const r of hmm.inflight) if (addr >= r.start && addr < r.end) return true;
  return false;
}

/** checkEntry's CPU entry, read into this (a PMD's narrowed to the page: PageTablePool.pageEntry). */
const entry = new Uint32Array(2);

function checkEntry(kernel: Kernel, m: MirrorView, vpn: number, pfn: number, write: boolean): string | null {
  const addr = vpn * PAGE_SIZE;
  const s = kernel.mem.store;
  // built only for a report: the check runs on every entry after every step
  const what = () => `${m.name} maps ${hex(addr)} (mm ${m.mm.id}) to pfn ${pfn}${write ? ' writable' : ''}`;
  if (!s.isValidPfn(pfn)) return `${what()}, a frame that does not exist`;
  if (s.zone[pfn] === ZONE_DEVICE) {
    // A folio's refcount is its head's (a tail page of a device THP keeps 0).
    if ((s.refcount[s.compoundHead(pfn)] as number) <= pgmapFreeRefcount(s.pgmapOf(pfn)))
      return `${what()}, a device page that is free (idle on its device)`;
  } else if (((s.flags[pfn] as number) & PG_buddy) !== 0) {
    return `${what()}, a page that is free (PG_buddy)`;
  }
  const mm = m.mm;
  if (mm.dead) return `${what()} after its address space was torn down (exit_mmap)`;
  const covered = invalidationInFlight(mm, addr);
  const pt = kernel.pt;
  pt.pageEntry(mm.pgd, addr, entry);
  const lo = entry[0] as number;
  const hi = entry[1] as number;
  let cpu: string;
  if (lo === 0 && hi === 0) {
    cpu = 'the CPU has no entry there';
  } else if (ptePresent(lo)) {
    const cpuPfn = ptePfn(lo, hi);
    if (pteProtnone(lo)) {
      cpu = `the CPU's entry is PROT_NONE (${describePte(lo, hi)})`;
    } else if (cpuPfn === pfn) {
      if (m.pt.isAtomic(vpn) && !covered) {
        return `${what()} for atomics (ATOMIC), but the CPU maps it too (${describePte(lo, hi)}): the page is no longer device-exclusive and no invalidation covering it is in flight`;
      }
      if (write && !pteWrite(lo) && !covered) {
        return `${what()}, but the CPU's entry is read-only (${describePte(lo, hi)}) and no invalidation covering it is in flight`;
      }
      return null;
    } else {
      // A different frame: the driver missed (or raced with) the invalidation that changed it.
      return `${what()}, but the CPU maps pfn ${cpuPfn} there (${describePte(lo, hi)})${covered ? ', an invalidation covering it is in flight' : ''}`;
    }
  } else {
    const type = swpType(lo);
    const cpuPfn = ptePfn(lo, hi);
    if (isDevicePrivateType(type)) {
      if (cpuPfn === pfn) {
        if (!m.owns(pfn)) return `${what()}, a device-private page of another device`;
        if (write && !isWriteSwpType(type) && !covered) {
          return `${what()}, but the CPU's device-private entry is read-only (${describePte(lo, hi)}) and no invalidation covering it is in flight`;
        }
        return null;
      }
      return `${what()}, but the CPU has a device-private entry for pfn ${cpuPfn} there${covered ? ', an invalidation covering it is in flight' : ''}`;
    }
    if (isDeviceExclusiveType(type) && cpuPfn === pfn) {
      // The device holds the page for atomics (test_hmm's ATOMIC entry): coherent, read-only to it.
      if (!write || covered) return null;
      return `${what()}, but the CPU's entry is device-exclusive (${describePte(lo, hi)}), which a device may not write through, and no invalidation covering it is in flight`;
    }
    // The driver's own migration of this very page: it skipped the MIGRATE invalidation, which
    // carried its owner, and updates its entry as part of the migration (test_hmm, nouveau).
    if (isMigrationType(type) && cpuPfn === pfn && ownMigration(kernel, m, pfn)) return null;
    cpu = isMigrationType(type)
      ? `the CPU has a migration entry there (pfn ${cpuPfn} is being migrated)`
      : `the CPU has a swap entry there (${describePte(lo, hi)})`;
  }
  if (covered) return null;
  return `${what()}, but ${cpu} and no invalidation covering it is in flight`;
}
