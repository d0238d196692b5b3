/**
 * The typed arrays a machine allocates for its own bookkeeping (the buddy allocator's free list, a
 * driver's bounce buffers and books), handed back when the machine is discarded and reused by the
 * next machines of this process.
 *
 * Why: V8 keeps a typed array of more than 64 bytes off the JS heap. Allocating one costs 1.3 µs
 * at 65 bytes and 5.5 µs at 8 KiB on the reference machine (a zeroed backing store and an
 * ArrayBuffer extension that the GC sweeps), where zeroing a reused one of 8 KiB costs 0.1 µs. The
 * explorer builds and discards a machine per schedule (Kernel.release), and seven such allocations
 * a schedule were a fifth of its time (docs/performance.md, "The explorer").
 *
 * A machine that is never released simply lets the GC take its arrays (the first TAKEN_MAX when
 * the machine goes).
 */

/** The typed-array classes the pool keeps. */
type ArrayClass = Float64ArrayConstructor | Int32ArrayConstructor | Uint8ArrayConstructor;
type HostArray = Float64Array | Int32Array | Uint8Array;

/** Arrays longer than this many bytes are not kept: a machine sized by the user may be large. */
const SPARE_BYTES_MAX = 64 * 1024;
/** Arrays kept per class and length. */
const SPARES_PER_SIZE = 16;
/** Bytes kept in all (a sweep's machines come in many sizes, each a length of its own). */
const SPARE_BYTES_TOTAL_MAX = 16 * 1024 * 1024;
/**
 * Arrays a machine tracks for release: a schedule's machine takes a few, but a long-lived one may
 * take one per call (a bounce buffer per device read), and those beyond this are left to the GC.
 */
const TAKEN_MAX = 64;

/** Arrays of discarded machines, by class name, then by length: shared by every machine of the process. */
const spares = new Map<string, Map<number, HostArray[]>>();
/** Bytes of the arrays in `spares`. */
let spareBytes = 0;

function sparesOf(cls: string, length: number): HostArray[] {
  let bySize = spares.get(cls);
  if (bySize === undefined) {
    bySize = new Map();
    spares.set(cls, bySize);
  }
  let list = bySize.get(length);
  if (list === undefined) {
    list = [];
    bySize.set(length, list);
  }
  return list;
}

/** One machine's arrays: every one zeroed when handed out, all returned to the pool by release(). */
export class HostArrays {
  private taken: HostArray[] = [];

  /** A zeroed Float64Array of `length`. */
  f64(length: number): Float64Array {
    return this.take(Float64Array, length) as Float64Array;
  }

  /** A zeroed Int32Array of `length`. */
  i32(length: number): Int32Array {
    return this.take(Int32Array, length) as Int32Array;
  }

  /** A zeroed Uint8Array of `length`. */
  u8(length: number): Uint8Array {
    return this.take(Uint8Array, length) as Uint8Array;
  }

  /**
   * Gives every array handed out to the next machines. The caller promises that none of them is
   * used again: the machine is being discarded, and so is everything its calls returned.
   */
  release(): void {
    for (const a of this.taken) {
      const list = sparesOf(a.constructor.name, a.length);
      if (list.length >= SPARES_PER_SIZE || spareBytes + a.byteLength > SPARE_BYTES_TOTAL_MAX) continue;
      list.push(a);
      spareBytes += a.byteLength;
    }
    this.taken = [];
  }

  private take(cls: ArrayClass, length: number): HostArray {
    const bytes = length * cls.BYTES_PER_ELEMENT;
    // On-heap arrays cost nothing to allocate, and large ones are not worth keeping.
    if (bytes <= 64 || bytes > SPARE_BYTES_MAX) return new cls(length);
    if (this.taken.length >= TAKEN_MAX) return new cls(length);
    const spare = spares.get(cls.name)?.get(length)?.pop();
    if (spare !== undefined) spareBytes -= spare.byteLength;
    const a = spare?.fill(0) ?? new cls(length);
    this.taken.push(a);
    return a;
  }
}
