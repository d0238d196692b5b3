/**
 * A deterministic slice of a long run: `--shard i/n` on `hmmsim explore` (subtrees of a DFS search,
 * src/explore/shard.ts) and `hmmsim sweep` (configurations, src/sweep/spec.ts), so independent
 * processes (worker threads, machines under any batch engine) each run one part and a merge joins
 * them. One spelling and one check for both.
 */

import { ArgumentError } from './errno.js';

/** The most parts a run may be split into. */
export const SHARD_COUNT_MAX = 4096;

/** Which part of a sharded run this is. */
export interface ShardSpec {
  /** 0-based index of this shard. */
  index: number;
  /** How many shards the run is split into. */
  count: number;
}

const PROBLEM = `expected <index>/<count> with 0 <= index < count <= ${SHARD_COUNT_MAX}`;

/** Parses 'i/n' into a ShardSpec, or an ArgumentError naming `shard`. */
export function parseShard(text: string): ShardSpec {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const spec = m === null ? null : { index: Number(m[1]), count: Number(m[2]) };
  if (spec === null || !isShard(spec)) throw new ArgumentError('shard', `${PROBLEM}, got '${text}'`);
  return spec;
}

/** Checks a ShardSpec given as an option: `{ index, count }` with 0 <= index < count <= SHARD_COUNT_MAX. */
export function checkShard(s: unknown): ShardSpec {
  const o = s as ShardSpec;
  if (typeof s !== 'object' || s === null || !isShard(o))
    throw new ArgumentError('shard', `${PROBLEM} ({ index, count })`);
  return { index: o.index, count: o.count };
}

function isShard(o: ShardSpec): boolean {
  return (
    Number.isInteger(o.index) &&
    Number.isInteger(o.count) &&
    o.count >= 1 &&
    o.count <= SHARD_COUNT_MAX &&
    o.index >= 0 &&
    o.index < o.count
  );
}
