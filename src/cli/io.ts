/**
 * The streams and environment a run of the `hmmsim` command talks to.
 *
 * main() takes them as an argument, so the command runs the same in its own process (the process's
 * streams, see processIo in main.ts) and inside a test (strings captured, a chosen environment),
 * with no child process. What prints reads them here: colours (color.ts) and the progress bar
 * (progress.ts) decide from the current stdout, stderr and environment, not from `process`.
 *
 * The current io is installed by main() for the length of one run and set back afterwards; runs of
 * main() within one process go one after the other (the CLI's actions are synchronous).
 */

/** What the CLI needs of a stream: a write and, for colours and the bar, whether it is a terminal. */
export interface CliStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  /** Terminal width, for the help text. */
  readonly columns?: number;
}

export interface CliIo {
  readonly stdout: CliStream;
  readonly stderr: CliStream;
  /** FORCE_COLOR, NO_COLOR (colours) and CI (the progress bar) are read here. */
  readonly env: NodeJS.ProcessEnv;
}

/** A stream that keeps what is written, for tests and tools that run main() in process. */
export interface CapturedStream extends CliStream {
  readonly text: string;
}

export function captureStream(isTTY = false): CapturedStream {
  let text = '';
  return {
    isTTY,
    write(chunk: string) {
      text += chunk;
      return true;
    },
    get text() {
      return text;
    },
  };
}

let current: CliIo | null = null;

/** The io of the run in progress; the process's own streams outside main(). */
export function cliIo(): CliIo {
  return current ?? { stdout: process.stdout, stderr: process.stderr, env: process.env };
}

/** Runs `f` with `io` as the current io, then sets back the one before. */
export async function withCliIo<T>(io: CliIo, f: () => Promise<T>): Promise<T> {
  const before = current;
  current = io;
  try {
    return await f();
  } finally {
    current = before;
  }
}
