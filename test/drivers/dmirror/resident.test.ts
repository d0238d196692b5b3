import { describe, expect, it } from 'vitest';
import { ResidentPages } from '../../../src/drivers/dmirror/resident.js';

describe('ResidentPages (the driver residency books)', () => {
  it('maps virtual pages to device pages across VA blocks, counting each page once', () => {
    const r = new ResidentPages();
    expect(r.has(0)).toBe(false);
    expect(r.get(511)).toBeUndefined();
    r.set(511, 7);
    r.set(512, 0); // device page 0 is a page, not "absent"
    r.set(511, 9); // a new device page for the same vpn does not count twice
    expect([r.get(511), r.get(512), r.get(510), r.size]).toEqual([9, 0, undefined, 2]);
    expect(r.has(512)).toBe(true);
    expect(r.delete(512)).toBe(true);
    expect(r.delete(512)).toBe(false);
    expect([r.has(512), r.size]).toEqual([false, 1]);
  });

  it('keeps pages above 2^31 apart (the top of a 47-bit address space)', () => {
    const r = new ResidentPages();
    const top = 2 ** 35 - 1;
    r.set(top, 3);
    r.set(top - 2 ** 32, 4); // the same low 32 bits
    expect([r.get(top), r.get(top - 2 ** 32), r.size]).toEqual([3, 4, 2]);
  });

  it('counts and lists the absent runs of a range across VA blocks, untouched blocks included', () => {
    const r = new ResidentPages();
    for (const vpn of [510, 511, 512, 1030]) r.set(vpn, vpn);
    expect(r.countIn(500, 1100)).toBe(4);
    expect(r.countIn(511, 513)).toBe(2);
    expect(r.countIn(2000, 3000)).toBe(0);
    // 1024..1029 lie in a block with one page, 513..1023 in a block of its own
    expect(r.absentRuns(508, 1032)).toEqual([
      [508, 510],
      [513, 1030],
      [1031, 1032],
    ]);
    expect(r.absentRuns(1536, 2100)).toEqual([[1536, 2100]]);
    expect(r.absentRuns(510, 512)).toEqual([]);
  });
});
