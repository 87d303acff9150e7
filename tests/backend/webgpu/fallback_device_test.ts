import * as tf from "@tensorflow/tfjs";
import { fromLayersModel } from "../../../lib/network/from_layers_model.ts";
import type { Batch } from "../../../lib/network/batch.ts";
import { partitionCodes } from "../../../lib/partition/codes.ts";
import { templateInnerProducts } from "../../../lib/affine/template_inner_products.ts";
import { affineMap } from "../../../lib/affine/affine_map.ts";
import { affineMapAsync } from "../../../lib/affine/affine_map_async.ts";
import { templateInnerProductsAsync } from "../../../lib/affine/template_inner_products_async.ts";
import { partitionCodesAsync } from "../../../lib/partition/codes_async.ts";
import {
  setWebGpuAdapterSource,
  type WebGpuContext,
  webgpuContext,
  webgpuHooks,
} from "../../../lib/backend/webgpu/device.ts";
import { webgpuNotices, withWebGpu } from "../../../lib/backend/webgpu/with_fallback.ts";
import {
  assert,
  assertAllClose,
  assertEquals,
  assertMatch,
  assertStrictEquals,
  largestMagnitude,
} from "../../_assert.ts";
import { cnnModel, randomInput } from "../../_random_models.ts";

await tf.setBackend("cpu");

/**
 * A stand-in adapter whose devices are lost, with `message`, when destroyed: the fallback's
 * logic without a GPU. Counts the devices it made.
 */
function fakeAdapters(message: string): { devices: number } {
  const made = { devices: 0 };
  const limits = {
    maxStorageBufferBindingSize: 1 << 27,
    maxBufferSize: 1 << 28,
    maxComputeWorkgroupStorageSize: 16384,
    maxComputeInvocationsPerWorkgroup: 256,
    maxStorageBuffersPerShaderStage: 8,
  };
  setWebGpuAdapterSource(() =>
    Promise.resolve({
      info: { description: "fake adapter", isFallbackAdapter: true },
      features: new Set<string>(),
      limits,
      requestDevice: () => {
        made.devices++;
        let lose: (info: { reason: string; message: string }) => void = () => {};
        const lost = new Promise<{ reason: string; message: string }>((r) => lose = r);
        return Promise.resolve({ lost, destroy: () => lose({ reason: "destroyed", message }) });
      },
    } as unknown as GPUAdapter)
  );
  return made;
}

/** Collects the fallback notices while `fn` runs. */
async function notices(fn: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const write = webgpuNotices.write;
  webgpuNotices.write = (line) => lines.push(line);
  try {
    await fn();
  } finally {
    webgpuNotices.write = write;
  }
  return lines;
}

Deno.test("withWebGpu() after a device loss: one one-line notice, the CPU's result, then a new device", async (t) => {
  try {
    await t.step("a driver's message of several lines gives a notice of one line", async () => {
      fakeAdapters("Device lost\n\nCaused by:\n    Parent device is lost\n");
      let result = 0;
      const lines = await notices(async () => {
        result = await withWebGpu("an example", {
          gpu: (ctx) => {
            (ctx.device as unknown as { destroy: () => void }).destroy();
            return Promise.reject(new Error("mapAsync failed"));
          },
          cpu: () => 42,
        });
      });
      assertStrictEquals(result, 42);
      assertEquals(lines.length, 1, `notices: ${JSON.stringify(lines)}`);
      assert(!/[\r\n]/.test(lines[0]), `a notice of several lines: ${JSON.stringify(lines[0])}`);
      assertMatch(
        lines[0],
        /^masokit: WebGPU device lost \(destroyed: Device lost Caused by: Parent device is lost\) while computing an example; redone on the CPU backend$/,
      );
    });
    await t.step("calls that find the device lost at once share one new device", async () => {
      const made = fakeAdapters("gone");
      const first = await webgpuContext();
      assertEquals(made.devices, 1);
      (first!.device as unknown as { destroy: () => void }).destroy();
      await first!.device.lost;
      await Promise.resolve(); // the context's own handler of `lost` has run
      assert(first!.lostReason !== null);
      const again = await Promise.all([webgpuContext(), webgpuContext(), webgpuContext()]);
      assertEquals(made.devices, 2, "one device for all three calls");
      assert(again[0] !== first && again[0] === again[1] && again[1] === again[2]);
      // and a later computation runs on it, without a notice
      const lines = await notices(async () => {
        const used: WebGpuContext[] = [];
        const v = await withWebGpu("an example", {
          gpu: (ctx) => (used.push(ctx), Promise.resolve(1)),
          cpu: () => 2,
        });
        assertStrictEquals(v, 1);
        assertStrictEquals(used[0], again[0]);
      });
      assertEquals(lines, []);
    });
    await t.step("no adapter: one notice a call, and the CPU's result", async () => {
      setWebGpuAdapterSource(() => Promise.resolve(null));
      const lines = await notices(async () => {
        assertStrictEquals(
          await withWebGpu("an example", { gpu: () => Promise.resolve(1), cpu: () => 2 }),
          2,
        );
      });
      assertEquals(lines, ["masokit: no WebGPU adapter; computing an example on the CPU backend"]);
    });
    await t.step(
      "a device request that fails is said so, and the next call asks again",
      async () => {
        const made = fakeAdapters("gone");
        let fail = true;
        setWebGpuAdapterSource(() =>
          Promise.resolve({
            info: { description: "flaky adapter", isFallbackAdapter: true },
            features: new Set<string>(),
            limits: { maxComputeInvocationsPerWorkgroup: 256, maxStorageBuffersPerShaderStage: 8 },
            requestDevice: () => {
              if (!fail) return Promise.resolve({ lost: new Promise(() => {}) });
              fail = false;
              return Promise.reject(new Error("out of\nmemory"));
            },
          } as unknown as GPUAdapter)
        );
        const lines = await notices(async () => {
          assertStrictEquals(
            await withWebGpu("an example", { gpu: () => Promise.resolve(1), cpu: () => 2 }),
            2,
          );
          assertStrictEquals(
            await withWebGpu("an example", { gpu: () => Promise.resolve(1), cpu: () => 2 }),
            1,
          );
        });
        assertEquals(lines, [
          "masokit: no WebGPU device (its request failed: out of memory); computing an example on the CPU backend",
        ]);
        assertEquals(made.devices, 0);
      },
    );
  } finally {
    setWebGpuAdapterSource(null);
  }
});

