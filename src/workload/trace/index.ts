/** Memory traces: hmmsim's own format, NVBit mem_trace output, and replaying either as a workload. */

export { clip, parseTrace } from './format.js';
export { parseNvbitTrace } from './nvbit.js';
export {
  parseUint,
  TRACE_ADDR_LIMIT,
  TRACE_SIZE_MAX,
  type TraceRecord,
  TraceSyntaxError,
  type TraceThread,
} from './record.js';
export { TRACE_REGION_GAP, traceWorkload } from './replay.js';
