/**
 * Policy parameters in a policy's name: `uvm:threshold=60,thrashing=off`, `kfd:granularity=4,xnack=off`.
 * Each policy declares its parameters (name, kind, range, default); a bad one is an ArgumentError
 * naming `policy` (or the caller's argument) and the parameter, never a silent default.
 */

import { ArgumentError } from '../core/errno.js';

/**
 * One parameter a policy takes: an integer in [min, max], on/off, one of some words, or a size in
 * bytes from a list (written in bytes or with K, M, G: `64K`, `2M`).
 */
export type ParamSpec =
  | { readonly kind: 'int'; readonly min: number; readonly max: number; readonly default: number }
  | { readonly kind: 'size'; readonly values: readonly number[]; readonly default: number }
  | { readonly kind: 'bool'; readonly default: boolean }
  | { readonly kind: 'enum'; readonly values: readonly string[]; readonly default: string };

/** The values a spec table parses to. */
export type ParamValues<S extends Record<string, ParamSpec>> = {
  -readonly [K in keyof S]: S[K] extends { kind: 'int' } | { kind: 'size' }
    ? number
    : S[K] extends { kind: 'bool' }
      ? boolean
      : string;
};

/**
 * `text` (what follows `name:`, or '' for none) as `specs` values, defaults filled in. Errors name
 * `argument` and say which parameter of which policy is wrong.
 */
export function parseParams<S extends Record<string, ParamSpec>>(
  policy: string,
  text: string,
  specs: S,
  argument: string,
): ParamValues<S> {
  const out: Record<string, number | boolean | string> = {};
  for (const [k, s] of Object.entries(specs)) out[k] = s.default;
  if (text === '') return out as ParamValues<S>;
  const seen = new Set<string>();
  for (const item of text.split(',')) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    const spec = Object.hasOwn(specs, key) ? specs[key] : undefined;
    if (spec === undefined)
      throw new ArgumentError(
        argument,
        `${policy} has no parameter '${key}' (it takes ${Object.keys(specs).join(', ') || 'none'})`,
      );
    if (seen.has(key)) throw new ArgumentError(argument, `${policy}: parameter '${key}' given twice`);
    seen.add(key);
    if (eq < 0) throw new ArgumentError(argument, `${policy}: parameter '${key}' needs a value (${key}=...)`);
    out[key] = paramValue(policy, key, item.slice(eq + 1), spec, argument);
  }
  return out as ParamValues<S>;
}

function paramValue(
  policy: string,
  key: string,
  v: string,
  spec: ParamSpec,
  argument: string,
): number | boolean | string {
  if (spec.kind === 'bool') {
    if (v === 'on' || v === '1' || v === 'true') return true;
    if (v === 'off' || v === '0' || v === 'false') return false;
    throw new ArgumentError(argument, `${policy}: parameter '${key}' expects on or off, got '${v}'`);
  }
  if (spec.kind === 'enum') {
    if (spec.values.includes(v)) return v;
    throw new ArgumentError(
      argument,
      `${policy}: parameter '${key}' expects ${spec.values.join(' or ')}, got '${v}'`,
    );
  }
  if (spec.kind === 'size') return sizeValue(policy, key, v, spec.values, argument);
  const n = /^\d{1,9}$/.test(v) ? Number(v) : Number.NaN;
  if (!(n >= spec.min && n <= spec.max))
    throw new ArgumentError(
      argument,
      `${policy}: parameter '${key}' expects an integer in ${spec.min}..${spec.max}, got '${v}'`,
    );
  return n;
}

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 };

/** A size: bytes, or a number with K, M or G (either case), that must be one of `values`. */
function sizeValue(
  policy: string,
  key: string,
  v: string,
  values: readonly number[],
  argument: string,
): number {
  const m = /^(\d{1,12})([kKmMgG]?)$/.exec(v);
  const n = m === null ? Number.NaN : Number(m[1]) * (SIZE_UNITS[(m[2] as string).toUpperCase()] as number);
  if (values.includes(n)) return n;
  throw new ArgumentError(
    argument,
    `${policy}: parameter '${key}' expects ${values.map(sizeName).join(', ')} (or those in bytes), got '${v}'`,
  );
}

/** 65536 → '64K', 2097152 → '2M'. */
function sizeName(bytes: number): string {
  for (const u of ['G', 'M', 'K'])
    if (bytes % (SIZE_UNITS[u] as number) === 0) return `${bytes / (SIZE_UNITS[u] as number)}${u}`;
  return `${bytes}`;
}
