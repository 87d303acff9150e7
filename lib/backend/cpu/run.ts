/**
 * The CPU reference engine (float64): the network's forward pass with its codes, the
 * masked affine pass with codes held fixed, and the transposed pass.
 *
 * @module
 */
import type {
  AffineLayer,
  NonlinearLayer,
  SplineLayer,
  SplineNetwork,
} from "../../network/spline_network.ts";
import {
  avgPoolApply,
  avgPoolTranspose,
  globalAvgPoolApply,
  globalAvgPoolTranspose,
} from "./avg_pool.ts";
import { channelAffineApply, channelAffineTranspose } from "./channel_affine.ts";
import { conv2dApply, conv2dTranspose } from "./conv2d.ts";
import { denseApply, denseTranspose } from "./dense.ts";
import { maxPoolForward, maxPoolMasked } from "./max_pool.ts";
import { signForward, signMasked } from "./activation.ts";
import { zeroPadApply, zeroPadTranspose } from "./zero_pad.ts";

/** Per-layer codes of a batch: sign codes (0/1 per unit) or max-pool argmax slots. */
export type LayerCodes = Map<NonlinearLayer, Uint8Array | Uint16Array>;

/** Applies an affine layer to `rows` rows, with or without its bias. */
export function affineApply(
  l: AffineLayer,
  x: Float64Array,
  rows: number,
  bias: boolean,
): Float64Array {
  switch (l.kind) {
    case "dense":
      return denseApply(l, x, rows, bias);
    case "conv2d":
      return conv2dApply(l, x, rows, bias);
    case "channel-affine":
      return channelAffineApply(l, x, bias);
    case "zero-pad":
      return zeroPadApply(l, x, rows);
    case "avg-pool":
      return avgPoolApply(l, x, rows);
    case "global-avg-pool":
      return globalAvgPoolApply(l, x, rows);
    case "flatten":
      return x;
  }
}

/** Applies the transpose of an affine layer's linear part to `rows` rows. */
function affineTranspose(l: AffineLayer, g: Float64Array, rows: number): Float64Array {
  switch (l.kind) {
    case "dense":
      return denseTranspose(l, g, rows);
    case "conv2d":
      return conv2dTranspose(l, g, rows);
    case "channel-affine":
      return channelAffineTranspose(l, g);
    case "zero-pad":
      return zeroPadTranspose(l, g, rows);
    case "avg-pool":
      return avgPoolTranspose(l, g, rows);
    case "global-avg-pool":
      return globalAvgPoolTranspose(l, g, rows);
    case "flatten":
      return g;
  }
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  for (let i = 0; i < a.length; i++) a[i] += b[i];
  return a;
}

/**
 * Runs layers on `n` examples. Without `fixed` codes this is the network itself and
 * records every nonlinear layer's codes into `record`; with `fixed` codes the
 * nonlinearities apply the recorded slopes/selections (the affine map of the region),
 * and `bias: false` drops every bias (the linear part A[x]·x).
 */
function runLayers(
  layers: readonly SplineLayer[],
  x: Float64Array,
  n: number,
  mode: { bias: boolean; fixed?: LayerCodes; record?: LayerCodes },
): Float64Array {
  let v = x;
  for (const l of layers) {
    switch (l.kind) {
      case "relu":
      case "leaky-relu":
      case "abs": {
        const fixed = mode.fixed?.get(l);
        if (fixed) v = signMasked(l, v, fixed as Uint8Array, 1);
        else {
          const r = signForward(l, v);
          mode.record?.set(l, r.code);
          v = r.y;
        }
        break;
      }
      case "max-pool": {
        const fixed = mode.fixed?.get(l);
        if (fixed) {
          v = maxPoolMasked(l, v, fixed as Uint16Array, { rowsPerCode: 1, transpose: false });
        } else {
          const r = maxPoolForward(l, v, n);
          mode.record?.set(l, r.code);
          v = r.y;
        }
        break;
      }
      case "residual": {
        let sum: Float64Array | null = null;
        for (const p of l.paths) {
          const out = runLayers(p, v, n, mode);
          sum = sum ? add(sum, out) : (out === v ? Float64Array.from(out) : out);
        }
        v = sum ?? new Float64Array(v.length);
        break;
      }
      default:
        v = affineApply(l, v, n, mode.bias);
    }
  }
  return v;
}

/**
 * The network's forward pass in float64, recording the codes of every nonlinear layer.
 *
 * @param net The network.
 * @param x Inputs `[n, ...inputShape]`.
 * @param n Number of examples.
 * @returns Outputs `[n, C]` and the codes.
 */
export function forwardPass(
  net: SplineNetwork,
  x: Float64Array,
  n: number,
): { output: Float64Array; codes: LayerCodes } {
  const codes: LayerCodes = new Map();
  const output = runLayers(net.layers, x, n, { bias: true, record: codes });
  // a network of flattens alone returns its input: never hand back the caller's own array
  return { output: output === x ? Float64Array.from(x) : output, codes };
}

/**
 * The affine map of each example's region applied to `x`: `A[x]·x + B[x]` with
 * `bias: true`, `A[x]·x` with `bias: false`; codes are held fixed (a masked pass).
 *
 * @param net The network.
 * @param x Inputs `[n, ...inputShape]`.
 * @param options `n`, the examples' `codes` and `bias`.
 * @returns `[n, C]`.
 */
export function maskedPass(
  net: SplineNetwork,
  x: Float64Array,
  options: { n: number; codes: LayerCodes; bias: boolean },
): Float64Array {
  const out = runLayers(net.layers, x, options.n, { bias: options.bias, fixed: options.codes });
  return out === x ? Float64Array.from(x) : out; // as forwardPass
}

function transposeLayers(
  layers: readonly SplineLayer[],
  g: Float64Array,
  rows: number,
  codes: LayerCodes,
  rowsPerCode: number,
): Float64Array {
  let v = g;
  for (let i = layers.length - 1; i >= 0; i--) {
    const l = layers[i];
    switch (l.kind) {
      case "relu":
      case "leaky-relu":
      case "abs":
        v = signMasked(l, v, codes.get(l) as Uint8Array, rowsPerCode);
        break;
      case "max-pool":
        v = maxPoolMasked(l, v, codes.get(l) as Uint16Array, { rowsPerCode, transpose: true });
        break;
      case "residual": {
        let sum: Float64Array | null = null;
        for (const p of l.paths) {
          const out = transposeLayers(p, v, rows, codes, rowsPerCode);
          sum = sum ? add(sum, out) : (out === v ? Float64Array.from(out) : out);
        }
        v = sum ?? new Float64Array(v.length);
        break;
      }
      default:
        v = affineTranspose(l, v, rows);
    }
  }
  return v;
}

/**
 * The transposed masked pass: for rows of output covectors `g` (`rowsPerCode` rows per
 * example), returns `g·A[x]` per row. With `g` = the identity per example this gives
 * every class template A[x]_c.
 *
 * @param net The network.
 * @param g Rows `[rows, C]`.
 * @param options `rows`, the examples' `codes`, and `rowsPerCode`.
 * @returns Rows `[rows, D]`.
 */
export function transposePass(
  net: SplineNetwork,
  g: Float64Array,
  options: { rows: number; codes: LayerCodes; rowsPerCode: number },
): Float64Array {
  return transposeLayers(net.layers, g, options.rows, options.codes, options.rowsPerCode);
}
