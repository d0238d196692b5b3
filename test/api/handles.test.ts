/**
 * issue 15: an object of one Simulator passed to another is rejected with an ArgumentError naming
 * the argument, before it can touch either machine (it used to write A's memory through B's file,
 * leak a page through B's memcg, and read A's bytes for B's address).
 */

import { describe, expect, it } from 'vitest';
import { assertAccounting } from '../../src/check/accounting.js';
import { MAP_SHARED, Simulator } from '../../src/index.js';
import { ANON, badArg, caught, RW } from './helpers.js';

function twoMachines() {
  const a = new Simulator({ seed: 1, ramPages: 256, devices: [{ memoryPages: 64 }] });
  const b = new Simulator({ seed: 2, ramPages: 256, devices: [{ memoryPages: 64 }] });
  return { a, b, pa: a.createProcess(), pb: b.createProcess() };
}

describe('api: handles of another simulator', () => {
  it("a SimFile of B in A's mmap (both forms) is rejected; neither machine changes", () => {
    const { a, b, pa } = twoMachines();
    const fileB = b.createFile(4096);
    fileB.pwrite(new Uint8Array([6]), 0);
    expect(badArg(() => pa.mmap(4096, RW, MAP_SHARED, fileB))).toBe('file');
    const ex = a.executor();
    ex.spawn('t', pa.task.mmapAt(0, 4096, RW, MAP_SHARED, fileB));
    const r = ex.run();
    expect(r.status).toBe('failed');
    expect((r.failure?.error as { argument?: string } | undefined)?.argument).toBe('file');
    expect(pa.vmas()).toEqual([]);
    expect(fileB.pread(1, 0)).toEqual(new Uint8Array([6]));
    expect(a.stats().usedPages).toBe(0);
    assertAccounting(a.kernel);
    assertAccounting(b.kernel);
  });

  it("a memcg of B in A's createProcess is rejected (it used to leak a page at the first fault)", () => {
    const { a, b } = twoMachines();
    const cgB = b.createMemcg('jobs', 16);
    expect(badArg(() => a.createProcess({ memcg: cgB }))).toBe('memcg');
    const cgA = a.createMemcg('jobs', 16);
    const p = a.createProcess({ memcg: cgA });
    p.write(p.mmap(4096, RW, ANON), new Uint8Array([1]));
    expect(cgA.usagePages).toBe(1);
    expect(cgB.usagePages).toBe(0);
    assertAccounting(a.kernel);
  });

  it('simA.openDevice(0, processOfB) is rejected; a process of A opens fine', () => {
    const { a, pa, pb } = twoMachines();
    expect(badArg(() => a.openDevice(0, pb))).toBe('p');
    const x = pa.mmap(4096, RW, ANON);
    pa.write(x, new Uint8Array([9]));
    expect(a.openDevice(0, pa).read(x, 1).data[0]).toBe(9);
  });

  it("adoptProcess of B's mm is rejected, and so is anything that is not a handle", () => {
    const { a, pb } = twoMachines();
    expect(badArg(() => a.adoptProcess(pb.mm))).toBe('mm');
    expect(badArg(() => a.openDevice(0, {} as never))).toBe('p');
    expect(badArg(() => a.createProcess({ memcg: { id: 0 } as never }))).toBe('memcg');
    const e = caught(() => a.openDevice(0, pb));
    expect(String(e)).toBe("ArgumentError: invalid argument 'p': this Process belongs to another Simulator");
  });
});
