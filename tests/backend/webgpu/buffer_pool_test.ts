/**
 * The WebGPU engine's buffer pool: reuse by size (up to twice the request), nothing pooled
 * from a lost device, and releaseWebGpuBuffers() giving the memory back — with results that
 * do not depend on what a reused buffer held before.
 */
import * as tf from "@tensorflow/tfjs";
import { webgpuContext } from "../../../lib/backend/webgpu/device.ts";
import { giveBuffer, pooledBytes, STORAGE, takeBuffer } from "../../../lib/backend/webgpu/_gpu.ts";
import { releaseWebGpuBuffers } from "../../../lib/backend/webgpu/release_buffers.ts";
import { affineMapAsync } from "../../../lib/affine/affine_map_async.ts";
import { fromLayersModel } from "../../../lib/network/from_layers_model.ts";
import { assertEquals, assertNotEquals, assertStrictEquals } from "../../_assert.ts";
import { cases } from "../../_cases.ts";
import { Recorder } from "../../../lib/backend/webgpu/run.ts";
import { recordCodesAndOffsets } from "../../../lib/backend/webgpu/passes.ts";
import { smallCNN } from "../../../lib/models/small_cnn.ts";

await tf.setBackend("cpu");
const gpu = await webgpuContext();

Deno.test({
  name: "pooled buffers are reused for requests up to their size and at least half of it",
  ignore: gpu === null,
  async fn() {
    await releaseWebGpuBuffers();
    const a = takeBuffer(gpu!, 1000, STORAGE, "a");
    assertEquals(a.size, 1000);
    giveBuffer(gpu!, a);
    assertEquals(pooledBytes(gpu!), 1000);
    const small = takeBuffer(gpu!, 400, STORAGE, "too small for a");
    assertNotEquals(small, a); // a would waste more than the request
    const b = takeBuffer(gpu!, 600, STORAGE, "fits a");
    assertStrictEquals(b, a);
    assertEquals(pooledBytes(gpu!), 0);
    const u = takeBuffer(gpu!, 16, 0x40 | 0x08, "uniform"); // another usage: never a
    giveBuffer(gpu!, b);
    const u2 = takeBuffer(gpu!, 1000, 0x40 | 0x08, "uniform");
    assertNotEquals(u2, b);
    u2.destroy();
    giveBuffer(gpu!, small);
    giveBuffer(gpu!, u);
    assertEquals(pooledBytes(gpu!), 1000 + 400 + 16);
    assertEquals(await releaseWebGpuBuffers(), 1416);
    assertEquals(pooledBytes(gpu!), 0);
  },
});

Deno.test({
  name: "results do not depend on the pool: the same call after releasing it is bit-identical",
  ignore: gpu === null,
  async fn() {
    const c = cases(21)[1];
    const net = fromLayersModel(c.model);
    const x = { data: Float64Array.from(c.x.dataSync()), shape: c.x.shape };
    const first = await affineMapAsync(net, x, { backend: "webgpu" });
    if (pooledBytes(gpu!) === 0) throw new Error("expected the call to leave buffers pooled");
    const reused = await affineMapAsync(net, x, { backend: "webgpu" });
    await releaseWebGpuBuffers();
    const fresh = await affineMapAsync(net, x, { backend: "webgpu" });
    assertEquals(reused.A.data, first.A.data);
    assertEquals(fresh.A.data, first.A.data);
    assertEquals(fresh.B.data, first.B.data);
  },
});

/** A recorder that never reuses a buffer within the recording. */
class NoReuse extends Recorder {
  override done(): void {}
}

Deno.test({
  name:
    "a recording reuses the buffers of activations it has read, never an upload or a zeroed one",
  ignore: gpu === null,
  fn() {
    const rec = new Recorder(gpu!, "reuse test");
    try {
      const a = rec.buffer(1000, "a"), up = rec.upload(new Float32Array(1000), "upload");
      const z = rec.zeros(1000, "zeros");
      rec.done(a, up, z, gpu!.device.createBuffer({ size: 16, usage: STORAGE })); // not its own: ignored
      // outputs take what was given up, the smallest that holds them first ...
      const b = rec.buffer(900, "b");
      assertEquals([a, up, z].includes(b), true);
      const c = rec.buffer(100, "c");
      assertEquals([a, up, z].includes(c) && c !== b, true);
      rec.done(c);
      assertStrictEquals(rec.buffer(50, "d"), c);
      assertEquals([a, up, z].includes(rec.buffer(2000, "too large for them")), false);
      // ... uploads and zeroed buffers never do (they are written before the pass runs), nor
      // outputs kept to the end (they would hold a larger buffer for the whole recording)
      const fresh = [
        rec.upload(new Float32Array(1000), "u2"),
        rec.zeros(1000, "z2"),
        rec.kept(10, "kept"),
      ];
      fresh.forEach((f) => assertEquals([a, up, z].includes(f), false));
    } finally {
      rec.release();
    }
    // smallCNN's codes and offsets hold a few activations at a time, not one per layer
    const net = fromLayersModel(smallCNN({ seed: 1 }));
    const held = (reuse: boolean) => {
      const r = reuse ? new Recorder(gpu!, "held") : new NoReuse(gpu!, "held without reuse");
      try {
        recordCodesAndOffsets(r, net, r.buffer(8 * net.inputSize, "x"), 8);
        return r.heldBytes;
      } finally {
        r.release();
      }
    };
    const [withReuse, without] = [held(true), held(false)];
    assertEquals(withReuse < without * 0.5, true, `${withReuse} bytes held, ${without} without`);
    // the recorded codes are in buffers of their own size, none given up by a layer
    const r = new Recorder(gpu!, "codes");
    try {
      const { codes } = recordCodesAndOffsets(r, net, r.buffer(8 * net.inputSize, "x"), 8);
      for (const [layer, b] of codes) {
        const units = layer.outputShape.reduce((p, q) => p * q);
        const values = 8 * (layer.kind === "max-pool" ? units : Math.ceil(units / 32));
        assertEquals(
          b.size <= Math.max(256, 2 * 4 * values),
          true,
          `${layer.name}: ${b.size} bytes`,
        );
      }
    } finally {
      r.release();
    }
  },
});
