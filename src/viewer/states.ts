/**
 * The states the viewer colours, read off the page tables: a CPU PTE or PMD decoded into one of the
 * record's CPU states (src/schema/viewer.ts), and a device page-table entry into a device state.
 * Reads only: nothing here writes a table.
 *
 * @see arch/x86/include/asm/pgtable.h (pte_present, pte_protnone), include/linux/swapops.h
 * (is_migration_entry, is_device_private_entry, is_device_exclusive_entry), Linux v6.19
 */

import {
  type DevicePageTable,
  DPT_TAG_ATOMIC,
  DPT_TAG_WRITE,
  dptEntryPfn,
} from '../device/device_pagetable.js';
import { ZERO_PFN } from '../mm/page.js';
import type { PageTablePool } from '../mm/pagetable.js';
import * as pte from '../mm/pte.js';
import type { ViewerCpuState, ViewerDeviceState } from '../schema/viewer.js';

/** The record's CPU states in code order (the record's legend.cpu). */
export const CPU_STATES: readonly ViewerCpuState[] = [
  'none',
  'ro',
  'rw',
  'zero',
  'protnone',
  'migration',
  'device-private',
  'device-exclusive',
  'huge-ro',
  'huge-rw',
  'swap',
];
/** The record's device states in code order (legend.device). */
export const DEVICE_STATES: readonly ViewerDeviceState[] = ['none', 'ro', 'rw', 'atomic'];

const CPU_CODE = new Map(CPU_STATES.map((s, i) => [s, i]));

/** The code of a CPU state. */
export function cpuCode(s: ViewerCpuState): number {
  return CPU_CODE.get(s) as number;
}

/** A decoded entry: the state's code and the pfn it names (-1 for none). */
export interface DecodedEntry {
  /** Index into CPU_STATES or DEVICE_STATES. */
  state: number;
  /** The pfn the entry maps or references; -1 when none. */
  pfn: number;
}

const NONE: DecodedEntry = { state: 0, pfn: -1 };

/** The state of the leaf entry translating `vpn` in the page tables at `pgd` (none if no table). */
export function cpuEntry(pool: PageTablePool, pgd: number, vpn: number): DecodedEntry {
  const pmd = pool.pmdSlot(pgd, vpn * 4096);
  if (pmd < 0) return NONE;
  const plo = pool.lo[pmd] as number;
  const phi = pool.hi[pmd] as number;
  if (pte.pmdHuge(plo) || (!pte.pteNone(plo, phi) && !pte.ptePresent(plo)))
    return pmdEntry(plo, phi, vpn % 512);
  const slot = pool.pteSlot(pgd, vpn * 4096);
  return slot < 0 ? NONE : pteEntry(pool.lo[slot] as number, pool.hi[slot] as number);
}

/** A huge or non-present PMD's state for its subpage `sub`. */
export function pmdEntry(lo: number, hi: number, sub: number): DecodedEntry {
  if (pte.pmdHuge(lo)) {
    return { state: cpuCode(pte.pteWrite(lo) ? 'huge-rw' : 'huge-ro'), pfn: pte.ptePfn(lo, hi) + sub };
  }
  return swapEntry(lo, hi, sub);
}

/** A PTE's state, from its two words. */
export function pteEntry(lo: number, hi: number): DecodedEntry {
  if (pte.pteNone(lo, hi)) return NONE;
  const pfn = pte.ptePfn(lo, hi);
  if (pte.pteProtnone(lo)) return { state: cpuCode('protnone'), pfn };
  if (pte.ptePresent(lo)) {
    if (pfn === ZERO_PFN && pte.pteSpecial(lo)) return { state: cpuCode('zero'), pfn };
    return { state: cpuCode(pte.pteWrite(lo) ? 'rw' : 'ro'), pfn };
  }
  return swapEntry(lo, hi, 0);
}

/** A non-present entry: migration, device-private, device-exclusive, or another swap entry. */
function swapEntry(lo: number, hi: number, sub: number): DecodedEntry {
  const type = pte.swpType(lo);
  const pfn = pte.ptePfn(lo, hi) + sub;
  if (pte.isMigrationType(type)) return { state: cpuCode('migration'), pfn };
  if (pte.isDevicePrivateType(type)) return { state: cpuCode('device-private'), pfn };
  if (pte.isDeviceExclusiveType(type)) return { state: cpuCode('device-exclusive'), pfn };
  return { state: cpuCode('swap'), pfn: -1 };
}

/** The state of a device page table's entry for `vpn`: none, ro, rw or atomic (DEVICE_STATES codes). */
export function deviceEntry(pt: DevicePageTable, vpn: number): DecodedEntry {
  const e = pt.lookup(vpn);
  if (e < 0) return NONE;
  const tag = e % 4;
  const state = tag === DPT_TAG_ATOMIC ? 3 : tag === DPT_TAG_WRITE ? 2 : 1;
  return { state, pfn: dptEntryPfn(e) };
}
