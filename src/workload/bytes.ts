/**
 * Little-endian field encoding for the workload's node layouts. Pointers are 64-bit in memory (the
 * device follows them as u64) but exact JS numbers below 2^53 on the host, so they are split into
 * two u32 halves with arithmetic: `>>` would truncate an address above 2^31.
 */

const TWO_32 = 2 ** 32;

export function putU32(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value, true);
}

export function putPtr(view: DataView, offset: number, ptr: number): void {
  view.setUint32(offset, ptr % TWO_32, true);
  view.setUint32(offset + 4, Math.floor(ptr / TWO_32), true);
}

export function putU64(view: DataView, offset: number, value: bigint): void {
  view.setBigUint64(offset, value, true);
}

export function getU32(view: DataView, offset: number): number {
  return view.getUint32(offset, true);
}

/** A u64 as a number; exact for every pointer (below 2^53), which is all a workload stores. */
export function getPtr(view: DataView, offset: number): number {
  return view.getUint32(offset + 4, true) * TWO_32 + view.getUint32(offset, true);
}

export function getU64(view: DataView, offset: number): bigint {
  return view.getBigUint64(offset, true);
}

/** A fresh zeroed record of `size` bytes and a view on it. */
export function record(size: number): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(size);
  return { bytes, view: new DataView(bytes.buffer) };
}

/** 100000 -> '100,000', without the host's locale. */
export function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** An address as the report prints it. */
export function hex(addr: number): string {
  return `0x${addr.toString(16)}`;
}
