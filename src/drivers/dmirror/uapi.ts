/**
 * The dmirror user interface (lib/test_hmm_uapi.h, v5.8–5.13 command numbers): the commands a
 * test issues on /dev/hmm_dmirrorN and the bytes SNAPSHOT reports per page.
 *
 * @see lib/test_hmm_uapi.h (Linux v5.8)
 */

/** HMM_DMIRROR_READ: the device reads `npages` from `addr`, faulting them in with hmm_range_fault. */
export const HMM_DMIRROR_READ = 0x00;
/** HMM_DMIRROR_WRITE: the device writes the buffer at `addr`, faulting the pages in writable. */
export const HMM_DMIRROR_WRITE = 0x01;
/** HMM_DMIRROR_MIGRATE: migrate the range into device-private memory (migrate_vma). */
export const HMM_DMIRROR_MIGRATE = 0x02;
/** HMM_DMIRROR_SNAPSHOT: report one HMM_DMIRROR_PROT_* byte per page without faulting anything in. */
export const HMM_DMIRROR_SNAPSHOT = 0x03;

/** The page's entry came back HMM_PFN_ERROR (no vma, a bad access) or HMM_PFN_SPECIAL (no struct page). */
export const HMM_DMIRROR_PROT_ERROR = 0xff;
/** Nothing is mapped at the page (pte_none). */
export const HMM_DMIRROR_PROT_NONE = 0x00;
/** The page is mapped readable. */
export const HMM_DMIRROR_PROT_READ = 0x01;
/** The page is mapped writable. */
export const HMM_DMIRROR_PROT_WRITE = 0x02;
/** The page is mapped by a PMD-level huge entry (2 MiB). */
export const HMM_DMIRROR_PROT_PMD = 0x04;
/** The page is mapped by a PUD-level huge entry (1 GiB). */
export const HMM_DMIRROR_PROT_PUD = 0x08;
/** The page is the shared zero page (a read fault on anonymous memory never written). */
export const HMM_DMIRROR_PROT_ZERO = 0x10;
/** The page is device-private memory owned by this device. */
export const HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL = 0x20;
/** The page is device-private memory owned by another device. */
export const HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE = 0x30;

/** Result of READ and MIGRATE: the bytes the device saw, pages processed and fault rounds. */
export interface DmirrorReadResult {
  /** The bytes the device read (npages * PAGE_SIZE). */
  data: Uint8Array;
  /** cmd.cpages: pages the command completed (read, or migrated for MIGRATE). */
  cpages: number;
  /** cmd.faults: how many times the command had to call dmirror_fault to fill its device page table. */
  faults: number;
}

/** Result of WRITE: pages written and fault rounds, as struct hmm_dmirror_cmd reports them. */
export interface DmirrorWriteResult {
  /** cmd.cpages: pages the device wrote. */
  cpages: number;
  /** cmd.faults: how many times the command had to call dmirror_fault to fill its device page table. */
  faults: number;
}

/** Result of SNAPSHOT: one HMM_DMIRROR_PROT_* byte per page. */
export interface DmirrorSnapshotResult {
  /** One HMM_DMIRROR_PROT_* byte per page of the range, in address order. */
  prot: Uint8Array;
  /** cmd.cpages: pages reported (the whole range on success). */
  cpages: number;
}
