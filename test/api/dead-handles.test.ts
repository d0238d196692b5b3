/**
 * issue 14: handles that can no longer be used. Every public member of Process and DeviceFile, in
 * both forms (the call and its generator on `.task`), is called with good arguments on a handle that
 * is past its life, and must end in a typed error naming the handle, never a crash or a silent
 * success:
 *   - an exited Process: HmmError ESRCH naming the process (the kernel's "no such process"); the
 *     calls that take it (openDevice, new DeviceFile) the same; its torn-down mm is an
 *     ArgumentError naming `mm` (adoptProcess used to wrap it in a new, broken Process);
 *   - a closed DeviceFile: an ArgumentError naming `fd` (setPolicy used to succeed silently);
 *   - a DeviceFile whose process exited is still open, as a file descriptor outlives the mm it
 *     mirrored: its ioctls fail as test_hmm's do once the mm is gone.
 * A SimFile has no close (it is a tmpfs file of the machine), so it has no dead state.
 *
 * The member lists are checked against the classes: a new public member must be added to
 * PROCESS_CALLS or DEVICE_FILE_CALLS in catalogue.ts.
 */

import { describe, expect, it } from 'vitest';
import { DeviceFile, Process, Simulator } from '../../src/index.js';
import {
  CALLS_TAKING_A_PROCESS,
  DEVICE_FILE_CALLS,
  fixtureIn,
  type HandleCall,
  outcomeOf,
  PROCESS_CALLS,
} from './catalogue.js';

const EXITED = 'ESRCH: ESRCH: No such process, process 1 has exited';
const MIGRATE_TO_SYS = expect.stringMatching(
  /^(EINVAL: EINVAL: Invalid argument|ENOTTY: ENOTTY: Inappropriate ioctl for device), HMM_DMIRROR_MIGRATE_TO_SYS$/,
);
const RELEASE = expect.stringMatching(
  /^(accepted|ENOTTY: ENOTTY: Inappropriate ioctl for device, HMM_DMIRROR_RELEASE)$/,
);

/** How each call ended on a handle in `state`, by api. */
function outcomes(
  state: 'exited Process' | 'closed DeviceFile',
  calls: HandleCall[],
): Record<string, string> {
  return Object.fromEntries(calls.map((c) => [c.api, outcomeOf(() => c.call(fixtureIn(state)))]));
}

/** Own members of a prototype a user may call (private helpers listed by name). */
function members(proto: object, privates: string[]): string[] {
  return Object.getOwnPropertyNames(proto).filter((m) => m !== 'constructor' && !privates.includes(m));
}

