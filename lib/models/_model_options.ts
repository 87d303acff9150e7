/**
 * Shared options, validation and layer plumbing of the model builders (private).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { abs } from "./abs_layer.ts";
import { checkOptionKeys } from "../util/options.ts";

/** The piecewise-affine convex activations the builders can use (Proposition 2). */
export type Activation = "relu" | "leakyRelu" | "abs";

/** Options every model builder accepts. */
export interface ModelOptions {
  /** C: the number of classes, the width of the final (logit) layer; integer ≥ 2, default 10. */
  readonly classes?: number;
  /** Per-example input shape; default `[32, 32, 3]` (CIFAR/SVHN). MNIST is `[28, 28, 1]`. */
  readonly inputShape?: readonly number[];
  /** Batch-norm before every activation, replacing the preceding layer's bias; default true. */
  readonly batchNorm?: boolean;
  /**
   * Seed of the Glorot-uniform (Xavier) kernel initializers: the same seed gives the same
   * weights. Each layer gets its own seed derived from this one. Default: unseeded.
   */
  readonly seed?: number;
  /** The activation after every hidden layer; default `"relu"`. */
  readonly activation?: Activation;
  /** The negative slope of `"leakyRelu"`, in [0, 1); default 0.3 (tfjs's default). */
  readonly alpha?: number;
}

/** {@linkcode ModelOptions} with defaults filled in and checked. */
export interface ResolvedModelOptions {
  readonly classes: number;
  readonly inputShape: number[];
  readonly batchNorm: boolean;
  readonly seed: number | undefined;
  readonly activation: Activation;
  readonly alpha: number;
}

const ACTIVATIONS: readonly Activation[] = ["relu", "leakyRelu", "abs"];

/** The keys of {@linkcode ModelOptions}. */
export const MODEL_OPTION_KEYS: Readonly<Record<keyof ModelOptions, true>> = {
  classes: true,
  inputShape: true,
  batchNorm: true,
  seed: true,
  activation: true,
  alpha: true,
};

/**
 * Fills in defaults and validates the common options.
 *
 * @param model The builder's name, for messages.
 * @param options The user's options.
 * @param image True when the model needs an `[H, W, C]` input.
 * @param keys Every option key the builder reads (an unknown one is refused).
 * @returns The resolved options.
 */
