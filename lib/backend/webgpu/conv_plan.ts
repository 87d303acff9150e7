/**
 * Per-conv algorithm choices of the WebGPU engine on one device: how a conv runs forward and
 * transposed, where a plan (set by {@linkcode tuneWebGpu} from timings, or by hand) overrides
 * the engine's rules. A plan belongs to a device: a replaced device starts from the rules.
 *
 * @module
 */
import type { Conv2DLayer, SplineLayer, SplineNetwork } from "../../network/spline_network.ts";
import { foldedLayers } from "../../network/folded_layers.ts";
import type { WebGpuContext } from "./device.ts";

/**
 * How a conv (or its transpose) runs: `"product"`, one matrix product (for a transpose
 * followed by a sign layer or a disjoint max-pool, gathering through their codes);
 * `"winograd2"` / `"winograd4"` / `"winograd6"`, Winograd F(2 × 2, 3 × 3) / F(4 × 4, 3 × 3) /
 * F(6 × 6, 3 × 3) (stride-1 3×3 convs only; F(6) does 64/36 multiply-adds a pixel where F(4)
 * does 36/16, with 3–4 times its rounding error: `WINOGRAD_POINTS`); `"window-tiles"`
 * (transposes of a stride-1 conv before a disjoint max-pool only: the filters summed at each
 * window's argmax); `"taps"` (transposes of convs whose taps times
 * input channels are at most their output channels: a product with every tap's filters, then
 * each input pixel's taps summed: kernels/conv_taps.ts); `"layers"` (transposes: the sign
 * layer and max-pool after the conv in passes of their own, then the conv transpose by a
 * product).
 */
export type ConvAlgorithm =
  | "product"
  | "winograd2"
  | "winograd4"
  | "winograd6"
  | "window-tiles"
  | "taps"
  | "layers";

/** A conv's algorithms, forward and transposed; an absent one follows the engine's rules. */
export interface ConvPlan {
  /** How the conv runs in forward passes with fixed codes (the masked ones, the offsets);
   * passes that record codes run it as a product whatever the plan (`winogradRecordsCodes`,
   * run.ts: exact ties keep the first-index convention). */
  readonly forward?: ConvAlgorithm;
  /** How its transpose runs in the templates pass. */
  readonly transpose?: ConvAlgorithm;
}

const plans = new WeakMap<GPUDevice, WeakMap<Conv2DLayer, ConvPlan>>();

/**
 * The plan of a conv on the context's device (`{}` where none is set).
 *
 * @param ctx The context.
 * @param conv The conv (a layer object of the network's folded layers).
 * @returns The plan.
 */
export function convPlan(ctx: WebGpuContext, conv: Conv2DLayer): ConvPlan {
  return plans.get(ctx.device)?.get(conv) ?? {};
}

const FORWARD: readonly ConvAlgorithm[] = ["product", "winograd2", "winograd4", "winograd6"];
const TRANSPOSE: readonly ConvAlgorithm[] = [...FORWARD, "window-tiles", "taps", "layers"];

function checkPlan(conv: Conv2DLayer, plan: ConvPlan): void {
  const what = `Cannot set the plan of conv '${conv?.name}'`;
  if (conv?.kind !== "conv2d") {
    throw new TypeError(`${what}: ${conv?.kind ?? conv} is not a conv2d layer`);
  }
  if (typeof plan !== "object") {
    throw new TypeError(`${what}: plan is ${plan}, expected { forward?, transpose? } or null`);
  }
  for (const key of Object.keys(plan)) {
    const allowed = key === "forward" ? FORWARD : key === "transpose" ? TRANSPOSE : undefined;
    if (allowed === undefined) {
      throw new RangeError(`${what}: unknown key '${key}', expected forward or transpose`);
    }
    const v = plan[key as keyof ConvPlan];
    if (v !== undefined && !allowed.includes(v)) {
      throw new RangeError(
        `${what}: ${key} algorithm '${v}', expected one of ${allowed.join(", ")}`,
      );
    }
  }
}

/**
 * Sets (or with `null` clears) the plan of a conv on the context's device.
 *
 * @param ctx The context.
 * @param conv The conv (a layer object of the network's folded layers).
 * @param plan The plan: each algorithm one that the direction has (`"window-tiles"`, `"taps"`
 *   and `"layers"` are for transposes); one that does not apply to this conv (Winograd for a
 *   5×5 conv, window tiles where no max-pool follows, taps for a wide conv) falls back to the
 *   rules' choice.
 * @throws {RangeError} For an unknown key or algorithm.
 */
export function setConvPlan(ctx: WebGpuContext, conv: Conv2DLayer, plan: ConvPlan | null): void {
  if (plan !== null) checkPlan(conv, plan);
  let m = plans.get(ctx.device);
  if (m === undefined) plans.set(ctx.device, m = new WeakMap());
  if (plan === null) m.delete(conv);
  else m.set(conv, plan);
}

/**
 * Clears the plans of every conv of a network on the context's device: the engine's rules
 * apply again.
 *
 * @param ctx The context.
 * @param net The network.
 */
export function clearConvPlans(ctx: WebGpuContext, net: SplineNetwork): void {
  plannedConvs(net).forEach((conv) => setConvPlan(ctx, conv, null));
}

/**
 * The convs a plan is set for: those of the network's folded layers (a batch-norm folded into a
 * conv, a zero padding into the conv after it), residual paths included, in order.
 *
 * @param net The network.
 * @returns The convs.
 */
export function plannedConvs(net: SplineNetwork): Conv2DLayer[] {
  const out: Conv2DLayer[] = [];
  const walk = (layers: readonly SplineLayer[]): void =>
    layers.forEach((l) => {
      if (l.kind === "conv2d") out.push(l);
      if (l.kind === "residual") l.paths.forEach(walk);
    });
  walk(foldedLayers(net));
  return out;
}

/** The Winograd tile of an algorithm, or false for the others. */
export function winogradTileOf(algorithm: ConvAlgorithm): 2 | 4 | 6 | false {
  const tiles: Partial<Record<ConvAlgorithm, 2 | 4 | 6>> = {
    winograd2: 2,
    winograd4: 4,
    winograd6: 6,
  };
  return tiles[algorithm] ?? false;
}