const gpu = await webgpuContext();

Deno.test({
  name:
    "templateInnerProductsAsync() and partitionCodesAsync() redo a tensor's work on the CPU when the device is lost mid-run, and the next call runs on a new device",
  ignore: gpu === null,
  async fn(t) {
    const model = cnnModel(51);
    const net = fromLayersModel(model);
    const x = randomInput([11, 9, 3], 3, 52);
    const batch: Batch = { data: Float64Array.from(x.dataSync()), shape: x.shape };
    const refIp = templateInnerProducts(net, batch, { backend: "cpu" });
    const refCodes = partitionCodes(net, batch, { backend: "cpu" });
    const refMap = affineMap(net, batch, { backend: "cpu" });
    try {
      await t.step("inner products of a tensor", async () => {
        let ip: tf.Tensor | undefined;
        webgpuHooks.beforeReadback = (ctx) => ctx.device.destroy();
        const lines = await notices(async () => {
          ip = await templateInnerProductsAsync(net, x, { backend: "webgpu" });
        });
        webgpuHooks.beforeReadback = undefined;
        assertEquals(lines.length, 1);
        assertMatch(
          lines[0],
          /^masokit: WebGPU device lost \(.*\) while computing template inner products; redone on the CPU backend$/,
        );
        assert(ip instanceof tf.Tensor && ip.dtype === "float32");
        assertEquals(Array.from(ip.dataSync()), Array.from(Float32Array.from(refIp.data)));
        assert(!x.isDisposed);
        ip.dispose();
      });
      await t.step("codes of a batch", async () => {
        webgpuHooks.beforeReadback = (ctx) => ctx.device.destroy();
        let codes: unknown;
        const lines = await notices(async () => {
          codes = await partitionCodesAsync(net, batch, { backend: "webgpu" });
        });
        webgpuHooks.beforeReadback = undefined;
        assertEquals(lines.length, 1);
        assertMatch(lines[0], /while computing partition codes; redone on the CPU backend$/);
        assertEquals(codes, refCodes);
      });
      await t.step("the next calls: a new device, no notice, the GPU's results", async () => {
        const lines = await notices(async () => {
          const ctx = await webgpuContext();
          assert(ctx !== null && ctx.lostReason === null);
          const { A, B } = await affineMapAsync(net, x, { backend: "webgpu" });
          assertAllClose(A.dataSync(), refMap.A.data, 1e-4, "A", largestMagnitude(refMap.A.data));
          assertAllClose(B.dataSync(), refMap.B.data, 1e-4, "B", largestMagnitude(refMap.B.data));
          tf.dispose([A, B]);
          assertEquals(await partitionCodesAsync(net, x, { backend: "webgpu" }), refCodes);
        });
        assertEquals(lines, []);
      });
    } finally {
      webgpuHooks.beforeReadback = undefined;
      x.dispose();
      model.dispose();
    }
  },
});
