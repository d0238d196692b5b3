/**
 * `allow`: a known violation (the seed race) is recorded and the search goes on; the result lists
 * every distinct violation seen.
 */

import { describe, expect, it } from 'vitest';
import { ArgumentError, explore, parseAllow, SEED_RACE_ALLOW } from '../../src/index.js';

describe('allow', () => {
  it("without it, 'seed' stops at the seed race on the correct driver", () => {
    const r = explore('fault-vs-dontneed', { protocol: 'seed' });
    expect(r.violation?.checker).toBe('coherence');
    expect(r.schedulesExplored).toBe(6);
    expect(r.violations).toEqual([
      {
        checker: 'coherence',
        message: expect.stringContaining('a page that is free (PG_buddy)'),
        schedules: 1,
        firstSchedule: 6,
        allowed: false,
      },
    ]);
  });

  it('with the seed race allowed, the search runs to the end and counts the schedules that hit it', () => {
    const r = explore('fault-vs-dontneed', { protocol: 'seed', allow: ['seed-race'] });
    expect(r.violation).toBeNull();
    expect(r.complete).toBe(true);
    expect(r.schedulesExplored).toBe(32);
    expect(r.violations.length).toBe(1);
    const d = r.violations[0]!;
    expect(d.allowed).toBe(true);
    expect(d.checker).toBe('coherence');
    expect(d.firstSchedule).toBe(6);
    expect(d.schedules).toBeGreaterThan(1);
  });

  it('a broken driver is still found past the allowed race, and both are listed', () => {
    const r = explore('fault-vs-dontneed', {
      protocol: 'seed',
      driver: 'no-lock-in-sync',
      allow: ['seed-race'],
    });
    expect(r.violation?.checker).toBe('rules');
    expect(r.violation?.message).toMatch(/^dontneed: WARNING: lockdep_assert_held/);
    expect(r.violations.at(-1)).toMatchObject({ checker: 'rules', allowed: false, schedules: 1 });
  });

  it('parses checker:text, expands seed-race, and names the option on bad input', () => {
    expect(parseAllow('kernel:livelock')).toEqual([{ checker: 'kernel', text: 'livelock' }]);
    expect(parseAllow('seed-race')).toEqual(
      SEED_RACE_ALLOW.flatMap(parseAllow).map((r) => ({ ...r, seedOnly: true })),
    );
    expect(parseAllow('seed-race').map((r) => r.checker)).toEqual(['coherence', 'coherence']);
    expect(() => parseAllow('nochecker')).toThrow(ArgumentError);
    expect(() => parseAllow('bogus:x')).toThrow(/^invalid argument 'allow': expected 'checker:text'/);
    expect(() => parseAllow('rules:')).toThrow(ArgumentError);
    expect(() => explore('fault-vs-dontneed', { allow: 'seed-race' as unknown as string[] })).toThrow(
      ArgumentError,
    );
  });
});