export function resolveModelOptions(
  model: string,
  options: ModelOptions,
  image: boolean,
  keys: Readonly<Record<string, true>> = MODEL_OPTION_KEYS,
): ResolvedModelOptions {
  const what = `Cannot build ${model}`;
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${what}: options is ${options}, expected an object`);
  }
  checkOptionKeys(options, keys, what);
  const classes = options.classes ?? 10;
  if (!Number.isInteger(classes) || classes < 2) {
    throw new RangeError(`${what}: classes is ${classes}, expected an integer ≥ 2`);
  }
  const inputShape = options.inputShape ?? [32, 32, 3];
  const shapeText = Array.isArray(inputShape) ? `[${inputShape.join(", ")}]` : `${inputShape}`;
  if (
    !Array.isArray(inputShape) || inputShape.length === 0 ||
    !inputShape.every((d) => Number.isInteger(d) && d >= 1)
  ) {
    throw new RangeError(
      `${what}: inputShape is ${shapeText}, expected a list of positive integers`,
    );
  }
  if (image && inputShape.length !== 3) {
    throw new RangeError(
      `${what}: inputShape is ${shapeText}, expected 3 positive integers [height, width, channels]`,
    );
  }
  const batchNorm = options.batchNorm ?? true;
  if (typeof batchNorm !== "boolean") {
    throw new TypeError(`${what}: batchNorm is ${batchNorm}, expected true or false`);
  }
  const seed = options.seed;
  if (seed !== undefined && !Number.isSafeInteger(seed)) {
    throw new RangeError(`${what}: seed is ${seed}, expected an integer`);
  }
  const activation = options.activation ?? "relu";
  if (!ACTIVATIONS.includes(activation)) {
    throw new RangeError(
      `${what}: activation is ${JSON.stringify(activation)}, expected one of ${
        ACTIVATIONS.map((a) => `"${a}"`).join(", ")
      }`,
    );
  }
  const alpha = options.alpha ?? 0.3;
  if (typeof alpha !== "number" || !(alpha >= 0 && alpha < 1)) {
    throw new RangeError(`${what}: alpha is ${alpha}, expected a number in [0, 1)`);
  }
  return { classes, inputShape: [...inputShape], batchNorm, seed, activation, alpha };
}

/**
 * Validates a list of positive integers (layer widths, block counts).
 *
 * @param model The builder's name, for messages.
 * @param name The option's name.
 * @param value The user's value, or undefined.
 * @param fallback The default.
 * @param rule `length`: the required length (any when absent); `min`: smallest entry (1).
 * @returns A copy of the list.
 */
export function integerList(
  model: string,
  name: string,
  value: readonly number[] | undefined,
  fallback: readonly number[],
  rule: { length?: number; min?: number } = {},
): number[] {
  const list = value ?? fallback, min = rule.min ?? 1;
  const ok = Array.isArray(list) && (rule.length === undefined || list.length === rule.length) &&
    list.every((v) => Number.isInteger(v) && v >= min);
  if (!ok) {
    const text = Array.isArray(list) ? `[${list.join(", ")}]` : `${list}`;
    const count = rule.length === undefined ? "a list of" : `${rule.length}`;
    throw new RangeError(
      `Cannot build ${model}: ${name} is ${text}, expected ${count} integers ≥ ${min}`,
    );
  }
  return [...list];
}

/** One spatial step of a convolutional plan, for size checks. */
export type SpatialStep =
  | {
    readonly op: "conv";
    readonly kernel: number;
    readonly padding: Padding;
    readonly name: string;
  }
  | { readonly op: "pool"; readonly size: number; readonly name: string };

/** Convolution padding: `valid` (none), `same` ((k−1)/2 each side), `full` (k−1 each side). */
export type Padding = "valid" | "same" | "full";

/** The spatial size after one step, or 0 when the step does not fit. */
function stepSize(n: number, step: SpatialStep): number {
  if (step.op === "pool") return Math.floor(n / step.size);
  if (step.padding === "same") return n;
  if (step.padding === "full") return n + step.kernel - 1;
  return Math.max(0, n - step.kernel + 1);
}

/**
 * Checks that an `[H, W, C]` input fits a plan (every step keeps ≥ 1 pixel); throws a
 * RangeError naming the input shape, the failing step and the smallest input that fits.
 *
 * @param model The builder's name, for messages.
 * @param inputShape `[H, W, C]`.
 * @param steps The plan.
 * @returns The `[H, W]` sizes after every step.
 */
export function checkSpatial(
  model: string,
  inputShape: readonly number[],
  steps: readonly SpatialStep[],
): [number, number][] {
  const run = (h: number, w: number) => {
    const sizes: [number, number][] = [];
    for (const step of steps) {
      h = stepSize(h, step);
      w = stepSize(w, step);
      sizes.push([h, w]);
      if (h < 1 || w < 1) return { sizes, failed: step };
    }
    return { sizes, failed: undefined };
  };
  const [H, W] = inputShape;
  const { sizes, failed } = run(H, W);
  if (failed) {
    let smallest = 1;
    while (run(smallest, smallest).failed && smallest < 1 << 16) smallest++;
    const [h, w] = sizes[sizes.length - 1];
    throw new RangeError(
      `Cannot build ${model}: inputShape [${
        inputShape.join(", ")
      }] is too small: the spatial size is ${h}×${w} after ${failed.name} (the smallest square input that fits is ${smallest}×${smallest})`,
    );
  }
  return sizes;
}

/**
 * Makes the layers of one model: seeded Glorot-uniform initializers (each layer its own
 * derived seed) and the configured activation.
 */
export class LayerMaker {
  #seed: number | undefined;
  #count = 0;
  #options: ResolvedModelOptions;

  /**
   * Creates a maker for one model.
   *
   * @param options The resolved options.
   */
  constructor(options: ResolvedModelOptions) {
    this.#options = options;
    this.#seed = options.seed;
  }

  /**
   * A Glorot-uniform initializer with the next derived seed (unseeded without a seed).
   *
   * @returns The initializer.
   */
  kernelInitializer(): ReturnType<typeof tf.initializers.glorotUniform> {
    const i = this.#count++;
    if (this.#seed === undefined) return tf.initializers.glorotUniform({});
    return tf.initializers.glorotUniform({ seed: deriveSeed(this.#seed, i) });
  }

  /**
   * A 2D convolution, stride 1, `valid` or `same` padding, Glorot-uniform kernel.
   *
   * @param name Layer name.
   * @param config `filters`, `kernel`, `padding`, `bias`, and an optional `inputShape`.
   * @returns The layer.
   */
  conv(
    name: string,
    config: {
      filters: number;
      kernel: number;
      padding: "valid" | "same";
      bias: boolean;
      inputShape?: number[];
    },
  ): tf.layers.Layer {
    return tf.layers.conv2d({
      name,
      filters: config.filters,
      kernelSize: config.kernel,
      strides: 1,
      padding: config.padding,
      useBias: config.bias,
      kernelInitializer: this.kernelInitializer(),
      biasInitializer: "zeros",
      ...(config.inputShape ? { inputShape: config.inputShape } : {}),
    });
  }

  /**
   * A dense layer with a Glorot-uniform kernel and no activation.
   *
   * @param name Layer name.
   * @param config `units`, `bias`, and an optional `inputShape`.
   * @returns The layer.
   */
  dense(
    name: string,
    config: { units: number; bias: boolean; inputShape?: number[] },
  ): tf.layers.Layer {
    return tf.layers.dense({
      name,
      units: config.units,
      useBias: config.bias,
      kernelInitializer: this.kernelInitializer(),
      biasInitializer: "zeros",
      ...(config.inputShape ? { inputShape: config.inputShape } : {}),
    });
  }

  /**
   * The configured activation as its own layer, named `<prefix><relu|leaky_relu|abs><suffix>`.
   *
   * @param prefix Prepended to the activation's name.
   * @param suffix Appended to the activation's name.
   * @returns The layer.
   */
  activation(prefix: string, suffix: string): tf.layers.Layer {
    const { activation, alpha } = this.#options;
    if (activation === "leakyRelu") {
      return tf.layers.leakyReLU({ name: `${prefix}leaky_relu${suffix}`, alpha });
    }
    if (activation === "abs") return abs({ name: `${prefix}abs${suffix}` });
    return tf.layers.reLU({ name: `${prefix}relu${suffix}` });
  }
}

/** A 32-bit seed for layer i from the model's seed (murmur3 finalizer mixing). */
function deriveSeed(seed: number, i: number): number {
  const fmix = (h: number) => {
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  };
  const lo = seed | 0, hi = Math.floor(seed / 2 ** 32) | 0;
  return fmix(fmix(lo ^ fmix(hi + 0x9e3779b9)) + Math.imul(i + 1, 0x9e3779b1));
}

/** One step of a plain convolutional network (smallCNN, largeCNN). */
export type ConvNetStep =
  | {
    readonly op: "conv";
    readonly filters: number;
    readonly kernel: number;
    readonly padding: Padding;
    /** False to skip batch-norm here (and keep the bias) even when the model uses it. */
    readonly batchNorm?: boolean;
  }
  | { readonly op: "pool" };

/**
 * Builds a sequential network from a plan: each conv step becomes
 * `[pad<i>] → conv<i> → [bn<i>] → <activation><i>` (pad only for `full`; with batch-norm
 * the conv has no bias), each pool step `pool<j>` (2×2 max, stride 2, valid); then
 * `flatten` → `logits` (dense C, linear, no bias).
 *
 * @param model The builder's name, for messages.
 * @param options The resolved options (an `[H, W, C]` input).
 * @param plan The steps.
 * @returns The model, named `model`.
 */
export function convNet(
  model: string,
  options: ResolvedModelOptions,
  plan: readonly ConvNetStep[],
): tf.LayersModel {
  let convs = 0, pools = 0;
  const spatial: SpatialStep[] = plan.map((s) =>
    s.op === "conv"
      ? { op: "conv", kernel: s.kernel, padding: s.padding, name: `conv${++convs}` }
      : { op: "pool", size: 2, name: `pool${++pools}` }
  );
  checkSpatial(model, options.inputShape, spatial);
  const make = new LayerMaker(options);
  const layers: tf.layers.Layer[] = [];
  const first = () => layers.length === 0 ? { inputShape: options.inputShape } : {};
  convs = pools = 0;
  for (const step of plan) {
    if (step.op === "pool") {
      layers.push(tf.layers.maxPooling2d({
        name: `pool${++pools}`,
        poolSize: 2,
        strides: 2,
        padding: "valid",
        ...first(),
      }));
      continue;
    }
    const i = ++convs;
    const bn = options.batchNorm && step.batchNorm !== false;
    if (step.padding === "full") {
      layers.push(
        tf.layers.zeroPadding2d({ name: `pad${i}`, padding: step.kernel - 1, ...first() }),
      );
    }
    layers.push(make.conv(`conv${i}`, {
      filters: step.filters,
      kernel: step.kernel,
      padding: step.padding === "same" ? "same" : "valid",
      bias: !bn,
      ...first(),
    }));
    if (bn) layers.push(tf.layers.batchNormalization({ name: `bn${i}`, axis: -1 }));
    layers.push(make.activation("", `${i}`));
  }
  layers.push(tf.layers.flatten({ name: "flatten" }));
  layers.push(make.dense("logits", { units: options.classes, bias: false }));
  return tf.sequential({ name: model, layers });
}