describe('api: every call on a handle past its life is a typed error naming it', () => {
  it('an exited Process: every member, both forms, is ESRCH naming the process', () => {
    const got = outcomes('exited Process', PROCESS_CALLS);
    expect(got).toEqual(Object.fromEntries(PROCESS_CALLS.map((c) => [c.api, EXITED])));
  });

  it('the calls that take an exited Process (or its mm) refuse it', () => {
    expect(outcomes('exited Process', CALLS_TAKING_A_PROCESS)).toEqual({
      'Simulator.openDevice': EXITED,
      'Simulator.adoptProcess': 'argument(mm)',
      'new Process': 'argument(mm)',
      'new DeviceFile': EXITED,
    });
    const fx = fixtureIn('exited Process');
    expect(() => fx.sim.adoptProcess(fx.p.mm)).toThrow(
      "invalid argument 'mm': mm 1 has been torn down (its process exited)",
    );
  });

  it('a closed DeviceFile: every member, both forms, is an ArgumentError naming fd', () => {
    const got = outcomes('closed DeviceFile', DEVICE_FILE_CALLS);
    const want = Object.fromEntries(DEVICE_FILE_CALLS.map((c) => [c.api, 'argument(fd)']));
    // reading what the file is (its policy, its driver for tests and tools) changes nothing
    want['DeviceFile.policy'] = 'accepted';
    want['DeviceFile.dmirror'] = 'accepted';
    expect(got).toEqual(want);
    const fx = fixtureIn('closed DeviceFile');
    expect(() => fx.fd.setPolicy('page')).toThrow("invalid argument 'fd': the device file is closed");
    expect(fx.fd.policy.name).toBe('none'); // the refused setPolicy changed nothing
  });

  it("a DeviceFile whose process exited stays open and fails as test_hmm's ioctls do without an mm", () => {
    const got = Object.fromEntries(
      DEVICE_FILE_CALLS.map((c) => [c.api, outcomeOf(() => c.call(fixtureIn('exited Process')))]),
    );
    expect(got).toEqual({
      // the mirror was released with the mm: a device access has nothing to fault in
      'DeviceFile.read': 'EFAULT: EFAULT: Bad address, HMM_DMIRROR_READ',
      'DeviceFile.task.read': 'EFAULT: EFAULT: Bad address, HMM_DMIRROR_READ',
      'DeviceFile.write': 'EFAULT: EFAULT: Bad address, HMM_DMIRROR_WRITE',
      'DeviceFile.task.write': 'EFAULT: EFAULT: Bad address, HMM_DMIRROR_WRITE',
      // dmirror_migrate and dmirror_snapshot: mmget_not_zero() fails, -EINVAL
      'DeviceFile.migrate': 'EINVAL: EINVAL: Invalid argument, HMM_DMIRROR_MIGRATE',
      'DeviceFile.task.migrate': 'EINVAL: EINVAL: Invalid argument, HMM_DMIRROR_MIGRATE',
      'DeviceFile.snapshot': 'EINVAL: EINVAL: Invalid argument, HMM_DMIRROR_SNAPSHOT',
      'DeviceFile.task.snapshot': 'EINVAL: EINVAL: Invalid argument, HMM_DMIRROR_SNAPSHOT',
      // a device kernel's first access cannot be mapped: the fatal fault of a dead context
      'DeviceFile.launch': expect.stringMatching(/^EFAULT: EFAULT: Bad address, device read at 0x[0-9a-f]+/),
      'DeviceFile.task.launch': expect.stringMatching(/^EFAULT: EFAULT: Bad address, device read at/),
      // the file itself is open: closing it, and choosing its policy, are what one does with it
      'DeviceFile.close': 'accepted',
      'DeviceFile.task.close': 'accepted',
      'DeviceFile.setPolicy': 'accepted',
      'DeviceFile.policy': 'accepted',
      'DeviceFile.dmirror': 'accepted',
      // today's test_hmm (v6.19): dmirror_exclusive's mmget_not_zero() fails, -EINVAL; the atomic
      // check and the flags touch no mm
      'DeviceFile.exclusive': 'EINVAL: EINVAL: Invalid argument, HMM_DMIRROR_EXCLUSIVE',
      'DeviceFile.task.exclusive': 'EINVAL: EINVAL: Invalid argument, HMM_DMIRROR_EXCLUSIVE',
      'DeviceFile.checkExclusive': 'accepted',
      'DeviceFile.task.checkExclusive': 'accepted',
      'DeviceFile.setFlags': 'accepted',
      'DeviceFile.task.setFlags': 'accepted',
      // MIGRATE_TO_SYS: -EINVAL (mmget_not_zero) and RELEASE: evicts by pfn, no mm; ENOTTY while
      // the driver does not have the command yet
      'DeviceFile.migrateToSys': MIGRATE_TO_SYS,
      'DeviceFile.task.migrateToSys': MIGRATE_TO_SYS,
      'DeviceFile.release': RELEASE,
      'DeviceFile.task.release': RELEASE,
    });
  });

  it('two Processes on one mm: when one exits, the other answers ESRCH instead of using a torn-down mm', () => {
    const sim = new Simulator({ ramPages: 64, sectionPages: 64, devices: [] });
    const p = sim.createProcess();
    const twin = sim.adoptProcess(p.mm);
    p.exit();
    expect(outcomeOf(() => twin.read(0x1000, 1))).toBe(
      `ESRCH: ESRCH: No such process, process ${twin.pid}: its mm ${p.mm.id} was torn down by another process`,
    );
  });

  it('the lists cover every public member of Process, DeviceFile and their task forms', () => {
    const fx = fixtureIn('closed DeviceFile');
    const listed = new Set([...PROCESS_CALLS, ...DEVICE_FILE_CALLS].map((c) => c.api));
    const all = [
      ...members(Process.prototype, ['wordsOut']).map((m) => `Process.${m}`),
      ...members(Object.getPrototypeOf(fx.p.task), ['checkMmap']).map((m) => `Process.task.${m}`),
      ...members(DeviceFile.prototype, []).map((m) => `DeviceFile.${m}`),
      ...members(Object.getPrototypeOf(fx.fd.task), ['open', 'optional']).map((m) => `DeviceFile.task.${m}`),
    ];
    expect(all.filter((m) => !listed.has(m))).toEqual([]);
    expect([...listed].filter((m) => !all.includes(m))).toEqual([]);
  });
});
