/**
 * Backprop: Rodinia's backprop (a two-layer perceptron with 16 hidden units, one training step per
 * iteration). The input layer's weights dominate: 17 floats per input unit (16 hidden units and a
 * bias), in input_weights and input_prev_weights; input_units and the per-block partial sums are a
 * seventeenth of that each, hidden_delta one page.
 *
 * Per iteration: bpnn_layerforward_CUDA walks the weights grid-stride (thread t takes weight pages
 * t, t + threads, ...), reading the input units they multiply and the weights and writing the
 * partial sums; the host then reduces the partial sums, runs the output layer and writes
 * hidden_delta; bpnn_adjust_weights_cuda reads hidden_delta and the input units and updates both
 * weight arrays in place. At the end the host reads the weights back. A producer-consumer pair of
 * kernels over the same large arrays, with a CPU phase between them every iteration.
 */

import type { Workload, WorkloadParams, WorkloadPhase } from './workload.js';
import { ArrayLayout, cpuSweep, gridPhase, pagesIn, readOf, writeOf } from './workload.js';

/** Floats of input_weights per input unit: 16 hidden units and the bias. */
const WEIGHTS_PER_UNIT = 17;

/** Rodinia backprop (see the file comment). */
export function backpropWorkload(p: WorkloadParams): Workload {
  const u = Math.max(1, Math.floor((pagesIn(p.footprint) - 1) / (2 + 2 * WEIGHTS_PER_UNIT)));
  const w = u * WEIGHTS_PER_UNIT;
  const layout = new ArrayLayout();
  const input = layout.add('input_units', u);
  const weights = layout.add('input_weights', w);
  const prev = layout.add('input_prev_weights', w);
  const partial = layout.add('partial_sum', u);
  const delta = layout.add('hidden_delta', 1);
  const unit = (k: number) => Math.floor(k / WEIGHTS_PER_UNIT);
  return {
    name: 'backprop',
    imitates: 'Rodinia backprop: layer-forward and adjust-weights kernels with a host step between',
    arrays: layout.arrays,
    *phases(): Iterable<WorkloadPhase> {
      for (let it = 0; it < p.iterations; it++) {
        yield gridPhase('bpnn_layerforward_CUDA', p.threads, w, (k) => [
          readOf(input + unit(k)),
          readOf(weights + k),
          writeOf(partial + unit(k)),
        ]);
        yield {
          kind: 'cpu',
          name: 'host reduces partial sums, writes hidden_delta',
          *accesses() {
            for (let k = 0; k < u; k++) yield readOf(partial + k);
            yield writeOf(delta);
          },
        };
        yield gridPhase('bpnn_adjust_weights_cuda', p.threads, w, (k) => [
          readOf(delta),
          readOf(input + unit(k)),
          writeOf(weights + k),
          writeOf(prev + k),
        ]);
      }
      yield cpuSweep('host reads the weights', weights, w);
    },
  };
}
