import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ADDR_LIMIT,
  addrToVpn,
  alignDown,
  alignUp,
  blockEnd,
  hex,
  isAddr,
  isPageAligned,
  levelIndex,
  MMAP_BASE,
  npagesOf,
  PAGE_SIZE,
  PGDIR_SIZE,
  PMD_SIZE,
  PUD_SIZE,
  pageAlignDown,
  pageAlignUp,
  pgdAddrEnd,
  pgdIndex,
  pmdAddrEnd,
  pmdIndex,
  pow2,
  pteIndex,
  pudAddrEnd,
  pudIndex,
  TASK_SIZE,
  vpnToAddr,
} from '../../src/core/addr.js';

const RUNS = { numRuns: 1000 };
/** Any address of the 48-bit space, as a BigInt, with the edges weighted in. */
const addr48 = fc.oneof(
  fc.bigInt({ min: 0n, max: 2n ** 48n - 1n }),
  fc.constantFrom(0n, 1n, 4095n, 4096n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n, 2n ** 47n - 1n, 2n ** 48n - 1n),
  // near a table boundary of some level
  fc
    .tuple(
      fc.integer({ min: 12, max: 47 }),
      fc.bigInt({ min: 0n, max: 2n ** 36n }),
      fc.integer({ min: -2, max: 2 }),
    )
    .map(([s, k, d]) => {
      const v = (k << BigInt(s)) + BigInt(d);
      return v < 0n ? 0n : v >= 2n ** 48n ? 2n ** 48n - 1n : v;
    }),
);
const shift = fc.integer({ min: 0, max: 47 });

function idx(a: bigint, s: number): number {
  return Number((a >> BigInt(s)) & 511n);
}

describe('core/addr: table indexes (pgd_index, pud_index, pmd_index, pte_index)', () => {
  it('agree with BigInt shifts and masks over the whole 48-bit range', () => {
    fc.assert(
      fc.property(addr48, (a) => {
        const n = Number(a);
        expect(pgdIndex(n)).toBe(idx(a, 39));
        expect(pudIndex(n)).toBe(idx(a, 30));
        expect(pmdIndex(n)).toBe(idx(a, 21));
        expect(pteIndex(n)).toBe(idx(a, 12));
      }),
      RUNS,
    );
  });

  it('levelIndex(addr, shift) is (addr >> shift) & 511 for every shift', () => {
    fc.assert(
      fc.property(addr48, shift, (a, s) => {
        expect(levelIndex(Number(a), s)).toBe(idx(a, s));
      }),
      RUNS,
    );
  });

  it('the four indexes and the page offset rebuild the address', () => {
    fc.assert(
      fc.property(addr48, (a) => {
        const n = Number(a);
        const rebuilt =
          pgdIndex(n) * PGDIR_SIZE +
          pudIndex(n) * PUD_SIZE +
          pmdIndex(n) * PMD_SIZE +
          pteIndex(n) * PAGE_SIZE;
        expect(rebuilt + (n % PAGE_SIZE)).toBe(n);
      }),
      RUNS,
    );
  });

  it('known values: the top of user space and mmap_base', () => {
    const top = TASK_SIZE - PAGE_SIZE;
    expect([pgdIndex(top), pudIndex(top), pmdIndex(top), pteIndex(top)]).toEqual([255, 511, 511, 510]);
    expect([pgdIndex(MMAP_BASE), pudIndex(MMAP_BASE), pmdIndex(MMAP_BASE), pteIndex(MMAP_BASE)]).toEqual([
      254, 0, 0, 0,
    ]);
    // a 32-bit operator would have wrapped these
    expect(pteIndex(2 ** 32 + 5 * PAGE_SIZE)).toBe(5);
    expect(pgdIndex(2 ** 47)).toBe(256);
  });
});

describe('core/addr: alignment (PAGE_ALIGN, ALIGN, ALIGN_DOWN)', () => {
  it('pageAlignDown/pageAlignUp match BigInt masks', () => {
    fc.assert(
      fc.property(addr48, (a) => {
        const n = Number(a);
        expect(pageAlignDown(n)).toBe(Number(a & ~4095n));
        expect(pageAlignUp(n)).toBe(Number((a + 4095n) & ~4095n));
        expect(isPageAligned(n)).toBe((a & 4095n) === 0n);
      }),
      RUNS,
    );
  });

  it('alignDown/alignUp to any power of two match BigInt masks', () => {
    fc.assert(
      fc.property(addr48, shift, (a, s) => {
        const size = 2n ** BigInt(s);
        const n = Number(a);
        expect(alignDown(n, Number(size))).toBe(Number(a & ~(size - 1n)));
        expect(alignUp(n, Number(size))).toBe(Number((a + size - 1n) & ~(size - 1n)));
      }),
      RUNS,
    );
  });

  it('aligning an aligned address is the identity; up >= addr >= down within one block', () => {
    fc.assert(
      fc.property(addr48, shift, (a, s) => {
        const n = Number(a);
        const size = 2 ** s;
        const d = alignDown(n, size);
        const u = alignUp(n, size);
        expect(alignDown(d, size)).toBe(d);
        expect(alignUp(u, size)).toBe(u);
        expect(d <= n && n <= u && u - d <= size).toBe(true);
      }),
      RUNS,
    );
  });
});

