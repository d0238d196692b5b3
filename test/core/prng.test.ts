import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/core/errno.js';
import { itemSeed, Prng, parseSeed, streamSeed } from '../../src/core/prng.js';

function seq(p: Prng, n: number): number[] {
  return Array.from({ length: n }, () => p.nextU32());
}

describe('core/prng: determinism', () => {
  it('the same seed gives the same sequence; different seeds give different ones', () => {
    expect(seq(new Prng(42), 64)).toEqual(seq(new Prng(42), 64));
    expect(seq(new Prng('42'), 16)).toEqual(seq(new Prng(42), 16));
    expect(seq(new Prng('0x2a'), 16)).toEqual(seq(new Prng(42), 16));
    expect(seq(new Prng(42), 16)).not.toEqual(seq(new Prng(43), 16));
    expect(seq(new Prng(0), 16)).not.toEqual(seq(new Prng(1), 16));
  });

  it('outputs are u32', () => {
    const p = new Prng(7);
    for (const x of seq(p, 1000)) {
      expect(Number.isInteger(x)).toBe(true);
      expect(x >= 0 && x < 2 ** 32).toBe(true);
    }
  });

  it('nextU32 is xoshiro128**: the reference vector for state {1, 2, 3, 4}', () => {
    const p = new Prng(0);
    Object.assign(p as unknown as Record<string, number>, { s0: 1, s1: 2, s2: 3, s3: 4 });
    // xoshiro128** reference output (Blackman & Vigna) for s = {1, 2, 3, 4}
    expect(seq(p, 3)).toEqual([11520, 0, 5927040]);
  });

  it('fork() derives an independent but reproducible stream', () => {
    const a = new Prng(5);
    const b = new Prng(5);
    expect(seq(a.fork(), 8)).toEqual(seq(b.fork(), 8));
    expect(seq(a, 8)).toEqual(seq(b, 8));
    const c = new Prng(5);
    const child = c.fork();
    expect(seq(child, 8)).not.toEqual(seq(c, 8));
  });

  it('shuffle is a permutation and deterministic', () => {
    const a = new Prng(9).shuffle([1, 2, 3, 4, 5, 6, 7, 8]);
    const b = new Prng(9).shuffle([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(a).toEqual(b);
    expect([...a].sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});

describe('core/prng: itemSeed (one stream per schedule of a random search)', () => {
  it('is splitmix32 of the item folded into the low word; the high word is kept', () => {
    // item i folds in splitmix32(i * 0x9e3779b9): for item 0, splitmix32(0) = 0x92ca2f0e
    expect(itemSeed(5, 0)).toBe((5 ^ 0x92ca2f0e) >>> 0);
    expect(itemSeed(2 ** 40 + 5, 0)).toBe(2 ** 40 + ((5 ^ 0x92ca2f0e) >>> 0));
    expect(itemSeed(7, 3)).toBe(itemSeed(7, 3));
  });

  it('gives the items of one seed distinct seeds, none of them the seed itself', () => {
    const seeds = new Set(Array.from({ length: 10_000 }, (_, i) => itemSeed(1, i)));
    expect(seeds.size).toBe(10_000);
    expect(seeds.has(1)).toBe(false);
  });
});

describe('core/prng: below, range, chance, pick', () => {
  it('below(n) is in [0, n) for every n in 1..2^32', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 2 ** 32 }),
        (seed, n) => {
          const p = new Prng(seed);
          for (let i = 0; i < 8; i++) {
            const x = p.below(n);
            expect(Number.isInteger(x) && x >= 0 && x < n).toBe(true);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('below(1) is 0 and below covers every value of a small range', () => {
    const p = new Prng(3);
    expect(p.below(1)).toBe(0);
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) seen.add(p.below(5));
    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('below rejects n outside 1..2^32 with ArgumentError n', () => {
    const p = new Prng(1);
    for (const bad of [0, -1, 1.5, 2 ** 32 + 1, Number.NaN]) {
      let e: unknown;
      try {
        p.below(bad);
      } catch (x) {
        e = x;
      }
      expect(e).toBeInstanceOf(ArgumentError);
      expect((e as ArgumentError).argument).toBe('n');
    }
  });

  it('range is inclusive, chance follows its ratio at the extremes, pick rejects []', () => {
    const p = new Prng(11);
    for (let i = 0; i < 100; i++) {
      const x = p.range(-3, 3);
      expect(x >= -3 && x <= 3).toBe(true);
      expect(p.chance(0, 10)).toBe(false);
      expect(p.chance(10, 10)).toBe(true);
    }
    expect(p.pick(['only'])).toBe('only');
    expect(() => p.pick([])).toThrow(ArgumentError);
  });
});

describe('core/prng: parseSeed', () => {
  it('accepts a u32 number, a decimal string, 0x-hex and a 40-hex commit sha', () => {
    expect(parseSeed(0)).toBe(0);
    expect(parseSeed(12345)).toBe(12345);
    expect(parseSeed(2 ** 32 - 1)).toBe(2 ** 32 - 1);
    expect(parseSeed('12345')).toBe(12345);
    expect(parseSeed(' 77 ')).toBe(77);
    expect(parseSeed('0x1f')).toBe(31);
    expect(parseSeed('0XDEADBEEF')).toBe(0xdeadbeef);
    expect(parseSeed('345750f0123456789abcdef0123456789abcdef0')).toBe(0x345750f0);
    expect(parseSeed('DEADBEEF0123456789ABCDEF0123456789ABCDEF')).toBe(0xdeadbeef);
  });

  it('rejects junk with ArgumentError seed', () => {
    for (const bad of [
      -1,
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      '',
      'abc',
      '0x',
      '0x123456789',
      '12ab',
      '-5',
      'g'.repeat(40),
      'a'.repeat(39),
    ]) {
      let e: unknown;
      try {
        parseSeed(bad as number | string);
      } catch (x) {
        e = x;
      }
      expect(e, `seed ${String(bad)}`).toBeInstanceOf(ArgumentError);
      expect((e as ArgumentError).argument).toBe('seed');
    }
  });

  it('a 40-hex commit sha made only of decimal digits is still a sha (first 8 hex digits)', () => {
    // about one git sha in 10^8 has no letter; it must not be read as a 40-digit decimal number
    expect(parseSeed('1234567890123456789012345678901234567890')).toBe(0x12345678);
  });

  it('a string seed and its number give the same generator', () => {
    expect(seq(new Prng('0x345750f0'), 4)).toEqual(
      seq(new Prng('345750f0123456789abcdef0123456789abcdef0'), 4),
    );
  });
});

describe('core/prng: streamSeed', () => {
  it("is splitmix32's next state mod 2^32: a second stream of one seed, distinct from the first", () => {
    expect(streamSeed(0)).toBe(0x9e3779b9);
    expect(streamSeed(1)).toBe(0x9e3779ba);
    expect(streamSeed(0xffffffff)).toBe(0x9e3779b8); // wraps
    expect(new Prng(streamSeed(7)).nextU32()).not.toBe(new Prng(7).nextU32());
  });
});
