import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/core/errno.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/mmap.js';
import { WriteBuffer } from '../../src/workload/staging.js';
import { PG, setup, thrown } from './helpers.js';

/** A write buffer that records its writes instead of making them. */
function recording() {
  const writes: [number, number[]][] = [];
  const wb = new WriteBuffer((addr, bytes) => writes.push([addr, [...bytes]]));
  return { wb, writes };
}

const b = (...v: number[]) => Uint8Array.from(v);

describe('workload/staging: WriteBuffer', () => {
  it('writes nothing before flush, then one write per contiguous run', () => {
    const { wb, writes } = recording();
    const base = 0x7f00_0000_0000;
    wb.stage(base + 4, b(3, 4));
    wb.stage(base, b(1, 2));
    wb.stage(base + 2, b(9, 9));
    wb.stage(base + 10, b(5));
    expect(writes).toEqual([]);
    expect(wb.pending).toBe(4);
    expect(wb.flush()).toBe(2);
    expect(writes).toEqual([
      [base, [1, 2, 9, 9, 3, 4]],
      [base + 10, [5]],
    ]);
    expect([wb.pending, wb.writes, wb.flush()]).toEqual([0, 2, 0]);
  });

  it('joins runs across page boundaries, and splits at any unstaged byte', () => {
    const { wb, writes } = recording();
    wb.stage(3 * PG + 1, b(8));
    wb.stage(2 * PG - 1, b(5, 6, 7));
    wb.stage(PG, b(3, 4));
    wb.stage(PG - 2, b(1, 2));
    expect(wb.flush()).toBe(3);
    expect(writes).toEqual([
      [PG - 2, [1, 2, 3, 4]],
      [2 * PG - 1, [5, 6, 7]],
      [3 * PG + 1, [8]],
    ]);
  });

  it('keeps program order for overlapping stores: the later one wins', () => {
    const { wb, writes } = recording();
    wb.stage(10, b(1, 1, 1, 1));
    wb.stage(8, b(2, 2, 2, 2));
    wb.stage(11, b(3));
    wb.flush();
    expect(writes).toEqual([[8, [2, 2, 2, 3, 1, 1]]]);
  });

  it('copies what it stages, so the caller may reuse its buffer', () => {
    const { wb, writes } = recording();
    const scratch = b(1, 2);
    wb.stage(0, scratch);
    scratch.set([7, 7]);
    wb.stage(8, scratch);
    wb.flush();
    expect(writes).toEqual([
      [0, [1, 2]],
      [8, [7, 7]],
    ]);
  });

  it('leaves bytes it was not given untouched in process memory; discard drops everything', () => {
    const { p } = setup();
    const a = p.mmap(2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    p.write(a, new Uint8Array(2 * PG).fill(0xff));
    const wb = new WriteBuffer((addr, bytes) => p.write(addr, bytes));
    wb.stage(a + 1, b(1));
    wb.stage(a + 3, b(3));
    wb.flush();
    expect([...p.read(a, 5)]).toEqual([0xff, 1, 0xff, 3, 0xff]);
    wb.stage(a, b(0));
    wb.discard();
    expect(wb.flush()).toBe(0);
    expect(p.read(a, 1)[0]).toBe(0xff);
  });

  it('rejects bad arguments', () => {
    const { wb } = recording();
    expect(thrown(ArgumentError, () => wb.stage(-1, b(1))).argument).toBe('addr');
    expect(thrown(ArgumentError, () => wb.stage(0.5, b(1))).argument).toBe('addr');
    expect(thrown(ArgumentError, () => wb.stage(0, [1] as unknown as Uint8Array)).argument).toBe('bytes');
  });
});
