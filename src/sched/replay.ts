/**
 * The replay string: every scheduling decision of a run, compactly.
 *
 * Only decisions with more than one runnable thread are recorded, as the index chosen in the
 * runnable list (sorted by thread id). The indices are unsigned LEB128 varints, base64url encoded,
 * behind a version prefix: 'hmm1:' + base64url(varint*). Most indices are 0 or 1, so a run of a
 * few hundred decisions is a short string that fits in a bug report or a test.
 */

export const REPLAY_PREFIX = 'hmm1:';

/** Encodes the first `count` choices. */
export function encodeReplay(choices: readonly number[], count = choices.length): string {
  const bytes = new Uint8Array(count * 5);
  let n = 0;
  for (let i = 0; i < count; i++) {
    let v = choices[i]!;
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
      throw new RangeError(`replay choice ${v} is not a u32`);
    while (v >= 0x80) {
      bytes[n++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    bytes[n++] = v;
  }
  return REPLAY_PREFIX + Buffer.from(bytes.buffer, 0, n).toString('base64url');
}

/** Decodes a replay string; throws a descriptive Error if it is malformed. */
export function decodeReplay(replay: string): number[] {
  if (!replay.startsWith(REPLAY_PREFIX)) {
    throw new Error(`malformed replay string: expected it to start with '${REPLAY_PREFIX}', got '${replay}'`);
  }
  const body = replay.slice(REPLAY_PREFIX.length);
  if (!/^[A-Za-z0-9_-]*$/.test(body) || body.length % 4 === 1) {
    throw new Error(`malformed replay string: '${body}' is not base64url`);
  }
  const bytes = Buffer.from(body, 'base64url');
  const out: number[] = [];
  let v = 0;
  let scale = 1;
  let open = false;
  for (const b of bytes) {
    v += (b & 0x7f) * scale;
    if (b & 0x80) {
      scale *= 0x80;
      open = true;
      if (scale > 2 ** 35) throw new Error('malformed replay string: varint longer than 5 bytes');
    } else {
      out.push(v);
      v = 0;
      scale = 1;
      open = false;
    }
  }
  if (open) throw new Error('malformed replay string: truncated varint at the end');
  return out;
}
