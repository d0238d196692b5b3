import { describe, expect, it } from 'vitest';
import {
  Completion,
  Executor,
  LockdepBug,
  LockdepGraph,
  Mutex,
  mightSleep,
  nonBlockEnd,
  nonBlockStart,
  RwSem,
  SpinLock,
  schedule,
  type Thread,
} from '../../src/sched/index.js';
import { roundRobin, runThreads } from './helpers.js';

describe('Mutex', () => {
  it('excludes: the second locker blocks until unlock, then gets it (handoff)', () => {
    const m = new Mutex('m');
    const trace: string[] = [];
    const ex = new Executor({ strategy: roundRobin });
    let b = null as Thread | null;
    ex.spawn(
      'A',
      (function* () {
        yield* m.lock();
        trace.push(`A locked, owner ${m.owner?.name}`);
        yield 'A critical';
        yield 'A critical 2';
        trace.push(`A unlocking, B is ${b?.state}`);
        m.unlock();
        trace.push(`after unlock owner ${m.owner?.name}, B is ${b?.state}`);
      })(),
    );
    b = ex.spawn(
      'B',
      (function* () {
        yield* m.lock();
        trace.push(`B locked`);
        m.unlock();
      })(),
    );
    const r = ex.run();
    expect(r.status).toBe('done');
    expect(trace).toEqual([
      'A locked, owner A',
      'A unlocking, B is blocked',
      'after unlock owner B, B is runnable',
      'B locked',
    ]);
    expect(m.isLocked()).toBe(false);
    expect(m.owner).toBeNull();
  });

  it('trylock succeeds when free, fails when held (even by itself)', () => {
    const m = new Mutex('m');
    const seen: boolean[] = [];
    const r = runThreads(
      [
        function* () {
          seen.push(m.trylock());
          seen.push(m.trylock());
          yield 'holding';
          m.unlock();
        },
        function* () {
          seen.push(m.trylock());
          yield 'x';
        },
      ],
      { strategy: roundRobin },
    );
    expect(r.status).toBe('done');
    expect(seen).toEqual([true, false, false]);
  });

  it('unlock of a mutex not held is a LOCKDEP bug in that thread', () => {
    const m = new Mutex('m');
    const r = runThreads([
      function* () {
        yield 'x';
        m.unlock();
      },
    ]);
    expect(r.status).toBe('failed');
    expect(r.failure!.thread).toBe('T0');
    expect(r.failure!.error).toBeInstanceOf(LockdepBug);
    expect((r.failure!.error as LockdepBug).kind).toBe('LOCKDEP');
    expect(r.failure!.message).toBe(
      "WARNING: bad unlock balance detected!\nT0 is trying to release mutex m at step 2 in 'x' but does not hold it (not held)",
    );
  });

  it('unlock by a non-owner names the owner', () => {
    const m = new Mutex('m');
    const r = runThreads(
      [
        function* () {
          yield* m.lock();
          yield 'held';
          m.unlock();
        },
        function* () {
          yield 'wait';
          m.unlock();
        },
      ],
      { strategy: roundRobin },
    );
    expect(r.status).toBe('failed');
    expect(r.failure!.thread).toBe('T1');
    expect(r.failure!.message).toContain('does not hold it (owner T0)');
  });

  it('recursive lock is reported, not deadlocked', () => {
    const m = new Mutex('m');
    const r = runThreads([
      function* () {
        yield 'start';
        yield* m.lock();
        yield* m.lock();
      },
    ]);
    expect(r.status).toBe('failed');
    expect(r.failure!.message).toBe(
      "WARNING: possible recursive locking detected\nT0 is trying to acquire mutex m at step 4 in 'mutex_lock m'\n" +
        "but already holds it, taken at step 3 in 'start'",
    );
  });

  it('assertHeld passes for the owner and fails for others', () => {
    const m = new Mutex('m');
    const r = runThreads([
      function* () {
        yield* m.lock();
        m.assertHeld();
        m.unlock();
        m.assertHeld();
      },
    ]);
    expect(r.status).toBe('failed');
    expect(r.failure!.message).toMatch(/^WARNING: lockdep_assert_held failed: T0 does not hold mutex m /);
    expect((r.failure!.error as LockdepBug).kind).toBe('LOCKDEP');
  });

  it('a thread that exits holding a lock fails', () => {
    const m = new Mutex('m');
    const r = runThreads([
      function* () {
        yield* m.lock('do_thing');
      },
    ]);
    expect(r.status).toBe('failed');
    expect(r.failure!.message).toBe(
      "BUG: lock held when returning to user space!\nT0 is exiting at step 2 in 'mutex_lock m' with locks still held:\n" +
        "  mutex m, taken at step 2 in 'do_thing'",
    );
  });
});

