/**
 * Converts a tfjs LayersModel into a {@linkcode SplineNetwork}.
 *
 * @module
 */
import { weightValues } from "./_weight_values.ts";
import type * as tf from "@tensorflow/tfjs";
import { SplineError } from "../util/errors.ts";
import type { Shape, SplineLayer } from "./spline_network.ts";
import { shapeSize, SplineNetwork } from "./spline_network.ts";
import { padFor } from "./_padding.ts";

type Sym = tf.SymbolicTensor;
type Layer = tf.layers.Layer;
// deno-lint-ignore no-explicit-any
type Config = Record<string, any>;

/** What {@linkcode fromLayersModel} converts, for error messages. */
const SUPPORTED = "Dense, Conv2D, ZeroPadding2D, BatchNormalization, ReLU, LeakyReLU, Abs, " +
  "Activation (relu, linear; softmax at the end), MaxPooling2D, AveragePooling2D, " +
  "GlobalAveragePooling2D, GlobalMaxPooling2D, Flatten, Reshape (to a vector), Dropout and " +
  "other inference-time identities, Add, and nested models built of these";

/** Layers that are the identity at inference. */
const IDENTITY = new Set([
  "Dropout",
  "SpatialDropout1D",
  "SpatialDropout2D",
  "GaussianNoise",
  "GaussianDropout",
  "AlphaDropout",
]);

function inputsOf(t: Sym): Sym[] {
  return t.sourceLayer.inboundNodes[t.nodeIndex].inputTensors;
}

function exampleShape(t: Sym): number[] {
  return t.shape.slice(1).map((d) => {
    if (d === null) {
      throw new SplineError(
        `Cannot convert '${t.name}': its shape [${
          t.shape.map(String).join(", ")
        }] has an unknown dimension (expected a fixed per-example shape: give the input its full shape)`,
      );
    }
    return d;
  });
}

function pair(v: number | number[]): [number, number] {
  return Array.isArray(v) ? [v[0], v[1] ?? v[0]] : [v, v];
}

/** A weight as float64, checked finite (a diverged training leaves NaN weights behind). */
function f64(t: tf.Tensor, layer: string, what: string): Float64Array {
  const v = Float64Array.from(weightValues(t, layer, what));
  const bad = v.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) {
    throw new SplineError(
      `Cannot convert layer '${layer}': its ${what} holds ${
        v[bad]
      } at index ${bad} (expected finite weights)`,
    );
  }
  return v;
}

function channelsLast(name: string, cfg: Config) {
  if (cfg.dataFormat !== undefined && cfg.dataFormat !== "channelsLast") {
    throw new SplineError(
      `Cannot convert layer '${name}': dataFormat '${cfg.dataFormat}' is not supported (channelsLast only)`,
    );
  }
}

/** The spline layer for an activation name, or none for `linear`. */
function activation(
  layerName: string,
  act: string | undefined,
  shape: Shape,
  isLast: boolean,
): SplineLayer[] {
  const base = { name: layerName, inputShape: shape, outputShape: shape };
  switch (act ?? "linear") {
    case "linear":
      return [];
    case "relu":
      return [{ ...base, kind: "relu" }];
    case "softmax":
      if (isLast) return [];
      throw new SplineError(
        `Cannot convert layer '${layerName}': softmax is only allowed as the network's final activation`,
      );
    default:
      throw new SplineError(
        `Cannot convert layer '${layerName}': activation '${act}' is not a max-affine spline (supported: relu, linear; softmax at the end; or a ReLU, LeakyReLU or Abs layer)`,
      );
  }
}

