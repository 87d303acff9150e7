/**
 * masokit: the spline theory of deep networks (Balestriero & Baraniuk, ICML 2018) for
 * Deno. Turn a tfjs model (or an ONNX file, e.g. from PyTorch) built of max-affine spline
 * operators into a {@linkcode SplineNetwork} and, for any input, compute exactly the affine map
 * `z(x) = A[x]·x + B[x]` it applies, its class templates, the partition region the
 * input falls in at every layer, and distances between regions.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { affineMap, fromLayersModel, partitionCodes } from "./mod.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * const model = tf.sequential({ layers: [
 *   tf.layers.dense({ inputShape: [4], units: 8, activation: "relu" }),
 *   tf.layers.dense({ units: 3 }),
 * ] });
 * const net = fromLayersModel(model);
 * const x = tf.randomNormal([2, 4]);
 * const { A, B } = affineMap(net, x); // A: [2, 3, 4], B: [2, 3]
 * deepEqual(A.shape, [2, 3, 4]);
 * deepEqual(partitionCodes(net, x).map((c) => c.kind), ["relu"]);
 * ```
 *
 * @module
 */
export * from "./lib/util/errors.ts";
export * from "./lib/network/spline_network.ts";
export * from "./lib/network/batch.ts";
export * from "./lib/network/from_layers_model.ts";
export * from "./lib/network/from_layers_model_async.ts";
export * from "./lib/network/from_onnx.ts";
export * from "./lib/network/layout.ts";
export * from "./lib/network/forward.ts";
export * from "./lib/affine/affine_map.ts";
export * from "./lib/affine/template_inner_products.ts";
export * from "./lib/affine/closed_form.ts";
export * from "./lib/partition/code_layer.ts";
export * from "./lib/partition/codes.ts";
export * from "./lib/backend/backend.ts";
export * from "./lib/spline/max_affine_spline.ts";
export * from "./lib/spline/maso.ts";
export * from "./lib/models/abs_layer.ts";
export * from "./lib/models/small_cnn.ts";
export * from "./lib/models/large_cnn.ts";
export * from "./lib/models/resnet.ts";
export * from "./lib/models/mlp.ts";
export type { Activation, ModelOptions } from "./lib/models/_model_options.ts";
export * from "./lib/train/orthogonality.ts";
export * from "./lib/train/train.ts";
export * from "./lib/train/checkpoint.ts";
export * from "./lib/train/sweep.ts";
export * from "./lib/train/wasm_kernels.ts";
export * from "./lib/train/backend.ts";
export * from "./lib/util/progress.ts";
export * from "./lib/util/rng.ts";
export * from "./lib/partition/distance_matrix.ts";
export * from "./lib/partition/distance.ts";
export * from "./lib/partition/nearest_neighbors.ts";
export * from "./lib/data/load_dataset.ts";
export * from "./lib/data/preprocess.ts";
export * from "./lib/data/types.ts";
export * from "./lib/data/data_error.ts";
export { enableWasmThreads } from "./lib/backend/wasm_threads.ts";
export type { WasmThreadsOptions, WasmThreadsReport } from "./lib/backend/wasm_threads.ts";
export * from "./lib/plot/figure.ts";
export * from "./lib/plot/display.ts";
export * from "./lib/plot/export.ts";
export * from "./lib/plot/histogram.ts";
export * from "./lib/plot/lines.ts";
export * from "./lib/plot/image_grid.ts";
export type { Claim, ExperimentOptions, ExperimentResult } from "./lib/experiments/experiment.ts";
export * from "./lib/experiments/affine_formula.ts";
export * from "./lib/experiments/templates.ts";
export * from "./lib/experiments/memorization.ts";
export * from "./lib/experiments/report.ts";
export * from "./lib/plot/affine_formula.ts";
export * from "./lib/plot/templates.ts";
export * from "./lib/plot/memorization.ts";
export * from "./lib/experiments/orthogonality.ts";
export * from "./lib/experiments/partition_knn.ts";
export {
  PAPER_ARCHITECTURES,
  PAPER_DATASETS,
  paperSweepRegistry,
  type PaperSweepRegistryOptions,
} from "./lib/experiments/sweep_registry.ts";
export * from "./lib/plot/orthogonality.ts";
export * from "./lib/plot/partition_knn.ts";
export { slicePoints, sliceThrough } from "./lib/geometry/input_slice.ts";
export type { CheckedSlice, InputSlice, SliceThroughOptions } from "./lib/geometry/input_slice.ts";
export * from "./lib/geometry/slice_partition.ts";
export * from "./lib/geometry/slice_region_at.ts";
export { linePoints, lineThrough } from "./lib/geometry/input_line.ts";
export type { CheckedLine, InputLine, LineThroughOptions } from "./lib/geometry/input_line.ts";
export * from "./lib/geometry/line_partition.ts";
export * from "./lib/geometry/local_complexity.ts";
export * from "./lib/plot/slice_partition.ts";
export * from "./lib/plot/line_partition.ts";
export type { PartitionFigureOptions } from "./lib/plot/_partition_figure.ts";
export * from "./lib/affine/affine_map_async.ts";
export * from "./lib/affine/template_inner_products_async.ts";
export * from "./lib/partition/codes_async.ts";
export * from "./lib/partition/nearest_neighbors_async.ts";
export * from "./lib/partition/distance_matrix_async.ts";
export {
  setWebGpuAdapterSource,
  webgpuAdapterInfo,
  webgpuContext,
} from "./lib/backend/webgpu/device.ts";
export type { WebGpuAdapterReport, WebGpuContext } from "./lib/backend/webgpu/device.ts";
export * from "./lib/train/webgpu_kernels.ts";
export * from "./lib/backend/webgpu/share_tfjs.ts";
export * from "./lib/backend/webgpu/release_buffers.ts";
export * from "./lib/backend/webgpu/tune.ts";
export {
  clearConvPlans,
  convPlan,
  plannedConvs,
  setConvPlan,
} from "./lib/backend/webgpu/conv_plan.ts";
export type { ConvAlgorithm, ConvPlan } from "./lib/backend/webgpu/conv_plan.ts";
export { gemmTilesOf, setGemmTiles } from "./lib/backend/webgpu/gemm_tiles.ts";
export type { GemmTileChoice } from "./lib/backend/webgpu/gemm_tiles.ts";
export { tuneGemmTiles } from "./lib/backend/webgpu/tune_tiles.ts";
export type { TileTiming, TuneTilesOptions } from "./lib/backend/webgpu/tune_tiles.ts";
export type { GemmSchedule, GemmTileShape } from "./lib/backend/webgpu/kernels/gemm.ts";
