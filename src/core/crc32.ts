/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF): the
 * checksum of zlib, gzip and PNG, and of hmmsim's replay strings (src/explore/replaystring.ts),
 * where it catches a string cut off or mistyped in a copy-paste.
 *
 * @see lib/crc32.c (crc32_le, Linux v5.3): the same polynomial, bit-reflected
 */

const CRC32_POLY = 0xedb88320;

const TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? CRC32_POLY ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of `data` (a string is taken as its UTF-8 bytes), as an unsigned 32-bit integer. */
export function crc32(data: string | Uint8Array): number {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  let c = 0xffffffff;
  for (const b of bytes) c = (TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** crc32 as 8 lowercase hex digits. */
export function crc32Hex(data: string | Uint8Array): string {
  return crc32(data).toString(16).padStart(8, '0');
}