/** Converts one single-input tfjs layer into spline layers. */
function convert(layer: Layer, input: Shape, output: Shape, isLast: boolean): SplineLayer[] {
  const cls = layer.getClassName();
  const name = layer.name;
  const cfg = layer.getConfig() as Config;
  const w = layer.getWeights();
  const base = { name, inputShape: input, outputShape: output };
  switch (cls) {
    case "Dense": {
      const units = cfg.units as number;
      const dense: SplineLayer = {
        ...base,
        kind: "dense",
        units,
        kernel: f64(w[0], name, "kernel"),
        bias: cfg.useBias ? f64(w[1], name, "bias") : null,
      };
      return [dense, ...activation(name, cfg.activation, output, isLast)];
    }
    case "Conv2D": {
      channelsLast(name, cfg);
      const dil = pair(cfg.dilationRate ?? 1);
      if (dil[0] !== 1 || dil[1] !== 1) {
        throw new SplineError(
          `Cannot convert layer '${name}': dilation [${dil}] is not supported (1 only)`,
        );
      }
      const k = pair(cfg.kernelSize), s = pair(cfg.strides ?? 1);
      const { padding } = padFor(name, cfg.padding, input, k, s);
      const conv: SplineLayer = {
        ...base,
        kind: "conv2d",
        kernel: f64(w[0], name, "kernel"),
        bias: cfg.useBias ? f64(w[1], name, "bias") : null,
        kernelSize: k,
        strides: s,
        padding,
      };
      return [conv, ...activation(name, cfg.activation, output, isLast)];
    }
    case "BatchNormalization": {
      const axis = cfg.axis as number;
      if (axis !== -1 && axis !== input.length) {
        throw new SplineError(
          `Cannot convert layer '${name}': batch-norm on axis ${axis} is not supported (the last axis only)`,
        );
      }
      const c = input[input.length - 1];
      let i = 0;
      const gamma = cfg.scale ? f64(w[i++], name, "gamma") : new Float64Array(c).fill(1);
      const beta = cfg.center ? f64(w[i++], name, "beta") : new Float64Array(c);
      const mean = f64(w[i++], name, "moving mean");
      const variance = f64(w[i++], name, "moving variance");
      const scale = new Float64Array(c), shift = new Float64Array(c);
      for (let j = 0; j < c; j++) {
        scale[j] = gamma[j] / Math.sqrt(variance[j] + cfg.epsilon);
        shift[j] = beta[j] - mean[j] * scale[j];
      }
      return [{ ...base, kind: "channel-affine", scale, shift }];
    }
    case "Activation":
      return activation(name, cfg.activation, output, isLast);
    case "ReLU":
      if (cfg.maxValue !== undefined && cfg.maxValue !== null) {
        throw new SplineError(
          `Cannot convert layer '${name}': ReLU with maxValue ${cfg.maxValue} is not convex, not a max-affine spline`,
        );
      }
      return [{ ...base, kind: "relu" }];
    case "LeakyReLU":
      return [{ ...base, kind: "leaky-relu", alpha: cfg.alpha ?? 0.3 }];
    case "Abs":
      return [{ ...base, kind: "abs" }];
    case "Softmax":
      return activation(name, "softmax", output, isLast);
    case "MaxPooling2D":
    case "AveragePooling2D": {
      channelsLast(name, cfg);
      const p = pair(cfg.poolSize), s = pair(cfg.strides ?? cfg.poolSize);
      const { padding } = padFor(name, cfg.padding ?? "valid", input, p, s);
      const kind = cls === "MaxPooling2D" ? "max-pool" : "avg-pool";
      return [{ ...base, kind, poolSize: p, strides: s, padding }];
    }
    case "GlobalAveragePooling2D":
      channelsLast(name, cfg);
      return [{ ...base, kind: "global-avg-pool" }];
    case "GlobalMaxPooling2D": {
      channelsLast(name, cfg);
      const p: [number, number] = [input[0], input[1]];
      const pooled = [1, 1, input[2]];
      return [
        {
          ...base,
          outputShape: pooled,
          kind: "max-pool",
          poolSize: p,
          strides: p,
          padding: [0, 0, 0, 0],
        },
        { name: `${name}/flatten`, inputShape: pooled, outputShape: output, kind: "flatten" },
      ];
    }
    case "Flatten":
      // channelsFirst flattens (c, h, w) order: not the row-major order of a flatten here
      if (input.length > 1) channelsLast(name, cfg);
      return [{ ...base, kind: "flatten" }];
    case "Reshape":
      if (output.length === 1) return [{ ...base, kind: "flatten" }];
      throw new SplineError(
        `Cannot convert layer '${name}': Reshape from [${input}] to [${output}] is not supported (only to a vector, as a Flatten)`,
      );
    case "ZeroPadding2D": {
      channelsLast(name, cfg);
      const p = cfg.padding as number[][];
      return [{ ...base, kind: "zero-pad", padding: [p[0][0], p[0][1], p[1][0], p[1][1]] }];
    }
  }
  if (IDENTITY.has(cls)) return [];
  throw new SplineError(
    `Cannot convert layer '${name}': ${cls} is not a max-affine spline operator masokit supports (supported: ${SUPPORTED})`,
  );
}

function ancestors(t: Sym, acc: Map<number, Sym>): Map<number, Sym> {
  const stack = [t];
  while (stack.length > 0) {
    const s = stack.pop()!;
    if (acc.has(s.id)) continue;
    acc.set(s.id, s);
    if (s.sourceLayer.getClassName() !== "InputLayer") stack.push(...inputsOf(s));
  }
  return acc;
}

/** The single input and output of a model nested as a layer, or null for another layer. */
function nestedModel(layer: Layer): { input: Sym; output: Sym } | null {
  const m = layer as unknown as Partial<tf.LayersModel>;
  if (!Array.isArray(m.inputs) || !Array.isArray(m.outputs) || !Array.isArray(m.layers)) {
    return null;
  }
  if (m.inputs.length !== 1 || m.outputs.length !== 1) {
    throw new SplineError(
      `Cannot convert layer '${layer.name}': a nested ${layer.getClassName()} with ${m.inputs.length} inputs and ${m.outputs.length} outputs is not supported (expected 1 and 1)`,
    );
  }
  return { input: m.inputs[0], output: m.outputs[0] };
}

/**
 * The layers from tensor `stop` (exclusive) to `end` (inclusive), in forward order; `last`
 * is the model's output when `end` is it (a softmax there is the paper's g, dropped).
 */
