import { describe, expect, it } from 'vitest';
import {
  COMPLETION_DONE_ALL,
  Completion,
  Executor,
  msleep,
  NSEC_PER_MSEC,
  nonBlockStart,
  type Task,
  type Thread,
  WaitQueue,
} from '../../src/sched/index.js';
import { roundRobin, runThreads } from './helpers.js';

describe('WaitQueue', () => {
  it('waitEvent sleeps until woken with the condition true, re-sleeping on a wakeup that finds it false', () => {
    const wq = new WaitQueue('wq');
    let flag = false;
    let checks = 0;
    const trace: string[] = [];
    const ex = new Executor({ strategy: roundRobin });
    let waiter = null as Thread | null;
    waiter = ex.spawn(
      'waiter',
      (function* () {
        yield* wq.waitEvent(() => {
          checks++;
          return flag;
        });
        trace.push('waiter done');
      })(),
    );
    ex.spawn(
      'waker',
      (function* () {
        trace.push(`waker sees waiter ${waiter?.state}, ${wq.waiting} waiting`);
        wq.wakeUp(); // spurious: flag still false
        yield 'between';
        trace.push(`after spurious wakeup waiter is ${waiter?.state}`);
        flag = true;
        wq.wakeUp();
        trace.push(`waker done, waiter ${waiter?.state}`);
      })(),
    );
    expect(ex.run().status).toBe('done');
    expect(trace).toEqual([
      'waker sees waiter blocked, 1 waiting',
      'after spurious wakeup waiter is blocked',
      'waker done, waiter runnable',
      'waiter done',
    ]);
    // initial check, re-check after the spurious wakeup, final check
    expect(checks).toBe(3);
  });

  it('sleep() is the open-coded loop: the waiter yields its point, sleeps, and re-checks when woken', () => {
    const wq = new WaitQueue('wq');
    let flag = false;
    const points: string[] = [];
    const ex = new Executor({ strategy: roundRobin });
    const waiter = ex.spawn(
      'waiter',
      (function* () {
        while (!flag) yield wq.sleep();
      })(),
    );
    ex.spawn(
      'waker',
      (function* () {
        points.push(`${waiter.lastPoint} ${waiter.state} ${wq.waiting}`);
        wq.wakeUp(); // spurious
        yield 'between';
        points.push(`${waiter.state} ${wq.waiting}`);
        flag = true;
        wq.wakeUp();
      })(),
    );
    const r = ex.run();
    expect(r.status).toBe('done');
    expect(points).toEqual(['wait_event wq blocked 1', 'blocked 1']);
  });

  it('waitEvent does not sleep when the condition already holds', () => {
    const wq = new WaitQueue('wq');
    const ex = new Executor();
    ex.spawn(
      't',
      wq.waitEvent(() => true),
    );
    const r = ex.run();
    expect(r.status).toBe('done');
    expect(r.steps).toBe(1);
  });

  it('wakeUp wakes every waiter (all are non-exclusive, as with wait_event)', () => {
    const wq = new WaitQueue('wq');
    let go = false;
    const woke: string[] = [];
    const body = (n: string) =>
      function* (): Task {
        yield* wq.waitEvent(() => go);
        woke.push(n);
      };
    const r = runThreads([
      body('a'),
      body('b'),
      function* () {
        yield 'x';
        go = true;
        wq.wakeUp();
      },
    ]);
    expect(r.status).toBe('done');
    expect(woke).toEqual(['a', 'b']);
  });

  it('waitEventTimeout returns 0 after the virtual timeout when nobody wakes it', () => {
    const wq = new WaitQueue('wq');
    const ex = new Executor();
    const t = ex.spawn(
      't',
      wq.waitEventTimeout(() => false, 5 * NSEC_PER_MSEC),
    );
    ex.spawn(
      'busy',
      (function* () {
        for (let i = 0; i < 10; i++) yield 'busy';
      })(),
    );
    expect(ex.run().status).toBe('done');
    expect(t.result).toBe(0);
    expect(ex.nowNs).toBe(5_000_000);
    expect(wq.waiting).toBe(0);
  });

  it('waitEventTimeout returns the remaining time (> 0) when woken with the condition true', () => {
    const wq = new WaitQueue('wq');
    let flag = false;
    const ex = new Executor();
    const t = ex.spawn(
      't',
      wq.waitEventTimeout(() => flag, 5 * NSEC_PER_MSEC),
    );
    ex.spawn(
      'sleeper',
      (function* () {
        yield* msleep(2);
        flag = true;
        wq.wakeUp();
      })(),
    );
    expect(ex.run().status).toBe('done');
    // woken at 2 ms of 5: 3 ms left
    expect(t.result).toBe(3_000_000);
    // the cancelled timer did not move the clock to 5 ms
    expect(ex.nowNs).toBe(2_000_000);
  });

  it('waitEventTimeout returns 1 when the condition became true without a wakeup by the timeout', () => {
    const wq = new WaitQueue('wq');
    let flag = false;
    const r = runThreads([
      function* () {
        const ret = yield* wq.waitEventTimeout(() => flag, 1000);
        expect(ret).toBe(1);
      },
      function* () {
        yield 'start';
        flag = true; // forgot wq.wakeUp()
      },
    ]);
    expect(r.status).toBe('done');
  });

  it('waitEventTimeout with the condition already true returns the whole timeout; 0 timeout and false returns 0', () => {
    const wq = new WaitQueue('wq');
    const ex = new Executor();
    expect(
      ex.runTask(
        'a',
        wq.waitEventTimeout(() => true, 777),
      ),
    ).toBe(777);
    expect(
      ex.runTask(
        'b',
        wq.waitEventTimeout(() => false, 0),
      ),
    ).toBe(0);
    expect(ex.nowNs).toBe(0);
  });

  it('waitEvent in atomic context is a BUG even if it would not sleep', () => {
    const wq = new WaitQueue('wq');
    const r = runThreads([
      function* () {
        nonBlockStart();
        yield* wq.waitEvent(() => true);
      },
    ]);
    expect(r.failure!.message).toMatch(
      /^BUG: sleeping function called from invalid context at wait_event wq\n/,
    );
  });
});

