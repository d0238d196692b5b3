/**
 * BUG_ON / WARN_ON for the model.
 *
 * A broken invariant or a misuse of a kernel API is not an errno: it throws, the way the kernel
 * oopses or WARNs. Both carry the site ("function: reason", xv6 style) so a report points at where
 * the rule was broken, not where it was noticed.
 */

/** The model reached a state the kernel would BUG() on, or a checker found a broken invariant. */
export class KernelBug extends Error {
  /** 'BUG', 'WARNING' or the checker's name: what kind of rule was broken. */
  readonly kind: string;
  constructor(message: string, kind = 'BUG') {
    super(message);
    this.name = 'KernelBug';
    this.kind = kind;
  }
}

/** What WARN_ON would print. Kept as a thrown error so a test or the explorer cannot miss it. */
export class KernelWarning extends KernelBug {
  constructor(message: string) {
    super(message, 'WARNING');
    this.name = 'KernelWarning';
  }
}

/**
 * panic(): the model cannot go on; always throws KernelBug.
 * @see kernel/panic.c (Linux v5.3)
 */
export function panic(message: string): never {
  throw new KernelBug(message);
}

/**
 * BUG_ON(): throws KernelBug if `cond` holds.
 * @see include/asm-generic/bug.h (Linux v5.3)
 */
export function bugOn(cond: boolean, message: string): void {
  if (cond) throw new KernelBug(message);
}

/**
 * WARN_ON(): throws KernelWarning if `cond` holds, so a test cannot miss it.
 * @see include/asm-generic/bug.h (Linux v5.3)
 */
export function warnOn(cond: boolean, message: string): void {
  if (cond) throw new KernelWarning(message);
}

/** An invariant of the model itself: throws KernelBug if `cond` is false (and narrows its type). */
export function assert(cond: boolean, message: string): asserts cond {
  if (!cond) throw new KernelBug(message);
}
