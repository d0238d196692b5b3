/**
 * The integrity shadow keeps a whole page written with one byte value as that value, and any other
 * page byte for byte: a page that differs from uniform in one byte anywhere (the wide compare of
 * check/integrity.ts reads it eight bytes at a time) is remembered exactly, whatever its value.
 */

import { describe, expect, it } from 'vitest';
import { ShadowMemory } from '../../src/check/index.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, Simulator } from '../../src/index.js';

const PAGE = 4096;

function written(bytes: Uint8Array) {
  const sim = new Simulator({ ramPages: 64 });
  const p = sim.createProcess();
  const a = p.mmap(PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  const shadow = new ShadowMemory();
  shadow.endWrite(shadow.beginWrite(p.mm, a, bytes, 'cpu'), bytes, true);
  const readBack = (got: Uint8Array): string[] => {
    const before = shadow.violations.length;
    shadow.endRead(shadow.beginRead(p.mm, a, PAGE, 'dev0'), got);
    return shadow.violations.slice(before);
  };
  return readBack;
}

describe('integrity: whole-page writes', () => {
  for (const value of [0x00, 0x10, 0x80, 0xff]) {
    // byte 7 of a page of zeros set to 0x80 makes its first eight bytes the double -0, which === +0
    for (const [at, other] of [
      [0, value ^ 0x01],
      [7, value ^ 0x80],
      [4095, value ^ 0x80],
    ] as const) {
      it(`a page of 0x${value.toString(16)} with byte ${at} = 0x${other.toString(16)} is kept byte for byte`, () => {
        const bytes = new Uint8Array(PAGE).fill(value);
        bytes[at] = other;
        const readBack = written(bytes);
        expect(readBack(bytes.slice())).toEqual([]);
        expect(readBack(new Uint8Array(PAGE).fill(value))).toHaveLength(1);
      });
    }

    it(`a page of 0x${value.toString(16)} throughout reads back as that value only`, () => {
      const readBack = written(new Uint8Array(PAGE).fill(value));
      expect(readBack(new Uint8Array(PAGE).fill(value))).toEqual([]);
      const off = new Uint8Array(PAGE).fill(value);
      off[4095] = value ^ 1;
      expect(readBack(off)).toHaveLength(1);
    });
  }
});

describe('integrity: a read compared with the shadow', () => {
  const mixed = new Uint8Array(PAGE).map((_, i) => (i * 7) & 0xff);
  for (const [kind, page] of [
    ['a page of one value', new Uint8Array(PAGE).fill(0xd0)],
    ['a page of mixed bytes', mixed],
  ] as const) {
    for (const at of [0, 1, 5, 2048, 4094, 4095]) {
      for (const aligned of [true, false]) {
        it(`${kind}: the first wrong byte, at ${at}, is reported (data ${aligned ? 'aligned' : 'at an odd offset'})`, () => {
          const readBack = written(page);
          const buffer = new Uint8Array(PAGE + 1);
          const got = aligned ? buffer.subarray(0, PAGE) : buffer.subarray(1);
          got.set(page);
          got[at] = (page[at] as number) ^ 0x5a;
          if (at + 1 < PAGE) got[PAGE - 1] = (page[PAGE - 1] as number) ^ 0x01; // a later one too
          const [v, ...more] = readBack(got);
          expect(more).toEqual([]);
          const want = (page[at] as number).toString(16).padStart(2, '0');
          const read = (got[at] as number).toString(16).padStart(2, '0');
          expect(v).toMatch(
            new RegExp(`^dev0 read 0x${read} at 0x[0-9a-f]+${(at & 0xf).toString(16)} .*stored 0x${want}$`),
          );
          expect(Number.parseInt((v as string).split(' at ')[1] as string, 16) % PAGE).toBe(at);
        });
      }
    }
  }
});
