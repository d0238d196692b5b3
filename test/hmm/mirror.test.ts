/**
 * Mirrors (§2.3) and mm teardown (§2.12): registration rules, the one per-mm hmm and its notifier,
 * its lifetime, release at exit, and the misuses v5.3 does not tolerate.
 */

import { describe, expect, it } from 'vitest';
import {
  Hmm,
  HmmMirror,
  hmmMirrorRegister,
  hmmMirrorUnregister,
  hmmRangeUnregister,
  mmHmm,
} from '../../src/hmm/seed/index.js';
import { ArgumentError, EINVAL, ENOMEM, KernelBug, KernelWarning } from '../../src/index.js';
import { current, LockdepBug } from '../../src/sched/index.js';
import {
  BASE,
  mapAt,
  mirrorAndRange,
  recorder,
  recordingMirror,
  registerMirror,
  touch,
  withMmapRead,
  world,
} from './helpers.js';

describe('hmm_mirror_register', () => {
  it('needs mmap_sem held for write (lockdep)', () => {
    const w = world();
    const m = recordingMirror('m', recorder());
    expect(() =>
      w.sim.run(
        'no lock',
        (function* () {
          yield 'register';
          return hmmMirrorRegister(m, w.mm);
        })(),
      ),
    ).toThrow(LockdepBug);
    expect(() =>
      w.sim.run(
        'read lock',
        withMmapRead(w.mm, function* () {
          yield 'register';
          return hmmMirrorRegister(m, w.mm);
        }),
      ),
    ).toThrow(/lockdep_assert_held failed.*mmap_sem for write/);
    expect(mmHmm(w.mm)).toBeNull();
  });

  it('-EINVAL for a missing mirror, mm or ops', () => {
    const w = world();
    const m = recordingMirror('m', recorder());
    const run = (body: () => number) =>
      w.sim.run(
        'reg',
        (function* () {
          yield* w.mm.mmapSem.downWrite();
          try {
            return body();
          } finally {
            w.mm.mmapSem.upWrite();
          }
        })(),
      );
    expect(run(() => hmmMirrorRegister(null, w.mm))).toBe(-EINVAL);
    expect(run(() => hmmMirrorRegister(m, null))).toBe(-EINVAL);
    expect(run(() => hmmMirrorRegister(new HmmMirror(null), w.mm))).toBe(-EINVAL);
    expect(mmHmm(w.mm)).toBeNull();
    const noSync = new HmmMirror({} as never);
    expect(() => run(() => hmmMirrorRegister(noSync, w.mm))).toThrow(ArgumentError);
  });

  it('the first mirror creates the per-mm hmm and its ONE mmu notifier; later ones share it', () => {
    const w = world();
    const count0 = w.mm.count;
    const a = recordingMirror('a', recorder());
    const b = recordingMirror('b', recorder());
    expect(registerMirror(w, a)).toBe(0);
    const hmm = mmHmm(w.mm);
    expect(hmm).toBeInstanceOf(Hmm);
    expect(w.mm.notifiers).toEqual([hmm!.mmuNotifier]);
    // mmgrab by the notifier registration and by the hmm
    expect(w.mm.count).toBe(count0 + 2);
    expect(registerMirror(w, b)).toBe(0);
    expect(mmHmm(w.mm)).toBe(hmm);
    expect(w.mm.notifiers.length).toBe(1);
    expect(hmm!.mirrors).toEqual([b, a]);
    expect(hmm!.kref).toBe(2);
    expect(a.hmm).toBe(hmm);
  });

  it('-ENOMEM when the notifier cannot be registered (the mm is already torn down)', () => {
    const w = world();
    w.mm.mmgrab(); // keep the struct
    w.p.exit();
    expect(w.mm.dead).toBe(true);
    expect(registerMirror(w, recordingMirror('m', recorder()))).toBe(-ENOMEM);
    expect(mmHmm(w.mm)).toBeNull();
  });

  it('registering a mirror twice is a list double add', () => {
    const w = world();
    const m = recordingMirror('m', recorder());
    registerMirror(w, m);
    expect(() => registerMirror(w, m)).toThrow(KernelWarning);
  });
});

