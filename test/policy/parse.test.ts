import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/core/errno.js';
import type { KfdPolicy } from '../../src/policy/kfd.js';
import { checkPolicy, parsePolicy } from '../../src/policy/policy.js';
import type { UvmPolicy } from '../../src/policy/uvm/uvm.js';

/** The message of the ArgumentError `f` throws, checking it names `arg`. */
function argError(f: () => unknown, arg = 'policy'): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ArgumentError);
    expect((e as ArgumentError).argument).toBe(arg);
    return (e as Error).message;
  }
  throw new Error('no error');
}

describe('parsePolicy: the names and their parameters', () => {
  it('keeps none, page and block:k', () => {
    expect(['none', 'page', 'block:4', 'block:18'].map((t) => parsePolicy(t).name)).toEqual([
      'none',
      'page',
      'block:4',
      'block:18',
    ]);
    expect(parsePolicy('block:4').onDeviceFault({ addr: 17 * 4096, write: false })).toEqual({
      start: 16 * 4096,
      end: 32 * 4096,
    });
  });

  it('uvm takes the module parameters by short name, defaults from the source', () => {
    const d = parsePolicy('uvm') as UvmPolicy;
    expect(d.name).toBe('uvm');
    // The source's defaults: prefetch on at 51%; thrashing threshold 3, pin after 10, lapse 500 µs,
    // nap 1, epoch 2000 and pin 300 lapses, 4 resets; no preferred location.
    const p0 = d.params;
    expect([p0.prefetch, p0.threshold, p0.enable, p0.thrashingThreshold, p0.pinThreshold]).toEqual([
      true,
      51,
      true,
      3,
      10,
    ]);
    expect([p0.lapseUs, p0.nap, p0.epoch, p0.pin, p0.maxResets, p0.preferred]).toEqual([
      500,
      1,
      2000,
      300,
      4,
      null,
    ]);
    const p = parsePolicy('uvm:threshold=60,thrashing=off,preferred=cpu') as UvmPolicy;
    expect([p.name, p.params.threshold, p.params.enable, p.params.preferred]).toEqual([
      'uvm:threshold=60,thrashing=off,preferred=cpu',
      60,
      false,
      'cpu',
    ]);
  });

  it('kfd takes granularity, xnack and the restore delay', () => {
    expect((parsePolicy('kfd') as KfdPolicy).params).toEqual({
      granularity: 9,
      xnack: true,
      restoreDelayUs: 1000,
    });
    expect((parsePolicy('kfd:granularity=4,xnack=off') as KfdPolicy).params).toEqual({
      granularity: 4,
      xnack: false,
      restoreDelayUs: 1000,
    });
  });

  it('each call makes a fresh object (state and stats belong to one device file)', () => {
    expect(parsePolicy('uvm')).not.toBe(parsePolicy('uvm'));
    expect(parsePolicy('none')).not.toBe(parsePolicy('none'));
    expect(parsePolicy('nouveau').name).toBe('nouveau');
  });

  it('bad names and parameters are ArgumentErrors naming policy and the parameter', () => {
    expect(argError(() => parsePolicy('uvm:threshold=0'))).toMatch(
      /uvm: parameter 'threshold' expects an integer in 1\.\.100, got '0'/,
    );
    expect(argError(() => parsePolicy('uvm:threshold=101'))).toMatch(/'threshold'/);
    expect(argError(() => parsePolicy('uvm:thresold=60'))).toMatch(/uvm has no parameter 'thresold'/);
    expect(argError(() => parsePolicy('uvm:thrashing=maybe'))).toMatch(/'thrashing' expects on or off/);
    expect(argError(() => parsePolicy('uvm:threshold'))).toMatch(/'threshold' needs a value/);
    expect(argError(() => parsePolicy('uvm:threshold=60,threshold=70'))).toMatch(/given twice/);
    expect(argError(() => parsePolicy('kfd:granularity=19'))).toMatch(
      /'granularity' expects an integer in 0\.\.18/,
    );
    expect(argError(() => parsePolicy('kfd:xnack=2'))).toMatch(/'xnack' expects on or off/);
    expect(argError(() => parsePolicy('nouveau:x=1'))).toMatch(/nouveau has no parameter 'x'/);
    expect(argError(() => parsePolicy('uvm:preferred=disk'))).toMatch(
      /'preferred' expects none or cpu or gpu/,
    );
    expect(argError(() => parsePolicy('lru'))).toMatch(/expected 'none', 'page', 'block:k', 'uvm/);
    expect(argError(() => parsePolicy('block:19'))).toMatch(/got 'block:19'/);
    expect(argError(() => parsePolicy('kfd:granularity=40', 'x'), 'x')).toMatch(/granularity/);
  });
});

describe('checkPolicy: a user policy stays one object with only name and onDeviceFault', () => {
  it("accepts today's two-member object unchanged", () => {
    const mine = { name: 'mine', onDeviceFault: () => null };
    expect(checkPolicy(mine)).toBe(mine);
  });

  it('rejects a hook that is not a function, naming policy', () => {
    expect(
      argError(() => checkPolicy({ name: 'x', onDeviceFault: () => null, onFaultBatch: 3 } as never)),
    ).toMatch(/x\.onFaultBatch must be a function/);
    expect(argError(() => checkPolicy({ name: 'x' } as never))).toMatch(/MigrationPolicy object/);
  });
});
