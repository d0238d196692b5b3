// The public `dmirror` namespace (src/index.ts): the reference driver and the policies
// (dmirror/index.ts) with the svm engine that services its launches (svm/), under the names they had
// when all three lived in drivers/dmirror/. Here, above both, so that dmirror/ never imports svm/.
export * from './dmirror/index.js';
export * from './svm/evict.js';
export * from './svm/fault.js';
