// Today's lib/test_hmm.c on the modern HMM API: the `testHmm` namespace of the public API.
export * from './device.js';
export * from './dmirror.js';
export * from './exclusive.js';
export * from './fault.js';
export * from './migrate.js';
export * from './snapshot.js';
export * from './uapi.js';
