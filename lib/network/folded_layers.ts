/**
 * Batch-norm folded into the layer before it, and zero padding into the conv after it, for
 * the float32 engines.
 *
 * @module
 */
import type { SplineLayer, SplineNetwork } from "./spline_network.ts";

/**
 * The layers with each per-channel affine map (folded batch-norm) merged into the dense
 * or conv layer before it: `(conv(x) + b)·s + t = conv_{K·s}(x) + (b·s + t)`, computed in
 * float64; and each zero padding merged into the conv right after it (its padding grows by
 * the zero padding's: the padded activation is never written, and the conv's transpose
 * computes the gradient at the unpadded input only, not at the zeros that the padding's
 * transpose would then drop). Nonlinear layer objects are kept, so recorded codes stay keyed
 * by them.
 */
function fold(layers: readonly SplineLayer[]): SplineLayer[] {
  const out: SplineLayer[] = [];
  for (const l of layers) {
    const prev = out.at(-1);
    if (l.kind === "channel-affine" && (prev?.kind === "conv2d" || prev?.kind === "dense")) {
      const c = l.scale.length;
      const kernel = prev.kernel.map((w, i) => w * l.scale[i % c]);
      const bias = Float64Array.from(
        l.shift,
        (t, j) => (prev.bias ? prev.bias[j] : 0) * l.scale[j] + t,
      );
      out[out.length - 1] = {
        ...prev,
        name: `${prev.name}+${l.name}`,
        outputShape: l.outputShape,
        kernel,
        bias,
      };
    } else if (l.kind === "conv2d" && prev?.kind === "zero-pad") {
      const [t, b, left, right] = prev.padding, p = l.padding;
      out[out.length - 1] = {
        ...l,
        name: `${prev.name}+${l.name}`,
        inputShape: prev.inputShape,
        padding: [p[0] + t, p[1] + b, p[2] + left, p[3] + right],
      };
    } else if (l.kind === "residual") {
      out.push({ ...l, paths: l.paths.map(fold) });
    } else out.push(l);
  }
  return out;
}

const folded = new WeakMap<SplineNetwork, SplineLayer[]>();

/**
 * The network's layers with batch-norm folded (see {@linkcode fold}), made once per network:
 * what the float32 engines (tfjs, WebGPU) run, one product per linear layer.
 *
 * @param net The network.
 * @returns The folded layers.
 */
export function foldedLayers(net: SplineNetwork): SplineLayer[] {
  let f = folded.get(net);
  if (!f) {
    f = fold(net.layers);
    folded.set(net, f);
  }
  return f;
}
