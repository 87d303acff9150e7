/**
 * Templates, offsets and ⟨A_c, x⟩ of the WebGPU engine against the float64 CPU reference.
 *
 * @module
 */
import type { SplineNetwork } from "../../../lib/network/spline_network.ts";
import { type WebGpuContext, webgpuHooks } from "../../../lib/backend/webgpu/device.ts";
import { affineMap } from "../../../lib/affine/affine_map.ts";
import { templateInnerProducts } from "../../../lib/affine/template_inner_products.ts";
import { affineMapAsync } from "../../../lib/affine/affine_map_async.ts";
import { templateInnerProductsAsync } from "../../../lib/affine/template_inner_products_async.ts";
import {
  affineMapWebGpu,
  forwardWebGpu,
  innerProductsWebGpu,
} from "../../../lib/backend/webgpu/passes.ts";
import { codeDifferences } from "../../../lib/partition/code_differences.ts";
import { partitionCodes } from "../../../lib/partition/codes.ts";
import { assert, assertAllClose, assertEquals, largestMagnitude } from "../../_assert.ts";

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

/**
 * {@linkcode assertAffineAgrees} on `ctx` for the examples whose codes are the reference's.
 * Random inputs to a large network put a few pre-activations within float32 rounding of a
 * tie (relative gaps of 1e-7 in largeCNN), which a GPU's sums may decide the other way; such
 * an example's templates are then another region's. So: every code that differs must be a
 * near tie or downstream of one (`codeDifferences`: never an exact tie or a clear decision),
 * the examples with one are left out, and at least half of the batch is compared. The codes are read twice: as
 * the templates and offsets record them (products), and as ⟨A_c, x⟩ records them (convs by
 * Winograd, whose rounding may decide other near ties: those examples are left out too).
 */
export async function assertAffineAgreesAwayFromTies(
  net: SplineNetwork,
  x: { data: Float64Array; shape: number[] },
  what: string,
  tolerance: number,
  ctx: WebGpuContext,
): Promise<void> {
  const n = x.shape[0], per = x.data.length / n;
  const reference = partitionCodes(net, x, { backend: "cpu" });
  const differing = async (winograd: boolean) => {
    const before = webgpuHooks.winogradRecording;
    webgpuHooks.winogradRecording = winograd;
    try {
      const { codes } = await forwardWebGpu(ctx, net, { x: x.data, n });
      const got = net.codeLayers.map((c) => codes.get(c.layer)!);
      return codeDifferences(net, x, got, { reference });
    } finally {
      if (before === undefined) delete webgpuHooks.winogradRecording;
      else webgpuHooks.winogradRecording = before;
    }
  };
  const differences = [...await differing(false), ...await differing(true)];
  const wrong = differences.filter((d) => d.kind === "exact tie" || d.kind === "clear");
  assertEquals(wrong, [], `${what}: codes that differ from the reference, not at near ties`);
  const flipped = new Set(differences.map((d) => d.example));
  const keep = [...Array(n).keys()].filter((e) => !flipped.has(e));
  for (const d of differences.filter((d) => d.kind === "near tie")) {
    console.log(
      `${what}: example ${d.example} left out, ${d.name} unit ${d.unit} is a near tie ` +
        `(float64 gap ${d.gap.toExponential(2)} of the layer's largest)`,
    );
  }
  assert(keep.length >= n / 2, `${what}: only ${keep.length} of ${n} examples away from ties`);
  const data = new Float64Array(keep.length * per);
  keep.forEach((e, i) => data.set(x.data.subarray(e * per, (e + 1) * per), i * per));
  await assertAffineAgrees(
    net,
    { data, shape: [keep.length, ...x.shape.slice(1)] },
    what,
    tolerance,
    ctx,
  );
}
