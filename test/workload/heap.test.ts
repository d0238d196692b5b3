import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/core/errno.js';
import { Heap } from '../../src/workload/heap.js';
import { PG, setup, thrown, vpn } from './helpers.js';

const fill = (n: number, v: number) => new Uint8Array(n).fill(v);

describe('workload/heap: arenas', () => {
  it('maps page-aligned private anonymous arenas of arenaSize and reports them as named regions', () => {
    const { p } = setup();
    const h = new Heap(p, 'list nodes', { arenaSize: 4 * PG });
    const a = h.malloc(16);
    const [r] = h.regions();
    expect(h.regions()).toEqual([{ name: 'list nodes', start: a, end: a + 4 * PG }]);
    expect(r?.start !== undefined && r.start % PG).toBe(0);
    expect(p.vmas()).toEqual([
      expect.objectContaining({ start: a, end: a + 4 * PG, perms: 'rw-p', file: null }),
    ]);
    expect(new Heap(p, 'tree nodes').arenaSize).toBe(1 << 20);
  });

  it('maps a new arena when the current one is full, and one of its own for a block larger than an arena', () => {
    const { p } = setup();
    const h = new Heap(p, 'h', { arenaSize: PG });
    const a = h.malloc(3000);
    const b = h.malloc(3000);
    expect(h.stats().arenas).toBe(2);
    const big = h.malloc(3 * PG + 1);
    expect(h.sizeOf(big)).toBe(3 * PG + 8);
    expect(h.regions().find((r) => r.start === big)).toEqual({ name: 'h', start: big, end: big + 4 * PG });
    // The current arena still serves small blocks: b's arena has 1096 bytes left.
    const c = h.malloc(1000);
    expect(c).toBe(b + 3000);
    expect(h.stats()).toMatchObject({ arenas: 3, blocks: 4, bytes: 3000 + 3000 + 4 * PG - PG + 8 + 1000 });
    expect(vpn(a)).not.toBe(vpn(b));
  });

  it('rejects bad arguments, naming them', () => {
    const { p } = setup();
    expect(thrown(ArgumentError, () => new Heap(p, 'h', { arenaSize: 1000 })).argument).toBe('arenaSize');
    expect(thrown(ArgumentError, () => new Heap(p, '')).argument).toBe('name');
    const h = new Heap(p, 'h');
    for (const size of [0, -8, 1.5, 2 ** 31])
      expect(thrown(ArgumentError, () => h.malloc(size)).argument).toBe('size');
    for (const align of [0, 3, 12, 2 * PG])
      expect(thrown(ArgumentError, () => h.malloc(8, align)).argument).toBe('align');
    const a = h.malloc(8);
    expect(thrown(ArgumentError, () => h.free(a + 8)).argument).toBe('addr');
    expect(thrown(ArgumentError, () => h.free(0x1234)).argument).toBe('addr');
    h.free(a);
    expect(thrown(ArgumentError, () => h.free(a)).message).toMatch(/not a live block of heap 'h'/);
    expect(thrown(ArgumentError, () => h.sizeOf(a)).argument).toBe('addr');
  });
});

describe('workload/heap: malloc and free', () => {
  it('rounds sizes up to 8 bytes and packs blocks with the bump pointer', () => {
    const { p } = setup();
    const h = new Heap(p, 'h');
    const a = h.malloc(1);
    const b = h.malloc(13);
    const c = h.malloc(32);
    expect([b - a, c - b, h.sizeOf(a), h.sizeOf(b), h.sizeOf(c)]).toEqual([8, 16, 8, 16, 32]);
  });

  it('aligns blocks as asked, skipping bytes of the bump region', () => {
    const { p } = setup();
    const h = new Heap(p, 'h');
    const a = h.malloc(8);
    const b = h.malloc(8, 64);
    const c = h.malloc(8, PG);
    expect([b - a, c - a, c % PG]).toEqual([64, PG, 0]);
  });

  it('reuses the most recently freed block of the same size, and only of the same size', () => {
    const { p } = setup();
    const h = new Heap(p, 'h');
    const [a, b, c] = [h.malloc(24), h.malloc(24), h.malloc(40)];
    h.free(a);
    h.free(b);
    expect(h.malloc(17)).toBe(b);
    expect(h.malloc(24)).toBe(a);
    h.free(c);
    const d = h.malloc(24);
    expect(d).not.toBe(c);
    expect(h.malloc(33)).toBe(c);
  });

  it('takes a freed block only if it meets the alignment', () => {
    const { p } = setup();
    const h = new Heap(p, 'h');
    h.malloc(8);
    const odd = h.malloc(64);
    expect(odd % 64).not.toBe(0);
    h.free(odd);
    const aligned = h.malloc(64, 64);
    expect(aligned).not.toBe(odd);
    expect(aligned % 64).toBe(0);
    expect(h.malloc(64)).toBe(odd);
  });

  it('never hands out overlapping or misaligned blocks (property)', () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('malloc' as const),
        size: fc.integer({ min: 1, max: 5000 }),
        align: fc.constantFrom(1, 4, 8, 16, 64, 4096),
      }),
      fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const { p } = setup(1024);
        const h = new Heap(p, 'h', { arenaSize: 4 * PG });
        const live = new Map<number, number>();
        for (const o of ops) {
          if (o.kind === 'malloc') {
            const a = h.malloc(o.size, o.align);
            expect(a % o.align).toBe(0);
            expect(h.sizeOf(a)).toBeGreaterThanOrEqual(o.size);
            live.set(a, h.sizeOf(a));
          } else if (live.size > 0) {
            const a = [...live.keys()][o.pick % live.size] as number;
            h.free(a);
            live.delete(a);
          }
        }
        const blocks = [...live].sort((x, y) => x[0] - y[0]);
        for (let i = 1; i < blocks.length; i++) {
          const [prev, size] = blocks[i - 1] as [number, number];
          expect(prev + size).toBeLessThanOrEqual((blocks[i] as [number, number])[0]);
        }
        const regions = h.regions();
        for (const [a, size] of blocks)
          expect(regions.some((r) => a >= r.start && a + size <= r.end)).toBe(true);
        expect(h.stats().blocks).toBe(live.size);
      }),
      { numRuns: 60 },
    );
  });
});

