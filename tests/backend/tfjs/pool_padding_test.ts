import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { SplineNetwork } from "../../../lib/network/spline_network.ts";
import { affineMap } from "../../../lib/affine/affine_map.ts";
import { templateInnerProducts } from "../../../lib/affine/template_inner_products.ts";
import { partitionCodes } from "../../../lib/partition/codes.ts";
import { assertAllClose, assertEquals } from "../../_assert.ts";
import { normals, rng } from "../../_random_models.ts";

// importing the wasm backend makes it the highest priority: start from tfjs-cpu explicitly
await tf.setBackend("cpu");

/** conv (same) → ReLU → a pool of explicit padding (neither valid nor same) → dense. */
function padded(kind: "max-pool" | "avg-pool", padding: [number, number, number, number]) {
  const r = rng(padding.join("").length + (kind === "max-pool" ? 1 : 2));
  const [H, W, C] = [5, 4, 2], pool: [number, number] = [2, 3], strides: [number, number] = [2, 1];
  const OH = Math.floor((H + padding[0] + padding[1] - pool[0]) / strides[0]) + 1;
  const OW = Math.floor((W + padding[2] + padding[3] - pool[1]) / strides[1]) + 1;
  const units = OH * OW * C;
  return new SplineNetwork([H, W, C], [
    {
      kind: "conv2d",
      name: "conv",
      inputShape: [H, W, C],
      outputShape: [H, W, C],
      kernel: Float64Array.from(normals(9 * C * C, r)),
      bias: Float64Array.from(normals(C, r)),
      kernelSize: [3, 3],
      strides: [1, 1],
      padding: [1, 1, 1, 1],
    },
    { kind: "relu", name: "relu", inputShape: [H, W, C], outputShape: [H, W, C] },
    {
      kind,
      name: "pool",
      inputShape: [H, W, C],
      outputShape: [OH, OW, C],
      poolSize: pool,
      strides,
      padding,
    },
    { kind: "flatten", name: "flat", inputShape: [OH, OW, C], outputShape: [units] },
    {
      kind: "dense",
      name: "logits",
      inputShape: [units],
      outputShape: [3],
      units: 3,
      kernel: Float64Array.from(normals(units * 3, r)),
      bias: Float64Array.from(normals(3, r)),
    },
  ]);
}

Deno.test("the tfjs engine runs pools of any explicit padding, as the float64 reference", async (t) => {
  for (const backend of ["cpu", "wasm"]) {
    await tf.setBackend(backend);
    for (const kind of ["max-pool", "avg-pool"] as const) {
      for (
        const padding of [[1, 0, 0, 2], [0, 1, 2, 0], [1, 1, 1, 1]] as [
          number,
          number,
          number,
          number,
        ][]
      ) {
        await t.step(`${kind} padded [${padding}] on tfjs-${backend}`, () => {
          const net = padded(kind, padding);
          const x = tf.tensor(normals(3 * net.inputSize, rng(9)), [3, ...net.inputShape]);
          const ref = affineMap(net, x, { backend: "cpu" });
          const refIp = templateInnerProducts(net, x, { backend: "cpu" });
          const { A, B } = affineMap(net, x, { backend: "tfjs" });
          const ip = templateInnerProducts(net, x, { backend: "tfjs" });
          assertAllClose(A.dataSync(), ref.A.dataSync(), 1e-5, "A");
          assertAllClose(B.dataSync(), ref.B.dataSync(), 1e-5, "B");
          assertAllClose(ip.dataSync(), refIp.dataSync(), 1e-5, "<A_c, x>");
          const codes = partitionCodes(net, x, { backend: "tfjs" });
          const refCodes = partitionCodes(net, x, { backend: "cpu" });
          assertEquals(codes.map((c) => c.argmax), refCodes.map((c) => c.argmax));
          tf.dispose([x, A, B, ip, ref.A, ref.B, refIp]);
        });
      }
    }
  }
  await tf.setBackend("cpu");
});
