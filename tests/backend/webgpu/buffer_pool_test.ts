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
