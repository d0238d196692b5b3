import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { crc32, crc32Hex } from '../../src/core/crc32.js';
import { HMMSIM_VERSION } from '../../src/core/version.js';

describe('crc32', () => {
  it('matches the known CRC-32 (IEEE) vectors', () => {
    expect(crc32('')).toBe(0);
    expect(crc32('123456789')).toBe(0xcbf43926); // the check value of the CRC catalogue
    expect(crc32('a')).toBe(0xe8b7be43);
    expect(crc32('The quick brown fox jumps over the lazy dog')).toBe(0x414fa339);
    expect(crc32(new Uint8Array([0, 0, 0, 0]))).toBe(0x2144df1c);
    expect(crc32(new Uint8Array(32).fill(0xff))).toBe(0xff6cab0b);
    expect(crc32Hex('123456789')).toBe('cbf43926');
    expect(crc32Hex('a')).toBe('e8b7be43');
    expect(crc32Hex(new Uint8Array([0x80]))).toBe('3fba6cad');
  });

  it('changes with every single-bit flip of the input', () => {
    const s = 'hmmx2:fault-vs-dontneed:correct:seed';
    const base = crc32(s);
    const bytes = new TextEncoder().encode(s);
    for (let i = 0; i < bytes.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const b = bytes.slice();
        b[i] = (b[i] as number) ^ (1 << bit);
        expect(crc32(b)).not.toBe(base);
      }
    }
  });
});

it("HMMSIM_VERSION is package.json's version", () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  expect(HMMSIM_VERSION).toBe(pkg.version);
});
