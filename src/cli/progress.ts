/**
 * A progress bar on stderr (cli-progress) for long runs of the CLI.
 *
 * stdout stays the program's output (TAP, JSON, reports), so the bar is drawn on stderr only, and
 * only where someone watches it: stderr is a terminal and CI is unset. A bar that flashes for a
 * fraction of a second is noise, so it is created lazily, by the first update() at least
 * SHOW_AFTER_MS after the start; a short run never draws anything.
 *
 * Ctrl-C: the work runs synchronously between updates, so a SIGINT handler would only run once the
 * work is over (Ctrl-C would do nothing for minutes). The default action stays instead: the process
 * ends at once, killed by SIGINT, which a shell reports as status 130. For that to leave the
 * terminal as it was, the bar never changes a terminal mode: the cursor stays visible and line wrap
 * stays on (cli-progress's defaults hide the one and turn off the other, and only stop() restores
 * them). test/cli/process.test.ts interrupts a bar in a pseudo-terminal.
 */
import cliProgress from 'cli-progress';
import { type CliStream, cliIo } from './io.js';

export interface Progress {
  /** `done` of the total units of work are finished. */
  update(done: number): void;
  /** The work is over (or abandoned): remove the bar if one was drawn. */
  stop(): void;
}

const SHOW_AFTER_MS = 1000;

/** Draws nothing: for runs whose output would tear a bar (see startProgress). */
export const NO_PROGRESS: Progress = { update() {}, stop() {} };

/** Whether a bar may be drawn at all in this process. */
export function progressAllowed(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && (env.CI === undefined || env.CI === '' || env.CI === 'false');
}

/** A bar labelled `label` over `total` units (Infinity: a count); a no-op object where no bar may be drawn. */
export function startProgress(label: string, total: number): Progress {
  const { stderr, env } = cliIo();
  if (!progressAllowed(stderr, env) || total <= 0) return NO_PROGRESS;
  const started = Date.now();
  let bar: cliProgress.SingleBar | null = null;
  return {
    update(done) {
      if (bar === null) {
        if (Date.now() - started < SHOW_AFTER_MS) return;
        bar = newBar(stderr, label, Number.isFinite(total));
        bar.start(Number.isFinite(total) ? total : 0, done);
      } else bar.update(done);
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}

/** A bar, or for an unknown total (an exhaustive search) a running count. */
function newBar(stream: CliStream, label: string, bounded: boolean): cliProgress.SingleBar {
  return new cliProgress.SingleBar(
    {
      // cli-progress asks only for write, isTTY and columns of its stream (see CliStream)
      stream: stream as NodeJS.WritableStream,
      format: bounded ? `${label} [{bar}] {value}/{total} {duration}s` : `${label} {value} done {duration}s`,
      // The work runs synchronously between updates, so the bar redraws on update, not on a timer.
      synchronousUpdate: true,
      clearOnComplete: true,
      // No terminal modes (see the file comment): an interrupted run has nothing to restore.
      hideCursor: false,
      linewrap: true,
    },
    cliProgress.Presets.legacy,
  );
}

/** `items` mapped through `fn` under a bar labelled `label` that advances one step per item. */
export function mapWithProgress<T, U>(label: string, items: readonly T[], fn: (item: T) => U): U[] {
  const bar = startProgress(label, items.length);
  try {
    return items.map((item, i) => {
      const out = fn(item);
      bar.update(i + 1);
      return out;
    });
  } finally {
    bar.stop();
  }
}
