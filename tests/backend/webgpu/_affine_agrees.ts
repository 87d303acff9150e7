/**
 * Templates, offsets and ⟨A_c, x⟩ of the WebGPU engine against the float64 CPU reference.
 *
 * @module
 */
import type { SplineNetwork } from "../../../lib/network/spline_network.ts";
import type { WebGpuContext } from "../../../lib/backend/webgpu/device.ts";
import { affineMap } from "../../../lib/affine/affine_map.ts";
import { templateInnerProducts } from "../../../lib/affine/template_inner_products.ts";
import { affineMapAsync } from "../../../lib/affine/affine_map_async.ts";
import { templateInnerProductsAsync } from "../../../lib/affine/template_inner_products_async.ts";
import { affineMapWebGpu, innerProductsWebGpu } from "../../../lib/backend/webgpu/passes.ts";
import { assertAllClose, assertEquals, largestMagnitude } from "../../_assert.ts";

/**
 * Templates, offsets and ⟨A_c, x⟩ on WebGPU against the float64 CPU reference, within
 * `tolerance` of the largest reference value of each; returns the templates. Through the
 * public async functions, or with `ctx` through the engine's passes on that context (e.g. the
 * shared device with a hardware adapter's kernel choices).
 */
export async function assertAffineAgrees(
  net: SplineNetwork,
  x: { data: Float64Array; shape: number[] },
  what: string,
  tolerance = 1e-4,
  ctx?: WebGpuContext,
): Promise<Float64Array | Float32Array> {
  const refMap = affineMap(net, x, { backend: "cpu" });
  const n = x.shape[0];
  const [A, B, ip] = ctx === undefined
    ? await (async () => {
      const map = await affineMapAsync(net, x, { backend: "webgpu" });
      assertEquals(map.A.shape, refMap.A.shape);
      assertEquals(map.B.shape, refMap.B.shape);
      const ip = await templateInnerProductsAsync(net, x, { backend: "webgpu" });
      return [map.A.data, map.B.data, ip.data];
    })()
    : await (async () => {
      const map = await affineMapWebGpu(ctx, net, { x: x.data, n });
      return [map.A, map.B, await innerProductsWebGpu(ctx, net, { x: x.data, n })];
    })();
  const close = (got: ArrayLike<number>, want: Float64Array, name: string) =>
    assertAllClose(got, want, tolerance, `${what}: ${name}`, largestMagnitude(want));
  close(A, refMap.A.data, "A");
  close(B, refMap.B.data, "B");
  close(ip, templateInnerProducts(net, x, { backend: "cpu" }).data, "<A_c, x>");
  return A;
}
