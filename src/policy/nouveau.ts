/**
 * The nouveau policy: nouveau's SVM mirrors one page per fault and never migrates on a fault; device
 * memory is filled only by explicit migration (the NOUVEAU_SVM_BIND ioctl's MIGRATE command; in
 * hmmsim DeviceFile.migrate, test_hmm's MIGRATE), best effort; and it never evicts ("FIXME ... over
 * commit"): when device memory is full the migration moves fewer pages and the rest stay in system
 * memory. A CPU fault migrates one page back.
 *
 * @see drivers/gpu/drm/nouveau/nouveau_svm.c (nouveau_svm_fault, nouveau_svmm_bind) and
 *      nouveau_dmem.c (nouveau_dmem_migrate_vma) (Linux v6.19)
 */

import type { MigrationPolicy } from './policy.js';

/** Makes the nouveau policy (it keeps no state; a fresh object keeps its stats apart). */
export function nouveauPolicy(): MigrationPolicy {
  return {
    name: 'nouveau',
    onDeviceFault: () => null,
    chooseVictims: () => [],
  };
}
