import { describe, expect, it } from 'vitest';
import { checkAccounting } from '../../../src/check/accounting.js';
import { checkCoherence } from '../../../src/check/coherence.js';
import { PAGE_SIZE } from '../../../src/core/addr.js';
import { EFAULT, EINVAL, ENOENT, EOPNOTSUPP, EPERM, HmmError } from '../../../src/core/errno.js';
import type { TestHmmDmirror } from '../../../src/drivers/test_hmm/dmirror.js';
import { MADV_DONTNEED } from '../../../src/mm/madvise.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../../src/mm/mmap.js';
import { RandomStrategy, type Task } from '../../../src/sched/index.js';
import type { DeviceFile } from '../../../src/sim/devicefile.js';
import type { Process } from '../../../src/sim/process.js';
import { Simulator } from '../../../src/sim/simulator.js';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
/** hmm-tests.c's HMM_BUFFER_SIZE (1024 << 12): 1024 pages of 4 KiB. */
const NPAGES = 1024;
const SIZE = NPAGES * PAGE_SIZE;

/** The hmm fixture on device n of kind `kind`, and a buffer of `npages` whose ints are ptr[i] = i. */
function fixture(npages = NPAGES, kind: 'private' | 'coherent' = 'private', variant = 'test_hmm') {
  const sim = new Simulator({ ramPages: 4096, kernel: 'v6.19', devices: [{ memoryPages: 64, kind }] });
  const p = sim.createProcess();
  const fd = sim.openDevice(0, p, { api: 'modern', variant });
  const a = p.mmap(npages * PAGE_SIZE, RW, ANON);
  p.write(
    a,
    ints(npages * PAGE_SIZE, (i) => i),
  );
  return { sim, p, fd, a };
}

/** size bytes of int32 values f(i), little-endian, as the selftests' int pointers see them. */
function ints(size: number, f: (i: number) => number): Uint8Array {
  const v = new Int32Array(size / 4);
  for (let i = 0; i < v.length; i++) v[i] = f(i);
  return new Uint8Array(v.buffer);
}

