/**
 * The explorer's replay string: a schedule (src/sched/replay.ts's 'hmm1:' decisions) with what it
 * was recorded against and what it ended in, and a checksum, so that a string cut off, emptied,
 * extended or edited in a copy-paste is refused instead of replaying some other schedule:
 *
 *   hmmx3:<scenario>:<driver>:<protocol>:<seed>:<version>:<outcome>:<decisions>:hmm1:<payload>:<crc32>
 *
 *   seed       the seed every machine of the run was built with (explore's `seed`), so a replay
 *              rebuilds the exact machine: a decimal integer in 0..2^53-1
 *   version    the hmmsim version that recorded it (HMMSIM_VERSION)
 *   outcome    'none' for a clean run, else the checker that reported the violation
 *   decisions  how many scheduling decisions the payload holds
 *   crc32      CRC-32 of everything before its ':' as 8 lowercase hex digits
 *
 * 'hmmx2:' strings (the same without the seed field) were recorded when every explored machine was
 * seeded with 1: they replay as seed 1. 'hmmx1:' strings (hmmsim 0.1 before both) had no length,
 * checksum or outcome and are refused with a request to re-record them. Every problem is a ReplayError (an ArgumentError on 'replay') saying what is
 * wrong; replay() adds the checks that need a run (src/explore/explore.ts).
 */

import type { CheckerName } from '../check/violation.js';
import { crc32Hex } from '../core/crc32.js';
import { ArgumentError } from '../core/errno.js';
import type { HmmProtocol } from '../hmm/seed/types.js';
import { isHmmProtocol } from '../hmm/seed/validity.js';
import { decodeReplay, REPLAY_PREFIX } from '../sched/index.js';

/** The prefix of the current replay-string format (the layout in the file comment). */
export const EXPLORE_REPLAY_PREFIX = 'hmmx3:';
/** The format before EXPLORE_REPLAY_PREFIX: no seed field (its machines were all seeded with 1). Replayed. */
export const EXPLORE_REPLAY_PREFIX_V2 = 'hmmx2:';
/** The seed of every machine an 'hmmx2:' string was recorded on. */
export const EXPLORE_REPLAY_V2_SEED = 1;
/** The format before EXPLORE_REPLAY_PREFIX_V2: no length, checksum or outcome. Refused. */
export const EXPLORE_REPLAY_PREFIX_V1 = 'hmmx1:';

/** How a recorded run ended: the checker that reported its violation, or 'none' for a clean run. */
export type ReplayOutcome = CheckerName | 'none';

const OUTCOMES: readonly ReplayOutcome[] = [
  'none',
  'coherence',
  'integrity',
  'accounting',
  'rules',
  'kernel',
  'kasan',
];

/** What a replay string holds. */
export interface ReplayParts {
  /** Name of the scenario the schedule ran (a key of the explorer's scenario catalogue). */
  scenario: string;
  /** Name of the driver it ran against (a registry name, or a dmirror variant). */
  driver: string;
  /** How range validity was tracked: 'seed' (v5.3 range->valid) or 'seq' (v5.5 sequence count). */
  protocol: HmmProtocol;
  /** Seed of the machines the schedule ran on (EXPLORE_REPLAY_V2_SEED for an 'hmmx2:' string). */
  seed: number;
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
/** A format version: its prefix, its layout for error messages, and its fields before the outcome. */
interface Layout {
  prefix: string;
  format: string;
  /** The fields between the prefix and the version. */
  head: readonly string[];
}

const V3: Layout = {
  prefix: EXPLORE_REPLAY_PREFIX,
  format: `${EXPLORE_REPLAY_PREFIX}<scenario>:<driver>:<protocol>:<seed>:<version>:<outcome>:<decisions>:${REPLAY_PREFIX}<payload>:<crc32>`,
  head: ['scenario', 'driver', 'protocol', 'seed'],
};
const V2: Layout = {
  prefix: EXPLORE_REPLAY_PREFIX_V2,
  format: `${EXPLORE_REPLAY_PREFIX_V2}<scenario>:<driver>:<protocol>:<version>:<outcome>:<decisions>:${REPLAY_PREFIX}<payload>:<crc32>`,
  head: ['scenario', 'driver', 'protocol'],
};

/** Fields of a replay string of `layout`, counting REPLAY_PREFIX's own ':' (see Layout.format). */
function fieldCount(layout: Layout): number {
  // prefix, head, version, outcome, decisions, 'hmm1', payload, crc32
  return 1 + layout.head.length + 6;
}

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
  if (!Number.isSafeInteger(p.seed) || p.seed < 0)
    throw new ArgumentError('seed', `expected an integer in 0..2^53-1, got ${String(p.seed)}`);
  const body = `${EXPLORE_REPLAY_PREFIX}${p.scenario}:${p.driver}:${p.protocol}:${p.seed}:${p.version}:${p.outcome}:${p.decisions}:${p.schedule}`;
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
  const layout = [V3, V2].find((l) => text.startsWith(l.prefix));
  if (layout === undefined) throw new ReplayError(`expected '${V3.format}', got '${clip(text)}'`);
  const fields = text.split(':');
  const n = fieldCount(layout);
  if (fields.length < n || fields[n - 3] !== REPLAY_PREFIX.slice(0, -1)) {
    throw new ReplayError(`cut off or malformed: expected '${layout.format}', got '${clip(text)}'`);
  }
  if (fields.length > n)
    throw new ReplayError(`trailing bytes after the checksum: '${clip(fields.slice(n).join(':'))}'`);
  const sum = fields[n - 1] as string;
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
  return checkedParts(layout, fields);
}

function checkedParts(layout: Layout, fields: readonly string[]): ReplayParts {
  const head = fields.slice(1, 1 + layout.head.length);
  const [scenario, driver, protocol] = head as string[];
  const [version, outcome, count, , payload] = fields.slice(1 + layout.head.length) as string[];
  const seed = layout === V2 ? EXPLORE_REPLAY_V2_SEED : checkedSeed(head[3] as string);
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
    seed,
    version: version as string,
    outcome: outcome as ReplayOutcome,
    decisions,
    schedule,
  };
}

function checkedSeed(text: string): number {
  const seed = Number(text);
  if (!/^(0|[1-9]\d{0,15})$/.test(text) || !Number.isSafeInteger(seed))
    throw new ReplayError(`seed: expected an integer in 0..2^53-1, got '${clip(text)}'`);
  return seed;
}

function typeOf(v: unknown): string {
  return v === null ? 'null' : typeof v;
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
