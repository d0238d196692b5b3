/**
 * The drivers the explorer can run a scenario on, by name: the reference dmirror (`'correct'`) and
 * its broken-driver variants (src/drivers/dmirror/variants.ts, opened with
 * `sim.openDevice(n, p, { variant })`), plus what an ExploreDrivers' register() adds; or a
 * ScenarioDriverFactory the user writes (docs/explorer.md has a worked example). There is no module-level
 * registry: whoever registers a driver owns the ExploreDrivers and passes it to explore()/replay().
 */

import { ArgumentError } from '../core/errno.js';
import type { DeviceKernel, LaunchOptions } from '../device/kernel.js';
import type { DmirrorVariant } from '../drivers/dmirror/variants.js';
import type { Driver } from '../drivers/driver.js';
import { DriverRegistry } from '../drivers/registry.js';
import type { DeviceFile } from '../sim/devicefile.js';
import type { Process } from '../sim/process.js';
import type { Simulator } from '../sim/simulator.js';
import type { ExploreDevice, ScenarioDriverFactory } from './scenario.js';

/**
 * The ExploreDevice view of an open /dev/hmm_dmirrorN. A class, not an object literal: a literal's
 * `get closed()` closure gets a fresh hidden class per device, allocated old, whose pointer to the
 * young closure keeps the whole schedule's machine alive through every minor GC (the explorer
 * builds thousands of machines a second: a fifth of its time went to collecting them).
 */
class DmirrorExploreDevice implements Omit<ExploreDevice, 'name'> {
  readonly driverLock?: object;
  readonly mm: Driver['mm'];
  readonly pt: Driver['pt'];
  readonly tlb: Driver['tlb'];
  readonly mirror: Driver['mirror'];
  readonly pgmapOwner: unknown;
  readonly liveUntilCleared: boolean | undefined;

  constructor(
    private readonly fd: DeviceFile,
    readonly device: number,
  ) {
    const d = fd.driver;
    if (d.updateLock !== undefined) this.driverLock = d.updateLock;
    this.mm = d.mm;
    this.pt = d.pt;
    this.tlb = d.tlb;
    this.mirror = d.mirror;
    this.pgmapOwner = d.pgmapOwner;
    this.liveUntilCleared = d.liveUntilCleared;
  }

  /** On the prototype: a spread copy (`{ ...dmirrorDevice(fd, n), read }`) keeps every member but this. */
  get closed(): boolean {
    return this.fd.driver.closed;
  }

  // Own properties, not methods, so a spread copy keeps them.
  readonly updateLockHeld = (): boolean => this.fd.driver.updateLockHeld();
  readonly owns = (pfn: number): boolean => this.fd.driver.owns(pfn);
  readonly read = (addr: number, npages: number) => this.fd.task.read(addr, npages);
  readonly write = (addr: number, bytes: Uint8Array) => this.fd.task.write(addr, bytes);
  readonly migrate = (addr: number, npages: number) => this.fd.task.migrate(addr, npages);
  readonly exclusive = (addr: number, npages: number) => this.fd.task.exclusive(addr, npages);
  readonly release = (addr: number, npages: number) => this.fd.task.release(addr, npages);
  readonly launch = <T>(kernel: DeviceKernel<T>, opts?: LaunchOptions & { preemptible?: boolean }) =>
    this.fd.task.launch(kernel, opts);
  readonly close = () => this.fd.task.close();
}

/** The ExploreDevice view of an open /dev/hmm_dmirrorN. */
export function dmirrorDevice(fd: DeviceFile, device: number): Omit<ExploreDevice, 'name'> {
  return new DmirrorExploreDevice(fd, device);
}

/** The reference dmirror driver, opened through the facade (sim.openDevice). */
export const correctDmirror: ScenarioDriverFactory = (sim: Simulator, device: number, p: Process) =>
  dmirrorDevice(sim.openDevice(device, p), device);

/** dmirror with one of the broken-driver variants of src/drivers/dmirror/variants.ts switched on. */
export function dmirrorVariant(variant: DmirrorVariant): ScenarioDriverFactory {
  if (variant === 'correct') return correctDmirror;
  const f: ScenarioDriverFactory = (sim, device, p) =>
    dmirrorDevice(sim.openDevice(device, p, { variant }), device);
  Object.defineProperty(f, 'name', { value: variant });
  return f;
}

/**
 * A driver of today's API (test_hmm or one of its broken variants), opened through the facade with
 * `{ api: 'modern' }` on machines that follow v6.19's mm.
 */
export function modernDriver(name: string): ScenarioDriverFactory {
  const f = (sim: Simulator, device: number, p: Process) =>
    dmirrorDevice(sim.openDevice(device, p, { api: 'modern', variant: name }), device);
  Object.defineProperty(f, 'name', { value: name });
  return Object.assign(f, { kernel: 'v6.19' as const, api: 'modern' as const });
}

/** Driver names are [A-Za-z0-9_.-]+ (they go into replay strings). */
const NAME = /^[A-Za-z0-9_.-]+$/;

/**
 * The drivers the explorer can run a scenario on, by name: the built-in ones of the simulator's
 * registry (src/drivers/registry.ts: 'correct' and the broken variants on the seed API, 'test_hmm'
 * and its broken variants on today's, opened through sim.openDevice), plus what register() adds. An explorer-owned registry: pass one as explore()'s
 * and replay()'s `drivers` option; nothing is shared unless you share it.
 */
export class ExploreDrivers {
  private readonly factories = new Map<string, ScenarioDriverFactory>();
  private readonly builtin: ReadonlySet<string>;

  constructor() {
    const registry = DriverRegistry.withBuiltins();
    const names = registry.names();
    for (const v of names) this.factories.set(v, dmirrorVariant(v as DmirrorVariant));
    const modern = registry.names('modern');
    for (const v of modern) this.factories.set(v, modernDriver(v));
    this.builtin = new Set([...names, ...modern]);
  }

  /**
   * Makes a driver available by name (explore's `driver` option, replay strings, the CLI). The
   * built-in names are taken: replacing one would change what every replay string recorded on it
   * means. Registering a user name again replaces it.
   */
  register(name: string, factory: ScenarioDriverFactory): void {
    if (typeof name !== 'string' || !NAME.test(name))
      throw new ArgumentError('name', `driver names are [A-Za-z0-9_.-]+, got '${String(name)}'`);
    if (this.builtin.has(name))
      throw new ArgumentError(
        'name',
        `'${name}' is a built-in driver and cannot be replaced; register yours under another name`,
      );
    if (typeof factory !== 'function')
      throw new ArgumentError(
        'factory',
        `expected a ScenarioDriverFactory function, got ${factory === null ? 'null' : typeof factory}`,
      );
    this.factories.set(name, factory);
  }

  /** Every driver name, 'correct' first. */
  names(): string[] {
    return [...this.factories.keys()];
  }

  /** The factory registered under `name`; ArgumentError listing the known names otherwise. */
  byName(name: string): ScenarioDriverFactory {
    const f = this.factories.get(name);
    if (f === undefined)
      throw new ArgumentError('driver', `unknown driver '${name}'; known: ${this.names().join(', ')}`);
    return f;
  }
}