describe('core/addr: pmd_addr_end and friends', () => {
  /** The kernel macro: boundary = (addr + SIZE) & MASK; boundary - 1 < end - 1 ? boundary : end. */
  function kernelAddrEnd(a: bigint, end: bigint, s: number): bigint {
    const size = 2n ** BigInt(s);
    const boundary = (a + size) & ~(size - 1n);
    return boundary - 1n < end - 1n ? boundary : end;
  }

  it('pmdAddrEnd, pudAddrEnd and pgdAddrEnd match the kernel macros for addr < end <= 2^48', () => {
    fc.assert(
      fc.property(addr48, fc.bigInt({ min: 1n, max: 2n ** 40n }), (a, len) => {
        const end = a + len > 2n ** 48n ? 2n ** 48n : a + len;
        if (end <= a) return;
        const n = Number(a);
        const e = Number(end);
        expect(pmdAddrEnd(n, e)).toBe(Number(kernelAddrEnd(a, end, 21)));
        expect(pudAddrEnd(n, e)).toBe(Number(kernelAddrEnd(a, end, 30)));
        expect(pgdAddrEnd(n, e)).toBe(Number(kernelAddrEnd(a, end, 39)));
        expect(blockEnd(n, PMD_SIZE, e)).toBe(pmdAddrEnd(n, e));
      }),
      RUNS,
    );
  });

  it('walking [start, end) by pmdAddrEnd visits each PMD span once, in order, and ends at end', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 2n ** 47n }),
        fc.integer({ min: 1, max: 3 * 512 }),
        (a, pages) => {
          const start = Number(a & ~4095n);
          const end = start + pages * PAGE_SIZE;
          const spans: number[] = [];
          for (let x = start; x < end; x = pmdAddrEnd(x, end)) spans.push(x);
          expect(spans[0]).toBe(start);
          for (const x of spans.slice(1)) expect(x % PMD_SIZE).toBe(0);
          expect(spans.length).toBe(Math.ceil(end / PMD_SIZE) - Math.floor(start / PMD_SIZE));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('core/addr: page numbers', () => {
  it('addrToVpn is addr >> 12 and vpnToAddr is vpn << 12 over the whole range', () => {
    fc.assert(
      fc.property(addr48, (a) => {
        const n = Number(a);
        expect(addrToVpn(n)).toBe(Number(a >> 12n));
        expect(vpnToAddr(addrToVpn(n))).toBe(Number(a & ~4095n));
      }),
      RUNS,
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 36n - 1n }), (v) => {
        expect(vpnToAddr(Number(v))).toBe(Number(v << 12n));
        expect(addrToVpn(vpnToAddr(Number(v)))).toBe(Number(v));
      }),
      RUNS,
    );
  });

  it('npagesOf counts pages between aligned addresses', () => {
    expect(npagesOf(0x10000, 0x14000)).toBe(4);
    expect(npagesOf(2 ** 47 - 2 * PAGE_SIZE, 2 ** 47)).toBe(2);
  });

  it('isAddr accepts integers in [0, 2^48] only', () => {
    expect(isAddr(0)).toBe(true);
    expect(isAddr(ADDR_LIMIT)).toBe(true);
    expect(isAddr(ADDR_LIMIT + 1)).toBe(false);
    expect(isAddr(-1)).toBe(false);
    expect(isAddr(1.5)).toBe(false);
    expect(isAddr(Number.NaN)).toBe(false);
  });

  it('pow2 is 2 ** n, by table for 0..63 and by ** elsewhere', () => {
    for (const n of [0, 1, 12, 31, 32, 39, 52, 63, 64, -1, 0.5]) expect(pow2(n)).toBe(2 ** n);
    expect(levelIndex(0x7f0000001000, 12)).toBe(1);
    expect(levelIndex(0x7f0000201000, 21)).toBe(1);
  });

  it('hex prints without 32-bit truncation', () => {
    expect(hex(0x7f0000001000)).toBe('0x7f0000001000');
    expect(hex(0)).toBe('0x0');
    // the two-halves path: a low half with leading zeros, the 2^32 boundary, the largest exact integer
    for (const x of [2 ** 32, 2 ** 32 + 1, 0x7e0000000010, 0xffffffff, 2 ** 53 - 1, 2 ** 47 - 4096])
      expect(hex(x)).toBe(`0x${x.toString(16)}`);
    expect(hex(2 ** 40 + 0.5)).toBe(`0x${(2 ** 40 + 0.5).toString(16)}`);
    expect(hex(-4096)).toBe('0x-1000');
  });

  it('layout constants are the x86-64 ones', () => {
    expect([PAGE_SIZE, PMD_SIZE, PUD_SIZE, PGDIR_SIZE]).toEqual([2 ** 12, 2 ** 21, 2 ** 30, 2 ** 39]);
    expect(TASK_SIZE).toBe(2 ** 47 - 4096);
    expect(MMAP_BASE % PUD_SIZE).toBe(0);
  });
});
