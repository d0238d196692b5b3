/**
 * What hmm->ranges_lock protects, as named objects for partial-order reduction
 * (src/sched/dependency.ts): the lock itself is recorded by this data (SpinLock.recordedByData), so
 * two critical sections that touch different data, such as two devices registering their ranges,
 * are independent, where the one lock per mm made them dependent.
 *
 *   hmm <mm> inval            hmm->notifiers, the in-flight list, 'seq''s sequence count and every
 *                             mirror's stamp of it (mirror.invalidateSeq)
 *   hmm <mm> mirrors          hmm->mirrors
 *   hmm <mm> range <mirror>   the ranges of one mirror: their place on hmm->ranges, range->valid,
 *                             range.notifierSeq
 *
 * A walk of hmm->ranges (an invalidation setting or clearing every valid flag, hmm_release counting
 * them) touches the range object of every mirror that ever registered a range on the hmm, listed now
 * or not: a walk after an unregister then still conflicts with it, as it would have in the other
 * order. A mirror is named by the thread that registered it and how many it had registered on that
 * hmm before ('setup' outside any thread), the same in every execution. Nothing is recorded when no
 * precise recorder is installed (every strategy but dpor).
 *
 * @see mm/hmm.c (Linux v5.3: hmm->ranges_lock protects ranges, range->valid and notifiers)
 */

import { FNV_OFFSET, fnv1a } from '../../core/eventlog.js';
import { currentOrNull, namedAdd, namedRead, namedWrite, recordingMemory } from '../../sched/index.js';
import type { Hmm, HmmMirror } from './types.js';

/**
 * An hmm's names for partial-order reduction (`Hmm.dporNames`). Kept on the hmm, not in a
 * module-level WeakMap: such a table lives in V8's old generation, and its values pointing at a
 * schedule's young mirrors would keep each explored machine alive through every minor GC.
 */
export interface HmmDporNames {
  /** Mirrors registered on the hmm so far, by the thread that registered them. */
  readonly registeredBy: Map<string, number>;
  /** Every mirror that ever registered a range on the hmm. */
  readonly rangeMirrors: Set<HmmMirror>;
  /**
   * The object names below, built once per hmm: the recorder looks a name up by its string, and a
   * string made afresh at every touch is hashed afresh (the lookup was 2.7% of a dpor search, 1.2%
   * with the names kept).
   */
  readonly kref: string;
  readonly inval: string;
  readonly mirrors: string;
  /** Each named mirror's range object. */
  readonly ranges: Map<HmmMirror, string>;
}

function dporNames(hmm: Hmm): HmmDporNames {
  const id = hmm.mm.id;
  hmm.dporNames ??= {
    registeredBy: new Map(),
    rangeMirrors: new Set(),
    kref: `hmm ${id} kref`,
    inval: `hmm ${id} inval`,
    mirrors: `hmm ${id} mirrors`,
    ranges: new Map(),
  };
  return hmm.dporNames;
}

/** hmm_mirror_register: gives the mirror its name (kept if it registers again). */
export function nameMirror(hmm: Hmm, mirror: HmmMirror): void {
  if (mirror.dporName !== '') return;
  const counts = dporNames(hmm).registeredBy;
  const by = currentOrNull()?.name ?? 'setup';
  const n = counts.get(by) ?? 0;
  counts.set(by, n + 1);
  mirror.dporName = `${by}#${n}`;
}

/** The name of a mirror's range object (mirrors never named share 'unnamed': only more dependencies). */
function rangeName(hmm: Hmm, mirror: HmmMirror | null): string {
  if (mirror === null || mirror.dporName === '') return `hmm ${hmm.mm.id} range unnamed`;
  // a mirror's name never changes once given (nameMirror)
  const ranges = dporNames(hmm).ranges;
  let name = ranges.get(mirror);
  if (name === undefined) {
    name = `hmm ${hmm.mm.id} range ${mirror.dporName}`;
    ranges.set(mirror, name);
  }
  return name;
}

