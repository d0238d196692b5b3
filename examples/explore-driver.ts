/**
 * A driver you write, explored with the built-in scenarios (docs/explorer.md, "Your own driver").
 *
 * tinymirror is a device that reads and writes process memory through its own page table, filled
 * on demand with hmm.rst's usage pattern: register a range, wait until it is valid, take mmap_sem,
 * hmm_range_fault, take the update lock, check hmm_range_valid, program the device, unregister.
 * `bug` switches on one classic mistake, so the explorer has something to find.
 */

import { pathToFileURL } from 'node:url';
import {
  currentOrNull,
  device,
  EAGAIN,
  EBUSY,
  EFAULT,
  explore,
  HmmError,
  hmm,
  Mutex,
  mm,
  PAGE_SHIFT,
  PAGE_SIZE,
  replay,
  type ScenarioDriverFactory,
  type Task,
} from 'hmmsim';

export interface TinyMirrorOptions {
  /**
   * 'no-valid-check': program the device without hmm_range_valid(); 'valid-outside-lock': check it
   * before taking the update lock; 'no-lock-in-sync': erase device entries without the lock.
   */
  bug?: 'no-valid-check' | 'valid-outside-lock' | 'no-lock-in-sync';
}

// The driver's own entry format for hmm_range: VALID, WRITE, DEVICE_PRIVATE flags; ERROR, NONE, SPECIAL values.
const V = 1;
const W = 2;
const DP = 4;
const FLAGS = [V, W, DP];
const VALUES = [8, 0, 16];
const PFN_SHIFT = 6;

export function tinyMirror(opts: TinyMirrorOptions = {}): ScenarioDriverFactory {
  return function tinymirror(sim, n, p) {
    const as = p.mm;
    const dma = sim.device(n).device.dma;
    const pt = new device.DevicePageTable(sim.trace); // its writes are traced on the machine's stream
    const update = new Mutex('tinymirror.update');

    // sync_cpu_device_pagetables: erase [start, end) under the update lock (trylock if not blockable).
    const mirror = new hmm.HmmMirror(
      {
        syncCpuDevicePagetables(_m, u) {
          const erase = (): void => {
            pt.eraseRange(Math.floor(u.start / PAGE_SIZE), Math.ceil(u.end / PAGE_SIZE));
          };
          if (opts.bug === 'no-lock-in-sync') {
            erase();
            return 0;
          }
          if (!u.blockable) {
            if (!update.trylock()) return -EAGAIN;
            erase();
            update.unlock();
            return 0;
          }
          return (function* (): Task<number> {
            yield* update.lock();
            erase();
            update.unlock();
            return 0;
          })();
        },
        *release() {
          yield* update.lock();
          pt.clear();
          update.unlock();
        },
      },
      sim.hmm,
    ); // the machine's HMM settings: its validity protocol and the checkers' observer
    sim.run(
      'tinymirror open',
      (function* () {
        yield* as.mmapSem.downWrite();
        const r = hmm.hmmMirrorRegister(mirror, as);
        as.mmapSem.upWrite();
        if (r < 0) throw new HmmError(r, 'tinymirror open');
      })(),
    );

    // driver_populate_range for one page.
    function* populate(addr: number, write: boolean): Task<number> {
      if (!as.mmgetNotZero()) return -EFAULT;
      const range = new hmm.HmmRange({
        pfns: new Float64Array(1),
        flags: FLAGS,
        values: VALUES,
        pfnShift: PFN_SHIFT,
        defaultFlags: V | (write ? W : 0),
      });
      let ret = hmm.hmmRangeRegister(range, mirror, addr, addr + PAGE_SIZE, PAGE_SHIFT);
      while (ret === 0) {
        yield* hmm.hmmRangeWaitUntilValid(range, hmm.HMM_RANGE_DEFAULT_TIMEOUT);
        yield* as.mmapSem.downRead();
        ret = yield* hmm.hmmRangeFault(range, true);
        if (ret === -EBUSY) {
          as.mmapSem.upRead();
          ret = 0;
          continue;
        }
        if (ret >= 0) {
          const early = opts.bug === 'valid-outside-lock' ? hmm.hmmRangeValid(range) : true;
          yield* update.lock();
          const valid = opts.bug === 'valid-outside-lock' ? early : hmm.hmmRangeValid(range);
          if (opts.bug !== 'no-valid-check' && !valid) {
            update.unlock();
            as.mmapSem.upRead();
            ret = 0;
            continue;
          }
          const e = range.pfns[0] as number;
          const f = hmm.hmmEntryFlags(range, e);
          const pfn = hmm.hmmDeviceEntryToPfn(range, e);
          if (pfn < 0 || f & DP || (write && !(f & W))) ret = -EFAULT;
          else pt.store(addr / PAGE_SIZE, pfn, (f & W) !== 0);
          update.unlock();
        }
        as.mmapSem.upRead();
        break;
      }
      if (range.registered) yield* hmm.hmmRangeUnregister(range);
      yield* mm.mmput(as);
      return Math.min(ret, 0);
    }

    // One device access per page: through the device page table, faulting what is missing.
    function* access(addr: number, buf: Uint8Array, write: boolean): Task {
      for (let off = 0; off < buf.length; off += PAGE_SIZE) {
        const vpn = (addr + off) / PAGE_SIZE;
        for (;;) {
          yield* update.lock();
          const pfn = pt.pfnOf(vpn);
          const ok = pfn >= 0 && (!write || pt.isWritable(vpn));
          if (ok && write) dma.write(pfn, 0, buf, off, PAGE_SIZE);
          else if (ok) dma.read(pfn, 0, buf, off, PAGE_SIZE);
          update.unlock();
          if (ok) break;
          const r = yield* populate(addr + off, write);
          if (r < 0) throw new HmmError(r, 'tinymirror access');
        }
      }
    }

    return {
      device: n,
      mm: as,
      pt,
      mirror,
      updateLockHeld: () => update.owner !== null && update.owner === currentOrNull(),
      owns: () => false,
      *read(addr, npages) {
        const data = new Uint8Array(npages * PAGE_SIZE);
        yield* access(addr, data, false);
        return { data };
      },
      *write(addr, bytes) {
        const data = new Uint8Array(Math.ceil(bytes.length / PAGE_SIZE) * PAGE_SIZE);
        data.set(bytes);
        yield* access(addr, data, true);
      },
      *close() {
        yield* hmm.hmmMirrorUnregister(mirror);
        yield* update.lock();
        pt.clear();
        update.unlock();
      },
    };
  };
}