function asInts(b: Uint8Array): Int32Array {
  return new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

/** for (i) ASSERT_EQ(ptr[i]++, i), a page at a time; then for (i) ASSERT_EQ(ptr[i], i + 1). */
function incrementAndCheck(p: Process, a: number, npages: number): void {
  for (let pg = 0; pg < npages; pg++) {
    const page = asInts(p.read(a + pg * PAGE_SIZE, PAGE_SIZE));
    const base = (pg * PAGE_SIZE) / 4;
    for (let k = 0; k < page.length; k++) {
      if (page[k] !== base + k) expect(page[k]).toBe(base + k);
      page[k] = base + k + 1;
    }
    p.write(a + pg * PAGE_SIZE, new Uint8Array(page.buffer));
  }
  const all = asInts(p.read(a, npages * PAGE_SIZE));
  for (let i = 0; i < all.length; i++) if (all[i] !== i + 1) expect(all[i]).toBe(i + 1);
}

function mirrorIsI(data: Uint8Array | undefined): void {
  const m = asInts(data as Uint8Array);
  for (let i = 0; i < m.length; i++) if (m[i] !== i) expect(m[i]).toBe(i);
}

function driver(fd: DeviceFile): TestHmmDmirror {
  return fd.driver as unknown as TestHmmDmirror;
}

function errno(f: () => unknown): number {
  try {
    f();
  } catch (e) {
    if (e instanceof HmmError) return e.errno;
    throw e;
  }
  return 0;
}

/**
 * EXCLUSIVE on one page racing the CPU thread `cpu` under a random schedule. `device` is what the
 * ioctl gave: 'read <ptr[1]>', or 'ENOENT' when the CPU took the page back between the unlock and
 * the read-back (dmirror_do_read finds no entry).
 */
function race(seed: number, cpu: (p: Process, a: number) => Task<unknown>, variant = 'test_hmm') {
  const { sim, p, fd, a } = fixture(1, 'private', variant);
  const out = { sim, p, a, d: driver(fd), device: '' };
  const ex = sim.executor(new RandomStrategy(seed));
  ex.spawn(
    'device',
    (function* (): Task {
      try {
        out.device = `read ${asInts((yield* fd.task.exclusive(a, 1)).data as Uint8Array)[1]}`;
      } catch (e) {
        if (!(e instanceof HmmError) || e.errno !== ENOENT) throw e;
        out.device = 'ENOENT';
      }
    })(),
  );
  ex.spawn('cpu', cpu(p, a));
  expect(ex.run().failure?.message ?? null).toBeNull();
  return out;
}

/** The CPU side of the races: ptr[1] = -1. */
const cpuWrite = (p: Process, a: number) =>
  p.task.write(
    a + 4,
    ints(4, () => -1),
  );

describe('HMM_DMIRROR_EXCLUSIVE / CHECK_EXCLUSIVE (hmm-tests.c #25-27 on lib/test_hmm.c v6.19)', () => {
  it('exclusive: cpages 1024, the mirror reads i, the CPU takes every page back (old == i), CHECK_EXCLUSIVE 0', () => {
    for (const kind of ['private', 'coherent'] as const) {
      const { sim, p, fd, a } = fixture(NPAGES, kind);
      const r = fd.exclusive(a, NPAGES);
      expect(r.cpages).toBe(NPAGES);
      expect(r.faults).toBe(0);
      expect(r.data?.length).toBe(SIZE);
      mirrorIsI(r.data);
      const d = driver(fd);
      expect(d.pt.size).toBe(NPAGES);
      expect(p.pte(a).kind).toBe('device-exclusive');
      expect(p.pte(a + SIZE - PAGE_SIZE).kind).toBe('device-exclusive');
      expect(errno(() => fd.checkExclusive(a, NPAGES))).toBe(EPERM);
      expect(checkCoherence(sim.kernel, [d])).toBeNull();
      expect(checkAccounting(sim.kernel)).toEqual([]);
      incrementAndCheck(p, a, NPAGES);
      expect(fd.checkExclusive(a, NPAGES)).toEqual({ cpages: 0, faults: 0 });
      // the ioctl's prologue refuses an empty or unaligned range
      expect(sim.run('check', d.checkExclusive(a, 0))).toBe(-EINVAL);
      expect(sim.run('check', d.checkExclusive(a + 8, 1))).toBe(-EINVAL);
      expect(d.pt.size).toBe(0);
      expect(sim.stats().counters.device_exclusive).toBe(NPAGES);
      expect(sim.stats().counters.device_exclusive_restore).toBe(NPAGES);
      expect(checkAccounting(sim.kernel)).toEqual([]);
    }
  });

  it('a CPU touch revokes just that page: its ATOMIC entry goes, the others stay', () => {
    const { sim, p, fd, a } = fixture(8);
    fd.exclusive(a, 8);
    const d = driver(fd);
    const vpn = a / PAGE_SIZE;
    expect([0, 1, 2, 3, 4, 5, 6, 7].every((i) => d.pt.isAtomic(vpn + i))).toBe(true);
    expect(asInts(p.read(a + 3 * PAGE_SIZE, 8))[0]).toBe((3 * PAGE_SIZE) / 4);
    expect(d.pt.pfnOf(vpn + 3)).toBe(-1);
    expect(d.pt.size).toBe(7);
    expect(p.pte(a + 3 * PAGE_SIZE).kind).toBe('present');
    expect(fd.checkExclusive(a + 3 * PAGE_SIZE, 1)).toEqual({ cpages: 0, faults: 0 });
    expect(errno(() => fd.checkExclusive(a + 2 * PAGE_SIZE, 2))).toBe(EPERM);
    expect(checkCoherence(sim.kernel, [d])).toBeNull();
  });

  it('a second device taking the page revokes the first: the GUP fault restores the PTE (CLEAR), then EXCLUSIVE converts it again', () => {
    const sim = new Simulator({
      ramPages: 512,
      kernel: 'v6.19',
      devices: [{ memoryPages: 8 }, { memoryPages: 8 }],
    });
    const p = sim.createProcess();
    const a = p.mmap(2 * PAGE_SIZE, RW, ANON);
    p.write(
      a,
      ints(2 * PAGE_SIZE, (i) => i),
    );
    const fd0 = sim.openDevice(0, p, { api: 'modern' });
    const fd1 = sim.openDevice(1, p, { api: 'modern' });
    expect(fd1.exclusive(a, 2).cpages).toBe(2);
    expect(fd0.exclusive(a + PAGE_SIZE, 1).cpages).toBe(1);
    expect(driver(fd1).pt.isAtomic(a / PAGE_SIZE)).toBe(true);
    expect(driver(fd1).pt.pfnOf(a / PAGE_SIZE + 1)).toBe(-1);
    expect(driver(fd0).pt.isAtomic(a / PAGE_SIZE + 1)).toBe(true);
    expect(errno(() => fd1.checkExclusive(a, 2))).toBe(EPERM);
    expect(fd1.checkExclusive(a + PAGE_SIZE, 1)).toEqual({ cpages: 0, faults: 0 });
    expect(p.pte(a + PAGE_SIZE).kind).toBe('device-exclusive');
    expect(checkCoherence(sim.kernel, [driver(fd0), driver(fd1)])).toBeNull();
    expect(sim.stats().counters.device_exclusive_restore).toBe(1);
  });

  it('READ goes through the ATOMIC entries without a fault; WRITE faults (hmm_range_fault restores the PTE) and revokes them', () => {
    const { sim, p, fd, a } = fixture(4);
    fd.exclusive(a, 4);
    const r = fd.read(a, 4);
    expect([r.cpages, r.faults]).toEqual([4, 0]);
    mirrorIsI(r.data);
    expect(p.pte(a).kind).toBe('device-exclusive');
    // a snapshot asks for no fault: the entry is not present to hmm_range_fault
    expect([...fd.snapshot(a, 4).prot]).toEqual([0, 0, 0, 0]);
    expect(p.pte(a).kind).toBe('device-exclusive');
    const w = fd.write(
      a,
      ints(4 * PAGE_SIZE, (i) => 2 * i),
    );
    expect([w.cpages, w.faults]).toEqual([4, 1]);
    expect(p.pte(a)).toMatchObject({ kind: 'present', write: true });
    expect(fd.checkExclusive(a, 4)).toEqual({ cpages: 0, faults: 0 });
    expect(asInts(p.read(a + PAGE_SIZE, 8))[1]).toBe(2 * (PAGE_SIZE / 4 + 1));
    expect(sim.stats().counters.device_exclusive_restore).toBe(4);
    expect(checkCoherence(sim.kernel, [driver(fd)])).toBeNull();
  });

  it('exclusive_mprotect: mprotect(PROT_READ) erases the ATOMIC entries, a device WRITE is EPERM; the CPU entries stay exclusive and the device cannot take them again', () => {
    const { sim, p, fd, a } = fixture(16);
    const r = fd.exclusive(a, 16);
    expect(r.cpages).toBe(16);
    mirrorIsI(r.data);
    p.mprotect(a, 16 * PAGE_SIZE, PROT_READ);
    const d = driver(fd);
    expect(d.pt.size).toBe(0);
    expect(fd.checkExclusive(a, 16)).toEqual({ cpages: 0, faults: 0 });
    expect(p.pte(a).kind).toBe('device-exclusive');
    // the selftest: a device write of the range is -EPERM (hmm_range_fault asks for write access)
    expect(
      errno(() =>
        fd.write(
          a,
          ints(16 * PAGE_SIZE, (i) => -i),
        ),
      ),
    ).toBe(EPERM);
    expect(p.pte(a).kind).toBe('device-exclusive');
    // make_device_exclusive's GUP asks for write access, which the VMA no longer grants
    expect(errno(() => fd.exclusive(a, 16))).toBe(EFAULT);
    expect(asInts(p.read(a, 8))[1]).toBe(1);
    expect(p.pte(a)).toMatchObject({ kind: 'present', write: false });
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('exclusive_cow: after fork the parent and the child each take their pages back and see their own increments', () => {
    const { sim, p, fd, a } = fixture(64);
    expect(fd.exclusive(a, 64).cpages).toBe(64);
    const child = p.fork();
    expect(driver(fd).pt.size).toBe(0);
    expect(p.pte(a)).toMatchObject({ kind: 'present', write: false });
    incrementAndCheck(child, a, 64);
    incrementAndCheck(p, a, 64);
    expect(checkAccounting(sim.kernel)).toEqual([]);
    child.exit();
    expect(checkAccounting(sim.kernel)).toEqual([]);
  });

  it('refuses what make_device_exclusive refuses: no VMA or read-only (EFAULT), shared memory (EOPNOTSUPP); a range that wraps is EINVAL', () => {
    const { p, fd, a } = fixture(4);
    const ro = p.mmap(PAGE_SIZE, PROT_READ, ANON);
    expect(errno(() => fd.exclusive(ro, 1))).toBe(EFAULT);
    expect(errno(() => fd.exclusive(a + 64 * PAGE_SIZE, 1))).toBe(EFAULT);
    const shm = p.mmap(PAGE_SIZE, RW, MAP_SHARED | MAP_ANONYMOUS);
    p.write(
      shm,
      ints(8, () => 7),
    );
    expect(errno(() => fd.exclusive(shm, 1))).toBe(EOPNOTSUPP);
    // the pages before the one refused stay exclusive, as in the kernel
    expect(errno(() => fd.exclusive(a + 3 * PAGE_SIZE, 2))).toBe(EFAULT);
    expect(p.pte(a + 3 * PAGE_SIZE).kind).toBe('device-exclusive');
    expect(driver(fd).pt.isAtomic(a / PAGE_SIZE + 3)).toBe(true);
    const d = driver(fd);
    expect(d.exclusive).toBeTypeOf('function');
    expect(p.sim.run('wrap', d.exclusive(a, -1))).toBe(-EINVAL);
  });

  it('a CPU write racing EXCLUSIVE: in every order the write lands, and the device keeps an ATOMIC entry only while the CPU entry is exclusive', () => {
    const outcomes = new Set<string>();
    for (let seed = 0; seed < 40; seed++) {
      const r = race(seed, cpuWrite);
      const atomic = r.d.pt.isAtomic(r.a / PAGE_SIZE);
      expect(r.p.pte(r.a).kind).toBe(atomic ? 'device-exclusive' : 'present');
      expect(checkCoherence(r.sim.kernel, [r.d])).toBeNull();
      expect(asInts(r.p.read(r.a, 8))[1]).toBe(-1);
      expect(checkAccounting(r.sim.kernel)).toEqual([]);
      outcomes.add(`${r.device}, ${atomic ? 'device kept it' : 'cpu took it back'}`);
    }
    // the write came first; or after the read-back (the device saw 1); or in between (ENOENT)
    expect([...outcomes].sort()).toEqual([
      'ENOENT, cpu took it back',
      'read -1, device kept it',
      'read 1, cpu took it back',
    ]);
  });

  it('kept as the kernel has it: MADV_DONTNEED between make_device_exclusive and the ATOMIC store leaves an entry for a freed page', () => {
    const outcomes = new Set<string>();
    for (let seed = 0; seed < 60; seed++) {
      const r = race(seed, (p, a) => p.task.madvise(a, PAGE_SIZE, MADV_DONTNEED));
      const stale = checkCoherence(r.sim.kernel, [r.d]);
      if (stale !== null) expect(stale).toMatch(/a page that is free/);
      const device = r.device === 'ENOENT' ? 'ENOENT' : 'ok';
      outcomes.add(`${device}, ${stale === null ? 'coherent' : 'stale ATOMIC entry'}`);
    }
    // test_hmm checks no interval sequence before the store (nouveau does): docs/fidelity.md
    expect(outcomes).toContain('ok, stale ATOMIC entry');
    expect(outcomes).toContain('ok, coherent');
  });

  it("the broken 'test_hmm.exclusive-unlock-early' (page unlocked before the ATOMIC store) is caught: a CPU write in between leaves atomics on a page the CPU maps", () => {
    const caught = new Set<string>();
    for (let seed = 0; seed < 40; seed++) {
      const r = race(seed, cpuWrite, 'test_hmm.exclusive-unlock-early');
      const v = checkCoherence(r.sim.kernel, [r.d]);
      if (v === null) continue;
      expect(v).toMatch(/for atomics \(ATOMIC\), but the CPU maps it too/);
      expect(r.p.pte(r.a).kind).toBe('present');
      expect(r.sim.run('check', r.d.checkExclusive(r.a, 1))).toBe(-EPERM);
      caught.add(r.device);
    }
    expect(caught.size).toBeGreaterThan(0);
  });
});
