/**
 * kmalloc/kfree with KASAN (src/mm/slab.ts): a use after free, a double free and an invalid free,
 * each reported with the object, its free site and its use site; nothing reported with KASAN off,
 * outside any task or inside quiet(); the VMAs munmap and exit free.
 */

import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/core/errno.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/mmap.js';
import { KASAN_REPORTS_MAX, kfree, kmalloc, kmallocMember, kzalloc, Slab } from '../../src/mm/slab.js';
import type { Task } from '../../src/sched/index.js';
import { Executor } from '../../src/sched/index.js';
import { Simulator } from '../../src/sim/simulator.js';

class Obj {
  pt = 1;
  inner = { x: 2 };
  *bump(): Task<number> {
    yield 'bump';
    return this.pt;
  }
}

/** Runs `body` as task `name` on a fresh executor; returns its value. */
function run<T>(name: string, body: Task<T>): T {
  return new Executor().runTask(name, body);
}

/** Runs `body` in task `name`, in its step after the scheduling point `point`; returns its value. */
function inTask<T>(name: string, point: string, body: () => T): T {
  return run(
    name,
    (function* () {
      yield point;
      return body();
    })(),
  );
}

function kasanSlab(): Slab {
  const slab = new Slab();
  slab.kasan = true;
  return slab;
}

