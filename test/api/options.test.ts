/**
 * issue 15: nothing is accepted silently. Every Simulator option is checked (an unknown one too),
 * seeds of 2^32 and above are distinct machines, memcgs need a name and an integer limit, output
 * buffers must be long enough, and a process that exited answers ESRCH to every call.
 */

import { describe, expect, it } from 'vitest';
import { PROT_READ, Prng, Simulator } from '../../src/index.js';
import { ANON, badArg, caught, errCode, RW } from './helpers.js';

function words(p: Prng, n: number): number[] {
  return Array.from({ length: n }, () => p.nextU32());
}

describe('api: Simulator options', () => {
  it('an unknown option, or a non-object bag, is an ArgumentError naming it', () => {
    expect(badArg(() => new Simulator({ sed: 1 } as never))).toBe('sed');
    expect(badArg(() => new Simulator({ devices: [{ memoryPage: 4 }] } as never))).toBe('memoryPage');
    for (const bag of [null, 1, 'x', [], () => 0])
      expect(badArg(() => new Simulator(bag as never))).toBe('options');
    expect(badArg(() => new Simulator({ devices: [null] } as never))).toBe('devices[0]');
    expect(badArg(() => new Simulator({ devices: {} } as never))).toBe('devices');
  });

  it('logEvents, stepsMax, contents, sectionPages and costProfile are checked', () => {
    for (const v of [-1, 0.5, 2 ** 24 + 1, Number.NaN, '5', 5n])
      expect(badArg(() => new Simulator({ logEvents: v as number }))).toBe('logEvents');
    for (const v of [0, -1, 0.5, Number.POSITIVE_INFINITY, '5', 5n])
      expect(badArg(() => new Simulator({ stepsMax: v as number }))).toBe('stepsMax');
    for (const v of [0, 1, 'yes', null])
      expect(badArg(() => new Simulator({ contents: v as never }))).toBe('contents');
    for (const v of ['8', 8n, null])
      expect(badArg(() => new Simulator({ sectionPages: v as never }))).toBe('sectionPages');
    for (const v of [1, null, {}])
      expect(badArg(() => new Simulator({ devices: [{ costProfile: v as string }] }))).toBe('costProfile');
    expect(badArg(() => new Simulator({ protocol: 5n as never }))).toBe('protocol');
  });

  it('stepsMax is applied: a call longer than it fails with the step limit', () => {
    for (const stepsMax of [3, undefined]) {
      const p = new Simulator({ ramPages: 64, devices: [], stepsMax }).createProcess();
      const a = p.mmap(8 * 4096, RW, ANON);
      const write = () => p.write(a, new Uint8Array(8 * 4096));
      if (stepsMax === undefined) write();
      else
        expect(String(caught(write))).toMatch(/^StepLimitError: step limit reached: 3 steps \(stepsMax 3\)/);
    }
  });

  it('logEvents keeps that many events; contents: false reads zeros', () => {
    const sim = new Simulator({ ramPages: 64, devices: [], logEvents: 2, contents: false });
    const p = sim.createProcess();
    const a = p.mmap(4096, RW, ANON);
    p.write(a, new Uint8Array([7]));
    expect(p.read(a, 1)).toEqual(new Uint8Array([0]));
    expect(sim.log.events().length).toBe(2);
  });
});

