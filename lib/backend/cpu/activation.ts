/**
 * CPU kernels (float64) for the sign-coded nonlinearities: ReLU, leaky ReLU, abs.
 *
 * @module
 */
import type { AbsLayer, LeakyReluLayer, ReluLayer } from "../../network/spline_network.ts";
import { shapeSize } from "../../network/spline_network.ts";

/** A sign-coded nonlinearity. */
export type SignLayer = ReluLayer | LeakyReluLayer | AbsLayer;

/** The slope of the inactive piece (code 0): 0 for ReLU, alpha for leaky ReLU, −1 for abs. */
export function inactiveSlope(layer: SignLayer): number {
  return layer.kind === "relu" ? 0 : layer.kind === "abs" ? -1 : layer.alpha;
}

/**
 * Evaluates the nonlinearity and records its code: 1 where the input is `> 0`, else 0
 * (a pre-activation of exactly 0 is inactive).
 *
 * @param layer The layer.
 * @param x Pre-activations.
 * @returns Outputs and the code per unit.
 */
export function signForward(
  layer: SignLayer,
  x: Float64Array,
): { y: Float64Array; code: Uint8Array } {
  const s0 = inactiveSlope(layer);
  const y = new Float64Array(x.length), code = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v > 0) {
      y[i] = v;
      code[i] = 1;
    } else y[i] = s0 * v;
  }
  return { y, code };
}

/**
 * Applies the slopes selected by recorded codes: the diagonal A_σ[x] of the paper's
 * eq. (7). Row `r` of `x` uses the codes of example `floor(r / rowsPerCode)`; the same
 * map serves the forward masked pass and its transpose (a diagonal is symmetric).
 *
 * @param layer The layer.
 * @param x Rows of values `[rows, units]`.
 * @param code Codes `[n, units]`.
 * @param rowsPerCode Rows per example.
 * @returns `A_σ[x] · row` for every row.
 */
export function signMasked(
  layer: SignLayer,
  x: Float64Array,
  code: Uint8Array,
  rowsPerCode: number,
): Float64Array {
  const s0 = inactiveSlope(layer);
  const units = shapeSize(layer.outputShape);
  const y = new Float64Array(x.length);
  const rows = units === 0 ? 0 : x.length / units;
  for (let r = 0; r < rows; r++) {
    const co = Math.floor(r / rowsPerCode) * units, ro = r * units;
    for (let u = 0; u < units; u++) y[ro + u] = code[co + u] ? x[ro + u] : s0 * x[ro + u];
  }
  return y;
}