describe('workload/heap: trim gives wholly free pages back with MADV_DONTNEED', () => {
  /** Four pages full of 32-byte blocks, written, so each page is resident. */
  function fourPages() {
    const { sim, p } = setup();
    const h = new Heap(p, 'h', { arenaSize: 8 * PG });
    const blocks: number[] = [];
    for (let i = 0; i < 4 * 128; i++) {
      blocks.push(h.malloc(32));
      h.stage(blocks[i] as number, fill(32, 1 + (i % 200)));
    }
    h.flush();
    const base = blocks[0] as number;
    return { sim, p, h, blocks, base };
  }

  it('madvises exactly the pages with no live block, in one call per run, and leaves the rest alone', () => {
    const { sim, p, h, blocks, base } = fourPages();
    expect(p.rss().anon).toBe(4);
    // Pages 1 and 2 wholly, page 3 half.
    for (let i = 128; i < 3 * 128 + 64; i++) h.free(blocks[i] as number);
    const before = sim.stats().counters.madv_dontneed ?? 0;
    const r = h.trim();
    expect(r).toEqual({ pages: 2, calls: 1, ranges: [{ start: base + PG, end: base + 3 * PG }] });
    expect((sim.stats().counters.madv_dontneed ?? 0) - before).toBe(1);
    expect([0, 1, 2, 3, 4].map((i) => p.pte(base + i * PG).kind)).toEqual([
      'present',
      'none',
      'none',
      'present',
      'none',
    ]);
    expect(p.rss().anon).toBe(2);
    expect([...p.read(base + 3 * PG + 64 * 32, 4)]).toEqual([
      1 + ((3 * 128 + 64) % 200),
      1 + ((3 * 128 + 64) % 200),
      1 + ((3 * 128 + 64) % 200),
      1 + ((3 * 128 + 64) % 200),
    ]);
    expect(h.stats()).toMatchObject({ pagesInUse: 2, pagesTrimmed: 2, madvises: 1 });
    // Nothing left to give back, and untouched arena pages were never madvised.
    expect(h.trim()).toEqual({ pages: 0, calls: 0, ranges: [] });
    expect((sim.stats().counters.madv_dontneed ?? 0) - before).toBe(1);
  });

  it('a page comes back when a block on it is reused, and goes again when it is freed', () => {
    const { p, h, blocks, base } = fourPages();
    for (let i = 128; i < 256; i++) h.free(blocks[i] as number);
    expect(h.trim().pages).toBe(1);
    const again = h.malloc(32);
    expect(vpn(again)).toBe(vpn(base + PG));
    h.stage(again, fill(32, 9));
    h.flush();
    expect(p.pte(base + PG).kind).toBe('present');
    expect(h.trim().pages).toBe(0);
    h.free(again);
    expect(h.trim()).toEqual({ pages: 1, calls: 1, ranges: [{ start: base + PG, end: base + 2 * PG }] });
    expect(p.pte(base + PG).kind).toBe('none');
  });

  it('keeps a page while a block that straddles into it is live', () => {
    const { p } = setup();
    const h = new Heap(p, 'h', { arenaSize: 4 * PG });
    const blocks: number[] = [];
    for (let i = 0; i < 170; i++) blocks.push(h.malloc(48)); // 170 * 48 = 8160: two pages
    const base = blocks[0] as number;
    const straddler = blocks[85] as number; // 85 * 48 = 4080: bytes 4080..4128
    expect([vpn(straddler), vpn(straddler + 47)]).toEqual([vpn(base), vpn(base) + 1]);
    for (const b of blocks) h.stage(b, fill(48, 7));
    h.flush();
    for (let i = 86; i < 170; i++) h.free(blocks[i] as number);
    expect(h.trim().pages).toBe(0);
    h.free(straddler);
    expect(h.trim().ranges).toEqual([{ start: base + PG, end: base + 2 * PG }]);
    expect(p.pte(base).kind).toBe('present');
  });

  it('flushes staged stores before giving pages back', () => {
    const { p, h, blocks, base } = fourPages();
    h.stage(base, fill(4, 0xee));
    expect(h.pending).toBe(1);
    h.trim();
    expect(h.pending).toBe(0);
    expect([...p.read(base, 4)]).toEqual([0xee, 0xee, 0xee, 0xee]);
    expect(blocks).toHaveLength(512);
  });

  it('destroy unmaps every arena', () => {
    const { p, h } = fourPages();
    h.malloc(5 * PG);
    expect(p.vmas().length).toBeGreaterThan(0);
    h.destroy();
    expect(p.vmas()).toEqual([]);
    expect(h.stats()).toMatchObject({ arenas: 0, blocks: 0, bytes: 0, pagesInUse: 0 });
    expect(p.rss().anon).toBe(0);
  });
});
