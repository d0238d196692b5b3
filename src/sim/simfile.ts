/** A file of the simulated machine: pread/pwrite go through its page cache, as on tmpfs. */

import { PAGE_SIZE } from '../core/addr.js';
import { ENOMEM, HmmError } from '../core/errno.js';
import type { AddressSpace } from '../mm/file.js';
import { checkBufferLength, checkBytes, checkLength } from './args.js';
import type { Simulator } from './simulator.js';

/** A tmpfs-like file of the simulated machine, to map with `Process.mmap` or read and write directly. */
export class SimFile {
  /** The simulator the file lives in. */
  readonly sim: Simulator;
  /** Its page cache (struct address_space), for checkers and tools. */
  readonly mapping: AddressSpace;

  constructor(sim: Simulator, mapping: AddressSpace) {
    this.sim = sim;
    this.mapping = mapping;
  }

  /** The file's size in bytes. */
  get size(): number {
    return this.mapping.size;
  }

  /** Its name, as `Process.vmas` shows it. */
  get name(): string {
    return this.mapping.name;
  }

  /** Writes bytes at offset, growing the file if needed; returns the byte count. */
  pwrite(bytes: Uint8Array, offset: number): number {
    checkBytes('bytes', bytes);
    checkLength('offset', offset, true);
    const mem = this.sim.kernel.mem;
    for (let done = 0; done < bytes.length; ) {
      const pos = offset + done;
      const n = Math.min(PAGE_SIZE - (pos % PAGE_SIZE), bytes.length - done);
      const pfn = this.mapping.findOrCreatePage(mem, Math.floor(pos / PAGE_SIZE), this.mapping.memcgId);
      if (pfn < 0) throw new HmmError(ENOMEM, 'pwrite');
      mem.writeBytes(pfn, pos % PAGE_SIZE, bytes, done, n);
      this.mapping.markDirty(mem, pfn);
      done += n;
    }
    if (offset + bytes.length > this.mapping.size) this.mapping.size = offset + bytes.length;
    return bytes.length;
  }

  /**
   * Reads up to length bytes at offset (short at end of file, as read(2)); holes read as zeros.
   * What is left to read must fit one call (CALL_PAGES_MAX pages), whatever `length` asks.
   */
  pread(length: number, offset: number): Uint8Array {
    checkLength('length', length, true);
    checkLength('offset', offset, true);
    const n = Math.max(0, Math.min(length, this.mapping.size - offset));
    checkBufferLength('length', n);
    const out = new Uint8Array(n);
    const mem = this.sim.kernel.mem;
    for (let done = 0; done < n; ) {
      const pos = offset + done;
      const k = Math.min(PAGE_SIZE - (pos % PAGE_SIZE), n - done);
      const pfn = this.mapping.findPage(Math.floor(pos / PAGE_SIZE));
      if (pfn >= 0) mem.readBytes(pfn, pos % PAGE_SIZE, out, done, k);
      done += k;
    }
    return out;
  }
}
