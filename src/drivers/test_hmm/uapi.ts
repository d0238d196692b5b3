/**
 * today's test_hmm user interface (lib/test_hmm_uapi.h as of v6.19): the commands a test issues on
 * /dev/hmm_dmirrorN, the HMM_DMIRROR_FLAGS bits, the device memory types and the bytes SNAPSHOT
 * reports per page. The seed-API driver keeps the v5.8 numbering in ../dmirror/uapi.ts (there,
 * SNAPSHOT is 0x03: MIGRATE_TO_SYS took that number in v6.1).
 *
 * @see lib/test_hmm_uapi.h (Linux v6.19)
 */

/** The device reads the range through its page table, faulting what it does not map. */
export const HMM_DMIRROR_READ = 0x00;
/** The device writes the range through its page table, faulting what it cannot write. */
export const HMM_DMIRROR_WRITE = 0x01;
/** Migrate the range to device memory (migrate_vma_setup/pages/finalize), then read it. */
export const HMM_DMIRROR_MIGRATE_TO_DEV = 0x02;
/** Migrate this device's pages in the range back to system memory (v6.1). */
export const HMM_DMIRROR_MIGRATE_TO_SYS = 0x03;
/** One HMM_DMIRROR_PROT_* byte per page of the range, without faulting. */
export const HMM_DMIRROR_SNAPSHOT = 0x04;
/** Take the range for device atomics (make_device_exclusive), then read it (v5.14). */
export const HMM_DMIRROR_EXCLUSIVE = 0x05;
/** -EPERM while any device atomic entry of the range remains (v5.14). */
export const HMM_DMIRROR_CHECK_EXCLUSIVE = 0x06;
/** Evict the device's memory by pfn with migrate_device_range (v6.1). */
export const HMM_DMIRROR_RELEASE = 0x07;
/** Set the fault-injection flags (v6.19). */
export const HMM_DMIRROR_FLAGS = 0x08;

/** HMM_DMIRROR_FLAGS: the next device (or system) page allocation of a migration fails, once. */
export const HMM_DMIRROR_FLAG_FAIL_ALLOC = 1 << 0;

// The SNAPSHOT bytes both generations share are the seed uapi's (lib/test_hmm_uapi.h kept them);
// today's file adds the two DEV_COHERENT ones.
export {
  HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL,
  HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE,
  HMM_DMIRROR_PROT_ERROR,
  HMM_DMIRROR_PROT_NONE,
  HMM_DMIRROR_PROT_PMD,
  HMM_DMIRROR_PROT_PUD,
  HMM_DMIRROR_PROT_READ,
  HMM_DMIRROR_PROT_WRITE,
  HMM_DMIRROR_PROT_ZERO,
} from '../dmirror/uapi.js';

/** Device-coherent memory of the device asked. */
export const HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL = 0x40;
/** Another device's coherent memory. */
export const HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE = 0x50;

/** zone_device_type of a device whose memory is MEMORY_DEVICE_PRIVATE (0 is reserved). */
export const HMM_DMIRROR_MEMORY_DEVICE_PRIVATE = 1;
/** A device whose memory is MEMORY_DEVICE_COHERENT. */
export const HMM_DMIRROR_MEMORY_DEVICE_COHERENT = 2;

/** What kind of memory a simulated device has: `DeviceOptions.kind`. */
export type DeviceMemoryKind = 'private' | 'coherent';
/** Every DeviceMemoryKind. */
export const DEVICE_MEMORY_KINDS: readonly DeviceMemoryKind[] = ['private', 'coherent'];

/** Result of the commands that only count pages (MIGRATE_TO_SYS, RELEASE, CHECK_EXCLUSIVE, FLAGS). */
export interface DmirrorCmdResult {
  /** Pages the command processed. */
  cpages: number;
  /** Device fault rounds it took. */
  faults: number;
}
