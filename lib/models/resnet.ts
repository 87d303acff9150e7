/**
 * The paper's "ResNet4-4" (Figure 3) as a tfjs functional model.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  checkSpatial,
  integerList,
  LayerMaker,
  MODEL_OPTION_KEYS,
  type ModelOptions,
  resolveModelOptions,
} from "./_model_options.ts";

/** Options of {@linkcode resNet}. */
export interface ResNetOptions extends ModelOptions {
  /** Widths of the three stages; default `[32, 64, 128]`. */
  readonly filters?: readonly [number, number, number];
  /**
   * Identity blocks per stage, after the stage's downsampling block (stages 2 and 3 start
   * with one); integers ≥ 0, default `[12, 11, 11]` as in the authors' code.
   */
  readonly blocks?: readonly [number, number, number];
}

const OPTION_KEYS: Readonly<Record<keyof ResNetOptions, true>> = {
  ...MODEL_OPTION_KEYS,
  filters: true,
  blocks: true,
};

/**
 * Builds the residual network the authors' code calls `resnet_large` ("Resnet 4-4
 * straightened bottleneck"), which we take to be the paper's ResNet4-4; the mapping is
 * not certain (see shared/PAPER_NOTES.md). What we build, as a functional model:
 *
 * - `conv0`: conv3×3(32, same), linear, with bias (always: the skips carry it).
 * - Stage 1: `blocks[0]` pre-activation identity blocks at width 32. Block `s<s>b<j>`:
 *   `bn1 → relu1 → conv1` (3×3, same) `→ bn2 → relu2 → conv2` (3×3, same), then
 *   `add` with the block's input.
 * - Stages 2 and 3: a downsampling block `s<s>b0` to width 64 (then 128): the same two
 *   BN-activation-conv steps, plus `proj` (conv1×1 of the block's input, no bias), `add`,
 *   then `pool` (2×2 average pooling, stride 2) of the sum; then `blocks[s−1]` identity
 *   blocks.
 * - `gap` (global average pooling) → `logits` (dense C, linear, no bias, no softmax).
 *
 * With `batchNorm: false` the `bn` layers are dropped and the block convs get biases.
 * Layer count: 22 + 7·Σblocks with batch-norm (260 by default), 18 + 5·Σblocks without,
 * counting the input layer. The spatial size halves twice (32→16→8); the input must be at
 * least 4×4.
 *
 * @example A tiny ResNet with one identity block per stage
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { resNet } from "./resnet.ts";
 * import { deepEqual, equal } from "node:assert/strict";
 * const model = resNet({ inputShape: [8, 8, 1], filters: [2, 3, 4], blocks: [1, 1, 1], seed: 0 });
 * equal(model.layers.length, 22 + 7 * 3);
 * deepEqual(model.getLayer("gap").outputShape, [null, 4]);
 * deepEqual((model.predict(tf.zeros([2, 8, 8, 1])) as tf.Tensor).shape, [2, 10]);
 * ```
 *
 * @param options `classes` (10), `inputShape` ([32, 32, 3]), `batchNorm` (true), `seed`,
 *   `activation` ("relu"), `alpha`, `filters` ([32, 64, 128]), `blocks` ([12, 11, 11]).
 * @returns An uncompiled functional model.
 * @throws {RangeError} For bad options or an input smaller than 4×4.
 */
export function resNet(options: ResNetOptions = {}): tf.LayersModel {
  const name = "resNet";
  const resolved = resolveModelOptions(name, options, true, OPTION_KEYS);
  const filters = integerList(name, "filters", options.filters, [32, 64, 128], { length: 3 });
  const blocks = integerList(name, "blocks", options.blocks, [12, 11, 11], { length: 3, min: 0 });
  checkSpatial(name, resolved.inputShape, [
    { op: "conv", kernel: 3, padding: "same", name: "conv0" },
    { op: "pool", size: 2, name: "s2b0_pool" },
    { op: "pool", size: 2, name: "s3b0_pool" },
  ]);
  const make = new LayerMaker(resolved);
  const bn = resolved.batchNorm;
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) =>
    layer.apply(x) as tf.SymbolicTensor;

  /** BN → activation → conv3×3(same) ×2: the residual branch of a block. */
  const branch = (x: tf.SymbolicTensor, prefix: string, width: number) => {
    for (const i of [1, 2]) {
      if (bn) x = apply(tf.layers.batchNormalization({ name: `${prefix}bn${i}` }), x);
      x = apply(make.activation(prefix, `${i}`), x);
      x = apply(
        make.conv(`${prefix}conv${i}`, { filters: width, kernel: 3, padding: "same", bias: !bn }),
        x,
      );
    }
    return x;
  };

  const input = tf.input({ shape: resolved.inputShape, name: "input" });
  let x = apply(
    make.conv("conv0", { filters: filters[0], kernel: 3, padding: "same", bias: true }),
    input,
  );
  for (let s = 1; s <= 3; s++) {
    const width = filters[s - 1];
    if (s > 1) {
      const prefix = `s${s}b0_`;
      const main = branch(x, prefix, width);
      const proj = apply(
        make.conv(`${prefix}proj`, { filters: width, kernel: 1, padding: "valid", bias: false }),
        x,
      );
      const sum = apply(tf.layers.add({ name: `${prefix}add` }), [main, proj]);
      x = apply(
        tf.layers.averagePooling2d({
          name: `${prefix}pool`,
          poolSize: 2,
          strides: 2,
          padding: "valid",
        }),
        sum,
      );
    }
    for (let j = 1; j <= blocks[s - 1]; j++) {
      const prefix = `s${s}b${j}_`;
      x = apply(tf.layers.add({ name: `${prefix}add` }), [branch(x, prefix, width), x]);
    }
  }
  x = apply(tf.layers.globalAveragePooling2d({ name: "gap" }), x);
  const logits = apply(make.dense("logits", { units: resolved.classes, bias: false }), x);
  return tf.model({ name, inputs: input, outputs: logits });
}