describe('RwSem', () => {
  it('readers share, a writer excludes', () => {
    const s = new RwSem('mmap_sem');
    const seen: string[] = [];
    const ex = new Executor({ strategy: roundRobin });
    for (const name of ['R0', 'R1']) {
      ex.spawn(
        name,
        (function* () {
          yield* s.downRead();
          seen.push(`${name} in, readers=${s.readers}`);
          yield 'reading';
          yield 'reading more';
          s.upRead();
        })(),
      );
    }
    ex.spawn(
      'W',
      (function* () {
        yield* s.downWrite();
        seen.push(`W in, readers=${s.readers}, write=${s.isWriteLocked()}`);
        yield 'writing';
        s.upWrite();
      })(),
    );
    expect(ex.run().status).toBe('done');
    expect(seen).toEqual(['R0 in, readers=1', 'R1 in, readers=2', 'W in, readers=0, write=true']);
    expect(s.isLocked()).toBe(false);
  });

  it('a writer is not starved by a stream of readers: readers arriving after it queue behind it', () => {
    const s = new RwSem('mmap_sem');
    const order: string[] = [];
    const ex = new Executor({ strategy: roundRobin });
    // R0 holds read; W queues; then R1..R3 arrive while R0 still reads.
    ex.spawn(
      'R0',
      (function* () {
        yield* s.downRead();
        order.push('R0 in');
        for (let i = 0; i < 5; i++) yield 'R0 reading';
        order.push(`R0 out, waiting: ${s.waiting.map((t) => t.name).join(',')}`);
        s.upRead();
      })(),
    );
    ex.spawn(
      'W',
      (function* () {
        yield* s.downWrite();
        order.push(`W in, readers=${s.readers}`);
        yield 'W writing';
        s.upWrite();
      })(),
    );
    for (const name of ['R1', 'R2', 'R3']) {
      ex.spawn(
        name,
        (function* () {
          yield* s.downRead();
          order.push(`${name} in`);
          yield 'reading';
          s.upRead();
        })(),
      );
    }
    const res = ex.run();
    expect(res.status).toBe('done');
    expect(order).toEqual([
      'R0 in',
      'R0 out, waiting: W,R1,R2,R3',
      'W in, readers=0',
      'R1 in',
      'R2 in',
      'R3 in',
    ]);
  });

  it('downRead/downWrite trylocks respect queued waiters', () => {
    const s = new RwSem('s');
    const seen: boolean[] = [];
    const ex = new Executor({ strategy: roundRobin });
    ex.spawn(
      'R',
      (function* () {
        seen.push(s.downReadTrylock()); // true
        yield 'hold';
        yield 'hold';
        seen.push(s.downReadTrylock()); // false: W waits
        seen.push(s.downWriteTrylock()); // false: held
        s.upRead();
      })(),
    );
    ex.spawn(
      'W',
      (function* () {
        yield* s.downWrite();
        s.upWrite();
      })(),
    );
    expect(ex.run().status).toBe('done');
    expect(seen).toEqual([true, false, false]);
  });

  it('downgradeWrite grants the queued readers at the front, not those behind a writer', () => {
    const s = new RwSem('s');
    const order: string[] = [];
    const ex = new Executor();
    const wait = new Completion('queued');
    ex.spawn(
      'W0',
      (function* () {
        yield* s.downWrite();
        // let everybody queue
        yield* wait.waitForCompletion();
        s.downgradeWrite();
        order.push(
          `downgraded: readers=${s.readers} write=${s.isWriteLocked()} waiting=${s.waiting.map((t) => t.name)}`,
        );
        order.push(`W0 holds ${s.heldBy(ex.threads[0]!)}`);
        s.assertHeld('read');
        yield 'reading';
        s.upRead();
      })(),
    );
    for (const [name, write] of [
      ['R1', false],
      ['R2', false],
      ['W3', true],
      ['R4', false],
    ] as const) {
      ex.spawn(
        name,
        (function* () {
          if (write) yield* s.downWrite();
          else yield* s.downRead();
          order.push(`${name} in`);
          yield 'in';
          if (write) s.upWrite();
          else s.upRead();
        })(),
      );
    }
    ex.spawn(
      'kick',
      (function* () {
        yield 'kick';
        wait.complete();
      })(),
    );
    expect(ex.run().status).toBe('done');
    expect(order).toEqual([
      'downgraded: readers=3 write=false waiting=W3,R4',
      'W0 holds read',
      'R1 in',
      'R2 in',
      'W3 in',
      'R4 in',
    ]);
  });

  it('up of an rwsem not held, and a read unlock of a write hold, are reported', () => {
    const s = new RwSem('s');
    const r = runThreads([
      function* () {
        yield* s.downWrite();
        s.upRead();
      },
    ]);
    expect(r.failure!.message).toContain('T0 is trying to release rwsem s');
    expect(r.failure!.message).toContain('(held for write by T0)');
  });

  it('recursive read acquisition is reported', () => {
    const s = new RwSem('s');
    const r = runThreads([
      function* () {
        yield* s.downRead();
        yield* s.downRead();
      },
    ]);
    expect(r.failure!.message).toMatch(
      /^WARNING: possible recursive locking detected\nT0 is trying to acquire rwsem s/,
    );
  });
});

