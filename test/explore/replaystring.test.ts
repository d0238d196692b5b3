/**
 * Replay strings check themselves: a string cut off, emptied, extended, edited, recorded on another
 * scenario or replaying to another outcome is a ReplayError (an ArgumentError on 'replay') saying
 * what did not match, never a clean "no violation" and never a TypeError.
 */

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { crc32Hex } from '../../src/core/crc32.js';
import { ArgumentError } from '../../src/core/errno.js';
import { HMMSIM_VERSION } from '../../src/core/version.js';
import {
  EXPLORE_REPLAY_PREFIX,
  explore,
  formatReplay,
  parseReplay,
  ReplayError,
  type ReplayParts,
  replay,
} from '../../src/explore/index.js';
import { encodeReplay } from '../../src/sched/index.js';

/** The seed race of fault-vs-dontneed as `hmmsim explore fault-vs-dontneed` records it. */
const RACE = `hmmx3:fault-vs-dontneed:correct:seed:1:${HMMSIM_VERSION}:coherence:8:hmm1:AAAAAAEBAQE:daefdc44`;
/** A clean run of fault-vs-munmap: no preemption at all. */
const CLEAN = `hmmx3:fault-vs-munmap:correct:seed:1:${HMMSIM_VERSION}:none:6:hmm1:AAAAAAAA:5a3848bb`;
/** The same race as hmmsim 0.1.0 recorded it before the seed field: every machine was seeded with 1. */
const RACE_V2 = `hmmx2:fault-vs-dontneed:correct:seed:${HMMSIM_VERSION}:coherence:8:hmm1:AAAAAAEBAQE:a0cfe40b`;
const RACE_PARTS: ReplayParts = {
  scenario: 'fault-vs-dontneed',
  driver: 'correct',
  protocol: 'seed',
  seed: 1,
  version: HMMSIM_VERSION,
  outcome: 'coherence',
  decisions: 8,
  schedule: 'hmm1:AAAAAAEBAQE',
};

/** The ReplayError message of replay(s); fails the test if replay does not throw one. */
function replayError(s: unknown): string {
  try {
    replay(s as string);
  } catch (e) {
    expect(e).toBeInstanceOf(ReplayError);
    expect(e).toBeInstanceOf(ArgumentError);
    expect((e as ArgumentError).argument).toBe('replay');
    return (e as Error).message;
  }
  throw new Error(`replay(${String(s)}) did not throw`);
}

describe('a recorded replay string', () => {
  it('is what explore prints, holds what it was recorded against, and replays to its outcome', () => {
    const r = explore('fault-vs-dontneed');
    expect(r.violation?.replay).toBe(RACE);
    expect(parseReplay(RACE)).toEqual(RACE_PARTS);
    expect(formatReplay(RACE_PARTS)).toBe(RACE);
    const again = replay(`  ${RACE}\n`); // the whitespace of a copy-paste is not part of it
    expect(again.version).toBe(HMMSIM_VERSION);
    expect(again.violation?.checker).toBe('coherence');
    expect(again.violation?.message).toBe(r.violation?.message);
    expect(again.violation?.replay).toBe(RACE);
  });

  it("an 'hmmx2:' string (no seed field) still replays, on machines seeded with 1 as it was recorded", () => {
    expect(parseReplay(RACE_V2)).toEqual(RACE_PARTS);
    const again = replay(RACE_V2);
    expect(again.seed).toBe(1);
    expect(again.violation?.checker).toBe('coherence');
    expect(again.violation?.replay).toBe(RACE); // what it would be recorded as today
    // its own checks still hold: cut off, or edited under its checksum
    expect(replayError(RACE_V2.slice(0, RACE_V2.indexOf('hmm1:') + 9))).toMatch(
      /cut off or malformed: expected 'hmmx2:<scenario>:<driver>:<protocol>:<version>:/,
    );
    expect(replayError(RACE_V2.replace(':8:', ':9:'))).toMatch(/checksum mismatch/);
  });

  it('a clean schedule replays clean', () => {
    const r = replay(CLEAN);
    expect(r.violation).toBeNull();
    expect(r.interleaving.at(-1)).toBe('      ok: every thread finished, every check passed (0 preemptions)');
  });
});

