/**
 * The one internal representation of a network in masokit: an ordered list of
 * layers, each an affine operator or a max-affine spline nonlinearity, with
 * residual sums as nested lists.
 *
 * @module
 */

/** Per-example shape of a tensor: `[H, W, C]` for images (NHWC), `[D]` for vectors. */
export type Shape = readonly number[];

/** Explicit zero padding of a 2D layer: `[top, bottom, left, right]`. */
export type Padding2D = readonly [number, number, number, number];

/** Fields every layer has. */
export interface LayerBase {
  /** The name of the tfjs layer this came from (or a generated one). */
  readonly name: string;
  /** Per-example input shape. */
  readonly inputShape: Shape;
  /** Per-example output shape. */
  readonly outputShape: Shape;
}

/** Dense (fully connected) layer applied to the last axis: `y = x·W + b`. */
export interface DenseLayer extends LayerBase {
  /** Discriminant. */
  readonly kind: "dense";
  /** Kernel `[in, units]`, row-major (tfjs layout). */
  readonly kernel: Float64Array;
  /** Bias `[units]`, or `null`. */
  readonly bias: Float64Array | null;
  /** Number of outputs. */
  readonly units: number;
}

/** 2D convolution, NHWC, dilation 1, explicit zero padding. */
export interface Conv2DLayer extends LayerBase {
  /** Discriminant. */
  readonly kind: "conv2d";
  /** Kernel `[kh, kw, cin, cout]`, row-major (tfjs layout). */
  readonly kernel: Float64Array;
  /** Bias `[cout]`, or `null`. */
  readonly bias: Float64Array | null;
  /** `[kh, kw]`. */
  readonly kernelSize: readonly [number, number];
  /** `[sh, sw]`. */
  readonly strides: readonly [number, number];
  /** Zero padding added around the input. */
  readonly padding: Padding2D;
}

/** Per-channel affine map on the last axis, `y = x·scale + shift` (batch-norm folded in inference mode). */
export interface ChannelAffineLayer extends LayerBase {
  /** Discriminant. */
  readonly kind: "channel-affine";
  /** Per-channel factor `[C]`. */
  readonly scale: Float64Array;
  /** Per-channel offset `[C]`. */
  readonly shift: Float64Array;
}

/** Zero padding of the two spatial axes. */
export interface ZeroPad2DLayer extends LayerBase {
  /** Discriminant. */
  readonly kind: "zero-pad";
  /** Zeros added around the input. */
  readonly padding: Padding2D;
}

/** 2D average pooling; padded positions are excluded from the mean (tfjs `same`). */
export interface AvgPool2DLayer extends LayerBase {
  /** Discriminant. */
  readonly kind: "avg-pool";
  /** `[ph, pw]`. */
  readonly poolSize: readonly [number, number];
  /** `[sh, sw]`. */
  readonly strides: readonly [number, number];
  /** Padded positions (excluded from each mean). */
  readonly padding: Padding2D;
}

/** Mean over the spatial axes: `[H, W, C] → [C]`. */
export interface GlobalAvgPoolLayer extends LayerBase {
  /** Discriminant. */
  readonly kind: "global-avg-pool";
}

/** Row-major flatten: a relabelling of the same values, no arithmetic. */
export interface FlattenLayer extends LayerBase {
  /** Discriminant. */
  readonly kind: "flatten";
}

/** ReLU, `max(0, x)`: code 1 where `x > 0`, else 0 (a pre-activation of exactly 0 is inactive). */
export interface ReluLayer extends LayerBase {
  /** Discriminant. */
  readonly kind: "relu";
}

/**
 * Leaky ReLU, `x` where `x > 0` and `alpha·x` elsewhere — `max(alpha·x, x)`, a MASO, for
 * `alpha ≤ 1` (tfjs's default 0.3); any finite slope computes exactly: code 1 where `x > 0`.
 */
export interface LeakyReluLayer extends LayerBase {
  /** Discriminant. */
  readonly kind: "leaky-relu";
  /** The slope where inactive. */
  readonly alpha: number;
}