describe('atomic context', () => {
  it('a yield while holding a spinlock is a BUG thrown in that thread, naming it', () => {
    const ptl = new SpinLock('ptl');
    let cleanedUp = false;
    const r = runThreads([
      function* () {
        yield 'fine';
      },
      function* () {
        ptl.lock();
        try {
          yield 'pte 0x1000';
        } finally {
          cleanedUp = true;
        }
      },
    ]);
    expect(r.status).toBe('failed');
    expect(r.failure!.thread).toBe('T1');
    expect(r.failure!.message).toBe(
      'BUG: sleeping function called from invalid context at pte 0x1000\n' +
        'in_atomic(): 1, non_block: 0, name: T1, holding spinlock ptl\n' +
        'locks held by T1: spinlock ptl',
    );
    // thrown into the generator at the yield: its finally ran
    expect(cleanedUp).toBe(true);
  });

  it('a mutex_lock under a spinlock is caught at the lock point', () => {
    const ptl = new SpinLock('ptl');
    const m = new Mutex('m');
    const r = runThreads([
      function* () {
        ptl.lock();
        yield* m.lock();
      },
    ]);
    expect(r.failure!.message).toMatch(
      /^BUG: sleeping function called from invalid context at mutex_lock m\n/,
    );
  });

  it('spinlock lock/unlock without a yield in between is fine', () => {
    const ptl = new SpinLock('ptl');
    const r = runThreads([
      function* () {
        ptl.lock();
        ptl.assertHeld();
        ptl.unlock();
        yield 'after';
        expect(ptl.trylock()).toBe(true);
        expect(ptl.trylock()).toBe(false);
        ptl.unlock();
      },
    ]);
    expect(r.status).toBe('done');
  });

  it('spinlock recursion and bad unlock are reported', () => {
    const a = new SpinLock('a');
    const r1 = runThreads([
      function* () {
        yield 'start';
        a.lock();
        a.lock();
      },
    ]);
    expect(r1.failure!.message).toMatch(
      /^WARNING: possible recursive locking detected\nT0 is trying to acquire spinlock a/,
    );
    const b = new SpinLock('b');
    const r2 = runThreads([
      function* () {
        yield 'start';
        b.unlock();
      },
    ]);
    expect(r2.failure!.message).toContain('T0 is trying to release spinlock b');
  });

  it('a yield inside nonBlockStart/End is a BUG; outside it is fine', () => {
    const r = runThreads([
      function* () {
        nonBlockStart();
        nonBlockEnd();
        yield 'ok';
        nonBlockStart();
        yield 'invalidate_range_start';
        nonBlockEnd();
      },
    ]);
    expect(r.status).toBe('failed');
    expect(r.failure!.thread).toBe('T0');
    expect(r.failure!.message).toBe(
      'BUG: sleeping function called from invalid context at invalidate_range_start\n' +
        'in_atomic(): 0, non_block: 1, name: T0\nlocks held by T0: (none)',
    );
  });

  it('mightSleep in atomic context throws with the given site; outside, nothing', () => {
    const r = runThreads([
      function* () {
        yield 'start';
        mightSleep('kmalloc GFP_KERNEL');
        nonBlockStart();
        mightSleep('kmalloc GFP_KERNEL');
      },
    ]);
    expect(r.failure!.message).toMatch(
      /^BUG: sleeping function called from invalid context at kmalloc GFP_KERNEL\n/,
    );
    expect(() => mightSleep('outside')).not.toThrow();
  });

  it('nonBlockEnd without start is a BUG', () => {
    const r = runThreads([
      function* () {
        yield 'start';
        nonBlockEnd();
      },
    ]);
    expect(r.failure!.message).toBe('BUG: non_block_end() without non_block_start() in T0');
  });
});

