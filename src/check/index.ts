/** Invariant checkers: they observe and never mutate (DESIGN.md). */

export { assertAccounting, checkAccounting, type Pins } from './accounting.js';
export {
  checkCoherence,
  coherenceViolations,
  invalidationInFlight,
  type MirrorView,
  tlbViolation,
} from './coherence.js';
export { ShadowMemory, type ShadowPage, type ShadowToken } from './integrity.js';
export { kasanQuiet, takeKasanViolation } from './kasan.js';
export { RulesChecker, type RulesDevice } from './rules.js';
export { type CheckerName, type Violation, ViolationError, violationOfError } from './violation.js';
