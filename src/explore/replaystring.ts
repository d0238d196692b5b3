/**
 * The explorer's replay string: a schedule (src/sched/replay.ts's 'hmm1:' decisions) with what it
 * was recorded against and what it ended in, and a checksum, so that a string cut off, emptied,
 * extended or edited in a copy-paste is refused instead of replaying some other schedule:
 *
 *   hmmx2:<scenario>:<driver>:<protocol>:<version>:<outcome>:<decisions>:hmm1:<payload>:<crc32>
 *
 *   version    the hmmsim version that recorded it (HMMSIM_VERSION)
 *   outcome    'none' for a clean run, else the checker that reported the violation
 *   decisions  how many scheduling decisions the payload holds
 *   crc32      CRC-32 of everything before its ':' as 8 lowercase hex digits
 *
 * 'hmmx1:' strings (hmmsim 0.1 before this format) had none of this and are refused with a request
 * to re-record them. Every problem is a ReplayError (an ArgumentError on 'replay') saying what is
 * wrong; replay() adds the checks that need a run (src/explore/explore.ts).
 */

import type { CheckerName } from '../check/violation.js';
import { crc32Hex } from '../core/crc32.js';
import { ArgumentError } from '../core/errno.js';
import type { HmmProtocol } from '../hmm/seed/types.js';
import { isHmmProtocol } from '../hmm/seed/validity.js';
import { decodeReplay, REPLAY_PREFIX } from '../sched/index.js';

export const EXPLORE_REPLAY_PREFIX = 'hmmx2:';
/** The format before EXPLORE_REPLAY_PREFIX: no length, checksum or outcome. Refused. */
export const EXPLORE_REPLAY_PREFIX_V1 = 'hmmx1:';

export type ReplayOutcome = CheckerName | 'none';

const OUTCOMES: readonly ReplayOutcome[] = [
  'none',
  'coherence',
  'integrity',
  'accounting',
  'rules',
  'kernel',
];

/** What a replay string holds. */
export interface ReplayParts {
  scenario: string;
  driver: string;
  protocol: HmmProtocol;
  /** hmmsim version that recorded the schedule. */
  version: string;
  /** Checker of the recorded violation, or 'none' for a clean run. */
  outcome: ReplayOutcome;
  /** Number of scheduling decisions in `schedule`. */
  decisions: number;
  /** The decisions: 'hmm1:...' (src/sched/replay.ts). */
  schedule: string;
}

/** A replay string that is malformed, damaged, or does not reproduce what it recorded. */
export class ReplayError extends ArgumentError {
  constructor(problem: string) {
    super('replay', problem);
    this.name = 'ReplayError';
  }
}

const NAME = /^[A-Za-z0-9_.-]+$/;
const FORMAT = `${EXPLORE_REPLAY_PREFIX}<scenario>:<driver>:<protocol>:<version>:<outcome>:<decisions>:${REPLAY_PREFIX}<payload>:<crc32>`;
/** Fields of a replay string, counting REPLAY_PREFIX's own ':' (see FORMAT). */
const FIELDS = 10;

/** The replay string of `p`, checksum included. */
export function formatReplay(p: ReplayParts): string {
  if (typeof p !== 'object' || p === null)
    throw new ArgumentError('parts', `expected an object, got ${typeOf(p)}`);
  for (const [k, v] of [
    ['scenario', p.scenario],
    ['driver', p.driver],
    ['version', p.version],
  ] as const) {
    if (!NAME.test(v)) throw new ArgumentError(k, `expected [A-Za-z0-9_.-]+, got '${v}'`);
  }
  const body = `${EXPLORE_REPLAY_PREFIX}${p.scenario}:${p.driver}:${p.protocol}:${p.version}:${p.outcome}:${p.decisions}:${p.schedule}`;
  return `${body}:${crc32Hex(body)}`;
}

/** Splits and checks a replay string: format, checksum, and the decision count against the payload. */
export function parseReplay(s: unknown): ReplayParts {
  if (typeof s !== 'string') throw new ReplayError(`expected a string, got ${typeOf(s)}`);
  const text = s.trim();
  if (text.startsWith(EXPLORE_REPLAY_PREFIX_V1)) {
    throw new ReplayError(
      `'${EXPLORE_REPLAY_PREFIX_V1}' replay strings carry no length or checksum and are no longer accepted: re-record it with 'hmmsim explore'`,
    );
  }
  if (!text.startsWith(EXPLORE_REPLAY_PREFIX))
    throw new ReplayError(`expected '${FORMAT}', got '${clip(text)}'`);
  const fields = text.split(':');
  if (fields.length < FIELDS || fields[7] !== REPLAY_PREFIX.slice(0, -1)) {
    throw new ReplayError(`cut off or malformed: expected '${FORMAT}', got '${clip(text)}'`);
  }
  if (fields.length > FIELDS)
    throw new ReplayError(`trailing bytes after the checksum: '${clip(fields.slice(FIELDS).join(':'))}'`);
  const sum = fields[9] as string;
  if (sum.length > 8 && /^[0-9a-f]{8}/.test(sum)) {
    throw new ReplayError(`trailing bytes after the checksum: '${clip(sum.slice(8))}'`);
  }
  if (!/^[0-9a-f]{8}$/.test(sum)) {
    throw new ReplayError(`cut off: the checksum is 8 hex digits, got '${sum}'`);
  }
  const body = text.slice(0, text.length - sum.length - 1);
  const want = crc32Hex(body);
  if (sum !== want) {
    throw new ReplayError(
      `checksum mismatch (the string says ${sum}, its contents give ${want}): it was damaged or edited; copy it again`,
    );
  }
  return checkedParts(fields);
}

function checkedParts(fields: readonly string[]): ReplayParts {
  const [, scenario, driver, protocol, version, outcome, count, , payload] = fields as string[];
  if (!isHmmProtocol(protocol))
    throw new ReplayError(`protocol: expected 'seed' or 'seq', got '${protocol}'`);
  if (!OUTCOMES.includes(outcome as ReplayOutcome))
    throw new ReplayError(`outcome: expected one of ${OUTCOMES.join(', ')}, got '${outcome}'`);
  if (!/^(0|[1-9]\d{0,8})$/.test(count as string))
    throw new ReplayError(`decision count: expected an integer, got '${count}'`);
  const schedule = `${REPLAY_PREFIX}${payload}`;
  let decoded: number[];
  try {
    decoded = decodeReplay(schedule);
  } catch (e) {
    throw new ReplayError((e as Error).message);
  }
  const decisions = Number(count);
  if (decoded.length !== decisions) {
    throw new ReplayError(
      `the payload holds ${decoded.length} decisions, the string says ${decisions}: it was cut off or extended`,
    );
  }
  return {
    scenario: scenario as string,
    driver: driver as string,
    protocol,
    version: version as string,
    outcome: outcome as ReplayOutcome,
    decisions,
    schedule,
  };
}

function typeOf(v: unknown): string {
  return v === null ? 'null' : typeof v;
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
