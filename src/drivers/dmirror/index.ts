// The svm engine (drivers/svm/) and the policies (policy/) are re-exported here so the public
// `dmirror` namespace keeps the names it had before they moved out.
export * from '../../policy/policy.js';
export * from '../svm/evict.js';
export * from '../svm/fault.js';
export * from './dmirror.js';
export * from './mdevice.js';
export * from './migrate.js';
export * from './pfn.js';
export * from './populate.js';
export * from './snapshot.js';
export * from './uapi.js';
export * from './variants.js';