describe('mm/slab: kmalloc, kfree and KASAN', () => {
  it('reports a read after kfree with the object, the use site, the free site and the alloc site', () => {
    const slab = kasanSlab();
    const o = inTask('opener', 'open', () =>
      kmalloc(slab, new Obj(), 'struct obj', 'obj_open', () => 'dev0.0'),
    );
    expect(slab.live).toBe(1);
    inTask('closer', 'lock', () => {
      kfree(slab, o, 'obj_release');
    });
    expect(slab.live).toBe(0);
    expect(slab.freed).toBe(1);
    expect(slab.reports).toEqual([]);
    // o.bump() makes the generator outside any task; its body's this.pt runs in the task
    const v = run('reader', o.bump());
    expect(v).toBe(1); // KASAN reports and the access goes on (kasan.fault=report)
    const r = slab.takePending()!;
    expect(r.bug).toBe('slab-use-after-free');
    expect(r.object).toBe('struct obj dev0.0');
    expect(r.access).toBe('read of .pt');
    expect(r.message).toBe(
      'BUG: KASAN: slab-use-after-free: read of .pt of struct obj dev0.0 by task reader [step 2, after ' +
        "'bump']; freed in obj_release by task closer [step 2, after 'lock']; allocated in obj_open " +
        "by task opener [step 2, after 'open']",
    );
    expect(slab.takePending()).toBeNull();
    // one report per object, as KASAN without kasan_multi_shot
    inTask('writer', 'use', () => {
      o.pt = 5;
    });
    expect(slab.reports.length).toBe(1);
  });

  it('reports a write through a method of a freed struct (plain this.field)', () => {
    const slab = kasanSlab();
    const o = kmalloc(slab, new Obj(), 'struct obj', 'obj_open');
    kfree(slab, o, 'obj_release');
    inTask('t', 'x', () => {
      o.pt = 7;
    });
    const r = slab.takePending()!;
    expect(r.access).toBe('write of .pt');
    expect(r.object).toBe('struct obj');
    expect(r.usedAt).toBe("by task t [step 2, after 'x']");
    expect(r.freedAt).toBe('in obj_release outside any task');
  });

  it('two freed objects of one class (one shared reporting prototype) each report as themselves and keep their values', () => {
    class Counter {
      n: number;
      private hidden = 0;
      constructor(n: number) {
        this.n = n;
        Object.defineProperty(this, 'tag', { value: `c${n}`, enumerable: false, configurable: true });
      }
      get double(): number {
        return this.n * 2;
      }
      set value(v: number) {
        this.hidden = v;
      }
      get value(): number {
        return this.hidden;
      }
    }
    const slabA = kasanSlab();
    const slabB = kasanSlab();
    const a = kmalloc(slabA, new Counter(1), 'struct counter', 'alloc_a', () => 'a');
    const b = kmalloc(slabB, new Counter(2), 'struct counter', 'alloc_b', () => 'b');
    const live = kmalloc(slabA, new Counter(3), 'struct counter', 'alloc_live', () => 'live');
    kfree(slabA, a, 'free_a');
    kfree(slabB, b, 'free_b');
    const seen = inTask('t', 'use', () => {
      b.value = 9; // the class's setter runs on the freed object; its write lands in the shadow
      return [a.n, a.double, b.n, b.double, b.value, (b as unknown as { tag: string }).tag, live.n];
    });
    expect(seen).toEqual([1, 2, 2, 4, 9, 'c2', 3]);
    expect(a instanceof Counter && b instanceof Counter).toBe(true);
    expect(slabA.reports.map((r) => `${r.object}: ${r.access}`)).toEqual(['struct counter a: read of .n']);
    expect(slabB.reports.map((r) => `${r.object}: ${r.access}`)).toEqual([
      'struct counter b: write of .value',
    ]);
    expect(Object.keys(a)).toEqual([]); // every field moved off the object, so each touch reaches a trap
  });

  it('a non-configurable field stays on the freed object; the fields after it are still poisoned', () => {
    class Pinned {
      before = 1;
      constructor() {
        Object.defineProperty(this, 'fixed', { value: 7, enumerable: true, configurable: false });
        (this as unknown as { after: number }).after = 2;
      }
    }
    const slab = kasanSlab();
    const o = kmalloc(slab, new Pinned(), 'struct pinned', 'alloc_pinned') as Pinned & {
      fixed: number;
      after: number;
    };
    kfree(slab, o, 'free_pinned');
    expect(Object.keys(o)).toEqual(['fixed']);
    const seen = inTask('t', 'use', () => [o.fixed, o.after, o.before]);
    expect(seen).toEqual([7, 2, 1]);
    expect(slab.reports.map((r) => r.access)).toEqual(['read of .after']);
  });

  it('a symbol-keyed field moves off the freed object too: reading it is a use, and it keeps its value', () => {
    const TAG = Symbol('tag');
    class Tagged {
      n = 1;
      [TAG] = 5;
    }
    const slab = kasanSlab();
    const o = kmalloc(slab, new Tagged(), 'struct tagged', 'alloc_tagged');
    kfree(slab, o, 'free_tagged');
    expect(Object.keys(o)).toEqual([]);
    expect(Object.getOwnPropertySymbols(o)).not.toContain(TAG);
    expect(inTask('t', 'use', () => o[TAG])).toBe(5);
    expect(slab.reports.map((r) => r.access)).toEqual(['read of .Symbol(tag)']);
  });

  it('reports a double free and an invalid free, and ignores kfree(null)', () => {
    const slab = kasanSlab();
    const o = kzalloc(slab, new Obj(), 'struct obj', 'obj_open');
    kfree(slab, o, 'first');
    kfree(slab, o, 'second');
    kfree(slab, null, 'null');
    kfree(slab, new Obj(), 'stray');
    expect(slab.reports.map((r) => r.message)).toEqual([
      'BUG: KASAN: double-free: kfree of struct obj in second outside any task; freed in first outside any task; ' +
        'allocated in obj_open outside any task',
      'BUG: KASAN: invalid-free: kfree of a Obj not from kmalloc in stray outside any task',
    ]);
    expect(slab.live).toBe(0);
    expect(slab.freed).toBe(1);
  });

  it('poisons an embedded member with its container; freeing the member alone is an invalid free', () => {
    const slab = kasanSlab();
    const o = kmalloc(slab, new Obj(), 'struct dmirror', 'open', () => 'dev1.0');
    const m = kmallocMember(slab, o, o.inner, 'mirror');
    kfree(slab, m, 'wrong');
    expect(slab.takePending()?.message).toBe(
      'BUG: KASAN: invalid-free: kfree of struct dmirror.mirror, a member in wrong outside any task',
    );
    inTask('t', 'use', () => {
      m.x;
    });
    expect(slab.takePending()).toBeNull();
    kfree(slab, o, 'release');
    inTask('t', 'use', () => {
      m.x;
    });
    expect(slab.takePending()?.object).toBe('struct dmirror.mirror dev1.0.mirror');
  });

  it('reports nothing outside a task, inside quiet(), or with KASAN off', () => {
    const slab = kasanSlab();
    const o = kmalloc(slab, new Obj(), 'struct obj', 'open');
    kfree(slab, o, 'release');
    expect(o.pt).toBe(1);
    inTask('t', 'use', () => {
      slab.quiet(() => o.pt);
    });
    expect(slab.reports).toEqual([]);
    const off = new Slab();
    const raw = new Obj();
    expect(kmalloc(off, raw, 'struct obj', 'open')).toBe(raw);
    kfree(off, raw, 'release');
    kfree(off, raw, 'release');
    expect(off.reports).toEqual([]);
    expect(off.live).toBe(0);
  });

  it('keeps at most KASAN_REPORTS_MAX reports', () => {
    const slab = kasanSlab();
    for (let i = 0; i < KASAN_REPORTS_MAX + 3; i++) kfree(slab, {}, 'stray');
    expect(slab.reports.length).toBe(KASAN_REPORTS_MAX);
  });

  it('refuses a non-object and a non-boolean switch with ArgumentErrors naming them', () => {
    const slab = new Slab();
    expect(() => kmalloc(slab, 3 as unknown as object, 'int', 'f')).toThrow(ArgumentError);
    expect(() => kmalloc(slab, 3 as unknown as object, 'int', 'f')).toThrow(/'obj'/);
    expect(() => {
      slab.kasan = 'yes' as unknown as boolean;
    }).toThrow(/'kasan'/);
  });
});

