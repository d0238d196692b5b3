import { describe, expect, it } from 'vitest';
import { assert, bugOn, KernelBug, KernelWarning, panic, warnOn } from '../../src/core/assert.js';
import {
  ArgumentError,
  check,
  describeValue,
  EAGAIN,
  EFAULT,
  EINVAL,
  ENOMEM,
  EPERM,
  ESRCH,
  errnoName,
  HmmError,
  isErr,
  SegvError,
} from '../../src/core/errno.js';

describe('core/errno: values and names', () => {
  it('uses the x86-64 Linux errno values', () => {
    expect([EPERM, ESRCH, EAGAIN, ENOMEM, EFAULT, EINVAL]).toEqual([1, 3, 11, 12, 14, 22]);
  });

  it('errnoName maps errno and -errno to the symbol, unknown ones to E<n>', () => {
    expect(errnoName(14)).toBe('EFAULT');
    expect(errnoName(-14)).toBe('EFAULT');
    expect(errnoName(-EAGAIN)).toBe('EAGAIN');
    expect(errnoName(999)).toBe('E999');
  });

  it('isErr is IS_ERR_VALUE: -4095..-1', () => {
    expect(isErr(-1)).toBe(true);
    expect(isErr(-4095)).toBe(true);
    expect(isErr(-4096)).toBe(false);
    expect(isErr(0)).toBe(false);
    expect(isErr(7)).toBe(false);
  });
});

describe('core/errno: the errors the facade throws', () => {
  it('HmmError carries code and positive errno, from errno or -errno', () => {
    const e = new HmmError(-EFAULT, 'hmm_range_fault');
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('HmmError');
    expect(e.code).toBe('EFAULT');
    expect(e.errno).toBe(14);
    expect(e.message).toBe('EFAULT: Bad address, hmm_range_fault');
    expect(new HmmError(ENOMEM, 'mmap').errno).toBe(12);
  });

  it('check passes non-negative values through and throws HmmError for -errno', () => {
    expect(check(0, 'x')).toBe(0);
    expect(check(42, 'x')).toBe(42);
    let e: unknown;
    try {
      check(-ENOMEM, 'mmap');
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(HmmError);
    expect((e as HmmError).code).toBe('ENOMEM');
  });

  it('SegvError records the address, the access and the signal', () => {
    const s = new SegvError(0x7f0000001234, true);
    expect(s.addr).toBe(0x7f0000001234);
    expect(s.write).toBe(true);
    expect(s.signal).toBe('SIGSEGV');
    expect(s.message).toBe('SIGSEGV: write at 0x7f0000001234');
    const b = new SegvError(0x1000, false, 'SIGBUS');
    expect(b.signal).toBe('SIGBUS');
    expect(b.message).toBe('SIGBUS: read at 0x1000');
    expect(s).not.toBeInstanceOf(HmmError);
  });

  it('ArgumentError is an EINVAL HmmError naming the argument', () => {
    const e = new ArgumentError('length', 'must be positive');
    expect(e).toBeInstanceOf(HmmError);
    expect(e.name).toBe('ArgumentError');
    expect(e.argument).toBe('length');
    expect(e.code).toBe('EINVAL');
    expect(e.errno).toBe(EINVAL);
    expect(e.message).toBe("invalid argument 'length': must be positive");
  });
});

describe('core/assert: BUG_ON and WARN_ON', () => {
  it('panic and bugOn throw KernelBug of kind BUG; warnOn throws KernelWarning of kind WARNING', () => {
    expect(() => panic('boom')).toThrow(KernelBug);
    expect(() => bugOn(false, 'fine')).not.toThrow();
    let e: unknown;
    try {
      bugOn(true, 'bad');
    } catch (x) {
      e = x;
    }
    expect((e as KernelBug).kind).toBe('BUG');
    try {
      warnOn(true, 'odd');
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(KernelWarning);
    expect(e).toBeInstanceOf(KernelBug);
    expect((e as KernelWarning).kind).toBe('WARNING');
    expect(() => warnOn(false, 'fine')).not.toThrow();
    expect(() => assert(1 + 1 === 3, 'math')).toThrow('math');
  });
});

describe('core/errno: describeValue', () => {
  it('describes any value in a few words and never throws', () => {
    class Thing {}
    const cases: [unknown, string][] = [
      [4096, '4096'],
      [Number.NaN, 'NaN'],
      [undefined, 'undefined'],
      [null, 'null'],
      [true, 'true'],
      [4096n, '4096n (a bigint)'],
      ['x', "'x' (a string)"],
      ['y'.repeat(50), `'${'y'.repeat(40)}...' (a string)`],
      [Symbol('s'), 'a symbol'],
      [() => 0, 'a function'],
      [[1], 'an array'],
      [{}, 'an object'],
      [new Error('e'), 'an Error'],
      [Object.create(null), 'an object'],
      [new Thing(), 'a Thing'],
      [new Uint8Array(1), 'a Uint8Array'],
    ];
    for (const [v, text] of cases) expect(describeValue(v)).toBe(text);
  });
});
