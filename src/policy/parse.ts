/**
 * Policies by name, as the CLI, the demo, the sweep and `sim.openDevice(..., { policy })` take them:
 * 'none', 'page', 'block:k', and 'uvm', 'kfd', 'nouveau' with parameters after a colon
 * (`uvm:threshold=60,thrashing=off`, `uvm:access_counters=on,ac_granularity=64K`,
 * `kfd:granularity=4,xnack=off`). Each call makes a fresh
 * object, so a policy's state and stats belong to the one device file it is given to.
 */

import { ArgumentError } from '../core/errno.js';
import { POLICY_BLOCK_ORDER_MAX, policyBlock } from './block.js';
import { kfdPolicy } from './kfd.js';
import { nouveauPolicy } from './nouveau.js';
import { parseParams } from './params.js';
import type { MigrationPolicy } from './policy.js';
import {
  UVM_ACCESS_COUNTER_GRANULARITIES,
  UVM_ACCESS_COUNTER_GRANULARITY_DEFAULT,
  UVM_ACCESS_COUNTER_THRESHOLD_DEFAULT,
  UVM_ACCESS_COUNTER_THRESHOLD_MAX,
} from './uvm/access_counters.js';
import { UVM_PREFETCH_THRESHOLD_DEFAULT } from './uvm/prefetch.js';
import { UVM_THRASHING_DEFAULTS } from './uvm/thrashing.js';
import { uvmPolicy } from './uvm/uvm.js';

const D = UVM_THRASHING_DEFAULTS;

/** UVM's parameters: the module parameters by short name, with their ranges and defaults. */
export const UVM_PARAMS = {
  threshold: { kind: 'int', min: 1, max: 100, default: UVM_PREFETCH_THRESHOLD_DEFAULT },
  prefetch: { kind: 'bool', default: true },
  thrashing: { kind: 'bool', default: D.enable },
  thrashing_threshold: { kind: 'int', min: 1, max: 7, default: D.thrashingThreshold },
  pin_threshold: { kind: 'int', min: 1, max: 255, default: D.pinThreshold },
  lapse_usec: { kind: 'int', min: 1, max: 100_000_000, default: D.lapseUs },
  nap: { kind: 'int', min: 1, max: 100, default: D.nap },
  epoch: { kind: 'int', min: 1, max: 1_000_000, default: D.epoch },
  pin: { kind: 'int', min: 0, max: 1_000_000, default: D.pin },
  max_resets: { kind: 'int', min: 0, max: 1_000_000, default: D.maxResets },
  preferred: { kind: 'enum', values: ['none', 'cpu', 'gpu'], default: 'none' },
  access_counters: { kind: 'bool', default: false },
  ac_threshold: {
    kind: 'int',
    min: 1,
    max: UVM_ACCESS_COUNTER_THRESHOLD_MAX,
    default: UVM_ACCESS_COUNTER_THRESHOLD_DEFAULT,
  },
  ac_granularity: {
    kind: 'size',
    values: UVM_ACCESS_COUNTER_GRANULARITIES,
    default: UVM_ACCESS_COUNTER_GRANULARITY_DEFAULT,
  },
} as const;

/** KFD's parameters. */
export const KFD_PARAMS = {
  granularity: { kind: 'int', min: 0, max: POLICY_BLOCK_ORDER_MAX, default: 9 },
  xnack: { kind: 'bool', default: true },
  restore_delay_usec: { kind: 'int', min: 0, max: 100_000_000, default: 1000 },
} as const;

/** The names parsePolicy knows, for help texts. */
export const POLICY_NAMES = "'none', 'page', 'block:k', 'uvm[:k=v,...]', 'kfd[:k=v,...]', 'nouveau'";

function parseUvm(text: string, rest: string, argument: string): MigrationPolicy {
  const v = parseParams('uvm', rest, UVM_PARAMS, argument);
  return uvmPolicy(text, {
    prefetch: v.prefetch,
    threshold: v.threshold,
    enable: v.thrashing,
    thrashingThreshold: v.thrashing_threshold,
    pinThreshold: v.pin_threshold,
    lapseUs: v.lapse_usec,
    nap: v.nap,
    epoch: v.epoch,
    pin: v.pin,
    maxResets: v.max_resets,
    preferred: v.preferred === 'none' ? null : (v.preferred as 'cpu' | 'gpu'),
    accessCounters: v.access_counters,
    acThreshold: v.ac_threshold,
    acGranularity: v.ac_granularity,
  });
}

/** A policy from its name (see the file comment); an ArgumentError naming `argument` otherwise. */
export function parsePolicy(text: string, argument = 'policy'): MigrationPolicy {
  if (typeof text !== 'string')
    throw new ArgumentError(argument, `expected a policy name, got ${typeof text}`);
  if (text === 'none') return { name: 'none', onDeviceFault: () => null };
  if (text === 'page') return policyBlock(0);
  const m = /^block:(\d{1,2})$/.exec(text);
  if (m !== null && Number(m[1]) <= POLICY_BLOCK_ORDER_MAX) return policyBlock(Number(m[1]));
  const colon = text.indexOf(':');
  const head = colon < 0 ? text : text.slice(0, colon);
  const rest = colon < 0 ? '' : text.slice(colon + 1);
  if (head === 'uvm') return parseUvm(text, rest, argument);
  if (head === 'kfd') {
    const v = parseParams('kfd', rest, KFD_PARAMS, argument);
    return kfdPolicy(text, {
      granularity: v.granularity,
      xnack: v.xnack,
      restoreDelayUs: v.restore_delay_usec,
    });
  }
  if (head === 'nouveau') {
    parseParams('nouveau', rest, {}, argument);
    return nouveauPolicy();
  }
  throw new ArgumentError(
    argument,
    `expected ${POLICY_NAMES} (block:k with k in 0..${POLICY_BLOCK_ORDER_MAX}), got '${text}'`,
  );
}

/** A policy object, or its name; ArgumentError naming `policy` otherwise. */
export function checkPolicy(p: string | MigrationPolicy): MigrationPolicy {
  if (typeof p === 'string') return parsePolicy(p, 'policy');
  return checkPolicyObject(p);
}

/** A policy object, or its name (parsePolicy); ArgumentError naming `policy` otherwise. */
export function checkPolicyObject(p: unknown): MigrationPolicy {
  const o = p as Partial<MigrationPolicy> | null;
  if (
    o === null ||
    typeof o !== 'object' ||
    typeof o.onDeviceFault !== 'function' ||
    typeof o.name !== 'string'
  )
    throw new ArgumentError('policy', 'expected a policy name or a MigrationPolicy object');
  for (const hook of [
    'onFaultBatch',
    'chooseVictims',
    'onMigrated',
    'onCpuFault',
    'onRemoteAccess',
    'onAccessCounters',
  ] as const)
    if (o[hook] !== undefined && typeof o[hook] !== 'function')
      throw new ArgumentError('policy', `${o.name}.${hook} must be a function or absent`);
  return o as MigrationPolicy;
}
