/**
 * Drivers by name. Each Simulator owns one registry (sim.drivers), filled with the built-in
 * drivers (the reference dmirror as 'correct' and its broken variants on the seed API, today's
 * test_hmm as 'test_hmm' on the modern API), to which a user adds his: there is no registry shared
 * between machines. Each name is written against one API generation. The registry also wires every
 * driver it creates to the svm engine (DriverContext.faultService, and ModernDriverContext's for
 * today's API: drivers/svm/modern.ts), so that dmirror's launch
 * needs no import of drivers/svm and the imports between the two point one way (svm uses dmirror's
 * steps).
 */

import { ArgumentError, describeValue } from '../core/errno.js';
import { Dmirror } from './dmirror/dmirror.js';
import { DMIRROR_BROKEN } from './dmirror_broken/index.js';
import type {
  Driver,
  DriverContext,
  DriverFactory,
  HmmApi,
  ModernDriverContext,
  ModernDriverFactory,
} from './driver.js';
import { svmFaultHandler } from './svm/fault.js';
import { svmModernFaultHandler } from './svm/modern.js';
import { TestHmmDmirror } from './test_hmm/dmirror.js';
import { TEST_HMM_BROKEN } from './test_hmm_broken/index.js';

const NAME = /^[A-Za-z0-9_.-]+$/;

/** Drivers by name and API generation: see the file comment. */
export class DriverRegistry {
  private factories = new Map<string, DriverFactory>();
  private modernFactories = new Map<string, ModernDriverFactory>();
  /** Names that cannot be replaced (what replay strings recorded on them means must not change). */
  private builtin = new Set<string>();
  /**
   * False while the three tables are the shared built-in ones (withBuiltins): every machine gets
   * the built-ins without copying them (the explorer builds thousands of machines a second), and
   * the first register() copies them, so no registry ever sees another's additions.
   */
  private owned = true;

  /** Adds a seed-API `factory` under `name`; a built-in name is refused, a user name registered again is replaced. */
  register(name: string, factory: DriverFactory): void {
    this.checkNew(name, factory);
    this.own();
    this.modernFactories.delete(name);
    this.factories.set(name, factory);
  }

  /** Adds a modern-API `factory` under `name` (opened with `{ api: 'modern' }`). */
  registerModern(name: string, factory: ModernDriverFactory): void {
    this.checkNew(name, factory);
    this.own();
    this.factories.delete(name);
    this.modernFactories.set(name, factory);
  }

  /** Copy-on-write: this registry's own copy of the shared built-in tables (see `owned`). */
  private own(): void {
    if (this.owned) return;
    this.factories = new Map(this.factories);
    this.modernFactories = new Map(this.modernFactories);
    this.builtin = new Set(this.builtin);
    this.owned = true;
  }

  private checkNew(name: string, factory: unknown): void {
    if (typeof name !== 'string' || !NAME.test(name))
      throw new ArgumentError('name', `driver names are [A-Za-z0-9_.-]+, got ${describeValue(name)}`);
    if (this.builtin.has(name))
      throw new ArgumentError('name', `'${name}' is a built-in driver and cannot be replaced`);
    if (typeof factory !== 'function')
      throw new ArgumentError('factory', `expected a DriverFactory function, got ${describeValue(factory)}`);
  }

  /** Every name of one API generation (default: the seed's), in registration order, built-in ones first. */
  names(api: HmmApi = 'seed'): string[] {
    return [...(api === 'seed' ? this.factories : this.modernFactories).keys()];
  }

  /** True if `name` is a driver of `api` (default: the seed's). */
  has(name: string, api: HmmApi = 'seed'): boolean {
    return (api === 'seed' ? this.factories : this.modernFactories).has(name);
  }

  /**
   * A new (unopened) instance of the driver `name`, its launches serviced by the svm engine;
   * ArgumentError listing the names otherwise.
   */
  create(name: string, ctx: Omit<DriverContext, 'name' | 'faultService'>): Driver {
    const f = this.factories.get(name);
    if (f === undefined)
      throw new ArgumentError('driver', `unknown driver '${name}'; known: ${this.names().join(', ')}`);
    // Object.assign, not a spread followed by more properties: V8 (Node 20) takes ~2 µs for that
    // form, as long as building the driver (the explorer opens one per schedule).
    return f(Object.assign({}, ctx, { name, faultService: svmFaultHandler }));
  }

  /**
   * A new (unopened) instance of the modern-API driver `name`, its launches serviced by the svm
   * engine's modern service; ArgumentError listing the names otherwise.
   */
  createModern(name: string, ctx: Omit<ModernDriverContext, 'name' | 'faultService'>): Driver {
    const f = this.modernFactories.get(name);
    if (f === undefined)
      throw new ArgumentError(
        'driver',
        `unknown modern-API driver '${name}'; known: ${this.names('modern').join(', ')}`,
      );
    return f(Object.assign({}, ctx, { name, faultService: svmModernFaultHandler }));
  }

  /** Registers a built-in driver: one that register() will not let anyone replace. */
  protected registerBuiltin(name: string, factory: DriverFactory): void {
    this.register(name, factory);
    this.builtin.add(name);
  }

  /**
   * A registry holding the built-in drivers: dmirror as 'correct', then each broken variant of
   * dmirror_broken/ (in the order of variants.ts's catalogue); on the modern API, today's test_hmm
   * as 'test_hmm', then each broken variant of test_hmm_broken/ as 'test_hmm.<name>'.
   */
  static withBuiltins(): DriverRegistry {
    BUILTINS ??= DriverRegistry.buildBuiltins();
    const shared = BUILTINS;
    const r = new DriverRegistry();
    r.factories = shared.factories;
    r.modernFactories = shared.modernFactories;
    r.builtin = shared.builtin;
    r.owned = false;
    return r;
  }

  /** The built-in tables, built once per process and shared by withBuiltins() until written. */
  private static buildBuiltins(): DriverRegistry {
    const r = new DriverRegistry();
    r.registerBuiltin('correct', (ctx) => new Dmirror(ctx));
    for (const [name, factory] of Object.entries(DMIRROR_BROKEN)) r.registerBuiltin(name, factory);
    r.registerModern('test_hmm', (ctx) => new TestHmmDmirror(ctx));
    r.builtin.add('test_hmm');
    for (const [name, v] of Object.entries(TEST_HMM_BROKEN)) {
      r.registerModern(name, v.factory);
      r.builtin.add(name);
    }
    return r;
  }
}

let BUILTINS: DriverRegistry | undefined;