export interface Facts {
  correct: { violation: string | null; schedules: number; complete: boolean };
  noValidCheck: {
    checker: string;
    message: string;
    preemptions: number;
    replay: string;
    replayed: string | null;
  };
  validOutsideLock: { checker: string; message: string };
}

/** Explores tinymirror as docs/explorer.md shows, printing each result; returns what it printed. */
export function main(log: (line: string) => void = console.log): Facts {
  log('1. the correct tinymirror, fault-vs-dontneed, protocol seq:');
  const ok = explore('fault-vs-dontneed', { driver: tinyMirror(), protocol: 'seq' });
  log(
    `   violation: ${ok.violation?.checker ?? 'none'}, ${ok.schedulesExplored} schedules, complete: ${ok.complete}`,
  );
  log("2. tinymirror({ bug: 'no-valid-check' }), the same scenario:");
  const bad = tinyMirror({ bug: 'no-valid-check' });
  const r = explore('fault-vs-dontneed', { driver: bad, protocol: 'seq' });
  const v = r.violation;
  if (v === null) throw new Error('no-valid-check: expected a violation');
  log(`   ${v.checker}: ${v.message.split('\n')[0]}`);
  log(`   preemptions: ${v.preemptions}; replay string: ${v.replay}`);
  const again = replay(v.replay, { driver: bad });
  log(
    `   replayed: ${again.violation?.checker ?? 'none'} (the same violation: ${again.violation?.message === v.message})`,
  );
  log("3. tinymirror({ bug: 'valid-outside-lock' }), fault-vs-munmap:");
  const early = explore('fault-vs-munmap', { driver: tinyMirror({ bug: 'valid-outside-lock' }) });
  const e = early.violation;
  if (e === null) throw new Error('valid-outside-lock: expected a violation');
  log(`   ${e.checker}: ${e.message.split('\n')[0]}`);
  return {
    correct: {
      violation: ok.violation?.checker ?? null,
      schedules: ok.schedulesExplored,
      complete: ok.complete,
    },
    noValidCheck: {
      checker: v.checker,
      message: v.message,
      preemptions: v.preemptions,
      replay: v.replay,
      replayed: again.violation?.message ?? null,
    },
    validOutsideLock: { checker: e.checker, message: e.message },
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
