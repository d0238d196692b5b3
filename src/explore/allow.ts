/**
 * Known-violation control: `--allow <checker:signature>` (explore's `allow` option) acknowledges a
 * violation already understood, such as the seed design's race, so that the search goes on past
 * the schedules that hit it and can find the others; the result lists every distinct violation
 * seen, allowed or not.
 *
 * A rule `checker:text` allows a violation of that checker whose first message line contains
 * `text`. The name 'seed-race' stands for the seed protocol's own race (docs/kernel-hmm.md §6 #3):
 * under 'seed' a correct driver maps a page a read-side invalidation (MADV_DONTNEED, the OOM
 * reaper, a migration) freed or is moving behind hmm_range_valid's back. Its rules match those
 * coherence reports and, so that a driver's own bug with the same report is not hidden, only when
 * the schedule replayed under 'seq' runs clean.
 */

import type { CheckerName, Violation } from '../check/violation.js';
import { ArgumentError } from '../core/errno.js';

/** One `--allow` rule: a checker and a text its message must contain. */
export interface AllowRule {
  /** The checker whose reports it allows. */
  readonly checker: CheckerName;
  /** A text the report's first line must contain. */
  readonly text: string;
  /**
   * 'seed-race' only: the violation is allowed only if the same schedule runs clean under 'seq'
   * (the race is the seed protocol's, not the driver's).
   */
  readonly seedOnly?: boolean;
}

/**
 * The rules 'seed-race' stands for: a mirror mapping a page a read-side invalidation freed, or a
 * page a migration under mmap_sem for read is moving (the same race, its migration form).
 */
export const SEED_RACE_ALLOW: readonly string[] = [
  'coherence:a page that is free (PG_buddy)',
  'coherence:but the CPU has a migration entry there',
];

const CHECKERS: readonly CheckerName[] = ['rules', 'integrity', 'coherence', 'accounting', 'kernel', 'kasan'];

/** Parses `checker:text`, or 'seed-race' (its rules); an ArgumentError naming `allow` otherwise. */
export function parseAllow(spec: string): AllowRule[] {
  if (typeof spec !== 'string')
    throw new ArgumentError('allow', `expected 'checker:text', got ${typeof spec}`);
  if (spec !== 'seed-race') return [parseRule(spec)];
  return SEED_RACE_ALLOW.map((r) => ({ ...parseRule(r), seedOnly: true }));
}

function parseRule(s: string): AllowRule {
  const colon = s.indexOf(':');
  const checker = s.slice(0, colon) as CheckerName;
  const text = s.slice(colon + 1);
  if (colon < 0 || !CHECKERS.includes(checker) || text.length === 0)
    throw new ArgumentError(
      'allow',
      `expected 'checker:text' with a checker of ${CHECKERS.join(', ')} and a non-empty text, or 'seed-race'; got '${s}'`,
    );
  return { checker, text };
}

/** One distinct violation an exploration saw. */
export interface DistinctViolation {
  /** The checker that reported it. */
  checker: CheckerName;
  /** Its first report, first line. */
  message: string;
  /** Schedules that ended in it. */
  schedules: number;
  /** The number (1-based) of the first schedule that ended in it. */
  firstSchedule: number;
  /** True if an allow rule acknowledged it (the search went on). */
  allowed: boolean;
}

/** Same checker, same first line with every number taken out (addresses and pfns may move). */
export function violationShape(v: Pick<Violation, 'checker' | 'message'>): string {
  return `${v.checker}|${(v.message.split('\n', 1)[0] as string).replace(/0x[0-9a-f]+|\d+/gi, '#')}`;
}

/** The rules, and every distinct violation seen so far, in the order first seen. */
export class ViolationLog {
  private readonly rules: readonly AllowRule[];
  private readonly seen = new Map<string, DistinctViolation>();

  constructor(specs: readonly string[] = []) {
    if (!Array.isArray(specs)) throw new ArgumentError('allow', 'expected an array of checker:text strings');
    this.rules = specs.flatMap(parseAllow);
  }

  /**
   * True if a rule allows `v`; `cleanUnderSeq` tells (at a cost: one more run) whether the same
   * schedule runs clean under 'seq', for the 'seed-race' rules.
   */
  allows(v: Violation, cleanUnderSeq: () => boolean = () => false): boolean {
    const line = v.message.split('\n', 1)[0] as string;
    const matching = this.rules.filter((r) => r.checker === v.checker && line.includes(r.text));
    if (matching.some((r) => r.seedOnly !== true)) return true;
    return matching.length > 0 && cleanUnderSeq();
  }

  /** Records `v`, seen at schedule `n`; returns whether it is allowed (the search goes on). */
  record(v: Violation, n: number, cleanUnderSeq?: () => boolean): boolean {
    const allowed = this.allows(v, cleanUnderSeq);
    const key = violationShape(v);
    const d = this.seen.get(key);
    if (d !== undefined) d.schedules++;
    else {
      const message = v.message.split('\n', 1)[0] as string;
      this.seen.set(key, { checker: v.checker, message, schedules: 1, firstSchedule: n, allowed });
    }
    return allowed;
  }

  /** Every distinct violation, in the order first seen. */
  distinct(): DistinctViolation[] {
    return [...this.seen.values()];
  }
}
