export * from './dmirror.js';
export * from './mdevice.js';
export * from './migrate.js';
export * from './pfn.js';
export * from './populate.js';
export * from './snapshot.js';
export * from './uapi.js';
export * from './variants.js';