describe('api: seeds', () => {
  it('seeds below 2^32 keep their streams (the values before seeds grew high words)', () => {
    expect(words(new Prng(0), 4)).toEqual([3809008728, 1133695204, 53579671, 2891528803]);
    expect(words(new Prng(1), 4)).toEqual([2442144158, 3238099751, 3819917871, 2104621829]);
    expect(words(new Prng(2 ** 32 - 1), 4)).toEqual([835879718, 1921286648, 2356205009, 1885780724]);
  });

  it('seed 2^32 is not seed 0, nor 2^32 + 1 seed 1; any non-negative safe integer is accepted', () => {
    expect(words(new Prng(2 ** 32), 8)).not.toEqual(words(new Prng(0), 8));
    expect(words(new Prng(2 ** 32 + 1), 8)).not.toEqual(words(new Prng(1), 8));
    expect(words(new Prng(2 ** 33), 8)).not.toEqual(words(new Prng(2 ** 32), 8));
    expect(words(new Prng(2 ** 53 - 1), 2)).toEqual(words(new Prng(2 ** 53 - 1), 2));
    const a = new Simulator({ seed: 2 ** 32 });
    const b = new Simulator({ seed: 0 });
    expect(a.seed).toBe(2 ** 32);
    expect(words(a.prng, 4)).not.toEqual(words(b.prng, 4));
    expect(new Simulator({ seed: '4294967296' }).seed).toBe(2 ** 32);
    for (const s of [-1, 0.5, 2 ** 53, 2 ** 64, Number.NaN, 1n, null, {}, '2e3', '9007199254740992'])
      expect(badArg(() => new Simulator({ seed: s as number }))).toBe('seed');
  });
});

describe('api: memcgs', () => {
  it('a memcg needs a unique non-empty name and a non-negative integer limit', () => {
    const sim = new Simulator({ ramPages: 64, devices: [] });
    expect(badArg(() => sim.createMemcg(null as never, 4))).toBe('name');
    for (const v of [null, undefined, 0.5, -1, Number.NaN, Number.POSITIVE_INFINITY, '4', 4n])
      expect(badArg(() => sim.createMemcg('x', v as number))).toBe('limitPages');
    sim.createMemcg('x', 4);
    expect(badArg(() => sim.createMemcg('x', 4))).toBe('name');
    expect(badArg(() => sim.createMemcg('root', 4))).toBe('name');
    expect(sim.createMemcg('zero', 0).limitPages).toBe(0);
  });
});

describe('api: output buffers', () => {
  it('a short or wrongly typed out/vec is an ArgumentError naming it, not a silent loss', () => {
    const p = new Simulator({ ramPages: 64, devices: [] }).createProcess();
    const a = p.mmap(4 * 4096, RW, ANON);
    for (const out of [
      new Uint32Array(7),
      new Uint8Array(8),
      new Float64Array(8),
      [0, 0, 0, 0, 0, 0, 0, 0],
      null,
    ])
      for (const f of [p.pagemap.bind(p), p.walkPtes.bind(p)])
        expect(badArg(() => f(a, 4, out as never))).toBe('out');
    for (const vec of [new Uint8Array(3), new Uint32Array(4), [0, 0, 0, 0], null])
      expect(badArg(() => p.mincore(a, 4 * 4096, vec as never))).toBe('vec');
    const out = new Uint32Array(10).fill(7);
    expect(p.pagemap(a, 4, out)).toBe(out);
    expect(Array.from(out)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 7, 7]);
  });
});

describe('api: calls after exit', () => {
  it('every Process call after exit() throws ESRCH', () => {
    const p = new Simulator({ ramPages: 64, devices: [] }).createProcess();
    const a = p.mmap(4096, RW, ANON);
    p.write(a, new Uint8Array([1]));
    p.exit();
    const calls: (() => unknown)[] = [
      () => p.pte(a),
      () => p.rss(),
      () => p.vmas(),
      () => p.pagemap(a, 1),
      () => p.walkPtes(a, 1),
      () => p.mincore(a, 4096),
      () => p.read(a, 1),
      () => p.write(a, new Uint8Array(1)),
      () => p.mmap(4096, RW, ANON),
      () => p.munmap(a, 4096),
      () => p.mprotect(a, 4096, RW),
      () => p.madvise(a, 4096, 4),
      () => p.fork(),
      () => p.exit(),
      () => p.mmapSpecial(4096, PROT_READ, 'pfnmap'),
    ];
    for (const call of calls) expect(errCode(call)).toBe('ESRCH');
  });
});
