/**
 * The partition codes of a tfjs model's own float32 forward pass (`model.predict` on the active
 * backend): for each of the network's code layers, the input of the tfjs layer of that name, its
 * sign bits (a unit is active where its input is > 0) or each max-pool window's argmax (row-major
 * window index, padded positions never win, ties to the first), in the layout of
 * `partitionCodes` (packed bits `[N, ⌈units / 32⌉]`, argmaxes `[N, units]`). `tf.grad` of the
 * model follows these regions; the float64 reference's can differ at a near tie that float32
 * rounding decides the other way (`codeDifferences` says which).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { SplineNetwork } from "../network/spline_network.ts";

/**
 * The model's float32 codes of `x`, one array per code layer of `net`.
 *
 * @param model The tfjs model `net` was made from (its layer names are the code layers' names).
 * @param net The network.
 * @param x The inputs `[N, ...inputShape]`.
 * @returns Packed sign bits or argmaxes per code layer.
 */
export function modelCodes(
  model: tf.LayersModel,
  net: SplineNetwork,
  x: tf.Tensor,
): (Uint32Array | Uint16Array)[] {
  const n = x.shape[0];
  // every code layer's input from one forward pass
  const sub = tf.model({
    inputs: model.inputs,
    outputs: net.codeLayers.map((info) => model.getLayer(info.name).input as tf.SymbolicTensor),
  });
  const outs = [sub.predict(x)].flat() as tf.Tensor[];
  const inputs = outs.map((t) => t.dataSync());
  tf.dispose(outs);
  return net.codeLayers.map((info, i) => {
    const v = inputs[i];
    const per = v.length / n;
    const layer = info.layer;
    if (layer.kind !== "max-pool") {
      const words = Math.ceil(info.units / 32), bits = new Uint32Array(n * words);
      for (let e = 0; e < n; e++) {
        for (let u = 0; u < info.units; u++) {
          if (v[e * per + u] > 0) bits[e * words + (u >>> 5)] |= 1 << (u & 31);
        }
      }
      return bits;
    }
    const [h, w, c] = layer.inputShape, [oh, ow] = info.shape;
    const [ph, pw] = layer.poolSize, [sh, sw] = layer.strides, [top, , left] = layer.padding;
    const argmax = new Uint16Array(n * info.units);
    for (let e = 0; e < n; e++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          for (let ch = 0; ch < c; ch++) {
            let best = -Infinity, index = 0, first = true;
            for (let ky = 0; ky < ph; ky++) {
              for (let kx = 0; kx < pw; kx++) {
                const y = oy * sh + ky - top, xx = ox * sw + kx - left;
                if (y < 0 || y >= h || xx < 0 || xx >= w) continue;
                const a = v[e * per + (y * w + xx) * c + ch];
                if (first || a > best) [best, index, first] = [a, ky * pw + kx, false];
              }
            }
            argmax[e * info.units + (oy * ow + ox) * c + ch] = index;
          }
        }
      }
    }
    return argmax;
  });
}
