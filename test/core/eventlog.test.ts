import { describe, expect, it } from 'vitest';
import { Counters } from '../../src/core/counters.js';
import { EventLog, fnv1a } from '../../src/core/eventlog.js';

function logOf(events: [string, string][], keep = 0): EventLog {
  const l = new EventLog(keep);
  events.forEach(([t, x], i) => {
    l.record(i, t, x);
  });
  return l;
}

describe('core/eventlog: the running hash', () => {
  it('starts at the FNV-1a offset basis, as 8 hex digits', () => {
    const l = new EventLog();
    expect(l.hash()).toBe('811c9dc5');
    expect(l.count).toBe(0);
  });

  it('equal event sequences give equal hashes', () => {
    const ev: [string, string][] = [
      ['T0', 'down_write mmap_sem'],
      ['T1', 'load'],
      ['T0', 'exit'],
    ];
    const a = logOf(ev);
    const b = logOf(ev);
    expect(a.hash()).toBe(b.hash());
    expect(a.hash()).toMatch(/^[0-9a-f]{8}$/);
    expect(a.count).toBe(3);
  });

  it('a different thread, text, order or count changes the hash', () => {
    const base = logOf([
      ['T0', 'a'],
      ['T1', 'b'],
    ]).hash();
    expect(
      logOf([
        ['T0', 'a'],
        ['T2', 'b'],
      ]).hash(),
    ).not.toBe(base);
    expect(
      logOf([
        ['T0', 'a'],
        ['T1', 'c'],
      ]).hash(),
    ).not.toBe(base);
    expect(
      logOf([
        ['T1', 'b'],
        ['T0', 'a'],
      ]).hash(),
    ).not.toBe(base);
    expect(
      logOf([
        ['T0', 'a'],
        ['T1', 'b'],
        ['T1', 'b'],
      ]).hash(),
    ).not.toBe(base);
  });

  it('field boundaries matter: (ab, c) and (a, bc) hash differently', () => {
    expect(logOf([['ab', 'c']]).hash()).not.toBe(logOf([['a', 'bc']]).hash());
    expect(fnv1a(0x811c9dc5, 'ab')).not.toBe(fnv1a(fnv1a(0x811c9dc5, 'a'), 'b'));
  });

  it('the hash covers thread and text, not the virtual time', () => {
    const a = new EventLog();
    const b = new EventLog();
    a.record(0, 'T0', 'x');
    b.record(999, 'T0', 'x');
    expect(a.hash()).toBe(b.hash());
  });

  it('fnv1a is FNV-1a 32-bit per character followed by a separator', () => {
    // FNV-1a("a") = 0xe40c292c; then the ',' separator byte
    const h = Math.imul(0xe40c292c ^ 0x2c, 0x01000193) >>> 0;
    expect(fnv1a(0x811c9dc5, 'a')).toBe(h);
  });
});

describe('core/eventlog: kept events', () => {
  it('keeps at most keepMax events as text, numbered from 1, while counting all', () => {
    const l = logOf(
      [
        ['T0', 'a'],
        ['T1', 'b'],
        ['T0', 'c'],
      ],
      2,
    );
    expect(l.count).toBe(3);
    expect(l.events()).toEqual([
      { seq: 1, time: 0, thread: 'T0', text: 'a' },
      { seq: 2, time: 1, thread: 'T1', text: 'b' },
    ]);
    expect(logOf([['T0', 'a']]).events()).toEqual([]);
  });
});

describe('core/counters', () => {
  it('counts per name, reads 0 for unknown names, serialises sorted, resets', () => {
    const c = new Counters();
    c.inc('pgfault');
    c.inc('cow', 3);
    c.inc('pgfault');
    expect(c.get('pgfault')).toBe(2);
    expect(c.get('cow')).toBe(3);
    expect(c.get('nothing')).toBe(0);
    expect(Object.keys(c.toJSON())).toEqual(['cow', 'pgfault']);
    expect(JSON.stringify(c)).toBe('{"cow":3,"pgfault":2}');
    c.reset();
    expect(c.toJSON()).toEqual({});
  });
});
