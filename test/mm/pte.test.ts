import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  _PAGE_ACCESSED,
  _PAGE_DEVMAP_HI,
  _PAGE_DIRTY,
  _PAGE_PRESENT,
  _PAGE_PROTNONE,
  _PAGE_PSE,
  _PAGE_RW,
  _PAGE_SPECIAL,
  _PAGE_USER,
  describePte,
  isDevicePrivateType,
  isMigrationType,
  isPmdDevicePrivateEntry,
  isPmdMigrationEntry,
  isPmdNonPresentFolioEntry,
  isSwapPmd,
  isWriteSwpType,
  PTE_FLAGS_MASK,
  pmdHuge,
  pmdPresent,
  pteAccessible,
  pteDevmap,
  pteDirty,
  pteHiOf,
  pteLoOf,
  pteNone,
  ptePfn,
  ptePresent,
  pteProtnone,
  pteSpecial,
  pteWrite,
  SWP_DEVICE_READ,
  SWP_DEVICE_WRITE,
  SWP_HWPOISON,
  SWP_MIGRATION_READ,
  SWP_MIGRATION_WRITE,
  SWP_SWAPFILE,
  swpEntryLo,
  swpType,
} from '../../src/mm/pte.js';

const pfn40 = fc.oneof(
  fc.integer({ min: 0, max: 2 ** 40 - 1 }),
  fc.constantFrom(0, 1, 2 ** 20 - 1, 2 ** 20, 2 ** 32 - 1, 2 ** 32, 2 ** 40 - 1),
);
const flags12 = fc.integer({ min: 0, max: PTE_FLAGS_MASK });
const swpTypes = [
  SWP_SWAPFILE,
  SWP_HWPOISON,
  SWP_MIGRATION_READ,
  SWP_MIGRATION_WRITE,
  SWP_DEVICE_READ,
  SWP_DEVICE_WRITE,
];

describe('mm/pte: present entry encoding (pfn_pte / pte_pfn)', () => {
  it('pfn and flags round-trip for every pfn below 2^40', () => {
    fc.assert(
      fc.property(pfn40, flags12, (pfn, flags) => {
        const lo = pteLoOf(pfn, flags);
        const hi = pteHiOf(pfn);
        expect(lo >>> 0).toBe(lo);
        expect(hi >>> 0).toBe(hi);
        expect(ptePfn(lo, hi)).toBe(pfn);
        expect(lo & PTE_FLAGS_MASK).toBe(flags);
        // the 64-bit entry is pfn << 12 | flags
        expect(BigInt(hi) * 2n ** 32n + BigInt(lo)).toBe((BigInt(pfn) << 12n) | BigInt(flags));
      }),
      { numRuns: 2000 },
    );
  });

  it('flags beyond the low 12 bits never leak into the pfn', () => {
    const lo = pteLoOf(5, 0xffffffff);
    expect(ptePfn(lo, pteHiOf(5))).toBe(5);
    expect(lo & PTE_FLAGS_MASK).toBe(0xfff);
  });

  it('bit accessors read the x86-64 bits', () => {
    const lo = pteLoOf(7, _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_DIRTY | _PAGE_SPECIAL);
    expect(ptePresent(lo)).toBe(true);
    expect(pteWrite(lo)).toBe(true);
    expect(pteDirty(lo)).toBe(true);
    expect(pteSpecial(lo)).toBe(true);
    expect(pteProtnone(lo)).toBe(false);
    expect(pteAccessible(lo, true)).toBe(true);
    const ro = pteLoOf(7, _PAGE_PRESENT | _PAGE_USER);
    expect(pteAccessible(ro, false)).toBe(true);
    expect(pteAccessible(ro, true)).toBe(false);
    expect(pteWrite(ro) || pteDirty(ro) || pteSpecial(ro)).toBe(false);
    expect(pteDevmap(pteHiOf(7) | _PAGE_DEVMAP_HI)).toBe(true);
    expect(ptePfn(0, pteHiOf(7) | _PAGE_DEVMAP_HI)).toBe(0);
  });

  it('PROT_NONE entries are present but not accessible', () => {
    const lo = pteLoOf(9, _PAGE_PROTNONE | _PAGE_ACCESSED);
    expect(ptePresent(lo)).toBe(true);
    expect(pteProtnone(lo)).toBe(true);
    expect(pteAccessible(lo, false)).toBe(false);
    expect(pteAccessible(lo, true)).toBe(false);
    expect(describePte(lo, 0)).toBe('present pfn=9 protnone');
  });

  it('pte_none is both words zero', () => {
    expect(pteNone(0, 0)).toBe(true);
    expect(pteNone(0, 1)).toBe(false);
    expect(pteNone(1, 0)).toBe(false);
    expect(describePte(0, 0)).toBe('none');
  });
});

