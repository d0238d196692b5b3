/**
 * Drivers by name. Each Simulator owns one registry (sim.drivers), filled with the built-in
 * drivers (the reference dmirror as 'correct' and its broken variants), to which a user adds his:
 * there is no registry shared between machines. The registry also wires every driver it creates to
 * the svm engine (DriverContext.faultService), so that dmirror's launch needs no import of drivers/svm
 * and the imports between the two point one way (svm uses dmirror's steps).
 */

import { ArgumentError, describeValue } from '../core/errno.js';
import { Dmirror } from './dmirror/dmirror.js';
import { DMIRROR_BROKEN } from './dmirror_broken/index.js';
import type { Driver, DriverContext, DriverFactory } from './driver.js';
import { svmFaultHandler } from './svm/fault.js';

const NAME = /^[A-Za-z0-9_.-]+$/;

export class DriverRegistry {
  private readonly factories = new Map<string, DriverFactory>();
  /** Names that cannot be replaced (what replay strings recorded on them means must not change). */
  private readonly builtin = new Set<string>();

  /** Adds `factory` under `name`; a built-in name is refused, a user name registered again is replaced. */
  register(name: string, factory: DriverFactory): void {
    if (typeof name !== 'string' || !NAME.test(name))
      throw new ArgumentError('name', `driver names are [A-Za-z0-9_.-]+, got ${describeValue(name)}`);
    if (this.builtin.has(name))
      throw new ArgumentError('name', `'${name}' is a built-in driver and cannot be replaced`);
    if (typeof factory !== 'function')
      throw new ArgumentError('factory', `expected a DriverFactory function, got ${describeValue(factory)}`);
    this.factories.set(name, factory);
  }

  /** Every name, in registration order (the built-in ones first). */
  names(): string[] {
    return [...this.factories.keys()];
  }

  has(name: string): boolean {
    return this.factories.has(name);
  }

  /**
   * A new (unopened) instance of the driver `name`, its launches serviced by the svm engine;
   * ArgumentError listing the names otherwise.
   */
  create(name: string, ctx: Omit<DriverContext, 'name' | 'faultService'>): Driver {
    const f = this.factories.get(name);
    if (f === undefined)
      throw new ArgumentError('driver', `unknown driver '${name}'; known: ${this.names().join(', ')}`);
    return f({ ...ctx, name, faultService: svmFaultHandler });
  }

  /** Registers a built-in driver: one that register() will not let anyone replace. */
  protected registerBuiltin(name: string, factory: DriverFactory): void {
    this.register(name, factory);
    this.builtin.add(name);
  }

  /**
   * A registry holding the built-in drivers: dmirror as 'correct', then each broken variant of
   * dmirror_broken/ (in the order of variants.ts's catalogue).
   */
  static withBuiltins(): DriverRegistry {
    const r = new DriverRegistry();
    r.registerBuiltin('correct', (ctx) => new Dmirror(ctx));
    for (const [name, factory] of Object.entries(DMIRROR_BROKEN)) r.registerBuiltin(name, factory);
    return r;
  }
}
