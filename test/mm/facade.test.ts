import { describe, expect, it } from 'vitest';
import {
  ArgumentError,
  HmmError,
  MADV_DONTNEED,
  MADV_NORMAL,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_LOCKED,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  SegvError,
  Simulator,
} from '../../src/index.js';
import { ANON, bytes, fill, PG, RW, setup, thrown } from './helpers.js';

describe('facade: constants', () => {
  it('PROT_*, MAP_* and MADV_* have their Linux x86-64 values', () => {
    expect([PROT_NONE, PROT_READ, PROT_WRITE, PROT_EXEC]).toEqual([0, 1, 2, 4]);
    expect([MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS, MAP_LOCKED, MAP_POPULATE]).toEqual([
      0x01, 0x02, 0x10, 0x20, 0x2000, 0x8000,
    ]);
    expect([MADV_NORMAL, MADV_DONTNEED, MADV_POPULATE_READ, MADV_POPULATE_WRITE]).toEqual([0, 4, 22, 23]);
  });
});

describe('facade: Simulator', () => {
  it('defaults: 65,536 pages of RAM, seed 0, 4 KiB pages, two device-private devices', () => {
    const sim = new Simulator();
    expect(sim.stats()).toEqual({ ramPages: 65_536, freePages: 65_536, usedPages: 0, counters: {} });
    expect(sim.seed).toBe(0);
    expect(sim.pageSize).toBe(4096);
    const dev = { memoryPages: 65_536, tlbEntries: 1024, costProfile: 'pcie4-a100', kind: 'private' };
    expect(sim.deviceOptions).toEqual([dev, dev]);
  });

  it('parses the seed and checks its options, naming the bad one', () => {
    expect(new Simulator({ seed: '0x10', devices: [] }).seed).toBe(16);
    expect(thrown(ArgumentError, () => new Simulator({ ramPages: 0 })).argument).toBe('ramPages');
    expect(thrown(ArgumentError, () => new Simulator({ ramPages: 2 ** 26 + 1 })).argument).toBe('ramPages');
    expect(thrown(ArgumentError, () => new Simulator({ devices: [{}, { memoryPages: 0 }] })).argument).toBe(
      'devices[1].memoryPages',
    );
    expect(thrown(ArgumentError, () => new Simulator({ seed: 'nope' })).argument).toBe('seed');
  });

  it('page(pfn) describes a struct page and rejects pfns without one', () => {
    const { sim, p } = setup();
    const a = p.mmap(PG, RW, ANON);
    p.write(a, bytes(1));
    const pfn = p.pte(a).pfn;
    expect(sim.page(pfn)).toEqual({
      pfn,
      refcount: 1,
      mapcount: 1,
      flags: ['anon', 'swapbacked'],
      memcg: 'root',
      zone: 'normal',
      compoundHead: pfn,
      entireMapcount: 0,
    });
    expect(sim.page(0)).toMatchObject({ flags: ['reserved'], memcg: null });
    expect(sim.page(pfn + 1)).toMatchObject({ refcount: 0, flags: ['buddy'] });
    expect(thrown(ArgumentError, () => sim.page(-1)).argument).toBe('pfn');
    expect(thrown(ArgumentError, () => sim.page(1e9)).argument).toBe('pfn');
  });

  it('stats count used pages and the kernel counters', () => {
    const { sim, p } = setup();
    const a = p.mmap(4 * PG, RW, ANON);
    p.write(a, fill(3 * PG, 1));
    expect(sim.stats()).toEqual({
      ramPages: 256,
      freePages: 253,
      usedPages: 3,
      counters: { mmap: 1, pgfault: 3 },
    });
  });

  it('the same seed and the same calls give the same pfns and the same event-log hash', () => {
    function run(extra: boolean): { pfns: number[]; hash: string; events: number } {
      const sim = new Simulator({ seed: 5, ramPages: 64, devices: [], logEvents: 1000 });
      const p = sim.createProcess();
      const a = p.mmap(4 * PG, RW, ANON);
      p.write(a, fill(4 * PG, 1));
      const c = p.fork();
      c.write(a + PG, bytes(2));
      if (extra) c.read(a, 1);
      p.munmap(a, PG);
      return {
        pfns: [0, 1, 2, 3].map((i) => c.pte(a + i * PG).pfn),
        hash: sim.log.hash(),
        events: sim.log.count,
      };
    }
    const x = run(false);
    expect(run(false)).toEqual(x);
    expect(x.events).toBeGreaterThan(0);
    expect(run(true).hash).not.toBe(x.hash);
  });

  it('keeps event text when asked', () => {
    const sim = new Simulator({ ramPages: 16, devices: [], logEvents: 3 });
    sim.createProcess().mmap(PG, RW, ANON);
    expect(sim.log.events().map((e) => e.text)).toEqual(['down_write mmap_sem', 'exit']);
    expect(sim.log.events()[0]?.thread).toBe('mmap[1]');
  });

  it('contents: false keeps no data: every page reads as zeros', () => {
    const sim = new Simulator({ ramPages: 16, devices: [], contents: false });
    const p = sim.createProcess();
    const a = p.mmap(PG, RW, ANON);
    p.write(a, bytes(1, 2, 3));
    expect([...p.read(a, 3)]).toEqual([0, 0, 0]);
    expect(p.rss().anon).toBe(1);
  });
});

