/**
 * The loop limit of Mesa's software adapters: llvmpipe (and lavapipe, its Vulkan driver) ends
 * a shader's loop nest after 65,535 iterations in all, without an error (gallivm's loop
 * limiter). On lavapipe here a single loop of 70,000 iterations stopped at 65,535, loops of
 * 255 × 256 at 65,027 inner iterations, and a 70,000-input dense layer's ⟨A_c, x⟩ came out
 * wrong by a third of its largest value (`tests/backend/webgpu/software_loops_test.ts`). So on
 * a software adapter the engine refuses work whose kernels would loop longer, naming it,
 * rather than return wrong numbers; GPUs have no such limit.
 *
 * @module
 */
import type { WebGpuContext } from "./device.ts";
import type { SplineLayer } from "../../network/spline_network.ts";

/** The most loop iterations (a whole nest, one invocation) a software adapter runs. */
export const SOFTWARE_LOOP_LIMIT = 65_535;

/**
 * Throws where a software adapter would stop a kernel's loops early.
 *
 * @param ctx The context (GPUs pass whatever the count).
 * @param iterations The kernel's longest loop nest, in iterations of one invocation.
 * @param what What would loop that long, for the message.
 * @throws {RangeError} On a software adapter, for more than {@linkcode SOFTWARE_LOOP_LIMIT}.
 */
export function checkSoftwareLoops(ctx: WebGpuContext, iterations: number, what: string): void {
  if (!ctx.isFallback || iterations <= SOFTWARE_LOOP_LIMIT) return;
  throw new RangeError(
    `Cannot run ${what} on the software adapter ${ctx.adapterName}: its shader loops stop after ${SOFTWARE_LOOP_LIMIT} iterations without an error, and this needs ${iterations}; use backend "cpu"`,
  );
}

/**
 * The longest loop nest (iterations of one invocation) of the kernels a software adapter runs
 * for a layer, forward or transposed: a product's depth (dense: its inputs, or outputs
 * transposed; conv: taps × input channels, or × output channels transposed — Winograd's
 * and window tiles' loops are shorter), a pooling window's positions plus its rows, a global
 * average pool's positions; a residual block's longest path layer.
 *
 * @param layer The layer.
 * @returns The iterations (0 for layers without loops over their sizes).
 */
export function layerLoopIterations(layer: SplineLayer): number {
  switch (layer.kind) {
    case "dense":
      return Math.max(layer.inputShape.at(-1)!, layer.units);
    case "conv2d": {
      const taps = layer.kernelSize[0] * layer.kernelSize[1];
      return taps * Math.max(layer.inputShape[2], layer.outputShape[2]);
    }
    case "max-pool":
    case "avg-pool":
      return layer.poolSize[0] * layer.poolSize[1] + layer.poolSize[0];
    case "global-avg-pool":
      return layer.inputShape[0] * layer.inputShape[1];
    case "residual":
      return Math.max(0, ...layer.paths.flat().map(layerLoopIterations));
    default:
      return 0;
  }
}
