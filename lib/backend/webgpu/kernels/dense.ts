/**
 * The products of a dense layer, `y = x·W (+ b)`, and of its transpose `g·Wᵀ`, for the
 * tiled matrix-product kernel.
 *
 * @module
 */
import type { DenseLayer } from "../../../network/spline_network.ts";
import { type GemmSpec, type GemmVec4, productBindings } from "./gemm.ts";

/** Rows of `K` values read 4 at a time (where `K % 4 == 0`) from binding `input`. */
function rows4(k: number, input: string): GemmVec4 | undefined {
  if (k % 4 !== 0) return undefined;
  return {
    rowInfo: `  return vec4<i32>(i32(m * (K / 4u)), 0, 0, 0);`,
    load4: `  return ${input}[u32(ri.x) + k / 4u];`,
  };
}

/**
 * Positions per example a dense layer applies at: it maps the last axis, so an input
 * `[..., in]` of more than one axis is `size / in` rows of `in` values.
 */
const positions = (layer: DenseLayer, IN: number) =>
  layer.inputShape.reduce((a, b) => a * b, 1) / IN;

/**
 * Dense forward: bindings `x` `[rows, positions, in]`, `w` the kernel `[in, units]`, `b`,
 * `y` `[rows, positions, units]`.
 *
 * @param layer The layer.
 * @param bias Whether to add the bias.
 * @returns The product.
 */
export function denseGemm(layer: DenseLayer, bias: boolean): GemmSpec {
  const IN = layer.kernel.length / layer.units;
  return {
    key: "dense",
    bindings: productBindings("x"),
    mPerRow: positions(layer, IN),
    n: layer.units,
    k: IN,
    loadA: `  return x[m * K + k];`,
    vec4: rows4(IN, "x"),
    bias: bias && layer.bias !== null,
  };
}

/**
 * Dense transpose: bindings `g` `[rows, positions, units]`, `w` the transposed kernel `[units, in]`
 * ({@linkcode transposedDenseKernel}), `b` (unused), `y` `[rows, positions, in]`.
 *
 * @param layer The layer.
 * @returns The product.
 */
export function denseTransposeGemm(layer: DenseLayer): GemmSpec {
  const IN = layer.kernel.length / layer.units;
  return {
    key: "dense-transpose",
    bindings: productBindings("g"),
    mPerRow: positions(layer, IN),
    n: IN,
    k: layer.units,
    loadA: `  return g[m * K + k];`,
    vec4: rows4(layer.units, "g"),
    bias: false,
  };
}

const transposed = new WeakMap<DenseLayer, Float64Array>();

/**
 * The kernel transposed to `[units, in]` (computed once per layer).
 *
 * @param layer The layer.
 * @returns `Wᵀ`, row-major.
 */
export function transposedDenseKernel(layer: DenseLayer): Float64Array {
  let t = transposed.get(layer);
  if (t === undefined) {
    const OUT = layer.units, IN = layer.kernel.length / OUT;
    t = new Float64Array(IN * OUT);
    for (let i = 0; i < IN; i++) {
      for (let o = 0; o < OUT; o++) t[o * IN + i] = layer.kernel[i * OUT + o];
    }
    transposed.set(layer, t);
  }
  return t;
}