describe('facade: Process', () => {
  it('pids count up across createProcess and fork', () => {
    const { sim, p } = setup();
    const q = sim.createProcess();
    const c = p.fork();
    expect([p.pid, q.pid, c.pid]).toEqual([1, 2, 3]);
  });

  it('pte() of an unmapped address is none; of an address beyond 2^48 is ArgumentError addr', () => {
    const { p } = setup();
    expect(p.pte(0x1234)).toEqual({
      kind: 'none',
      pfn: -1,
      write: false,
      dirty: false,
      special: false,
      text: 'none',
      order: 0,
    });
    expect(thrown(ArgumentError, () => p.pte(2 ** 48)).argument).toBe('addr');
    expect(thrown(ArgumentError, () => p.pte(-4096)).argument).toBe('addr');
  });

  it('read of 0 bytes returns an empty array without touching memory; write checks its bytes', () => {
    const { p } = setup();
    const a = p.mmap(PG, RW, ANON);
    expect(p.read(a, 0)).toEqual(new Uint8Array(0));
    p.write(a, new Uint8Array(0));
    expect(p.pte(a).kind).toBe('none');
    expect(thrown(ArgumentError, () => p.write(a, [1, 2] as unknown as Uint8Array)).argument).toBe('bytes');
    expect(thrown(ArgumentError, () => p.read(a, -1)).argument).toBe('length');
  });

  it('a multi-page read and write cross page boundaries', () => {
    const { p } = setup();
    const a = p.mmap(3 * PG, RW, ANON);
    const data = Uint8Array.from({ length: PG + 10 }, (_, i) => i % 251);
    p.write(a + PG - 5, data);
    expect(p.read(a + PG - 5, PG + 10)).toEqual(data);
    expect(p.rss().anon).toBe(3);
  });

  it('every call on an exited process is ESRCH', () => {
    const { p } = setup();
    const a = p.mmap(PG, RW, ANON);
    p.exit();
    expect(p.exited).toBe(true);
    for (const call of [
      () => p.mmap(PG, RW, ANON),
      () => p.munmap(a, PG),
      () => p.mprotect(a, PG, PROT_READ),
      () => p.madvise(a, PG, MADV_DONTNEED),
      () => p.read(a, 1),
      () => p.write(a, bytes(1)),
      () => p.fork(),
      () => p.exit(),
      () => p.pagemap(a, 1),
      () => p.mincore(a, PG),
      () => p.mmapSpecial(PG, PROT_READ, 'pfnmap'),
    ]) {
      const e = thrown(HmmError, call);
      expect(e.code).toBe('ESRCH');
    }
  });

  it('mmapSpecial checks its kind; pfnmap mappings are read-only', () => {
    const { p } = setup();
    expect(thrown(ArgumentError, () => p.mmapSpecial(PG, PROT_READ, 'weird' as 'pfnmap')).argument).toBe(
      'kind',
    );
    expect(thrown(HmmError, () => p.mmapSpecial(PG, RW, 'pfnmap')).code).toBe('EINVAL');
    const s = p.mmapSpecial(PG, PROT_READ, 'pfnmap');
    expect(thrown(SegvError, () => p.write(s, bytes(1)))).toMatchObject({ addr: s, write: true });
  });

  it('the generator forms run on a caller-made executor; errors are thrown inside the calling thread', () => {
    const { sim, p } = setup();
    const ex = sim.executor();
    let addr = 0;
    let err: unknown = null;
    ex.spawn(
      'T0',
      (function* () {
        addr = yield* p.task.mmap(PG, RW, ANON);
        yield* p.task.write(addr, bytes(4));
        try {
          yield* p.task.munmap(addr + 1, PG);
        } catch (e) {
          err = e;
        }
      })(),
    );
    expect(ex.run().status).toBe('done');
    expect([...p.read(addr, 1)]).toEqual([4]);
    expect(err).toBeInstanceOf(ArgumentError);
  });
});
