/**
 * Models and inputs that live on tfjs's `webgpu` backend, which cannot read tensors
 * synchronously in Deno: the async functions work with them (same results as on the CPU), the
 * sync ones say why they cannot and what to call instead.
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-webgpu";
import {
  affineMap,
  affineMapAsync,
  type Batch,
  fromLayersModel,
  fromLayersModelAsync,
  partitionCodes,
  partitionCodesAsync,
  templateInnerProducts,
  templateInnerProductsAsync,
} from "../../mod.ts";
import { assertAllClose, assertEquals, assertThrows } from "../_assert.ts";

await tf.ready();
const hasWebGpu = await tf.setBackend("webgpu").then((ok) => ok, () => false);
await tf.setBackend("cpu");
if (!hasWebGpu) console.warn("webgpu_tensors_test: no WebGPU adapter, tests ignored");

function model(): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [5, 5, 2], filters: 3, kernelSize: 3, activation: "relu" }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 4 }),
    ],
  });
}

const xv = Float32Array.from({ length: 3 * 50 }, (_, i) => Math.sin(i * 1.7) * 2);
const batch: Batch = { data: Float64Array.from(xv), shape: [3, 5, 5, 2] };

Deno.test({
  name: "a model and inputs on tfjs-webgpu: async functions work, sync ones say what to call",
  ignore: !hasWebGpu,
  fn: async (t) => {
    // the same weights on cpu and on webgpu
    const onCpu = model();
    const values = onCpu.getWeights().map((w) => ({ data: w.dataSync(), shape: w.shape }));
    const reference = fromLayersModel(onCpu);
    await tf.setBackend("webgpu");
    // small ops would otherwise run on the CPU and leave their results there
    const forward = tf.env().getBool("WEBGPU_CPU_FORWARD");
    tf.env().set("WEBGPU_CPU_FORWARD", false);
    try {
      // results of GPU ops: they live on the GPU only (a tensor made from values keeps them)
      const gpuCopy = (v: tf.TensorLike, shape: number[]) =>
        tf.tidy(() => tf.mul(tf.tensor(v, shape), 1));
      const onGpu = model();
      onGpu.setWeights(values.map((v) => gpuCopy(v.data, v.shape)));
      const x = gpuCopy(xv, batch.shape as number[]);

      await t.step("fromLayersModel refuses, naming the async variant", () => {
        assertThrows(
          () => fromLayersModel(onGpu),
          /cannot be read synchronously.*fromLayersModelAsync/,
        );
      });
      const net = await fromLayersModelAsync(onGpu);
      await t.step("fromLayersModelAsync gives the network the CPU model gives", () => {
        assertEquals(net.layers.length, reference.layers.length);
        const a = affineMap(net, batch), b = affineMap(reference, batch);
        assertEquals(Array.from(a.A.data), Array.from(b.A.data));
        assertEquals(Array.from(a.B.data), Array.from(b.B.data));
      });
      await t.step("concurrent conversions both succeed", async () => {
        const [a, b] = await Promise.all([
          fromLayersModelAsync(onGpu),
          fromLayersModelAsync(onGpu),
        ]);
        assertEquals(a.layers.length, net.layers.length);
        assertEquals(b.layers.length, net.layers.length);
      });
      await t.step("a training step later, it reads the new weights, not stale ones", async () => {
        const w = onGpu.getWeights()[0] as tf.Variable;
        (onGpu.layers[0].weights[0].read() as tf.Variable).assign(tf.mul(w, 2));
        // the values read before are not taken for the new ones
        assertThrows(() => fromLayersModel(onGpu), /cannot be read synchronously/);
        const doubled = await fromLayersModelAsync(onGpu);
        const k0 = (net.layers[0] as { kernel: Float64Array }).kernel;
        const k1 = (doubled.layers[0] as { kernel: Float64Array }).kernel;
        assertEquals(Array.from(k1), Array.from(k0, (v) => 2 * v));
        (onGpu.layers[0].weights[0].read() as tf.Variable).assign(tf.div(w, 2));
      });

      // (before the async functions read x: tfjs-webgpu keeps the values it read on the CPU)
      await t.step("the sync functions refuse a webgpu tensor, naming the async variant", () => {
        for (const f of [() => affineMap(net, x), () => templateInnerProducts(net, x)]) {
          assertThrows(f, (e: Error) =>
            e instanceof TypeError &&
            /cannot be read synchronously.*async variant/.test(e.message));
        }
      });
      const want = affineMap(reference, batch);
      const ip = templateInnerProducts(reference, batch);
      const codes = partitionCodes(reference, batch);
      for (const backend of ["cpu", "auto"] as const) {
        await t.step(`the async functions read a webgpu tensor (backend ${backend})`, async () => {
          const tol = backend === "cpu" ? 0 : 1e-5; // auto may run masokit's WGSL kernels
          // a fresh GPU tensor for each call: tfjs-webgpu keeps the values it has read on the CPU
          const fresh = () => gpuCopy(xv, batch.shape as number[]);
          const [x1, x2, x3] = [fresh(), fresh(), fresh()];
          const { A, B } = await affineMapAsync(net, x1, { backend });
          const f32 = (v: Float64Array) => Float32Array.from(v);
          assertAllClose(await A.data() as Float32Array, f32(want.A.data), tol, "A");
          assertAllClose(await B.data() as Float32Array, f32(want.B.data), tol, "B");
          const z = await templateInnerProductsAsync(net, x2, { backend });
          assertAllClose(await z.data() as Float32Array, f32(ip.data), tol, "⟨A_c, x⟩");
          const c = await partitionCodesAsync(net, x3, { backend });
          assertEquals(c.map((l) => Array.from(l.bits)), codes.map((l) => Array.from(l.bits)));
          assertEquals(c.map((l) => Array.from(l.argmax)), codes.map((l) => Array.from(l.argmax)));
          tf.dispose([A, B, z, x1, x2, x3]);
        });
      }
      tf.dispose([x]);
    } finally {
      tf.env().set("WEBGPU_CPU_FORWARD", forward);
      await tf.setBackend("cpu");
    }
  },
});
