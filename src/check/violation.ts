/**
 * What a checker reports, and how an error thrown inside a simulated thread is classified.
 *
 * Checkers observe and never mutate. The ones run after every step (coherence, and the pending
 * reports of rules and integrity) throw a ViolationError from the executor's step hook, so the run
 * stops right after the step that broke the invariant with that thread named (Executor onStep).
 * Errors the kernel model itself throws inside a thread are classified here: a lockdep report, a
 * sleep in atomic context or the use of an unregistered range is a broken rule of the API ('rules');
 * any other BUG or WARN, a deadlock or a livelock is the kernel's ('kernel').
 */

import { KernelBug, KernelWarning } from '../core/assert.js';
import { LockdepBug } from '../sched/lockdep.js';

/**
 * Which checker found a violation; 'kernel' is a BUG or WARN thrown by the model itself, 'kasan' a
 * use after free, double free or invalid free of a kmalloc'ed object (kasan.ts).
 */
export type CheckerName = 'coherence' | 'integrity' | 'accounting' | 'rules' | 'kernel' | 'kasan';

/** A broken rule as reports and the explorer show it. */
export interface Violation {
  /** The checker that found it. */
  checker: CheckerName;
  /** What was broken, and where. */
  message: string;
}

/** Thrown by a checker's step hook (or by Checkers.throwIfAny) to stop a run. */
export class ViolationError extends Error {
  /** The checker that threw it. */
  readonly checker: CheckerName;

  constructor(checker: CheckerName, message: string) {
    super(message);
    this.name = 'ViolationError';
    this.checker = checker;
  }
}

/** Messages of KernelBugs that report a broken rule of the API rather than a kernel state. */
const RULE_MARKERS = [
  'sleeping function called from invalid context',
  'range was unregistered',
  'range is not registered',
  'range already unregistered',
  'mirror was never registered',
  'mirror is not registered',
];

/** The violation an error thrown inside a thread stands for. */
export function violationOfError(e: unknown, thread?: string): Violation {
  if (e instanceof ViolationError) return { checker: e.checker, message: e.message };
  const text = e instanceof Error ? e.message : String(e);
  const where = thread === undefined ? '' : `${thread}: `;
  if (e instanceof LockdepBug) return { checker: 'rules', message: `${where}${text}` };
  if (e instanceof KernelBug || e instanceof KernelWarning) {
    const rule = RULE_MARKERS.some((m) => text.includes(m));
    return { checker: rule ? 'rules' : 'kernel', message: `${where}${text}` };
  }
  const name = e instanceof Error ? `${e.name}: ` : '';
  return { checker: 'kernel', message: `${where}unexpected ${name}${text}` };
}