/** Absolute value, `max(-x, x)`: code 1 where `x > 0` (slope +1), else 0 (slope −1). */
export interface AbsLayer extends LayerBase {
  /** Discriminant. */
  readonly kind: "abs";
}

/**
 * 2D max pooling; padded positions never win. The code of an output is the index
 * of its argmax in row-major window order (`ky·pw + kx`); ties pick the first.
 */
export interface MaxPool2DLayer extends LayerBase {
  /** Discriminant. */
  readonly kind: "max-pool";
  /** `[ph, pw]`. */
  readonly poolSize: readonly [number, number];
  /** `[sh, sw]`. */
  readonly strides: readonly [number, number];
  /** Padded positions (never win). */
  readonly padding: Padding2D;
}

/** A sum of paths applied to the same input (a residual block): `y = Σ_p path_p(x)`; `[]` is the identity path. */
export interface ResidualLayer extends LayerBase {
  /** Discriminant. */
  readonly kind: "residual";
  /** The summed paths, each a list of layers. */
  readonly paths: readonly (readonly SplineLayer[])[];
}

/** Affine layers: no partition of their own. */
export type AffineLayer =
  | DenseLayer
  | Conv2DLayer
  | ChannelAffineLayer
  | ZeroPad2DLayer
  | AvgPool2DLayer
  | GlobalAvgPoolLayer
  | FlattenLayer;

/** Nonlinear max-affine spline layers: each one is a code layer. */
export type NonlinearLayer = ReluLayer | LeakyReluLayer | AbsLayer | MaxPool2DLayer;

/** Any layer of a {@linkcode SplineNetwork}. */
export type SplineLayer = AffineLayer | NonlinearLayer | ResidualLayer;

/** The kinds of code layers, in the order partition codes list them. */
export type CodeKind = NonlinearLayer["kind"];

/** Description of one code layer (a nonlinear layer) of a network. */
export interface CodeLayerInfo {
  /** Position among the code layers, from 0. */
  readonly index: number;
  /** The nonlinearity's kind. */
  readonly kind: CodeKind;
  /** The layer's name. */
  readonly name: string;
  /** D^(ℓ): the number of units that carry a code (outputs of the layer). */
  readonly units: number;
  /** Per-example shape of the layer's output. */
  readonly shape: Shape;
  /** The layer itself. */
  readonly layer: NonlinearLayer;
}

/** Number of values in a per-example shape. */
export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** True when the layer is one of the nonlinear (code) layers. */
export function isNonlinear(layer: SplineLayer): layer is NonlinearLayer {
  return layer.kind === "relu" || layer.kind === "leaky-relu" || layer.kind === "abs" ||
    layer.kind === "max-pool";
}

/**
 * A network as a composition of max-affine spline operators (MASOs).
 *
 * Layers run in order; a `residual` layer sums its paths. Nonlinear layers are
 * listed as code layers in execution order: depth first, a residual layer's paths
 * in their order. A MASO layer in the sense of the paper's Definition 1 is a
 * nonlinear layer together with the affine layers before it ({@linkcode SplineNetwork.masoLayers}).
 *
 * @example
 * ```ts
 * import { SplineNetwork } from "./spline_network.ts";
 * import { equal } from "node:assert/strict";
 * const net = new SplineNetwork([2], [
 *   { kind: "dense", name: "d", inputShape: [2], outputShape: [3], units: 3,
 *     kernel: new Float64Array(6).fill(1), bias: null },
 *   { kind: "relu", name: "r", inputShape: [3], outputShape: [3] },
 * ]);
 * equal(net.codeLayers.length, 1);
 * equal(net.outputSize, 3);
 * ```
 */
export class SplineNetwork {
  /** Per-example input shape (NHWC for images). */
  readonly inputShape: Shape;
  /** Per-example output shape. */
  readonly outputShape: Shape;
  /** The layers, in order. */
  readonly layers: readonly SplineLayer[];
  /** The nonlinear layers in execution order, one partition code layer each. */
  readonly codeLayers: readonly CodeLayerInfo[];