function chain(end: Sym, stop: Sym, last: Sym | null): SplineLayer[] {
  const out: SplineLayer[][] = [];
  let t = end;
  // nothing but identity layers (dropout) between this layer and the model's output
  let final = last !== null && end.id === last.id;
  while (t.id !== stop.id) {
    const layer = t.sourceLayer;
    const cls = layer.getClassName();
    if (t.id < stop.id || cls === "InputLayer") {
      throw new SplineError(
        `Cannot convert the model: the path to '${end.name}' does not pass through '${stop.name}' (only sums of paths that fork and rejoin are supported)`,
      );
    }
    const ins = inputsOf(t);
    if (cls === "Add") {
      const common = [
        ...ins.slice(1).reduce(
          (acc, i) => {
            const other = ancestors(i, new Map());
            return new Map([...acc].filter(([id]) => other.has(id)));
          },
          ancestors(ins[0], new Map()),
        ).values(),
      ];
      if (common.length === 0) {
        throw new SplineError(`Cannot convert layer '${layer.name}': its inputs share no ancestor`);
      }
      const fork = common.reduce((a, b) => (b.id > a.id ? b : a));
      const shape = exampleShape(t);
      const shapes = ins.map(exampleShape);
      if (shapes.some((s) => s.length !== shape.length || s.some((d, i) => d !== shape[i]))) {
        throw new SplineError(
          `Cannot convert layer '${layer.name}': Add of inputs shaped ${
            shapes.map((s) => `[${s.join(", ")}]`).join(" and ")
          } broadcasts to [${
            shape.join(", ")
          }], which is not supported (every input must have the output's shape)`,
        );
      }
      out.push([{
        kind: "residual",
        name: layer.name,
        inputShape: exampleShape(fork),
        outputShape: shape,
        paths: ins.map((i) => chain(i, fork, null)),
      }]);
      t = fork;
      final = false;
      continue;
    }
    if (ins.length !== 1) {
      throw new SplineError(
        `Cannot convert layer '${layer.name}': ${cls} with ${ins.length} inputs is not supported (Add is)`,
      );
    }
    const nested = nestedModel(layer);
    if (nested) {
      // a model used as a layer: its own graph, from its input to its output
      out.push(chain(nested.output, nested.input, final ? nested.output : null));
      final = false;
      t = ins[0];
      continue;
    }
    out.push(convert(layer, exampleShape(ins[0]), exampleShape(t), final));
    if (!IDENTITY.has(cls)) final = false;
    t = ins[0];
  }
  return out.reverse().flat();
}

/**
 * Converts a tfjs `LayersModel` (sequential or functional) into a {@linkcode SplineNetwork}:
 * Dense, Conv2D (strides, `valid`/`same`, dilation 1), ZeroPadding2D, BatchNormalization
 * (folded in inference mode: `scale = γ/√(σ²+ε)`, `shift = β − μ·scale`), ReLU, LeakyReLU,
 * `Abs`, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D,
 * Flatten, Reshape to a vector, Dropout (identity), residual `Add` and models nested as
 * layers (converted through). A final softmax is allowed and ignored
 * (it is the paper's g, not a layer). Anything else throws a {@linkcode SplineError}
 * naming the layer. Weights are copied: later training does not change the network.
 *
 * @param model A model with one input and one output.
 * @returns The network.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { fromLayersModel } from "./from_layers_model.ts";
 * import { deepEqual, equal } from "node:assert/strict";
 * const model = tf.sequential({ layers: [
 *   tf.layers.dense({ inputShape: [4], units: 8, activation: "relu" }),
 *   tf.layers.dense({ units: 3, activation: "softmax" }),
 * ] });
 * const net = fromLayersModel(model);
 * deepEqual(net.inputShape, [4]);
 * equal(net.codeLayers.length, 1);
 * equal(net.codeLayers[0].kind, "relu");
 * ```
 */
export function fromLayersModel(model: tf.LayersModel): SplineNetwork {
  const m = model as Partial<tf.LayersModel> | null;
  if (!Array.isArray(m?.inputs) || !Array.isArray(m.outputs) || !Array.isArray(m.layers)) {
    throw new TypeError(
      `Cannot convert the model: ${
        m === null || typeof m !== "object" ? m : `a ${m.constructor?.name ?? "object"}`
      } is not a tf.LayersModel (tf.sequential, tf.model or a loaded model)`,
    );
  }
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new SplineError(
      `Cannot convert the model: it has ${model.inputs.length} inputs and ${model.outputs.length} outputs, expected 1 and 1${
        model.inputs.length === 0
          ? " (an empty Sequential is not built: add layers, the first with an inputShape)"
          : ""
      }`,
    );
  }
  const input = model.inputs[0], output = model.outputs[0];
  const layers = chain(output, input, output);
  const net = new SplineNetwork(exampleShape(input), layers);
  if (shapeSize(net.outputShape) !== shapeSize(exampleShape(output))) {
    throw new SplineError(
      `Cannot convert the model: converted output shape [${net.outputShape}] differs from the model's [${
        exampleShape(output)
      }]`,
    );
  }
  return net;
}
