/**
 * A unit of code that may sleep.
 *
 * Threads are generators: every `yield` is a scheduling point and the yielded string names what
 * the next step touches ('down_write mmap_sem', 'pte 0x7f0000001000'). Code between two yields
 * runs atomically, so a race can only happen at a yield. Sleeping code is composed with `yield*`.
 */
export type Task<T = void> = Generator<string, T, unknown>;
