import { describe, expect, it } from 'vitest';
import {
  type ThrashingParams,
  UVM_THRASHING_DEFAULTS,
  UvmThrashing,
} from '../../src/policy/uvm/thrashing.js';

/** Page 0 of block 0 bounces device → CPU → device ... every `stepUs` from `from` to `to` (exclusive). */
function bounce(t: UvmThrashing, from: number, to: number, stepUs = 100): void {
  for (let us = from, i = 0; us < to; us += stepUs, i++)
    t.onMigration(0, [0], i % 2 === 0 ? 'gpu' : 'cpu', us);
}

function detector(over: Partial<ThrashingParams> = {}): UvmThrashing {
  return new UvmThrashing({ ...UVM_THRASHING_DEFAULTS, ...over });
}

describe('UVM thrashing detection (uvm_perf_thrashing.c)', () => {
  it('per-page tracking starts at two events from different processors within a lapse; the page thrashes at the 3rd counted event', () => {
    const t = detector();
    expect(t.onMigration(0, [0], 'gpu', 0)).toEqual([]);
    expect(t.pageState(0, 0)).toBeNull(); // one processor so far: no per-page state
    expect(t.onMigration(0, [0], 'cpu', 100)).toEqual([]); // tracking starts; first stamp
    expect(t.onMigration(0, [0], 'gpu', 200)).toEqual([]); // 1 event
    expect(t.onMigration(0, [0], 'cpu', 300)).toEqual([]); // 2 events
    expect(t.onMigration(0, [0], 'gpu', 400)).toEqual([0]); // 3 = threshold: detected
    expect(t.pageState(0, 0)).toEqual({ events: 3, throttlingCount: 0, pinned: false });
    expect([...t.thrashingPages(0)]).toEqual([0]);
  });

  it('events further apart than the lapse (500 µs) do not count, and reset a thrashing page', () => {
    const t = detector();
    bounce(t, 0, 500);
    expect(t.pageState(0, 0)?.events).toBe(3);
    t.onMigration(0, [0], 'cpu', 1001); // 501 µs after the last
    expect(t.pageState(0, 0)).toEqual({ events: 0, throttlingCount: 0, pinned: false });
    expect([...t.thrashingPages(0)]).toEqual([]);
  });

  it('throttle: the first period lets the device through, the next throttles it for nap × lapse = 500 µs', () => {
    const t = detector();
    bounce(t, 0, 500); // thrashing since 400
    expect(t.hint(0, 0, 450, false)).toEqual({ type: 'none' }); // period [450, 950): the device is do-not-throttle
    bounce(t, 500, 1000);
    expect(t.hint(0, 0, 1000, false)).toEqual({ type: 'throttle', untilUs: 1500, throttlingCount: 1 });
    expect(t.hint(0, 0, 1200, false)).toEqual({ type: 'throttle', untilUs: 1500, throttlingCount: 1 });
    // At 1500 the nap is over; the last event (900) is more than a lapse ago: no longer thrashing.
    expect(t.hint(0, 0, 1500, false)).toEqual({ type: 'none' });
  });

  it('pin: after pin_threshold (10) throttling periods the page is pinned where the device is', () => {
    const t = detector();
    const hints: string[] = [];
    for (let k = 0; k < 21; k++) {
      const now = 600 * (k + 1);
      bounce(t, now - 600, now);
      const h = t.hint(0, 0, now, false);
      hints.push(
        h.type === 'throttle'
          ? `throttle${h.throttlingCount}`
          : h.type === 'pin'
            ? `pin:${h.residency}`
            : 'none',
      );
    }
    const expected = [];
    for (let c = 1; c <= 10; c++) expected.push('none', `throttle${c}`);
    expect(hints).toEqual([...expected, 'pin:gpu']);
    expect(t.pageState(0, 0)).toEqual({ events: 7, throttlingCount: 0, pinned: true });
  });

  it('with the CPU as preferred location a thrashing page is pinned in system memory at once (a remote mapping)', () => {
    const t = detector({ preferred: 'cpu' });
    bounce(t, 0, 500);
    expect(t.hint(0, 0, 450, false)).toEqual({ type: 'pin', residency: 'cpu', local: false });
  });

  it('a pin lasts pin × lapse (150 ms); then the page starts over', () => {
    const t = detector({ preferred: 'cpu' });
    bounce(t, 0, 500);
    t.hint(0, 0, 450, false);
    expect(t.hint(0, 0, 450 + 149_999, false)).toEqual({ type: 'pin', residency: 'cpu', local: false });
    expect(t.hint(0, 0, 450 + 150_000, false)).toEqual({ type: 'none' });
    expect(t.pageState(0, 0)).toEqual({ events: 0, throttlingCount: 0, pinned: false });
  });

  it('thrashing=off: no tracking at all', () => {
    const t = detector({ enable: false });
    bounce(t, 0, 1000);
    expect(t.pageState(0, 0)).toBeNull();
    expect(t.hint(0, 0, 1000, false)).toEqual({ type: 'none' });
  });
});