  /**
   * Builds a network from layers; checks that consecutive shapes agree.
   *
   * @param inputShape Per-example input shape.
   * @param layers The layers, in order.
   */
  constructor(inputShape: Shape, layers: readonly SplineLayer[]) {
    if (
      !Array.isArray(inputShape) || inputShape.length === 0 ||
      !inputShape.every((d) => Number.isInteger(d) && d > 0)
    ) {
      throw new RangeError(
        `Cannot build network: inputShape is ${
          Array.isArray(inputShape) ? `[${inputShape}]` : inputShape
        }, expected a list of positive integers`,
      );
    }
    if (!Array.isArray(layers)) {
      throw new TypeError(`Cannot build network: layers is ${layers}, expected a list of layers`);
    }
    this.inputShape = [...inputShape];
    this.layers = layers;
    this.outputShape = checkChain(inputShape, layers, "network");
    const codes: CodeLayerInfo[] = [];
    const visit = (ls: readonly SplineLayer[]) => {
      for (const l of ls) {
        if (l.kind === "residual") l.paths.forEach(visit);
        else if (isNonlinear(l)) {
          codes.push({
            index: codes.length,
            kind: l.kind,
            name: l.name,
            units: shapeSize(l.outputShape),
            shape: l.outputShape,
            layer: l,
          });
        }
      }
    };
    visit(layers);
    this.codeLayers = codes;
  }

  /** D: number of input values per example. */
  get inputSize(): number {
    return shapeSize(this.inputShape);
  }

  /** C: number of outputs per example (classes). */
  get outputSize(): number {
    return shapeSize(this.outputShape);
  }

  /**
   * Values per example of the largest tensor a pass over the network holds: the input or
   * a layer's output, residual paths included (engines size their chunks with it).
   */
  get largestActivation(): number {
    let most = this.inputSize;
    const visit = (ls: readonly SplineLayer[]) => {
      for (const l of ls) {
        most = Math.max(most, shapeSize(l.outputShape));
        if (l.kind === "residual") l.paths.forEach(visit);
      }
    };
    visit(this.layers);
    return most;
  }

  /**
   * The MASO layers of Definition 1: each nonlinear layer with the affine layers
   * before it; a residual layer counts as one group, and trailing affine layers
   * (the classifier) form the last group.
   *
   * @returns The top-level layers grouped.
   */
  masoLayers(): SplineLayer[][] {
    const groups: SplineLayer[][] = [];
    let cur: SplineLayer[] = [];
    for (const l of this.layers) {
      cur.push(l);
      if (isNonlinear(l) || l.kind === "residual") {
        groups.push(cur);
        cur = [];
      }
    }
    if (cur.length > 0) groups.push(cur);
    return groups;
  }

  /**
   * Theorem 2's sufficient test for global convexity of every output: the first layer is any
   * MASO layer (its nonlinearity may be abs or a leaky ReLU of negative slope: convex, not
   * monotone); after the first nonlinearity all weights of dense and conv layers are
   * non-negative (batch-norm scales and average pools included) and every nonlinearity is
   * non-decreasing and convex (ReLU, leaky ReLU with `0 ≤ alpha ≤ 1`, max-pool; not abs).
   * A leaky ReLU of slope above 1 is concave (`min(x, alpha·x)`), nowhere allowed. Residual
   * identity paths are non-negative.
   *
   * @returns `true` when the test passes.
   */
  isConvex(): boolean {
    let seenNonlinear = false;
    const ok = (ls: readonly SplineLayer[]): boolean => {
      for (const l of ls) {
        switch (l.kind) {
          case "abs":
            if (seenNonlinear) return false;
            seenNonlinear = true;
            break;
          case "leaky-relu":
            if (l.alpha > 1 || (l.alpha < 0 && seenNonlinear)) return false;
            seenNonlinear = true;
            break;
          case "relu":
          case "max-pool":
            seenNonlinear = true;
            break;
          case "dense":
          case "conv2d":
            if (seenNonlinear && l.kernel.some((w) => w < 0)) return false;
            break;
          case "channel-affine":
            if (seenNonlinear && l.scale.some((w) => w < 0)) return false;
            break;
          case "residual": {
            const before = seenNonlinear;
            let after = before;
            for (const p of l.paths) {
              seenNonlinear = before;
              if (!ok(p)) return false;
              after ||= seenNonlinear;
            }
            seenNonlinear = after;
            break;
          }
          default:
            break;
        }
      }
      return true;
    };
    return ok(this.layers);
  }
}

