// dmirror's own modules, and the policies (policy/), re-exported so the public `dmirror` namespace
// keeps the names it had before they moved out. The svm engine joins them in ../dmirror_namespace.ts:
// drivers/svm imports dmirror, never the other way.
export * from '../../policy/policy.js';
export * from './dmirror.js';
export * from './mdevice.js';
export * from './migrate.js';
export * from './pfn.js';
export * from './populate.js';
export * from './resident.js';
export * from './snapshot.js';
export * from './uapi.js';
export * from './variants.js';
