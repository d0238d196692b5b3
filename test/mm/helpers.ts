/** Shared fixtures for the mm tests: a small machine, mapping shorthands, error capture, a recording notifier. */

import { expect } from 'vitest';
import type { MmStruct } from '../../src/mm/mm.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/mm/mmap.js';
import type { MmuNotifierRange } from '../../src/mm/mmu_notifier.js';
import { MMU_NOTIFY_EVENT_NAMES, MmuNotifier, mmuNotifierRegister } from '../../src/mm/mmu_notifier.js';
import type { Strategy, Task } from '../../src/sched/index.js';
import type { Process } from '../../src/sim/process.js';
import type { SimFile } from '../../src/sim/simfile.js';
import { Simulator, type SimulatorOptions } from '../../src/sim/simulator.js';

export const PG = 4096;
export const RW = PROT_READ | PROT_WRITE;
export const RO = PROT_READ;
export const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
export const SHARED_ANON = MAP_SHARED | MAP_ANONYMOUS;

/** A machine with little RAM and no devices, so tests stay fast and counts stay readable. */
export function newSim(opts: SimulatorOptions = {}): Simulator {
  return new Simulator({ ramPages: 256, devices: [], ...opts });
}

export function setup(opts: SimulatorOptions = {}): { sim: Simulator; p: Process } {
  const sim = newSim(opts);
  return { sim, p: sim.createProcess() };
}

/** mmap with an address hint (or a fixed address with MAP_FIXED). */
export function mmapAt(
  p: Process,
  addr: number,
  len: number,
  prot: number,
  flags: number,
  file?: SimFile,
  offset = 0,
): number {
  return p.sim.run('mmapAt', p.task.mmapAt(addr, len, prot, flags, file, offset));
}

/** Bytes [v, v, ...] of length n. */
export function fill(n: number, v: number): Uint8Array {
  return new Uint8Array(n).fill(v);
}

export function bytes(...v: number[]): Uint8Array {
  return Uint8Array.from(v);
}

/** Runs fn, expects it to throw an instance of cls, returns the error. */
// biome-ignore lint/suspicious/noExplicitAny: any constructor
export function thrown<T>(cls: abstract new (...args: any[]) => T, fn: () => unknown): T {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a throw').toBeInstanceOf(cls);
  return err as T;
}

/** Round robin: the next runnable thread after the one that just ran, so waiters really wait. */
export const roundRobin: Strategy = {
  pick(runnable, current) {
    if (current === null) return 0;
    return Math.max(
      runnable.findIndex((t) => t.id > current.id),
      0,
    );
  },
};

/** Runs a generator body with the mm's mmap_sem held (read or write). */
export function* locked<T>(mm: MmStruct, mode: 'read' | 'write', body: () => Task<T>): Task<T> {
  if (mode === 'read') yield* mm.mmapSem.downRead();
  else yield* mm.mmapSem.downWrite();
  try {
    return yield* body();
  } finally {
    if (mode === 'read') mm.mmapSem.upRead();
    else mm.mmapSem.upWrite();
  }
}

export interface Event {
  who: string;
  what: string;
  start?: number;
  end?: number;
  blockable?: boolean;
}

/** A notifier that records (event, start, end) for starts, 'end' for ends and 'release'. */
export function recorder(log: Event[], who = 'mn'): MmuNotifier {
  return new MmuNotifier({
    invalidateRangeStart(_mn, r: MmuNotifierRange) {
      log.push({
        who,
        what: MMU_NOTIFY_EVENT_NAMES[r.event] as string,
        start: r.start,
        end: r.end,
        blockable: r.blockable,
      });
      return 0;
    },
    invalidateRangeEnd(_mn, r: MmuNotifierRange) {
      log.push({ who, what: `end ${MMU_NOTIFY_EVENT_NAMES[r.event]}`, start: r.start, end: r.end });
    },
    release() {
      log.push({ who, what: 'release' });
    },
  });
}

/** Registers a recording notifier on p and returns its log of invalidation starts (ends and releases too). */
export function record(p: Process, who = 'mn'): { log: Event[]; mn: MmuNotifier } {
  const log: Event[] = [];
  const mn = recorder(log, who);
  expect(p.sim.run('reg', mmuNotifierRegister(mn, p.mm))).toBe(0);
  return { log, mn };
}

/** Only the invalidation starts, as [event, start, end]. */
export function starts(log: Event[]): [string, number, number][] {
  return log
    .filter((e) => e.start !== undefined && !e.what.startsWith('end'))
    .map((e) => [e.what, e.start as number, e.end as number]);
}