describe('hmm_mirror_unregister', () => {
  it('the last reference frees the hmm: notifier unregistered WITHOUT release, mm.hmm cleared', () => {
    const w = world();
    const count0 = w.mm.count;
    const rec = recorder();
    const a = recordingMirror('a', rec);
    const b = recordingMirror('b', rec);
    registerMirror(w, a);
    registerMirror(w, b);
    const hmm = mmHmm(w.mm)!;
    w.sim.run('unreg a', hmmMirrorUnregister(a));
    expect(hmm.mirrors).toEqual([b]);
    expect(mmHmm(w.mm)).toBe(hmm);
    w.sim.run('unreg b', hmmMirrorUnregister(b));
    expect(hmm.kref).toBe(0);
    expect(mmHmm(w.mm)).toBeNull();
    expect(w.mm.notifiers).toEqual([]);
    expect(w.mm.count).toBe(count0);
    expect(rec.log).toEqual([]);
    // a new mirror gets a new hmm
    expect(registerMirror(w, recordingMirror('c', rec))).toBe(0);
    expect(mmHmm(w.mm)).not.toBe(hmm);
  });

  it('a registered range keeps the hmm alive after its mirror is gone', () => {
    const w = world();
    mapAt(w, BASE, 4);
    const { mirror, range } = mirrorAndRange(w, BASE, 4);
    const hmm = mmHmm(w.mm)!;
    w.sim.run('unreg', hmmMirrorUnregister(mirror));
    expect(mmHmm(w.mm)).toBe(hmm);
    expect(hmm.kref).toBe(1);
    w.sim.run('range unreg', hmmRangeUnregister(range));
    expect(mmHmm(w.mm)).toBeNull();
  });

  it('a second unregister is a WARNING (v5.3 list_dels a poisoned entry)', () => {
    const w = world();
    const m = recordingMirror('m', recorder());
    const other = recordingMirror('o', recorder());
    registerMirror(w, m);
    registerMirror(w, other);
    w.sim.run('unreg', hmmMirrorUnregister(m));
    expect(() => w.sim.run('unreg again', hmmMirrorUnregister(m))).toThrow(KernelWarning);
    expect(() => w.sim.run('never', hmmMirrorUnregister(recordingMirror('x', recorder())))).toThrow(
      KernelBug,
    );
  });
});

describe('§2.12 mm teardown', () => {
  it('exit_mmap calls every release, newest first, under mirrors_sem read; mirrors stay registered', () => {
    const w = world();
    mapAt(w, BASE, 4);
    touch(w, BASE, [0]);
    const rec = recorder();
    const held: string[] = [];
    const mk = (name: string) =>
      new HmmMirror({
        syncCpuDevicePagetables() {
          rec.log.push(`${name}:sync`);
          return 0;
        },
        release(m) {
          held.push(`${name}: mirrors_sem ${m.hmm!.mirrorsSem.heldBy(current())}`);
          rec.log.push(`${name}:release`);
        },
      });
    const a = mk('a');
    const b = mk('b');
    registerMirror(w, a);
    registerMirror(w, b);
    const hmm = mmHmm(w.mm)!;
    w.p.exit();
    expect(w.mm.dead).toBe(true);
    // release first, then the unmap invalidation reaches the mirrors too
    expect(rec.log.slice(0, 2)).toEqual(['b:release', 'a:release']);
    expect(held).toEqual(['b: mirrors_sem read', 'a: mirrors_sem read']);
    expect(hmm.mirrors).toEqual([b, a]);
    expect(w.sim.kernel.mms.has(w.mm)).toBe(true); // the hmm holds mm_count
    w.sim.run('unreg a', hmmMirrorUnregister(a));
    w.sim.run('unreg b', hmmMirrorUnregister(b));
    expect(w.sim.kernel.mms.has(w.mm)).toBe(false);
    expect(rec.log.filter((x) => x.endsWith('release'))).toEqual(['b:release', 'a:release']);
  });

  it('a release callback may sleep (it is a generator)', () => {
    const w = world();
    const order: string[] = [];
    const m = new HmmMirror({
      syncCpuDevicePagetables: () => 0,
      *release() {
        order.push('release start');
        yield 'driver: stop device';
        order.push('release end');
      },
    });
    registerMirror(w, m);
    w.p.exit();
    expect(order).toEqual(['release start', 'release end']);
  });

  it('unregistering from inside release() is a bug the lock checker reports', () => {
    const w = world();
    const m: HmmMirror = new HmmMirror({
      syncCpuDevicePagetables: () => 0,
      release: (self) => hmmMirrorUnregister(self),
    });
    registerMirror(w, m);
    expect(() => w.p.exit()).toThrow(/mirrors_sem/);
  });
});