describe('Completion', () => {
  it('waitForCompletion sleeps until complete()', () => {
    const c = new Completion('probe');
    const trace: string[] = [];
    const r = runThreads([
      function* () {
        trace.push('wait');
        yield* c.waitForCompletion();
        trace.push(`woken, done=${c.done}`);
      },
      function* () {
        yield 'start';
        trace.push(`completing, ${c.waiting} waiting`);
        c.complete();
      },
    ]);
    expect(r.status).toBe('done');
    expect(trace).toEqual(['wait', 'completing, 1 waiting', 'woken, done=0']);
  });

  it('a complete() before the wait is banked and consumed', () => {
    const c = new Completion('c');
    const ex = new Executor();
    ex.runTask(
      'a',
      (function* () {
        yield 'start';
        c.complete();
        c.complete();
      })(),
    );
    expect(c.done).toBe(2);
    const r = ex.runTask(
      'b',
      (function* () {
        yield* c.waitForCompletion();
        return c.done;
      })(),
    );
    expect(r).toBe(1);
  });

  it('complete() wakes one waiter, first come first served; completeAll() wakes all and stays done', () => {
    const c = new Completion('c');
    const woke: string[] = [];
    const ex = new Executor();
    const waiter = (n: string) =>
      function* (): Task {
        yield* c.waitForCompletion();
        woke.push(n);
      };
    ex.spawn('w0', waiter('w0')());
    ex.spawn('w1', waiter('w1')());
    ex.spawn('w2', waiter('w2')());
    ex.spawn(
      'completer',
      (function* () {
        c.complete();
        woke.push(
          ex.threads
            .slice(0, 3)
            .map((t) => t.state)
            .join(','),
        );
        yield 'one';
        c.completeAll();
      })(),
    );
    expect(ex.run().status).toBe('done');
    // the completer runs on (RunToCompletion) after waking only w0
    expect(woke).toEqual(['runnable,blocked,blocked', 'w0', 'w1', 'w2']);
    expect(c.done).toBe(COMPLETION_DONE_ALL);
    expect(ex.runTask('late', waiter('late')())).toBeUndefined();
    expect(c.done).toBe(COMPLETION_DONE_ALL);
    c.reinit();
    expect(c.done).toBe(0);
  });

  it('waitForCompletionTimeout: 0 on virtual timeout, remaining ns when completed', () => {
    const c = new Completion('c');
    const ex = new Executor();
    expect(ex.runTask('t', c.waitForCompletionTimeout(10 * NSEC_PER_MSEC))).toBe(0);
    expect(ex.nowNs).toBe(10_000_000);
    expect(c.waiting).toBe(0);
    const t = ex.spawn('t2', c.waitForCompletionTimeout(10 * NSEC_PER_MSEC));
    ex.spawn(
      'completer',
      (function* () {
        yield* msleep(4);
        c.complete();
      })(),
    );
    expect(ex.run().status).toBe('done');
    expect(t.result).toBe(6_000_000);
    expect(ex.nowNs).toBe(14_000_000);
  });
});
