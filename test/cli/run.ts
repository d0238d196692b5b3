/**
 * Runs the `hmmsim` command in this process through main() with captured streams: what a child
 * process would print and its exit status, without starting node. test/cli/process.test.ts keeps
 * the cases that need a real process (the bin, pipes, signals, /dev/full).
 */

import { captureStream } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `hmmsim <args>` with `env` as its whole environment; stdout and stderr are not terminals. */
export async function hmmsimIn(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  const stdout = captureStream();
  const stderr = captureStream();
  const code = await main(['node', 'hmmsim', ...args], { stdout, stderr, env });
  return { code, stdout: stdout.text, stderr: stderr.text };
}
