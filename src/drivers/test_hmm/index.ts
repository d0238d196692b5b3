// Today's lib/test_hmm.c on the modern HMM API: the `testHmm` namespace of the public API.
export * from './device.js';
export * from './dmirror.js';
export * from './exclusive.js';
export * from './uapi.js';