describe('mm/slab: how a report names the freed object', () => {
  it('describes the object as it was freed, even when the use that is reported is a write', () => {
    const slab = kasanSlab();
    let described = 0;
    const o: Obj = kmalloc(slab, new Obj(), 'struct obj', 'obj_open', (): string => {
      described++;
      return `pt ${o.pt}`;
    });
    o.pt = 7;
    inTask('closer', 'free', () => {
      kfree(slab, o, 'obj_release');
    });
    // named only for a report: a free nobody reports formats nothing
    expect(described).toBe(0);
    inTask('writer', 'write', () => {
      o.pt = 9;
    });
    const r = slab.takePending()!;
    expect(r.access).toBe('write of .pt');
    expect(r.object).toBe('struct obj pt 7');
    expect(described).toBe(1);
    // the write went to the freed object's shadow, and the name stays the one reported
    expect(slab.quiet(() => o.pt)).toBe(9);
    inTask('refree', 'free', () => {
      kfree(slab, o, 'obj_release');
    });
    expect(slab.takePending()?.object).toBe('struct obj pt 7');
    expect(described).toBe(1);
  });
});

describe('mm/slab: the VMAs munmap and exit free (vm_area_free)', () => {
  const RW = PROT_READ | PROT_WRITE;
  const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

  it('a VMA saved before munmap and read after it is a use after free naming vm_area_free', () => {
    const sim = new Simulator({ ramPages: 16 });
    sim.kernel.slab.kasan = true;
    const p = sim.createProcess();
    const a = p.mmap(2 * 4096, RW, ANON);
    const vma = p.mm.findVma(a)!;
    p.munmap(a, 2 * 4096);
    expect(sim.kernel.slab.reports).toEqual([]);
    const start = sim.run(
      'driver',
      (function* () {
        yield 'use';
        return vma.start;
      })(),
    );
    expect(start).toBe(a);
    const r = sim.kernel.slab.takePending()!;
    expect(r.bug).toBe('slab-use-after-free');
    expect(r.access).toBe('read of .start');
    expect(r.object).toBe(
      `struct vm_area_struct ${a.toString(16)}-${(a + 8192).toString(16)} rw-p [anon] of mm 1`,
    );
    expect(r.freedAt).toMatch(/^in vm_area_free by task munmap\[1\] \[step \d+, after '.*'\]$/);
    expect(r.allocatedAt).toMatch(/^in mmap_region by task mmap\[1\]/);
  });

  it('split parts and every VMA at exit are freed; the live ones are not', () => {
    const sim = new Simulator({ ramPages: 16 });
    const slab = sim.kernel.slab;
    slab.kasan = true;
    const p = sim.createProcess();
    const a = p.mmap(3 * 4096, RW, ANON);
    const b = p.mmap(4096, PROT_READ, ANON);
    p.munmap(a + 4096, 4096); // splits off the middle page and the top one
    expect(slab.freed).toBe(1);
    expect(slab.live).toBe(3);
    const low = p.mm.findVma(a)!;
    p.exit();
    expect(slab.live).toBe(0);
    expect(slab.freed).toBe(4);
    sim.run(
      'late',
      (function* () {
        yield 'use';
        low.end;
      })(),
    );
    expect(slab.takePending()?.freedAt).toMatch(/^in vm_area_free by task exit/);
    expect(b).toBeGreaterThan(0);
  });
});

describe('mm/slab: test_hmm frees its chunks at removal (dmirror_device_remove_chunks)', () => {
  it("a chunk's dev_pagemap used after RELEASE is a use after free of the embedded member", () => {
    const sim = new Simulator({
      ramPages: 64,
      sectionPages: 64,
      kernel: 'v6.19',
      devices: [{ memoryPages: 16 }],
    });
    const slab = sim.kernel.slab;
    slab.kasan = true;
    const mdev = sim.modernDevice(0);
    const chunk = mdev.chunks[0]!;
    expect(slab.live).toBe(1);
    sim.run('release', mdev.removeChunks());
    expect(slab.freed).toBe(1);
    expect(slab.reports).toEqual([]);
    sim.run(
      'stale',
      (function* () {
        yield 'use';
        return chunk.pagemap.owner;
      })(),
    );
    // the chunk's read of .pagemap is the first report, the embedded dev_pagemap's .owner the second
    expect(slab.reports.map((x) => `${x.object}: ${x.access}`)).toEqual([
      'struct dmirror_chunk hmm_dmirror0: read of .pagemap',
      'struct dmirror_chunk.pagemap hmm_dmirror0.pagemap: read of .owner',
    ]);
    const r = slab.takePending()!;
    expect(r.object).toBe('struct dmirror_chunk hmm_dmirror0');
    expect(r.access).toBe('read of .pagemap');
    expect(r.freedAt).toMatch(/^in dmirror_device_remove_chunks by task release \[step \d+, after '.*'\]$/);
    expect(r.allocatedAt).toBe('in dmirror_allocate_chunk outside any task');
  });
});
