/**
 * issue 17: drivers/svm imported drivers/dmirror and dmirror imported svm's fault handler back (a
 * two-way import). Now the registry hands every driver it opens the svm engine as its fault
 * service (DriverContext.faultService), dmirror's launch uses what it was given, and the imports
 * between the two folders point one way: svm → dmirror.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/core/errno.js';
import type { DeviceKernelContext } from '../../src/device/kernel.js';
import { Dmirror } from '../../src/drivers/dmirror/dmirror.js';
import type { Driver, DriverContext } from '../../src/drivers/driver.js';
import { svmFaultHandler } from '../../src/drivers/svm/fault.js';
import { dmirror as dmirrorNamespace } from '../../src/index.js';
import type { Task } from '../../src/sched/index.js';
import { Simulator } from '../../src/sim/simulator.js';

const MAP = 0x22;
const RW = 3;
const PG = 4096;

function machine() {
  const sim = new Simulator({ ramPages: 64, sectionPages: 64, devices: [{ memoryPages: 16 }] });
  const p = sim.createProcess();
  const a = p.mmap(2 * PG, RW, MAP);
  p.write(a, new Uint8Array([5]));
  p.write(a + PG, new Uint8Array([6]));
  return { sim, p, a };
}

/** A kernel that loads the first byte of both pages (two device faults). */
function loadsBoth(a: number) {
  return function* (ctx: DeviceKernelContext): Task<number> {
    return (yield* ctx.load8(a)) * 10 + (yield* ctx.load8(a + PG));
  };
}

describe('the svm seam: the registry wires the fault service, imports point one way', () => {
  it('no file of drivers/dmirror/ imports drivers/svm/ (svm imports dmirror)', () => {
    const dir = new URL('../../src/drivers/dmirror/', import.meta.url);
    const importsSvm = readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .filter((f) => /from '\.\.\/svm\//.test(readFileSync(new URL(f, dir), 'utf8')));
    expect(importsSvm).toEqual([]);
    const svm = readFileSync(new URL('../../src/drivers/svm/fault.ts', import.meta.url), 'utf8');
    expect(svm).toMatch(/from '\.\.\/dmirror\/dmirror\.js'/);
  });

  it("a driver the registry opens gets the svm engine, and a user's factory can wrap it", () => {
    const { sim, p, a } = machine();
    const batches: number[] = [];
    sim.registerDriver('counting', (ctx: DriverContext) => {
      const svm = ctx.faultService;
      expect(svm).toBe(svmFaultHandler);
      return new Dmirror({
        ...ctx,
        faultService: (d: Driver) => {
          const h = (svm as NonNullable<typeof svm>)(d);
          return {
            serviceFaults: (batch) => {
              batches.push(batch.length);
              return h.serviceFaults(batch);
            },
          };
        },
      });
    });
    const fd = sim.openDevice(0, p, { variant: 'counting' });
    expect(fd.launch(loadsBoth(a))).toEqual([56]);
    expect(batches).toEqual([1, 1]);
    expect(sim.deviceCounters(0).faultBatches).toBe(2);
    // the built-in driver is serviced the same way, without a wrapper
    const plain = sim.openDevice(0, sim.createProcess());
    expect(plain.driver.driverName).toBe('correct');
  });

  it('a dmirror opened without a fault service refuses a launch with an ArgumentError naming it', () => {
    const { sim, p, a } = machine();
    sim.registerDriver('bare', (ctx) => new Dmirror({ ...ctx, faultService: undefined }));
    const fd = sim.openDevice(0, p, { variant: 'bare' });
    expect(() => fd.launch(loadsBoth(a))).toThrow(ArgumentError);
    expect(() => fd.launch(loadsBoth(a))).toThrow(
      "invalid argument 'faultService': this driver was opened without one: its device faults have no handler",
    );
    expect(fd.read(a, 2).data[PG]).toBe(6); // the ioctls do not need it
  });

  it("svm services dmirror and the drivers built on it, and names another driver's", () => {
    const { sim, p } = machine();
    const fd = sim.openDevice(0, p);
    expect(typeof svmFaultHandler(fd.driver).serviceFaults).toBe('function');
    const other = { driverName: 'elsewhere' } as Driver;
    expect(() => svmFaultHandler(other)).toThrow(
      "invalid argument 'driver': the svm engine services dmirror and the drivers built on it, not 'elsewhere'",
    );
  });

  it('the public dmirror namespace keeps the svm names', () => {
    expect(dmirrorNamespace.svmFaultHandler).toBe(svmFaultHandler);
    expect(typeof dmirrorNamespace.dmirrorServiceFaults).toBe('function');
    expect(typeof dmirrorNamespace.dmirrorEvictFor).toBe('function');
    expect(dmirrorNamespace.Dmirror).toBe(Dmirror);
  });
});
