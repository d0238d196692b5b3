/**
 * The project's own PRNG: xoshiro128** seeded through splitmix32.
 *
 * Owning it (TigerBeetle's stdx/prng) keeps runs byte-identical across Node versions and keeps
 * floating point out of every decision: probabilities are integer ratios. Math.random is banned
 * below src/cli/.
 */

import { ArgumentError, describeValue } from './errno.js';

/** splitmix32's increment: 2^32 / the golden ratio. */
const SPLITMIX32_GAMMA = 0x9e3779b9;

function splitmix32(state: number): [number, number] {
  const s = (state + SPLITMIX32_GAMMA) >>> 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return [s, (z ^ (z >>> 16)) >>> 0];
}

/**
 * Parses a seed given as a non-negative safe integer, a decimal or 0x-hex (up to 8 digits) string,
 * or a 40-hex git sha (its first 8 hex digits are used, so CI can pass its commit as a
 * reproducible seed). Anything else is an ArgumentError naming `argument`.
 */
export function parseSeed(seed: number | string, argument = 'seed'): number {
  if (typeof seed === 'number') {
    if (!Number.isSafeInteger(seed) || seed < 0)
      throw new ArgumentError(argument, `expected a non-negative safe integer, got ${seed}`);
    return seed;
  }
  if (typeof seed !== 'string')
    throw new ArgumentError(argument, `expected a number or a string, got ${describeValue(seed)}`);
  const s = seed.trim().toLowerCase();
  if (/^[0-9a-f]{40}$/.test(s)) return Number.parseInt(s.slice(0, 8), 16) >>> 0;
  if (/^[0-9]+$/.test(s)) return parseSeed(Number(s), argument);
  if (/^0x[0-9a-f]{1,8}$/.test(s)) return Number.parseInt(s.slice(2), 16) >>> 0;
  throw new ArgumentError(
    argument,
    `expected an integer, 0x-hex or a 40-hex commit sha, got '${s.length > 48 ? `${s.slice(0, 48)}...` : s}'`,
  );
}

/**
 * A second seed derived from `seed` (splitmix32's next state, mod 2^32): for a second stream of one
 * run that must not repeat the first stream's draws.
 */
export function streamSeed(seed: number): number {
  return (seed + SPLITMIX32_GAMMA) >>> 0;
}

/**
 * The seed of item `i` (0-based) of a run seeded `seed`: the item number's splitmix32 folded into
 * the seed's low word, the high word kept. Each item (a schedule of a random search) then draws from
 * a stream of its own, so any subset of the items (a shard) draws exactly what one run would.
 */
export function itemSeed(seed: number, i: number): number {
  const low = seed % 2 ** 32;
  return seed - low + ((low ^ splitmix32(Math.imul(i, SPLITMIX32_GAMMA) >>> 0)[1]) >>> 0);
}

/** xoshiro128** seeded from the run's seed: the simulator's only randomness, so a seed replays a run. */
export class Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number | string = 0) {
    const full = parseSeed(seed);
    let st = full % 2 ** 32;
    let out: number;
    [st, out] = splitmix32(st);
    this.s0 = out;
    [st, out] = splitmix32(st);
    this.s1 = out;
    [st, out] = splitmix32(st);
    // The high word (below 2^21) goes into s2 through splitmix32's bijective finaliser, which maps
    // every high word but 0 to a non-zero value: seeds below 2^32 keep their streams, and since s0
    // alone determines the low word, no two safe-integer seeds share a starting state.
    const high = Math.floor(full / 2 ** 32);
    this.s2 = high === 0 ? out : (out ^ splitmix32(high)[1]) >>> 0;
    [st, out] = splitmix32(st);
    this.s3 = out | (this.s0 | this.s1 | this.s2 ? 0 : 1);
  }

  /** Next uniformly distributed u32. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform integer in [0, n), without modulo bias (Lemire's method with rejection). */
  below(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 2 ** 32)
      throw new ArgumentError('n', `expected 1..2^32, got ${describeValue(n)}`);
    if (n === 1) return 0;
    const threshold = (2 ** 32 - n) % n;
    for (;;) {
      const x = this.nextU32();
      const m = x * n;
      const lo = m % 2 ** 32;
      if (lo >= threshold) return Math.floor(m / 2 ** 32);
    }
  }

  /** Uniform integer in [lo, hi] (at most 2^32 values). */
  range(lo: number, hi: number): number {
    checkSafeInt('lo', lo, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    checkSafeInt('hi', hi, lo, lo + 2 ** 32 - 1);
    return lo + this.below(hi - lo + 1);
  }

  /** True with probability num/den (den in 1..2^32, num in 0..den). */
  chance(num: number, den: number): boolean {
    checkSafeInt('den', den, 1, 2 ** 32);
    checkSafeInt('num', num, 0, den);
    return this.below(den) < num;
  }

  /** One element of `items`, uniformly; ArgumentError on an empty list. */
  pick<T>(items: readonly T[]): T {
    checkArray(items);
    if (items.length === 0) throw new ArgumentError('items', 'cannot pick from an empty list');
    return items[this.below(items.length)] as T;
  }

  /** Fisher-Yates shuffle of `items` in place, from this generator's stream; returns `items`. */
  shuffle<T>(items: T[]): T[] {
    checkArray(items);
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }

  /** An independent stream derived from this one (for per-component randomness). */
  fork(): Prng {
    return new Prng(this.nextU32());
  }
}

function checkSafeInt(name: string, x: unknown, min: number, max: number): void {
  if (!Number.isSafeInteger(x) || (x as number) < min || (x as number) > max)
    throw new ArgumentError(name, `expected an integer in ${min}..${max}, got ${describeValue(x)}`);
}

function checkArray(items: unknown): void {
  if (!Array.isArray(items))
    throw new ArgumentError('items', `expected an array, got ${describeValue(items)}`);
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
