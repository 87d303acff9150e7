import * as tf from "@tensorflow/tfjs";
import { fromLayersModel } from "../../lib/network/from_layers_model.ts";
import { forward } from "../../lib/network/forward.ts";
import type { Batch } from "../../lib/network/batch.ts";
import { affineMap } from "../../lib/affine/affine_map.ts";
import { templateInnerProducts } from "../../lib/affine/template_inner_products.ts";
import { partitionCodes } from "../../lib/partition/codes.ts";
import { assertAllClose, assertEquals, assertThrows } from "../_assert.ts";
import { cases, tfjsLogits } from "../_cases.ts";
import { normals, rng } from "../_random_models.ts";

/** Row-wise A·x + B for A `[N, C, D]`, x `[N, D]`, B `[N, C]`. */
function applyAffine(
  A: ArrayLike<number>,
  B: ArrayLike<number>,
  x: ArrayLike<number>,
  n: number,
): Float64Array {
  const C = B.length / n, D = x.length / n;
  const out = new Float64Array(n * C);
  for (let e = 0; e < n; e++) {
    for (let c = 0; c < C; c++) {
      let s = B[e * C + c];
      for (let d = 0; d < D; d++) s += A[(e * C + c) * D + d] * x[e * D + d];
      out[e * C + c] = s;
    }
  }
  return out;
}

function toBatch(x: tf.Tensor): Batch {
  return { data: Float64Array.from(x.dataSync()), shape: x.shape };
}

Deno.test("affineMap(): A[x]·x + B[x] equals the network's output", async (t) => {
  for (const seed of [1, 2, 3]) {
    for (const c of cases(seed)) {
      const net = fromLayersModel(c.model);
      const n = c.x.shape[0];
      await t.step(
        `${c.name}, seed ${seed}: float32 tensors vs the tfjs forward pass (1e-4)`,
        () => {
          const { A, B } = affineMap(net, c.x);
          assertEquals(A.shape, [n, net.outputSize, net.inputSize]);
          assertEquals(B.shape, [n, net.outputSize]);
          const z = applyAffine(A.dataSync(), B.dataSync(), c.x.dataSync(), n);
          assertAllClose(z, tfjsLogits(c.model, c.x).dataSync(), 1e-4, c.name);
        },
      );
      await t.step(
        `${c.name}, seed ${seed}: float64 vs the engine's float64 forward pass (1e-9)`,
        () => {
          const xb = toBatch(c.x);
          const { A, B } = affineMap(net, xb);
          const z = applyAffine(A.data, B.data, xb.data, n);
          assertAllClose(z, forward(net, xb).data, 1e-9, c.name);
        },
      );
    }
  }
});

Deno.test("affineMap(): templates equal finite differences of the network", async (t) => {
  for (const c of cases(4)) {
    await t.step(c.name, () => {
      const net = fromLayersModel(c.model);
      const xb = toBatch(c.x);
      const { A } = affineMap(net, xb);
      const D = net.inputSize, C = net.outputSize;
      const r = rng(9);
      for (let probe = 0; probe < 5; probe++) {
        const e = Math.floor(r() * xb.shape[0]), d = Math.floor(r() * D);
        const h = 1e-6;
        const plus = Float64Array.from(xb.data.subarray(e * D, (e + 1) * D));
        const minus = Float64Array.from(plus);
        plus[d] += h;
        minus[d] -= h;
        const zp = forward(net, { data: plus, shape: [1, ...net.inputShape] }).data;
        const zm = forward(net, { data: minus, shape: [1, ...net.inputShape] }).data;
        const fd = Array.from({ length: C }, (_, k) => (zp[k] - zm[k]) / (2 * h));
        const ours = Array.from({ length: C }, (_, k) => A.data[(e * C + k) * D + d]);
        assertAllClose(ours, fd, 1e-5, `${c.name} example ${e} input ${d}`);
      }
    });
  }
});

Deno.test("templateInnerProducts() equals A[x]·x and z(x) − B[x]", async (t) => {
  for (const c of cases(5)) {
    await t.step(c.name, () => {
      const net = fromLayersModel(c.model);
      const xb = toBatch(c.x), n = xb.shape[0];
      const { A, B } = affineMap(net, xb);
      const ip = templateInnerProducts(net, xb);
      assertEquals(ip.shape, [n, net.outputSize]);
      assertAllClose(
        ip.data,
        applyAffine(A.data, new Float64Array(B.data.length), xb.data, n),
        1e-9,
      );
      const z = forward(net, xb).data;
      assertAllClose(ip.data, z.map((v, i) => v - B.data[i]), 1e-9);
      const asTensor = templateInnerProducts(net, c.x);
      assertAllClose(asTensor.dataSync(), ip.data, 1e-4);
    });
  }
});

Deno.test("inputs moved slightly inside their region keep codes, A and B", async (t) => {
  for (const c of cases(6)) {
    await t.step(c.name, () => {
      const net = fromLayersModel(c.model);
      const xb = toBatch(c.x);
      const noise = normals(xb.data.length, rng(77));
      const moved = { data: xb.data.map((v, i) => v + 1e-7 * noise[i]), shape: xb.shape };
      const [c0, c1] = [partitionCodes(net, xb), partitionCodes(net, moved)];
      for (let l = 0; l < c0.length; l++) {
        assertEquals(c1[l].bits, c0[l].bits, `layer ${l} bits`);
        assertEquals(c1[l].argmax, c0[l].argmax, `layer ${l} argmax`);
      }
      const [m0, m1] = [affineMap(net, xb), affineMap(net, moved)];
      assertAllClose(m1.A.data, m0.A.data, 1e-9);
      assertAllClose(m1.B.data, m0.B.data, 1e-9);
      // and the network is exactly that affine map at the moved point
      const z = applyAffine(m0.A.data, m0.B.data, moved.data, xb.shape[0]);
      assertAllClose(z, forward(net, moved).data, 1e-9);
    });
  }
});

Deno.test("affineMap() and templateInnerProducts() validate input", async (t) => {
  const net = fromLayersModel(cases(1)[0].model);
  await t.step("wrong shape", () => {
    assertThrows(() => affineMap(net, tf.zeros([2, 8])), /shape \[2,8\], expected \[N, 7\]/);
    assertThrows(() => templateInnerProducts(net, tf.zeros([7])), RangeError);
  });
  await t.step("NaN", () => {
    assertThrows(
      () => affineMap(net, { data: new Float64Array(7).fill(NaN), shape: [1, 7] }),
      /not finite/,
    );
  });
  await t.step("empty batch", () => {
    const { A, B } = affineMap(net, tf.zeros([0, 7]));
    assertEquals(A.shape, [0, 5, 7]);
    assertEquals(B.shape, [0, 5]);
    assertEquals(templateInnerProducts(net, tf.zeros([0, 7])).shape, [0, 5]);
  });
});
