/**
 * Colours of the human output (picocolors), decided once for stdout.
 *
 * The decision is explicit rather than picocolors' own, so that it can be stated: colours when
 * FORCE_COLOR is set (non-empty, not '0' or 'false'), else when stdout is a terminal and NO_COLOR
 * is unset or empty (https://no-color.org). JSON output is never coloured: callers print it plain.
 */
import pc from 'picocolors';

export type Colors = ReturnType<typeof pc.createColors>;

interface Tty {
  isTTY?: boolean;
}

/** Whether output on `stream` should be coloured under `env`. */
export function colorEnabled(stream: Tty, env: NodeJS.ProcessEnv): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force !== 'false';
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream.isTTY === true;
}

/** Colours (or identity functions) for `enabled`. */
export function makeColors(enabled: boolean): Colors {
  return pc.createColors(enabled);
}

/** The colours of stdout for this process. */
export const color: Colors = makeColors(colorEnabled(process.stdout, process.env));
