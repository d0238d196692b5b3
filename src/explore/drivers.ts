/**
 * The drivers the explorer can run a scenario on, by name: the reference dmirror (`'correct'`) and
 * its broken-driver variants (src/drivers/dmirror/variants.ts, opened with
 * `sim.openDevice(n, p, { variant })`), plus any registerDriver() adds; or a DriverFactory the user
 * writes (docs/explorer.md has a worked example).
 */

import { ArgumentError } from '../core/errno.js';
import { DMIRROR_VARIANT_NAMES, type DmirrorVariant } from '../drivers/dmirror/variants.js';
import type { DeviceFile } from '../sim/devicefile.js';
import type { Process } from '../sim/process.js';
import type { Simulator } from '../sim/simulator.js';
import type { DriverFactory, ExploreDevice } from './scenario.js';

/** The ExploreDevice view of an open /dev/hmm_dmirrorN. */
export function dmirrorDevice(fd: DeviceFile, device: number): Omit<ExploreDevice, 'name'> {
  const d = fd.driver;
  return {
    device,
    mm: d.mm,
    pt: d.pt,
    tlb: d.tlb,
    mirror: d.mirror,
    updateLockHeld: () => d.updateLockHeld(),
    owns: (pfn) => d.owns(pfn),
    read: (addr, npages) => fd.task.read(addr, npages),
    write: (addr, bytes) => fd.task.write(addr, bytes),
    migrate: (addr, npages) => fd.task.migrate(addr, npages),
    close: () => fd.task.close(),
  };
}

/** The reference dmirror driver, opened through the facade (sim.openDevice). */
export const correctDmirror: DriverFactory = (sim: Simulator, device: number, p: Process) =>
  dmirrorDevice(sim.openDevice(device, p), device);

/** dmirror with one of the broken-driver variants of src/drivers/dmirror/variants.ts switched on. */
export function dmirrorVariant(variant: DmirrorVariant): DriverFactory {
  if (variant === 'correct') return correctDmirror;
  const f: DriverFactory = (sim, device, p) => dmirrorDevice(sim.openDevice(device, p, { variant }), device);
  Object.defineProperty(f, 'name', { value: variant });
  return f;
}

const registry = new Map<string, DriverFactory>(DMIRROR_VARIANT_NAMES.map((v) => [v, dmirrorVariant(v)]));

/**
 * Makes a driver available by name (explore's `driver` option, replay strings, the CLI). The
 * built-in names ('correct' and the variants) are taken: replacing one would change what every
 * replay string recorded on it means, for the whole process. Registering a user name again
 * replaces it.
 */
export function registerDriver(name: string, factory: DriverFactory): void {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(name))
    throw new ArgumentError('name', `driver names are [A-Za-z0-9_.-]+, got '${String(name)}'`);
  if ((DMIRROR_VARIANT_NAMES as readonly string[]).includes(name))
    throw new ArgumentError(
      'name',
      `'${name}' is a built-in driver and cannot be replaced; register yours under another name`,
    );
  if (typeof factory !== 'function')
    throw new ArgumentError(
      'factory',
      `expected a DriverFactory function, got ${factory === null ? 'null' : typeof factory}`,
    );
  registry.set(name, factory);
}

/** Every driver name the explorer knows, 'correct' first. */
export function driverNames(): string[] {
  return [...registry.keys()];
}

/** The factory registered under `name`; ArgumentError listing the known names otherwise. */
export function driverByName(name: string): DriverFactory {
  const f = registry.get(name);
  if (f === undefined) {
    throw new ArgumentError('driver', `unknown driver '${name}'; known: ${driverNames().join(', ')}`);
  }
  return f;
}