function same(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

const KINDS = new Set([
  "dense",
  "conv2d",
  "channel-affine",
  "zero-pad",
  "avg-pool",
  "global-avg-pool",
  "flatten",
  "relu",
  "leaky-relu",
  "abs",
  "max-pool",
  "residual",
]);

/** Output length of a window sliding over `n` values (pads `a`, `b`, window `k`, stride `s`). */
const slide = (n: number, a: number, b: number, k: number, s: number) =>
  Math.floor((n + a + b - k) / s) + 1;

/**
 * Checks one layer's own consistency — a known kind, its output shape from its input shape
 * and geometry, its parameters' lengths, finite values — so that a hand-built network fails
 * here, naming the layer, and not later as NaN results.
 */
function checkLayer(l: SplineLayer, where: string): void {
  const what = `Cannot build ${where}: layer '${l?.name}'`;
  if (!KINDS.has(l?.kind)) {
    throw new RangeError(`${what} has kind '${l?.kind}', expected one of ${[...KINDS].join(", ")}`);
  }
  const shapeOk = (s: Shape) =>
    Array.isArray(s) && s.length > 0 && s.every((d) => Number.isInteger(d) && d > 0);
  if (!shapeOk(l.inputShape) || !shapeOk(l.outputShape)) {
    throw new RangeError(
      `${what} has shapes [${l.inputShape}] → [${l.outputShape}], expected positive integers`,
    );
  }
  const rank = (s: Shape, r: number, which: string) => {
    if (s.length !== r) throw new RangeError(`${what}: ${which} shape [${s}] is not of rank ${r}`);
  };
  const params = (name: string, v: Float64Array | null, length: number) => {
    if (v === null && name === "bias") return;
    if (!(v instanceof Float64Array) || v.length !== length) {
      const it = v instanceof Float64Array
        ? `has ${v.length} values`
        : `is ${ArrayBuffer.isView(v) ? `a ${(v as object).constructor.name}` : v}`;
      throw new RangeError(`${what}: ${name} ${it}, expected a Float64Array of ${length}`);
    }
    const bad = v.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new RangeError(`${what}: ${name}[${bad}] is ${v[bad]}, expected finite`);
  };
  const output = (want: Shape) => {
    if (!same(l.outputShape, want)) {
      throw new RangeError(
        `${what}: output shape [${l.outputShape}], its input [${l.inputShape}] and geometry give [${want}]`,
      );
    }
  };
  const positive = (name: string, v: readonly number[]) => {
    if (!Array.isArray(v) || v.length !== 2 || !v.every((d) => Number.isInteger(d) && d > 0)) {
      throw new RangeError(
        `${what}: ${name} ${
          Array.isArray(v) ? `[${v}]` : v
        }, expected positive integers [height, width]`,
      );
    }
  };
  const paddingOk = (v: readonly number[]) => {
    if (!Array.isArray(v) || v.length !== 4 || !v.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new RangeError(
        `${what}: padding ${Array.isArray(v) ? `[${v}]` : v}, expected 4 integers ≥ 0`,
      );
    }
  };
  const [H, W, C] = l.inputShape;
  /** Checks a sliding window's geometry on an `[H, W, C]` input; returns its size. */
  const window = (name: string, size: readonly number[], strides: Shape, padding: Padding2D) => {
    rank(l.inputShape, 3, "input");
    positive(name, size);
    positive("strides", strides);
    paddingOk(padding);
    return size;
  };
  /** The output height and width of a (checked) sliding window. */
  const windows = (size: readonly number[], strides: Shape, padding: Padding2D) => [
    slide(H, padding[0], padding[1], size[0], strides[0]),
    slide(W, padding[2], padding[3], size[1], strides[1]),
  ];
  switch (l.kind) {
    case "dense": // on the last axis
      output([...l.inputShape.slice(0, -1), l.units]);
      params("kernel", l.kernel, l.inputShape.at(-1)! * l.units);
      params("bias", l.bias, l.units);
      break;
    case "conv2d": {
      const [kh, kw] = window("kernel size", l.kernelSize, l.strides, l.padding);
      const co = l.outputShape[2];
      output([...windows(l.kernelSize, l.strides, l.padding), co]);
      params("kernel", l.kernel, kh * kw * C * co);
      params("bias", l.bias, co);
      break;
    }
    case "channel-affine":
      output(l.inputShape);
      params("scale", l.scale, l.inputShape.at(-1)!);
      params("shift", l.shift, l.inputShape.at(-1)!);
      break;
    case "zero-pad": {
      rank(l.inputShape, 3, "input");
      paddingOk(l.padding);
      const [t, b, lf, r] = l.padding;
      output([H + t + b, W + lf + r, C]);
      break;
    }
    case "avg-pool":
    case "max-pool": {
      const [ph, pw] = window("pool size", l.poolSize, l.strides, l.padding);
      const [OH, OW] = windows(l.poolSize, l.strides, l.padding);
      output([OH, OW, C]);
      // every window must cover an input position: a window of padding alone has no maximum
      // (−∞) and no mean (0/0)
      const [pt, , pl] = l.padding, [sh, sw] = l.strides;
      if (pt >= ph || pl >= pw || (OH - 1) * sh - pt >= H || (OW - 1) * sw - pl >= W) {
        throw new RangeError(
          `${what}: padding [${l.padding}] leaves a ${ph} × ${pw} window with no input position (input ${H} × ${W}, strides [${l.strides}]), expected every window to cover one`,
        );
      }
      if (l.kind === "max-pool" && ph * pw > 65536) {
        throw new RangeError(
          `${what}: windows of ${ph} × ${pw} positions, expected at most 65,536 (a max-pool's code is the argmax's 16-bit slot)`,
        );
      }
      break;
    }
    case "global-avg-pool":
      rank(l.inputShape, 3, "input");
      output([C]);
      break;
    case "flatten":
      output([shapeSize(l.inputShape)]);
      break;
    case "leaky-relu":
      if (!Number.isFinite(l.alpha)) {
        throw new RangeError(`${what}: alpha is ${l.alpha}, expected a finite number`);
      }
      output(l.inputShape);
      break;
    case "relu":
    case "abs":
      output(l.inputShape);
      break;
  }
}

/** Checks shapes along a chain of layers; returns the chain's output shape. */
function checkChain(input: Shape, layers: readonly SplineLayer[], where: string): Shape {
  let shape = input;
  for (const l of layers) {
    checkLayer(l, where);
    if (!same(l.inputShape, shape)) {
      throw new RangeError(
        `Cannot build ${where}: layer '${l.name}' expects input shape [${l.inputShape}], got [${shape}]`,
      );
    }
    if (l.kind === "residual") {
      const paths: unknown = l.paths;
      const bad = Array.isArray(paths) ? paths.findIndex((p) => !Array.isArray(p)) : -1;
      if (!Array.isArray(paths) || bad >= 0) {
        throw new RangeError(
          `Cannot build ${where}: residual '${l.name}' has ${
            Array.isArray(paths) ? `path ${bad} ${paths[bad]}` : `paths ${paths}`
          }, expected a list of lists of layers`,
        );
      }
      for (const p of l.paths) {
        const out = checkChain(l.inputShape, p, `residual '${l.name}'`);
        if (!same(out, l.outputShape)) {
          throw new RangeError(
            `Cannot build residual '${l.name}': a path ends in shape [${out}], expected [${l.outputShape}]`,
          );
        }
      }
    }
    shape = l.outputShape;
  }
  return shape;
}
