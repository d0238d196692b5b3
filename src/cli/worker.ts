/**
 * Worker threads for the commands that spread work over cores (`explore --jobs`, `sweep --jobs`).
 * Only the CLI starts threads: everything below it is synchronous and deterministic.
 */

import { Worker } from 'node:worker_threads';

/**
 * A worker thread running the module at `url` with `workerData`: the built .js as it is, or a .ts
 * source (tests, tsx) loaded after registering tsx's loader inside the worker, because a loader given
 * on the command line does not reach worker threads on every supported Node.
 */
export function startModuleWorker(url: URL, workerData: unknown): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url, { workerData });
  const api = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(api)}).then((t) => { t.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(boot, { eval: true, workerData });
}

/** `name` (without extension) beside the module `from`, in the same form: .ts from source, .js built. */
export function siblingModule(from: string, name: string): URL {
  return new URL(`./${name}${from.endsWith('.ts') ? '.ts' : '.js'}`, from);
}