/** hmm_range_register: the mirror's ranges are written (and the mirror joins every later walk). */
export function rangeRegistered(hmm: Hmm, mirror: HmmMirror): void {
  dporNames(hmm).rangeMirrors.add(mirror);
  namedWrite(rangeName(hmm, mirror));
}

/** A range of `mirror` is written (unregistered, its sequence read): its mirror's range object. */
export function rangeWrite(hmm: Hmm, mirror: HmmMirror | null): void {
  if (recordingMemory()) namedWrite(rangeName(hmm, mirror));
}

/** A range of `mirror` is read (its valid flag or sequence, its place on the list). */
export function rangeRead(hmm: Hmm, mirror: HmmMirror | null): void {
  if (recordingMemory()) namedRead(rangeName(hmm, mirror));
}

/** How a step touches an object: adds commute with each other, not with reads or writes. */
export type Access = 'read' | 'add' | 'write';

const TOUCH = { read: namedRead, add: namedAdd, write: namedWrite } as const;

/** hmm->ranges is walked: every range object of the hmm is touched (`how`). */
export function everyRange(hmm: Hmm, how: Access): void {
  if (!recordingMemory()) return;
  for (const m of hmm.dporNames?.rangeMirrors ?? []) TOUCH[how](rangeName(hmm, m));
}

/**
 * Every listed range's valid flag is cleared (`add`: clears commute) or set (`write`). Only the
 * 'seed' protocol reads the flag of a listed range; under 'seq' it is dead state (the sequence
 * counts decide), touches nothing and is left out of hmmObjectStates.
 */
export function validFlags(hmm: Hmm, how: 'add' | 'write'): void {
  if (hmm.validity.protocol === 'seed') everyRange(hmm, how);
}

/**
 * hmm->notifiers, the in-flight list or the sequence counts are touched. An invalidation's start is
 * an add: notifiers++, seq |= 1, stamping every mirror with the (odd) result and clearing valid
 * flags give the same state in either order of two starts; an end, which may revalidate, writes.
 */
export function invalState(hmm: Hmm, how: Access): void {
  if (recordingMemory()) TOUCH[how](dporNames(hmm).inval);
}

/**
 * hmm->kref: gets are adds, kref_get by a holder and kref_get_unless_zero alike (two gets give the
 * same count in either order, and whether get_unless_zero finds zero changes only with a put). A
 * put is an add while a mirror is listed (it reads the list): every listed mirror holds a
 * reference, which only a step writing the list drops, so the count stays above zero in every order
 * of the adds; otherwise a put writes, since one that leaves a reference in this order may free in
 * another.
 */
export function krefChange(hmm: Hmm, how: 'add' | 'write'): void {
  if (recordingMemory()) TOUCH[how](dporNames(hmm).kref);
}

/** hmm->mirrors is written (`write`) or read. */
export function mirrorList(hmm: Hmm, write: boolean): void {
  if (recordingMemory()) (write ? namedWrite : namedRead)(dporNames(hmm).mirrors);
}

/**
 * The state of each object above as numbers, by object name (the explorer's coverage check digests
 * them after every step and fails a step that changed one it does not write).
 */
export function hmmObjectStates(hmm: Hmm): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const names = dporNames(hmm);
  out.set(names.kref, [hmm.kref]);
  const inval = [hmm.notifiers, hmm.seq, hmm.inflight.length];
  for (const m of hmm.mirrors) inval.push(m.invalidateSeq);
  out.set(names.inval, inval);
  out.set(
    names.mirrors,
    hmm.mirrors.map((m) => fnv1a(FNV_OFFSET, m.dporName)),
  );
  const seed = hmm.validity.protocol === 'seed';
  for (const r of hmm.ranges) {
    const name = rangeName(hmm, r.mirror);
    const s = out.get(name) ?? [];
    s.push(r.start, r.end, seed && r.valid ? 1 : 0, r.notifierSeq);
    out.set(name, s);
  }
  return out;
}
