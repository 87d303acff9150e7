/**
 * Inputs that live on tfjs-webgpu running on masokit's device (`shareDeviceWithTfjs`): the
 * affine map and ⟨A_c, x⟩ on WebGPU take them where they are and give tfjs GPU tensors back —
 * the input is never uploaded or read (one finiteness flag is), and the results equal the
 * read-back path's bit for bit and the float64 CPU reference within float32 rounding; partition
 * codes take the input where it is too (the codes are read back, as JS arrays).
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-cpu";
import { shareDeviceWithTfjs } from "../../../lib/backend/webgpu/share_tfjs.ts";
import { webgpuContext, webgpuHooks } from "../../../lib/backend/webgpu/device.ts";
import { chunkSize } from "../../../lib/backend/webgpu/passes.ts";
import {
  affineMap,
  affineMapAsync,
  type Batch,
  fromLayersModel,
  partitionCodes,
  partitionCodesAsync,
  templateInnerProducts,
  templateInnerProductsAsync,
} from "../../../mod.ts";
import { assert, assertAllClose, assertEquals, assertRejects } from "../../_assert.ts";

const ctx = await webgpuContext();

function model(): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [6, 6, 2],
        filters: 3,
        kernelSize: 3,
        activation: "relu",
        biasInitializer: tf.initializers.randomNormal({ seed: 5 }), // offsets B that differ
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 4, biasInitializer: tf.initializers.randomNormal({ seed: 6 }) }),
    ],
  });
}

/** Runs `f` and counts the queue writes of at least `bytes` and the buffer maps meanwhile. */
async function traffic<T>(bytes: number, f: () => Promise<T>) {
  let writes = 0, maps = 0;
  const write = GPUQueue.prototype.writeBuffer, map = GPUBuffer.prototype.mapAsync;
  GPUQueue.prototype.writeBuffer = function (this: GPUQueue, ...a: Parameters<typeof write>) {
    const size = a[4] ?? (a[2] as ArrayBufferView).byteLength;
    if (size >= bytes) writes++;
    return write.apply(this, a);
  };
  GPUBuffer.prototype.mapAsync = function (this: GPUBuffer, ...a: Parameters<typeof map>) {
    maps++;
    return map.apply(this, a);
  };
  try {
    return { result: await f(), writes, maps };
  } finally {
    GPUQueue.prototype.writeBuffer = write;
    GPUBuffer.prototype.mapAsync = map;
  }
}

Deno.test({
  name: "a tfjs-webgpu tensor on masokit's device: results stay on the GPU, equal to read-back",
  ignore: ctx === null,
  async fn(t) {
    await tf.setBackend("cpu");
    const m = model();
    const net = fromLayersModel(m);
    const n = 5, shape = [n, 6, 6, 2];
    const xv = Float32Array.from({ length: n * 72 }, (_, i) => Math.sin(i * 0.91) * 1.5);
    const batch: Batch = { data: Float64Array.from(xv), shape };
    const want = affineMap(net, batch), wantZ = templateInnerProducts(net, batch);
    assertEquals(await shareDeviceWithTfjs(), { shared: true });
    assert(await tf.setBackend("webgpu"));
    const forward = tf.env().getBool("WEBGPU_CPU_FORWARD");
    tf.env().set("WEBGPU_CPU_FORWARD", false); // small ops' results on the GPU too
    // chunks of 4 examples (5: two chunks) and template slices of 1: every offset matters
    webgpuHooks.chunkBytes = net.largestActivation * 4 * net.outputSize;
    try {
      assertEquals([chunkSize(ctx!, net, 1), chunkSize(ctx!, net, net.outputSize)], [4, 1]);
      // the result of a GPU op: its values are on the GPU only
      const onGpu = () => tf.tidy(() => tf.mul(tf.tensor(xv, shape), 1));
      const x = onGpu();
      const { result, writes, maps } = await traffic(
        xv.byteLength,
        () => affineMapAsync(net, x, { backend: "webgpu" }),
      );
      await t.step("the input is neither uploaded nor read; one flag is read", () => {
        assertEquals(writes, 0);
        assertEquals(maps, 1); // the finiteness flag
      });
      const { A, B } = result;
      await t.step(
        "the results are tfjs-webgpu tensors equal to the float64 reference",
        async () => {
          assertEquals(A.shape, [n, 4, 72]);
          assertEquals(B.shape, [n, 4]);
          assertAllClose(await A.data(), Float32Array.from(want.A.data), 1e-5, "A", 1);
          assertAllClose(await B.data(), Float32Array.from(want.B.data), 1e-5, "B", 1);
        },
      );
      await t.step(
        "equal bit for bit to the read-back path's (a tensor made from values)",
        async () => {
          const r = await affineMapAsync(net, tf.tensor(xv, shape), { backend: "webgpu" });
          assertEquals(Array.from(await r.A.data()), Array.from(await A.data()));
          assertEquals(Array.from(await r.B.data()), Array.from(await B.data()));
          tf.dispose([r.A, r.B]);
        },
      );
      await t.step("⟨A_c, x⟩ the same way", async () => {
        const x2 = onGpu();
        const { result: z, writes, maps } = await traffic(
          xv.byteLength,
          () => templateInnerProductsAsync(net, x2, { backend: "webgpu" }),
        );
        assertEquals([writes, maps], [0, 1]);
        assertAllClose(await z.data(), Float32Array.from(wantZ.data), 1e-5, "⟨A_c, x⟩", 1);
        tf.dispose([z, x2]);
      });
      await t.step("partition codes: the input is not uploaded; codes as read back", async () => {
        const x3 = onGpu();
        const { result: codes, writes } = await traffic(
          72 * 4, // one example's input: a chunk's upload would be at least that
          () => partitionCodesAsync(net, x3, { backend: "webgpu" }),
        );
        assertEquals(writes, 0);
        const read = await partitionCodesAsync(net, tf.tensor(xv, shape), { backend: "webgpu" });
        assertEquals(codes, read);
        assertEquals(codes, partitionCodes(net, batch, { backend: "cpu" }));
        tf.dispose(x3);
      });
      await t.step("a non-finite or misshapen input is refused, naming it", async () => {
        const bad = tf.tidy(() => tf.div(tf.tensor(xv, shape), tf.tensor(xv, shape).sub(xv[3])));
        await assertRejects(
          () => affineMapAsync(net, bad, { backend: "webgpu" }),
          (e: Error) =>
            e instanceof RangeError && /at example 0, index 3 is not finite/.test(e.message),
        );
        const wrong = tf.tidy(() => tf.mul(tf.ones([2, 6, 6, 3]), 1));
        await assertRejects(
          () => templateInnerProductsAsync(net, wrong, { backend: "webgpu" }),
          (e: Error) => e instanceof RangeError && e.message.includes("expected [N, 6, 6, 2]"),
        );
        tf.dispose([bad, wrong]);
      });
      tf.dispose([A, B, x]);
    } finally {
      webgpuHooks.chunkBytes = undefined;
      tf.env().set("WEBGPU_CPU_FORWARD", forward);
      await tf.setBackend("cpu");
    }
  },
});
