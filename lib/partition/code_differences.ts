/**
 * Where a float32 engine's partition codes differ from the float64 reference, and why: a near
 * tie that float32 cannot resolve, or an exact tie or a clear decision got wrong (a bug).
 *
 * @module
 */
import { forwardPass } from "../backend/cpu/run.ts";
import { poolWindows } from "../backend/cpu/_windows.ts";
import { type CodeLayerInfo, SplineNetwork } from "../network/spline_network.ts";
import { partitionCodes } from "./codes.ts";
import type { CodeLayer } from "./code_layer.ts";

/** One code that differs from the float64 reference. */
export interface CodeDifference {
  /** Index of the code layer (in `net.codeLayers`). */
  readonly layer: number;
  /** Name of the network layer. */
  readonly name: string;
  readonly example: number;
  readonly unit: number;
  /** The code given: a sign bit, or a max-pool's window index. */
  readonly got: number;
  /** The reference's code. */
  readonly want: number;
  /**
   * The float64 gap between the two decisions over the largest magnitude of the layer's input
   * for that example: |pre-activation| for a sign bit, |value(got) − value(want)| for a
   * max-pool's two window entries.
   */
  readonly gap: number;
  /**
   * `"near tie"`: 0 < gap ≤ `tie` (float32 rounding may decide either way); `"exact tie"`: gap
   * 0, an exact tie whose convention (inactive at 0, the first index of a max-pool window) was
   * not kept; `"clear"`: a decision farther than `tie` from a tie; `"downstream"`: a code of a
   * later layer than the example's first differing one — its input is no longer the
   * reference's (a ReLU decided the other way at a near tie can make an all-zero max-pool
   * window pick it), so its gap says nothing, and the first difference explains it.
   */
  readonly kind: "near tie" | "exact tie" | "clear" | "downstream";
}

/**
 * Compares a batch's codes, as an engine computed them, with the float64 reference's, and
 * classifies each code that differs by how far the reference's decision was from a tie (those
 * of an example's first differing layer; later ones are `"downstream"` of them).
 *
 * @param net The network.
 * @param batch The inputs, `[N, ...inputShape]` in float64.
 * @param got One array per code layer: sign bits packed 32 per word (`N × ⌈units / 32⌉`
 *   words), or max-pool window indices (`N × units`).
 * @param options `tie`: the largest gap (relative to the layer input's largest magnitude) that
 *   counts as a near tie, default 1e-5; `reference`: the batch's float64 codes where the caller
 *   has them (`partitionCodes(net, batch, { backend: "cpu" })`), else computed here.
 * @returns The codes that differ, in layer, example and unit order.
 *
 * @example
 * ```ts
 * import { SplineNetwork } from "../network/spline_network.ts";
 * import { codeDifferences } from "./code_differences.ts";
 * import { equal } from "node:assert/strict";
 * const net = new SplineNetwork([2], [{ kind: "relu", name: "r", inputShape: [2], outputShape: [2] }]);
 * // the reference: unit 0 (1e-9 > 0) active, unit 1 (−1) inactive; got: both inactive
 * const [d] = codeDifferences(net, { data: new Float64Array([1e-9, -1]), shape: [1, 2] }, [[0]]);
 * equal(d.kind, "near tie");
 * ```
 */
export function codeDifferences(
  net: SplineNetwork,
  batch: { readonly data: Float64Array; readonly shape: readonly number[] },
  got: readonly ArrayLike<number>[],
  options: { readonly tie?: number; readonly reference?: readonly CodeLayer[] } = {},
): CodeDifference[] {
  const { tie = 1e-5 } = options;
  if (!(tie >= 0)) throw new RangeError(`codeDifferences: tie ${tie} is not a number ≥ 0`);
  const n = batch.shape[0];
  const want = options.reference ??
    partitionCodes(net, { data: batch.data, shape: [...batch.shape] }, { backend: "cpu" });
  if (got.length !== want.length) {
    throw new RangeError(
      `codeDifferences: ${got.length} code arrays for ${want.length} code layers`,
    );
  }
  const found: { layer: number; example: number; unit: number; got: number; want: number }[] = [];
  want.forEach((w, layer) => {
    const g = got[layer];
    const size = n * (w.kind === "max-pool" ? w.units : w.words);
    if (g.length !== size) {
      throw new RangeError(
        `codeDifferences: code layer ${layer} (${w.name}) has ${g.length} entries, expected ${size}`,
      );
    }
    for (let e = 0; e < n; e++) {
      for (let u = 0; u < w.units; u++) {
        let a: number, b: number;
        if (w.kind === "max-pool") {
          a = g[e * w.units + u];
          b = w.argmax[e * w.units + u];
        } else {
          // (>>> reads a word as unsigned, from a Uint32Array or an Int32Array alike)
          const word = e * w.words + (u >>> 5), shift = u & 31;
          a = (g[word] >>> shift) & 1;
          b = (w.bits[word] >>> shift) & 1;
        }
        if (a !== b) found.push({ layer, example: e, unit: u, got: a, want: b });
      }
    }
  });
  if (found.length === 0) return [];
  // each code layer's input in float64: the layers run one at a time, once
  const inputs: Float64Array[] = [];
  let v = batch.data;
  for (const l of net.layers) {
    if (net.codeLayers.some((c) => c.layer === l)) inputs.push(v);
    v = forwardPass(new SplineNetwork(l.inputShape, [l]), v, n).output;
  }
  // each example's first code layer that differs (found is in layer order)
  const first = new Map<number, number>();
  for (const d of found) if (!first.has(d.example)) first.set(d.example, d.layer);
  return found.map((d) => {
    const info = net.codeLayers[d.layer];
    const gap = gapOf(info, inputs[d.layer], n, d);
    const kind = d.layer > first.get(d.example)!
      ? "downstream"
      : gap === 0
      ? "exact tie"
      : gap <= tie
      ? "near tie"
      : "clear";
    return { ...d, name: info.name, gap, kind };
  });
}

/** The float64 gap of a differing code over the largest magnitude of its example's input. */
function gapOf(
  info: CodeLayerInfo,
  input: Float64Array,
  count: number,
  d: { example: number; unit: number; got: number; want: number },
): number {
  const per = input.length / count, at = d.example * per;
  let scale = 0;
  for (let i = 0; i < per; i++) scale = Math.max(scale, Math.abs(input[at + i]));
  if (scale === 0) return 0;
  if (info.layer.kind !== "max-pool") return Math.abs(input[at + d.unit]) / scale;
  const layer = info.layer, C = layer.inputShape[2];
  const { start, pos, slot } = poolWindows(layer);
  const o = Math.floor(d.unit / C), c = d.unit % C;
  const value = (code: number) => {
    for (let j = start[o]; j < start[o + 1]; j++) {
      if (slot[j] === code) return input[at + pos[j] * C + c];
    }
    throw new RangeError(
      `codeDifferences: ${info.name} unit ${d.unit} has no window entry ${code}`,
    );
  };
  return Math.abs(value(d.got) - value(d.want)) / scale;
}
