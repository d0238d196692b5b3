import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/core/errno.js';
import { Dmirror } from '../../src/drivers/dmirror/dmirror.js';
import { DMIRROR_VARIANT_NAMES } from '../../src/drivers/dmirror/variants.js';
import { Simulator } from '../../src/sim/simulator.js';

const MAP = 0x22;
const RW = 3;

describe('the driver registry of a simulator', () => {
  it('holds the built-in drivers, and openDevice creates the named one through it', () => {
    const sim = new Simulator({ ramPages: 64, sectionPages: 64, devices: [{ memoryPages: 16 }] });
    expect(sim.drivers.names()).toEqual([...DMIRROR_VARIANT_NAMES]);
    const p = sim.createProcess();
    const fd = sim.openDevice(0, p, { variant: 'no-write-erase' });
    expect(fd.driver.driverName).toBe('no-write-erase');
    expect(fd.driver).toBeInstanceOf(Dmirror);
  });

  it('a driver registered on one simulator opens there, under its name, and not on another', () => {
    const sim = new Simulator({ ramPages: 64, sectionPages: 64, devices: [{ memoryPages: 16 }] });
    const other = new Simulator({ ramPages: 64, sectionPages: 64, devices: [{ memoryPages: 16 }] });
    const made: string[] = [];
    sim.registerDriver('mine', (ctx) => {
      made.push(ctx.name);
      return new Dmirror(ctx);
    });
    const p = sim.createProcess();
    const a = p.mmap(4096, RW, MAP);
    p.write(a, new Uint8Array([42]));
    const fd = sim.openDevice(0, p, { variant: 'mine' });
    expect(made).toEqual(['mine']);
    expect(fd.driver.driverName).toBe('mine');
    expect(fd.read(a, 1).data[0]).toBe(42);
    expect(other.drivers.has('mine')).toBe(false);
    expect(() => other.openDevice(0, other.createProcess(), { variant: 'mine' })).toThrow(/variant/);
  });

  it('registries share the built-ins until one registers: then only that one changes', () => {
    const sims = [0, 1, 2].map(() => new Simulator({ ramPages: 64, sectionPages: 64, devices: [] }));
    const [a, b] = sims as [Simulator, Simulator, Simulator];
    a.registerDriver('mine', (ctx) => new Dmirror(ctx));
    b.registerDriver('theirs', (ctx) => new Dmirror(ctx));
    expect(sims.map((s) => [s.drivers.has('mine'), s.drivers.has('theirs')])).toEqual([
      [true, false],
      [false, true],
      [false, false],
    ]);
    expect(new Simulator({ devices: [] }).drivers.names()).toEqual([...DMIRROR_VARIANT_NAMES]);
    expect(a.drivers.names()).toEqual([...DMIRROR_VARIANT_NAMES, 'mine']);
    expect(() => a.registerDriver('correct', (ctx) => new Dmirror(ctx))).toThrow(/built-in/);
    expect(a.drivers.has('test_hmm', 'modern')).toBe(true);
  });

  it('refuses to replace a built-in driver, a bad name and a factory that is not a function', () => {
    const sim = new Simulator({ ramPages: 64, sectionPages: 64, devices: [] });
    expect(() => sim.registerDriver('correct', (ctx) => new Dmirror(ctx))).toThrow(ArgumentError);
    expect(() => sim.registerDriver('correct', (ctx) => new Dmirror(ctx))).toThrow(/built-in/);
    expect(() => sim.registerDriver('a b', (ctx) => new Dmirror(ctx))).toThrow(/'name'/);
    expect(() => sim.registerDriver('ok', null as never)).toThrow(/'factory'/);
  });
});
