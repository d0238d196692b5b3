/**
 * The examples run, and print what their comments say they print (so they cannot rot).
 */

import { describe, expect, it } from 'vitest';
import { main as deviceKernel } from '../examples/device-kernel.js';
import { main as driverPopulateRange } from '../examples/driver-populate-range.js';

describe('examples/driver-populate-range.ts', () => {
  const lines: string[] = [];
  const facts = driverPopulateRange((line) => lines.push(line));
  const out = lines.join('\n');

  it('registers its mirror and prints each step', () => {
    expect(lines[0]).toBe('hmm_mirror_register: 0');
    for (const step of ['1. driver_populate_range', '2. CPU munmap', '3. populate', '4. the OOM reaper'])
      expect(out).toContain(step);
  });

  it('1. read everywhere, write for page 5: HMM reports what the CPU maps, and v5.3 chunk faulting', () => {
    // Page 0 is CPU-written (writable), 1-4 are the zero page, 5 was asked for write, and 6-7 were
    // write-faulted with it (the rest of the PMD chunk gets the first faulting page's decision).
    expect(facts.populated).toBe('WRRRRWWW');
    // The first pass lost page 5's request in a read fault of its chunk; the driver asked again.
    expect(facts.lostWrite).toBe(1);
    expect(facts.pfns.slice(1, 5)).toEqual([facts.zeroPfn, facts.zeroPfn, facts.zeroPfn, facts.zeroPfn]);
    const own = [facts.pfns[0], ...facts.pfns.slice(5)];
    expect(new Set(own).size).toBe(4);
    expect(own).not.toContain(facts.zeroPfn);
    expect(out).toContain('device and CPU agree: true');
  });

  it('2. a CPU munmap erases the device entries first, under the update lock', () => {
    expect(facts.munmapEvents).toHaveLength(1);
    expect(facts.munmapEvents[0]).toMatch(
      /^sync_cpu_device_pagetables\(\[0x[0-9a-f]+, 0x[0-9a-f]+\), blockable=true\): erased 2 device entries$/,
    );
    expect(facts.afterMunmap).toBe('WRRRRW--');
  });

  it('3. racing MADV_DONTNEED: some schedules retry (both ways), every one stays coherent', () => {
    expect(facts.schedules).toHaveLength(8);
    for (const s of facts.schedules) {
      expect(s.ret).toBe(0);
      expect(s.coherent).toBe(true);
    }
    expect(facts.schedules.some((s) => s.ebusy > 0)).toBe(true);
    expect(facts.schedules.some((s) => s.invalid > 0)).toBe(true);
    expect(facts.schedules.some((s) => s.ebusy === 0 && s.invalid === 0)).toBe(true);
  });

  it('4. a non-blockable update finds the update lock held: -EAGAIN, and the reaper retries', () => {
    expect(facts.reaperBusy).toBe(true);
    expect(facts.reaperEvents).toHaveLength(1);
    expect(facts.reaperEvents[0]).toContain('blockable=false): update lock busy -> -EAGAIN');
    expect(facts.reaperFree).toBe(true);
    expect(out).toContain('with the lock free, the reaper finished: true; device table: --------');
  });
});

describe('examples/device-kernel.ts', () => {
  const lines: string[] = [];
  const facts = deviceKernel((line) => lines.push(line));
  const out = lines.join('\n');

  it('prints each step', () => {
    for (const step of [
      '1. the CPU built',
      '2. launch on 4',
      '3. the CPU reads',
      '4. the CPU doubled',
      '5. the last',
    ])
      expect(out).toContain(step);
  });

  it('2. the device follows the CPU pointers: every thread sums its share, one fault per thread and page', () => {
    expect(facts.partialSums.reduce((s, x) => s + x, 0)).toBe(facts.expected);
    expect(facts.stored).toEqual(facts.partialSums);
    // 8 list pages and the result page, each faulted by all 4 threads: one batch per page, 3 duplicates in each.
    expect(facts.pass1).toMatchObject({ faults: 36, batches: 9, duplicates: 27, migrated: 9 });
    expect(facts.listAfterLaunch).toBe('DDDDDDDD');
  });

  it('3. the CPU read of a device page migrates it back', () => {
    expect(facts.outAfterLaunch).toBe('D');
    expect(facts.outAfterCpuRead).toBe('S');
    expect(facts.cpuFaults).toBe(1);
  });

  it('4. a custom MigrationPolicy migrates the list and only mirrors the results', () => {
    expect(facts.listAfterCpuWrites).toBe('SSSSSSSS');
    expect(facts.pass2Total).toBe(facts.pass2Expected);
    expect(facts.listAfterPass2).toBe('DDDDDDDD');
    expect(facts.outAfterPass2).toBe('S');
  });

  it('5. a pointer into unmapped memory kills the launch with a DeviceKernelFault', () => {
    expect(facts.fatal).toMatchObject({ name: 'DeviceKernelFault', code: 'EFAULT', reason: 'unmapped' });
    expect(facts.costUs).toBeGreaterThan(0);
  });
});