describe('mm/pte: swap-type entries (swp_entry / swp_type / swp_offset)', () => {
  it('type and offset round-trip for every type and offsets below 2^40, and are not present', () => {
    fc.assert(
      fc.property(fc.constantFrom(...swpTypes), pfn40, (type, off) => {
        const lo = swpEntryLo(type, off);
        const hi = pteHiOf(off);
        expect(swpType(lo)).toBe(type);
        expect(ptePfn(lo, hi)).toBe(off);
        expect(ptePresent(lo)).toBe(false);
        expect(pteNone(lo, hi)).toBe(false);
        expect(pteAccessible(lo, false)).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it('classifies migration, device-private and write entries', () => {
    expect(swpTypes.filter(isMigrationType)).toEqual([SWP_MIGRATION_READ, SWP_MIGRATION_WRITE]);
    expect(swpTypes.filter(isDevicePrivateType)).toEqual([SWP_DEVICE_READ, SWP_DEVICE_WRITE]);
    expect(swpTypes.filter(isWriteSwpType)).toEqual([SWP_MIGRATION_WRITE, SWP_DEVICE_WRITE]);
  });

  it('describePte names each kind of entry', () => {
    const off = 2 ** 33 + 3;
    const d = (t: number) => describePte(swpEntryLo(t, off), pteHiOf(off));
    expect(d(SWP_SWAPFILE)).toBe(`swap pfn=${off}`);
    expect(d(SWP_HWPOISON)).toBe(`hwpoison pfn=${off}`);
    expect(d(SWP_MIGRATION_READ)).toBe(`migration-read pfn=${off}`);
    expect(d(SWP_MIGRATION_WRITE)).toBe(`migration-write pfn=${off}`);
    expect(d(SWP_DEVICE_READ)).toBe(`device-private-read pfn=${off}`);
    expect(d(SWP_DEVICE_WRITE)).toBe(`device-private-write pfn=${off}`);
    expect(describePte(pteLoOf(3, _PAGE_PRESENT | _PAGE_RW | _PAGE_DIRTY), 0)).toBe('present pfn=3 rw,dirty');
    expect(describePte(pteLoOf(0, _PAGE_PRESENT | _PAGE_SPECIAL), _PAGE_DEVMAP_HI)).toBe(
      'present pfn=0 ro,special,devmap',
    );
  });
});

describe('mm/pte: non-present PMD entries (is_pmd_migration_entry, is_pmd_device_private_entry, v6.19)', () => {
  const head = 2 ** 30 + 512 * 7; // an order-9 head above the low word's 20 pfn bits
  const pmd = (t: number) => [swpEntryLo(t, head), pteHiOf(head)] as const;

  it('a migration or device-private PMD is a swap PMD holding the head pfn, with PSE clear', () => {
    for (const t of [SWP_MIGRATION_READ, SWP_MIGRATION_WRITE, SWP_DEVICE_READ, SWP_DEVICE_WRITE]) {
      const [lo, hi] = pmd(t);
      expect(lo & _PAGE_PSE).toBe(0);
      expect(pmdHuge(lo)).toBe(false);
      expect(pmdPresent(lo)).toBe(false);
      expect(isSwapPmd(lo, hi)).toBe(true);
      expect(ptePfn(lo, hi)).toBe(head);
      expect(swpType(lo)).toBe(t);
      expect(isPmdNonPresentFolioEntry(lo, hi)).toBe(true);
    }
    expect(pmd(SWP_MIGRATION_WRITE)).toEqual([((7 * 512) << 12) | (SWP_MIGRATION_WRITE << 1), 2 ** 10]);
  });

  it('classifies each kind: migration, device-private, neither', () => {
    const kinds = (t: number) => [isPmdMigrationEntry(...pmd(t)), isPmdDevicePrivateEntry(...pmd(t))];
    expect(kinds(SWP_MIGRATION_READ)).toEqual([true, false]);
    expect(kinds(SWP_MIGRATION_WRITE)).toEqual([true, false]);
    expect(kinds(SWP_DEVICE_READ)).toEqual([false, true]);
    expect(kinds(SWP_DEVICE_WRITE)).toEqual([false, true]);
    expect(kinds(SWP_HWPOISON)).toEqual([false, false]);
    expect(kinds(SWP_SWAPFILE)).toEqual([false, false]);
    expect(isPmdNonPresentFolioEntry(...pmd(SWP_HWPOISON))).toBe(false);
  });

  it('none, table pointers, huge PMDs and invalidated huge PMDs are not swap PMDs', () => {
    const hi = pteHiOf(head);
    const cases: [number, number][] = [
      [0, 0],
      [pteLoOf(5, _PAGE_PRESENT | _PAGE_RW | _PAGE_USER), 0], // table pointer
      [pteLoOf(head, _PAGE_PRESENT | _PAGE_RW | _PAGE_PSE), hi], // huge PMD
      [pteLoOf(head, _PAGE_PROTNONE | _PAGE_PSE), hi], // PROT_NONE huge PMD
      // pmdp_invalidate cleared P: PSE keeps it present, whatever the type bits would read as
      [pteLoOf(head, _PAGE_PSE | (SWP_MIGRATION_WRITE << 1)), hi],
    ];
    for (const [lo, h] of cases) {
      expect(isSwapPmd(lo, h)).toBe(false);
      expect(isPmdMigrationEntry(lo, h)).toBe(false);
      expect(isPmdDevicePrivateEntry(lo, h)).toBe(false);
    }
    expect(cases.map(([lo]) => pmdPresent(lo))).toEqual([false, true, true, true, true]);
  });
});
