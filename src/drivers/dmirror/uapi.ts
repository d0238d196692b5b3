/**
 * The dmirror user interface (lib/test_hmm_uapi.h, v5.8–5.13 command numbers): the commands a
 * test issues on /dev/hmm_dmirrorN and the bytes SNAPSHOT reports per page.
 *
 * @see lib/test_hmm_uapi.h (Linux v5.8)
 */

export const HMM_DMIRROR_READ = 0x00;
export const HMM_DMIRROR_WRITE = 0x01;
export const HMM_DMIRROR_MIGRATE = 0x02;
export const HMM_DMIRROR_SNAPSHOT = 0x03;

export const HMM_DMIRROR_PROT_ERROR = 0xff;
export const HMM_DMIRROR_PROT_NONE = 0x00;
export const HMM_DMIRROR_PROT_READ = 0x01;
export const HMM_DMIRROR_PROT_WRITE = 0x02;
export const HMM_DMIRROR_PROT_PMD = 0x04;
export const HMM_DMIRROR_PROT_PUD = 0x08;
export const HMM_DMIRROR_PROT_ZERO = 0x10;
export const HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL = 0x20;
export const HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE = 0x30;

/** Result of READ and MIGRATE: the bytes the device saw, pages processed and fault rounds. */
export interface DmirrorReadResult {
  data: Uint8Array;
  cpages: number;
  faults: number;
}

export interface DmirrorWriteResult {
  cpages: number;
  faults: number;
}

export interface DmirrorSnapshotResult {
  prot: Uint8Array;
  cpages: number;
}
