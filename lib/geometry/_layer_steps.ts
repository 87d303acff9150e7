/**
 * A network's layers as one flat list of steps, for the exact partitions of a line or a
 * plane of input space: there every activation is an affine function of the coordinates,
 * kept as rows (one per coordinate, then the constant row) that the affine layers map without
 * their bias and the code layers mask.
 *
 * @module
 */
import { affineApply } from "../backend/cpu/run.ts";
import { type SignLayer, signMasked } from "../backend/cpu/activation.ts";
import { maxPoolMasked } from "../backend/cpu/max_pool.ts";
import type {
  AffineLayer,
  NonlinearLayer,
  SplineLayer,
  SplineNetwork,
} from "../network/spline_network.ts";

/** One step: an affine layer, a code layer (with its index in `net.codeLayers`), or residual bookkeeping. */
export type Step =
  | { readonly op: "affine"; readonly layer: AffineLayer }
  | { readonly op: "code"; readonly layer: NonlinearLayer; readonly level: number }
  | { readonly op: "enter" | "path" | "add" | "leave" };

function compile(
  layers: readonly SplineLayer[],
  steps: Step[],
  levels: Map<NonlinearLayer, number>,
): Step[] {
  for (const l of layers) {
    switch (l.kind) {
      case "relu":
      case "leaky-relu":
      case "abs":
      case "max-pool":
        steps.push({ op: "code", layer: l, level: levels.get(l)! });
        break;
      case "residual":
        steps.push({ op: "enter" });
        for (const p of l.paths) {
          steps.push({ op: "path" });
          compile(p, steps, levels);
          steps.push({ op: "add" });
        }
        steps.push({ op: "leave" });
        break;
      default:
        steps.push({ op: "affine", layer: l });
    }
  }
  return steps;
}

/** The network's layers as steps, a residual block's paths between `enter` and `leave`. */
export function layerSteps(net: SplineNetwork): Step[] {
  return compile(net.layers, [], new Map(net.codeLayers.map((c) => [c.layer, c.index])));
}

/** A residual block's saved input and running sum. */
export interface Frame {
  readonly input: Float64Array;
  readonly sum: Float64Array | null;
  readonly up: Frame | null;
}

/**
 * Runs one residual step (`enter`, `path`, `add`, `leave`) on the rows `value`.
 *
 * @returns The rows and the frame after it.
 */
export function residualStep(
  op: "enter" | "path" | "add" | "leave",
  value: Float64Array,
  frame: Frame | null,
): { value: Float64Array; frame: Frame | null } {
  switch (op) {
    case "enter":
      return { value, frame: { input: value, sum: null, up: frame } };
    case "path":
      return { value: frame!.input, frame };
    case "add": {
      let sum = value;
      if (frame!.sum) {
        sum = Float64Array.from(frame!.sum);
        for (let i = 0; i < sum.length; i++) sum[i] += value[i];
      }
      return { value, frame: { input: frame!.input, sum, up: frame!.up } };
    }
    case "leave":
      return { value: frame!.sum ?? new Float64Array(value.length), frame: frame!.up };
  }
}

/** An affine layer applied to `rows` rows: the bias only on the last (constant) row. */
export function applyAffine(l: AffineLayer, value: Float64Array, rows: number): Float64Array {
  if (l.kind === "flatten") return value;
  const size = value.length / rows;
  const lin = affineApply(l, value.subarray(0, (rows - 1) * size), rows - 1, false);
  const c = affineApply(l, value.subarray((rows - 1) * size), 1, true);
  const out = new Float64Array(lin.length + c.length);
  out.set(lin);
  out.set(c, lin.length);
  return out;
}

/** A code layer's code applied to all `rows` rows. */
export function applyCode(
  l: NonlinearLayer,
  value: Float64Array,
  code: Uint8Array | Uint16Array,
  rows: number,
): Float64Array {
  return l.kind === "max-pool"
    ? maxPoolMasked(l, value, code as Uint16Array, { rowsPerCode: rows, transpose: false })
    : signMasked(l as SignLayer, value, code as Uint8Array, rows);
}