describe('lockdep', () => {
  const abThread = (a: Mutex, b: Mutex) =>
    function* () {
      yield 'start';
      yield* a.lock();
      yield* b.lock();
      b.unlock();
      a.unlock();
    };

  it('AB/BA inversion is reported even when the run did not deadlock', () => {
    const A = new Mutex('A');
    const B = new Mutex('B');
    // RunToCompletion: T0 takes A then B and finishes before T1 starts: no deadlock possible
    const r = runThreads([abThread(A, B), abThread(B, A)]);
    expect(r.status).toBe('failed');
    expect(r.failure!.thread).toBe('T1');
    expect(r.failure!.message).toBe(
      'WARNING: possible circular locking dependency detected\n' +
        "T1 is trying to acquire lock A at step 8 in 'mutex_lock B'\n" +
        "but already holds lock B, taken at step 7 in 'start'\n" +
        'which lock already depends on the new lock; the existing dependency chain is:\n' +
        "  A -> B: T0 took B at step 4 in 'mutex_lock A' while holding A, taken at step 3 in 'start'\n" +
        'Possible unsafe locking scenario:\n' +
        '  T0: lock(A); lock(B)\n' +
        '  T1: lock(B); lock(A)',
    );
  });

  it('a shared graph remembers orders across executors', () => {
    const graph = new LockdepGraph();
    const A = new Mutex('A');
    const B = new Mutex('B');
    expect(runThreads([abThread(A, B)], { lockdep: graph }).status).toBe('done');
    expect(graph.hasEdge('A', 'B')).toBe(true);
    expect(graph.edgeCount).toBe(1);
    // new instances, same classes (names)
    const r = runThreads([abThread(new Mutex('B'), new Mutex('A'))], { lockdep: graph });
    expect(r.failure!.message).toMatch(/^WARNING: possible circular locking dependency detected\n/);
    // a fresh graph does not know the order
    expect(runThreads([abThread(B, A)]).status).toBe('done');
  });

  it('finds cycles through longer chains', () => {
    const [A, B, C] = [new Mutex('A'), new Mutex('B'), new Mutex('C')];
    const r = runThreads([abThread(A, B), abThread(B, C), abThread(C, A)]);
    expect(r.failure!.thread).toBe('T2');
    expect(r.failure!.message).toContain('  A -> B: T0 took B');
    expect(r.failure!.message).toContain('  B -> C: T1 took C');
  });

  it('two instances of one class nest only with lockNested', () => {
    const a1 = new Mutex('inode');
    const a2 = new Mutex('inode');
    const r = runThreads([
      function* () {
        yield* a1.lock();
        yield* a2.lock();
      },
    ]);
    expect(r.failure!.message).toContain('already holds another lock of the same class, mutex inode');
    // fresh instances: the failed thread above still holds a1
    const b1 = new Mutex('inode');
    const b2 = new Mutex('inode');
    const graph = new LockdepGraph();
    const ok = runThreads(
      [
        function* () {
          yield* b1.lock();
          yield* b2.lockNested(1);
          b2.unlock();
          b1.unlock();
        },
      ],
      { lockdep: graph },
    );
    expect(ok.status).toBe('done');
    expect(graph.edges().map((e) => `${e.from}->${e.to}`)).toEqual(['inode->inode/1']);
  });

  it('trylock adds no edge for the lock it takes; a disabled graph records nothing', () => {
    const graph = new LockdepGraph();
    const A = new Mutex('A');
    const B = new Mutex('B');
    const r = runThreads(
      [
        function* () {
          yield* A.lock();
          B.trylock();
          B.unlock();
          A.unlock();
        },
        abThread(B, A),
      ],
      { lockdep: graph },
    );
    expect(r.status).toBe('done');
    expect(graph.edges().map((e) => `${e.from}->${e.to}`)).toEqual(['B->A']);
    const off = new LockdepGraph({ enabled: false });
    expect(runThreads([abThread(A, B), abThread(B, A)], { lockdep: off }).status).toBe('done');
    expect(off.edgeCount).toBe(0);
  });
});

