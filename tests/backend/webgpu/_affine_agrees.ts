/**
 * Templates, offsets and ⟨A_c, x⟩ of the WebGPU engine against the float64 CPU reference.
 *
 * @module
 */
import type { SplineNetwork } from "../../../lib/network/spline_network.ts";
import { affineMap } from "../../../lib/affine/affine_map.ts";
import { templateInnerProducts } from "../../../lib/affine/template_inner_products.ts";
import { affineMapAsync } from "../../../lib/affine/affine_map_async.ts";
import { templateInnerProductsAsync } from "../../../lib/affine/template_inner_products_async.ts";
import { assertAllClose, assertEquals, largestMagnitude } from "../../_assert.ts";

/**
 * Templates, offsets and ⟨A_c, x⟩ on WebGPU against the float64 CPU reference, within
 * `tolerance` of the largest reference value of each; returns the templates.
 */
export async function assertAffineAgrees(
  net: SplineNetwork,
  x: { data: Float64Array; shape: number[] },
  what: string,
  tolerance = 1e-4,
): Promise<Float64Array | Float32Array> {
  const refMap = affineMap(net, x, { backend: "cpu" });
  const map = await affineMapAsync(net, x, { backend: "webgpu" });
  assertEquals(map.A.shape, refMap.A.shape);
  assertEquals(map.B.shape, refMap.B.shape);
  const close = (got: ArrayLike<number>, want: Float64Array, name: string) =>
    assertAllClose(got, want, tolerance, `${what}: ${name}`, largestMagnitude(want));
  close(map.A.data, refMap.A.data, "A");
  close(map.B.data, refMap.B.data, "B");
  const refIp = templateInnerProducts(net, x, { backend: "cpu" });
  const ip = await templateInnerProductsAsync(net, x, { backend: "webgpu" });
  close(ip.data, refIp.data, "<A_c, x>");
  return map.A.data;
}