describe('a replay string that does not check out is a ReplayError', () => {
  it("the issue's three hmmx1 strings: refused with a request to re-record", () => {
    for (const s of [
      'hmmx1:fault-vs-dontneed:correct:seed:hmm1:AAAA',
      'hmmx1:fault-vs-dontneed:correct:seed:hmm1:',
      'hmmx1:fault-vs-munmap:correct:seed:hmm1:AAAAAAEBAQE',
    ]) {
      expect(replayError(s)).toBe(
        "invalid argument 'replay': 'hmmx1:' replay strings carry no length or checksum and are no longer accepted: re-record it with 'hmmsim explore'",
      );
    }
  });

  it('cut off (AAAA), emptied or cut anywhere: refused before anything runs', () => {
    const head = RACE.slice(0, RACE.indexOf('hmm1:') + 5);
    expect(replayError(`${head}AAAA`)).toMatch(
      /cut off or malformed: expected 'hmmx3:<scenario>:<driver>:<protocol>:<seed>:/,
    );
    expect(replayError(head)).toMatch(/cut off or malformed/);
    expect(replayError(RACE.slice(0, -3))).toBe(
      "invalid argument 'replay': cut off: the checksum is 8 hex digits, got 'daefd'",
    );
    for (let n = 0; n < RACE.length; n++) expect(() => parseReplay(RACE.slice(0, n))).toThrow(ReplayError);
  });

  it('an empty payload or a count that disagrees with it, even under a valid checksum', () => {
    const empty = formatReplay({ ...RACE_PARTS, schedule: 'hmm1:' });
    expect(replayError(empty)).toBe(
      "invalid argument 'replay': the payload holds 0 decisions, the string says 8: it was cut off or extended",
    );
    const none = formatReplay({ ...RACE_PARTS, schedule: 'hmm1:', decisions: 0 });
    expect(replayError(none)).toBe(
      "invalid argument 'replay': the run needs more than the string's 0 decisions: it was not recorded on scenario 'fault-vs-dontneed' as it is here",
    );
  });

  it('trailing bytes after the checksum', () => {
    expect(replayError(`${RACE}AAAA`)).toBe(
      "invalid argument 'replay': trailing bytes after the checksum: 'AAAA'",
    );
    expect(replayError(`${RACE}:00`)).toBe(
      "invalid argument 'replay': trailing bytes after the checksum: '00'",
    );
  });

  it('every single-character change fails the checksum (or the format)', () => {
    const alphabet = 'Aa0-:_x';
    for (let i = EXPLORE_REPLAY_PREFIX.length; i < RACE.length; i++) {
      for (const c of alphabet) {
        if (RACE[i] === c) continue;
        const s = RACE.slice(0, i) + c + RACE.slice(i + 1);
        expect(() => parseReplay(s), s).toThrow(ReplayError);
      }
    }
    const flipped = RACE.replace('AAAAAAEBAQE', 'AAAAAAEBAQA');
    expect(replayError(flipped)).toBe(
      "invalid argument 'replay': checksum mismatch (the string says daefdc44, its contents give dd82185d): it was damaged or edited; copy it again",
    );
  });

  it("another scenario's schedule (a valid checksum over the new name) does not consume its decisions", () => {
    const other = formatReplay({ ...RACE_PARTS, scenario: 'fault-vs-munmap' });
    expect(replayError(other)).toBe(
      "invalid argument 'replay': the run needs more than the string's 8 decisions: it was not recorded on scenario 'fault-vs-munmap' as it is here",
    );
    // one decision too many: the run ends before taking it
    const longer = formatReplay({
      ...RACE_PARTS,
      decisions: 9,
      schedule: encodeReplay([0, 0, 0, 0, 1, 1, 1, 1, 0]),
    });
    expect(replayError(longer)).toBe(
      "invalid argument 'replay': the run took 8 of the string's 9 decisions: it was not recorded on scenario 'fault-vs-dontneed' as it is here",
    );
    // a decision no runnable thread answers
    const wide = formatReplay({ ...RACE_PARTS, schedule: encodeReplay([0, 0, 0, 0, 1, 1, 5, 1]) });
    expect(replayError(wide)).toMatch(/decision 6 picks runnable thread 5 of 2 \(/);
  });

  it('a replay that ends otherwise than recorded names both outcomes (and the other version)', () => {
    expect(replayError(formatReplay({ ...RACE_PARTS, outcome: 'none' }))).toBe(
      "invalid argument 'replay': the string recorded no violation, the replay ended in a coherence violation: it was not recorded on scenario 'fault-vs-dontneed' as it is here",
    );
    expect(replayError(formatReplay({ ...RACE_PARTS, outcome: 'integrity', version: '0.0.9' }))).toBe(
      "invalid argument 'replay': the string recorded a integrity violation, the replay ended in a coherence violation: it was not recorded on scenario 'fault-vs-dontneed' as it is here, or hmmsim 0.0.9 (this is 0.1.0) scheduled it differently",
    );
    const seq = formatReplay({ ...RACE_PARTS, protocol: 'seq' });
    expect(replayError(seq)).toMatch(
      /the string recorded a coherence violation, the replay ended in no violation/,
    );
  });

  it('wrong types and malformed fields: a ReplayError, never a TypeError', () => {
    for (const v of [undefined, null, 42, {}, [], Symbol('x'), 1n]) {
      expect(replayError(v)).toMatch(/^invalid argument 'replay': expected a string, got /);
      expect(() => parseReplay(v)).toThrow(ReplayError);
    }
    expect(replayError('')).toMatch(/expected 'hmmx3:/);
    expect(replayError('hmm1:AAE')).toMatch(/expected 'hmmx3:/);
    for (const seed of ['-1', '01', '1.5', 'x', '', '9007199254740992']) {
      const s = RACE.replace(':seed:1:', `:seed:${seed}:`);
      const body = s.slice(0, s.lastIndexOf(':'));
      expect(replayError(`${body}:${crc32Hex(body)}`), seed).toBe(
        `invalid argument 'replay': seed: expected an integer in 0..2^53-1, got '${seed}'`,
      );
    }
    expect(() => formatReplay({ ...RACE_PARTS, seed: -1 })).toThrow(/invalid argument 'seed'/);
    expect(() => formatReplay({ ...RACE_PARTS, seed: 0.5 })).toThrow(/invalid argument 'seed'/);
    expect(replayError(formatReplay({ ...RACE_PARTS, protocol: 'v53' as never }))).toBe(
      "invalid argument 'replay': protocol: expected 'seed' or 'seq', got 'v53'",
    );
    expect(replayError(formatReplay({ ...RACE_PARTS, outcome: 'lint' as never }))).toMatch(
      /outcome: expected one of none, /,
    );
    expect(replayError(formatReplay({ ...RACE_PARTS, schedule: 'hmm1:A' }))).toMatch(/is not base64url/);
    expect(replayError(formatReplay({ ...RACE_PARTS, schedule: 'hmm1:gA' }))).toMatch(/truncated varint/);
    expect(() => replay(RACE, null as never)).toThrow(
      /invalid argument 'opts': expected an object, got null/,
    );
    expect(() => replay(RACE, { scenarios: 42 as never })).toThrow(
      /invalid argument 'scenarios': expected an array/,
    );
    expect(() => replay(RACE, { driver: 'correct' as never })).toThrow(
      /invalid argument 'driver': expected a function/,
    );
  });

  it('an unknown scenario or driver is an ArgumentError naming it', () => {
    expect(() => replay(formatReplay({ ...RACE_PARTS, scenario: 'no-such' }))).toThrow(
      /invalid argument 'scenario': unknown scenario 'no-such'/,
    );
    expect(() => replay(formatReplay({ ...RACE_PARTS, driver: 'no-such' }))).toThrow(
      /invalid argument 'driver': unknown driver 'no-such'/,
    );
  });
});

it('every replay string in the README, docs/explorer.md and the CLI help replays', () => {
  const found: string[] = [];
  for (const f of ['README.md', 'docs/explorer.md', 'src/cli/main.ts']) {
    const text = readFileSync(new URL(`../../${f}`, import.meta.url), 'utf8');
    const strings = (text.match(/hmmx\d:[A-Za-z0-9_.:-]+/g) ?? []).filter((x) => /:[0-9a-f]{8}$/.test(x));
    expect(strings.length, f).toBeGreaterThan(0);
    found.push(...strings);
  }
  expect(found.length).toBe(6);
  for (const s of found) {
    expect(s.startsWith(EXPLORE_REPLAY_PREFIX), `${s}: regenerate it in today's format`).toBe(true);
    expect(() => replay(s), s).not.toThrow();
  }
});