describe('deadlock report', () => {
  it('names every blocked thread, what it waits for and what it holds', () => {
    const A = new Mutex('A');
    const done = new Completion('done');
    const r = runThreads([
      function* () {
        yield* A.lock('setup');
        yield* done.waitForCompletion();
        A.unlock();
      },
      function* () {
        yield* A.lock();
        done.complete();
        A.unlock();
      },
    ]);
    expect(r.status).toBe('deadlock');
    expect(r.deadlock!.threads).toEqual([
      { name: 'T0', waitingFor: 'completion done', holds: ['mutex A'] },
      { name: 'T1', waitingFor: 'mutex A (owner T0)', holds: [] },
    ]);
    expect(r.deadlock!.message).toBe(
      'deadlock: no thread can run and no timer is armed; 2 thread(s) blocked forever at virtual time 0 ns after 4 steps:\n' +
        "  T0 is blocked at step 2 in 'wait_for_completion done' waiting for completion done\n" +
        '  T0 holds:\n' +
        "    mutex A, taken at step 2 in 'setup'\n" +
        "  T1 is blocked at step 4 in 'mutex_lock A: wait' waiting for mutex A (owner T0)\n" +
        '  T1 holds:\n' +
        '    (none)',
    );
  });

  it('an AB/BA deadlock with lockdep off is a deadlock naming both locks', () => {
    const A = new Mutex('A');
    const B = new Mutex('B');
    const r = runThreads(
      [
        function* () {
          yield* A.lock();
          yield* schedule();
          yield* B.lock();
        },
        function* () {
          yield* B.lock();
          yield* schedule();
          yield* A.lock();
        },
      ],
      { strategy: roundRobin, lockdep: new LockdepGraph({ enabled: false }) },
    );
    expect(r.status).toBe('deadlock');
    expect(r.deadlock!.threads).toEqual([
      { name: 'T0', waitingFor: 'mutex B (owner T1)', holds: ['mutex A'] },
      { name: 'T1', waitingFor: 'mutex A (owner T0)', holds: ['mutex B'] },
    ]);
  });

  it('rwsem waits are described with mode and holders', () => {
    const s = new RwSem('mmap_sem');
    const r = runThreads([
      function* () {
        yield* s.downRead();
        yield* new Completion('never').waitForCompletion();
      },
      function* () {
        yield* s.downWrite();
      },
    ]);
    expect(r.deadlock!.threads).toEqual([
      { name: 'T0', waitingFor: 'completion never', holds: ['rwsem mmap_sem (read)'] },
      { name: 'T1', waitingFor: 'rwsem mmap_sem for write (held for read by T0)', holds: [] },
    ]);
  });
});
