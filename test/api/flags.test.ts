/**
 * issue 15: prot, flags and advice are checked exactly above 2^31: a bit at 2^32 or higher used to
 * vanish in a 32-bit `&` (mmap(4096, 2 ** 53, ...) made a PROT_NONE mapping).
 */

import { describe, expect, it } from 'vitest';
import { PROT_READ, PROT_WRITE, Simulator } from '../../src/index.js';
import { ANON, badArg, caught } from './helpers.js';

const HIGH = [2 ** 31, 2 ** 32, 2 ** 32 + PROT_READ, 2 ** 40, 2 ** 52, 2 ** 53, 2 ** 53 - 1, 2 ** 64];
const JUNK: unknown[] = [-1, -(2 ** 32), 0.5, Number.NaN, Number.POSITIVE_INFINITY, 1n, '1', null, {}];

describe('api: flag arguments', () => {
  it('prot with a bit at 2^31 or above is an ArgumentError naming prot, in mmap, mprotect and mmapSpecial', () => {
    const p = new Simulator({ ramPages: 64, devices: [] }).createProcess();
    const a = p.mmap(4096, PROT_READ | PROT_WRITE, ANON);
    for (const prot of [...HIGH, ...JUNK]) {
      expect(badArg(() => p.mmap(4096, prot as number, ANON))).toBe('prot');
      expect(badArg(() => p.mprotect(a, 4096, prot as number))).toBe('prot');
      expect(badArg(() => p.mmapSpecial(4096, prot as number, 'pfnmap'))).toBe('prot');
    }
    expect(p.vmas().map((v) => v.perms)).toEqual(['rw-p']);
  });

  it('flags with a high bit is an ArgumentError naming flags; the message gives the exact bits', () => {
    const p = new Simulator({ ramPages: 64, devices: [] }).createProcess();
    for (const flags of [...HIGH.map((h) => h + ANON), ...JUNK])
      expect(badArg(() => p.mmap(4096, PROT_READ, flags as number))).toBe('flags');
    expect(String(caught(() => p.mmap(4096, PROT_READ, 2 ** 40 + ANON)))).toBe(
      "ArgumentError: invalid argument 'flags': unknown bits 0x10000000000 in 0x10000000022",
    );
    expect(String(caught(() => p.mmap(4096, 2 ** 53 - 1, ANON)))).toBe(
      "ArgumentError: invalid argument 'prot': unknown bits 0x1ffffffffffff8 in 0x1fffffffffffff",
    );
  });

  it('advice beyond the known values, or not a number, is an ArgumentError naming advice', () => {
    const p = new Simulator({ ramPages: 64, devices: [] }).createProcess();
    const a = p.mmap(4096, PROT_READ, ANON);
    for (const advice of [2 ** 32 + 4, 2 ** 53 + 4, 4n, '4', ...JUNK])
      expect(badArg(() => p.madvise(a, 4096, advice as number))).toBe('advice');
  });
});
