import { describe, expect, it } from 'vitest';
import { DevicePageTable } from '../../src/device/device_pagetable.js';

function visited(pt: DevicePageTable): [number, number, boolean][] {
  const out: [number, number, boolean][] = [];
  pt.forEach((vpn, pfn, write) => {
    out.push([vpn, pfn, write]);
  });
  return out;
}

describe('DevicePageTable.forEach', () => {
  it("visits every entry once, leaf by leaf in the order leaves were made, ascending in each, a leaf's last slot included", () => {
    const pt = new DevicePageTable();
    pt.store(1023, 7, true); // leaf 1, its last slot
    pt.store(5, 3, false); // leaf 0
    pt.store(511, 4, true); // leaf 0, its last slot
    pt.store(512, 9, false); // leaf 1, its first slot
    pt.store(0, 2, true);
    expect(visited(pt)).toEqual([
      [512, 9, false],
      [1023, 7, true],
      [0, 2, true],
      [5, 3, false],
      [511, 4, true],
    ]);
  });

  it('skips erased entries and reaches the ones after them; an emptied leaf is gone', () => {
    const pt = new DevicePageTable();
    for (const vpn of [1, 2, 3, 600]) pt.store(vpn, vpn + 100, false);
    expect(pt.erase(1)).toBe(true);
    expect(pt.erase(600)).toBe(true);
    pt.store(510, 42, true);
    expect(visited(pt)).toEqual([
      [2, 102, false],
      [3, 103, false],
      [510, 42, true],
    ]);
    expect(pt.size).toBe(3);
  });
});

describe('DevicePageTable.findEntry', () => {
  it("returns the first visitor result that is not null, in forEach's order, with the two arguments passed through", () => {
    const pt = new DevicePageTable();
    pt.store(700, 1, false);
    pt.store(3, 2, true);
    pt.store(9, 3, true);
    const seen: number[] = [];
    const firstWritable = (tag: string, log: number[], vpn: number, pfn: number, write: boolean) => {
      log.push(vpn);
      return write ? `${tag} ${vpn}:${pfn}` : null;
    };
    expect(pt.findEntry(firstWritable, 'w', seen)).toBe('w 3:2');
    expect(seen).toEqual([700, 3]);
    expect(pt.findEntry(() => null, 0, 0)).toBeNull();
    expect(new DevicePageTable().findEntry(firstWritable, 'w', seen)).toBeNull();
  });
});
