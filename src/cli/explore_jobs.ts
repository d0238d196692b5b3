/**
 * `hmmsim explore --jobs N` and `hmmsim explore --merge a.json b.json ...`: a DFS, split DPOR,
 * random or PCT search (src/explore/shard.ts, dpor_shard.ts) cut into N shards run on N worker
 * threads of this process, then merged (`--jobs 1` for dpor: the split search in this process); and the
 * merge of shard results written by `--shard i/n --json` runs, on this machine or others.
 *
 * The worker is this module itself, started with the shard to run in workerData; it posts back the
 * ExploreResult. Only here, in the CLI, is anything asynchronous.
 */

import { readFileSync } from 'node:fs';
import { isMainThread, parentPort, type Worker, workerData } from 'node:worker_threads';
import { InvalidArgumentError } from 'commander';
import { ArgumentError } from '../core/errno.js';
import { type ExploreOptions, type ExploreResult, explore, mergeShards } from '../explore/index.js';
import { type ExploreCliOptions, libraryOptions, printExploreResult } from './explore.js';
import { startModuleWorker } from './worker.js';

/** What a worker is given: the search and its shard. */
interface ShardJob {
  hmmsimExploreShard: true;
  scenario: string;
  opts: ExploreCliOptions;
  index: number;
  count: number;
}

/** Most worker threads `--jobs` starts. */
export const EXPLORE_JOBS_MAX = 64;

/** The library's options for one CLI run, as a shard. */
function shardOptions(opts: ExploreCliOptions, index: number, count: number): ExploreOptions {
  return { ...libraryOptions(opts), shard: { index, count } };
}

/** Runs `jobs` shards of the search on worker threads and prints the merged result; the exit code. */
export async function runExploreJobs(
  scenario: string,
  opts: ExploreCliOptions,
  jobs: number,
  out: (line: string) => void,
): Promise<number> {
  if (jobs > EXPLORE_JOBS_MAX) throw new InvalidArgumentError(`--jobs: at most ${EXPLORE_JOBS_MAX}`);
  // a bad option fails here, once, before any worker starts
  explore(scenario, { ...shardOptions(opts, 0, jobs), schedules: 0 });
  const t0 = process.hrtime.bigint();
  // one job (dpor's split search in one process) needs no worker
  const results =
    jobs === 1
      ? [explore(scenario, shardOptions(opts, 0, 1))]
      : await Promise.all(
          Array.from({ length: jobs }, (_, index) =>
            runWorker({ hmmsimExploreShard: true, scenario, opts, index, count: jobs }),
          ),
        );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const merged = mergeShards(results);
  const r = {
    ...merged,
    schedulesPerSecond: seconds > 0 ? Math.round(merged.schedulesExplored / seconds) : 0,
  };
  printExploreResult(r, opts.json === true, out);
  return r.violation === null ? 0 : 1;
}

function runWorker(job: ShardJob): Promise<ExploreResult> {
  return new Promise((resolve, reject) => {
    const w = startWorker(job);
    w.once('message', (m: { result?: ExploreResult; error?: string }) => {
      if (m.result !== undefined) resolve(m.result);
      else reject(new Error(`explore shard ${job.index}/${job.count}: ${m.error}`));
    });
    w.once('error', reject);
    w.once('exit', (code) => {
      if (code !== 0) reject(new Error(`explore shard ${job.index}/${job.count} exited with ${code}`));
    });
  });
}

/** This module on a worker thread (worker.ts). */
function startWorker(job: ShardJob): Worker {
  return startModuleWorker(new URL(import.meta.url), job);
}

/** Reads the `--shard i/n --json` documents named and prints their merge; the exit code. */
export function runExploreMerge(
  files: readonly string[],
  json: boolean,
  out: (line: string) => void,
): number {
  const results = files.map((f) => {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch (e) {
      throw new InvalidArgumentError(`--merge: cannot read ${f}: ${(e as Error).message}`);
    }
    try {
      return fromJson(JSON.parse(text));
    } catch (e) {
      throw new InvalidArgumentError(
        `--merge: ${f} is not the JSON of an 'explore --shard' run: ${(e as Error).message}`,
      );
    }
  });
  let merged: ExploreResult;
  try {
    merged = mergeShards(results);
  } catch (e) {
    if (e instanceof ArgumentError) throw new InvalidArgumentError(`--merge: ${e.message}`);
    throw e;
  }
  printExploreResult(merged, json, out);
  return merged.violation === null ? 0 : 1;
}

/** An ExploreResult back from the CLI's JSON (where an unbounded bound is the string 'unbounded'). */
function fromJson(doc: Omit<ExploreResult, 'preemptions'> & { preemptions: number | string }): ExploreResult {
  if (typeof doc !== 'object' || doc === null || doc.shard === undefined) throw new Error('no shard field');
  const preemptions = doc.preemptions === 'unbounded' ? Number.POSITIVE_INFINITY : Number(doc.preemptions);
  return { ...doc, preemptions };
}

if (!isMainThread && (workerData as ShardJob | null)?.hmmsimExploreShard === true) {
  const job = workerData as ShardJob;
  try {
    const result = explore(job.scenario, shardOptions(job.opts, job.index, job.count));
    parentPort?.postMessage({ result: { ...result, violation: result.violation } });
  } catch (e) {
    parentPort?.postMessage({ error: e instanceof Error ? e.message : String(e) });
  }
}
