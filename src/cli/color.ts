/**
 * Colours of the human output (picocolors), decided once for stdout.
 *
 * The decision is explicit rather than picocolors' own, so that it can be stated: colours when
 * FORCE_COLOR is set (non-empty, not '0' or 'false'), else when stdout is a terminal and NO_COLOR
 * is unset or empty (https://no-color.org). JSON output is never coloured: callers print it plain.
 */
import pc from 'picocolors';
import { type CliIo, cliIo } from './io.js';

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

const colorsOf = new WeakMap<CliIo, Colors>();

/** The colours of the current run's stdout (io.ts), decided once per run. */
function currentColors(): Colors {
  const io = cliIo();
  let c = colorsOf.get(io);
  if (c === undefined) {
    c = makeColors(colorEnabled(io.stdout, io.env));
    colorsOf.set(io, c);
  }
  return c;
}

/** The colours of stdout: each one looked up in the current run's colours when it is used. */
export const color: Colors = new Proxy({} as Colors, {
  get: (_target, key) => currentColors()[key as keyof Colors],
});
