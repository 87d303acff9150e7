import * as tf from "@tensorflow/tfjs";
import { fromLayersModel } from "../../../lib/network/from_layers_model.ts";
import { readBatch } from "../../../lib/network/batch.ts";
import { forwardPass } from "../../../lib/backend/cpu/run.ts";
import { affineMap } from "../../../lib/affine/affine_map.ts";
import { templateInnerProducts } from "../../../lib/affine/template_inner_products.ts";
import { partitionCodes } from "../../../lib/partition/codes.ts";
import { affineMapAsync } from "../../../lib/affine/affine_map_async.ts";
import { templateInnerProductsAsync } from "../../../lib/affine/template_inner_products_async.ts";
import { partitionCodesAsync } from "../../../lib/partition/codes_async.ts";
import { forwardWebGpu } from "../../../lib/backend/webgpu/passes.ts";
import {
  setWebGpuAdapterSource,
  webgpuContext,
  webgpuHooks,
} from "../../../lib/backend/webgpu/device.ts";
import { webgpuNotices } from "../../../lib/backend/webgpu/with_fallback.ts";
import { resolveBackend } from "../../../lib/backend/backend.ts";
import {
  assert,
  assertAllClose,
  assertEquals,
  assertMatch,
  assertThrows,
  largestMagnitude,
} from "../../_assert.ts";
import { cases } from "../../_cases.ts";
import { randomInput, randomizeWeights } from "../../_random_models.ts";
import { resNet } from "../../../lib/models/resnet.ts";
import { assertAffineAgrees } from "./_affine_agrees.ts";

await tf.setBackend("cpu");
const gpu = await webgpuContext();
const batch = (t: tf.Tensor) => ({ data: Float64Array.from(t.dataSync()), shape: t.shape });

Deno.test({
  name: "the WebGPU engine agrees with the float64 CPU reference",
  ignore: gpu === null,
  async fn(t) {
    for (const c of cases(21)) {
      await t.step(c.name, async () => {
        const net = fromLayersModel(c.model);
        const x = batch(c.x);
        // forward pass: outputs within 1e-4 of the largest, codes identical (the seeded
        // inputs have no pre-activation within float32 rounding of 0: a mismatch fails)
        const ref = forwardPass(
          net,
          readBatch(x, { exampleShape: net.inputShape }).data,
          x.shape[0],
        );
        const ours = await forwardWebGpu(gpu!, net, { x: x.data, n: x.shape[0] });
        assertAllClose(ours.output, ref.output, 1e-4, "output", largestMagnitude(ref.output));
        const refCodes = partitionCodes(net, x, { backend: "cpu" });
        const codes = await partitionCodesAsync(net, x, { backend: "webgpu" });
        assertEquals(codes.length, refCodes.length);
        for (let l = 0; l < codes.length; l++) {
          assertEquals(codes[l].kind, refCodes[l].kind);
          assertEquals(codes[l].words, refCodes[l].words);
          assertEquals(codes[l].bits, refCodes[l].bits, `layer ${l} bits`);
          assertEquals(codes[l].argmax, refCodes[l].argmax, `layer ${l} argmax`);
        }
        // templates, offsets and <A_c, x>
        await assertAffineAgrees(net, x, c.name);
      });
    }
    await t.step(
      "with and without the transposed pass gathering through the sign layers and max-pools after each conv (as on GPUs), buffers given up for reuse are read no more (overwritten with NaNs at once)",
      async () => {
        webgpuHooks.poisonGivenUp = true;
        try {
          for (const fuse of [false, true]) {
            webgpuHooks.fuseTransposes = fuse;
            for (const c of cases(21)) {
              const net = fromLayersModel(c.model);
              const x = batch(c.x);
              await assertAffineAgrees(net, x, `${c.name}, fused ${fuse}`);
            }
          }
        } finally {
          delete webgpuHooks.poisonGivenUp;
          delete webgpuHooks.fuseTransposes;
        }
      },
    );
    await t.step(
      "chunks of C examples, templates in slices of 1, several in flight: the same results",
      async () => {
        // MLP: 6 examples in chunks of 4 and 2; CNN: 4 examples, one chunk of 4 slices
        for (const c of [cases(21)[0], cases(21)[1]]) {
          const net = fromLayersModel(c.model);
          const x = batch(c.x);
          const n = x.shape[0], C = net.outputSize;
          // one example per templates slice, C per chunk of the other passes
          webgpuHooks.chunkBytes = net.largestActivation * C * 4;
          let reads = 0;
          webgpuHooks.beforeReadback = () => void reads++;
          try {
            await assertAffineAgrees(net, x, c.name);
            // offsets once a chunk, templates once a slice, inner products once a chunk
            assertEquals(reads, Math.ceil(n / C) + n + Math.ceil(n / C), c.name);
          } finally {
            delete webgpuHooks.chunkBytes;
            delete webgpuHooks.beforeReadback;
          }
        }
      },
    );
    await t.step(
      "convs of 16+ channels (a CNN, a ResNet) by Winograd F(4), F(2) and F(6) or by products, with and without gathers through the codes, buffers given up for reuse read no more: outputs, codes, templates, offsets and <A_c, x>",
      async () => {
        // the wide CNN case, and a ResNet of 16–24 channels (Winograd inside residual blocks)
        const resnet = resNet({
          inputShape: [12, 12, 3],
          filters: [16, 20, 24],
          blocks: [1, 1, 1],
          seed: 3,
        });
        randomizeWeights(resnet, 3); // biases and BN shifts too (B would be 0)
        const wide = cases(21).at(-1)!;
        const nets = [
          { name: "wide CNN", model: wide.model, x: wide.x },
          { name: "ResNet", model: resnet, x: randomInput([12, 12, 3], 3, 2101) },
        ];
        for (const c of nets) {
          const net = fromLayersModel(c.model);
          const x = batch(c.x);
          const ref = forwardPass(net, x.data, x.shape[0]);
          const refCodes = partitionCodes(net, x, { backend: "cpu" });
          const settings = [
            { winograd: 4, fuseTransposes: true, windowTiles: false },
            { winograd: 4, fuseTransposes: false },
            { winograd: 2, fuseTransposes: true, windowTiles: false },
            { winograd: false, fuseTransposes: true, windowTiles: false },
            { winograd: 6, fuseTransposes: true, windowTiles: false },
          ] as const;
          const templates: (Float64Array | Float32Array)[] = [];
          webgpuHooks.poisonGivenUp = true;
          try {
            for (const s of settings) {
              Object.assign(webgpuHooks, s);
              const what = `${c.name}, ${JSON.stringify(s)}`;
              const ours = await forwardWebGpu(gpu!, net, { x: x.data, n: x.shape[0] });
              assertAllClose(
                ours.output,
                ref.output,
                1e-4,
                `${what}: output`,
                largestMagnitude(ref.output),
              );
              const codes = await partitionCodesAsync(net, x, { backend: "webgpu" });
              for (let l = 0; l < codes.length; l++) {
                assertEquals(codes[l].bits, refCodes[l].bits, `${what}: layer ${l} bits`);
                assertEquals(codes[l].argmax, refCodes[l].argmax, `${what}: layer ${l} argmax`);
              }
              templates.push(await assertAffineAgrees(net, x, what, 1e-5));
            }
          } finally {
            for (
              const k of ["poisonGivenUp", "winograd", "fuseTransposes", "windowTiles"] as const
            ) {
              delete webgpuHooks[k];
            }
          }
          // the settings ran different arithmetic (float32 results of another algorithm differ)
          const differs = (a: ArrayLike<number>, b: ArrayLike<number>) =>
            Array.prototype.some.call(a, (v: number, i: number) => v !== b[i]);
          assertEquals(differs(templates[0], templates[3]), true, `${c.name}: F(4) vs products`);
          assertEquals(differs(templates[2], templates[3]), true, `${c.name}: F(2) vs products`);
          assertEquals(differs(templates[0], templates[2]), true, `${c.name}: F(4) vs F(2)`);
          assertEquals(differs(templates[4], templates[0]), true, `${c.name}: F(6) vs F(4)`);
        }
        resnet.dispose();
      },
    );
    await t.step("a tensor input gives float32 tensors of the same values", async () => {
      const c = cases(21)[0];
      const net = fromLayersModel(c.model);
      const { A, B } = await affineMapAsync(net, c.x, { backend: "webgpu" });
      assertEquals(A.shape, [6, net.outputSize, net.inputSize]);
      assertEquals(A.dtype, "float32");
      const ref = affineMap(net, batch(c.x), { backend: "cpu" });
      assertAllClose(A.dataSync(), ref.A.data, 1e-4, "A", largestMagnitude(ref.A.data));
      assertAllClose(B.dataSync(), ref.B.data, 1e-4, "B", largestMagnitude(ref.B.data));
      const ip = await templateInnerProductsAsync(net, c.x, { backend: "webgpu" });
      const refIp = templateInnerProducts(net, batch(c.x), { backend: "cpu" });
      assertAllClose(ip.dataSync(), refIp.data, 1e-4, "<A_c, x>", largestMagnitude(refIp.data));
      // the tensor's float32 values go to the GPU as they are: the same results, bit for bit,
      // as the float64 batch of those values (rounded back to float32 on the way)
      const b = batch(c.x);
      const viaBatch = await affineMapAsync(net, b, { backend: "webgpu" });
      assertEquals(Array.from(A.dataSync()), Array.from(viaBatch.A.data));
      assertEquals(Array.from(B.dataSync()), Array.from(viaBatch.B.data));
      const ipBatch = await templateInnerProductsAsync(net, b, { backend: "webgpu" });
      assertEquals(Array.from(ip.dataSync()), Array.from(ipBatch.data));
      const codes = await partitionCodesAsync(net, c.x, { backend: "webgpu" });
      const codesBatch = await partitionCodesAsync(net, b, { backend: "webgpu" });
      assertEquals(codes, codesBatch);
      tf.dispose([A, B, ip]);
    });
  },
});

Deno.test("the sync engine calls refuse 'webgpu' and point to the async variants", () => {
  assertThrows(
    () => resolveBackend({ data: new Float64Array(0), shape: [0, 1] }, { backend: "webgpu" }),
    /runs asynchronously: call the async variant/,
  );
});

Deno.test({
  name: "affineMapAsync() falls back to the CPU without an adapter or on a lost device",
  ignore: gpu === null,
  async fn(t) {
    const c = cases(22)[1];
    const net = fromLayersModel(c.model);
    const x = batch(c.x);
    const ref = affineMap(net, x, { backend: "cpu" });
    const lines: string[] = [];
    const write = webgpuNotices.write;
    webgpuNotices.write = (line) => lines.push(line);
    try {
      await t.step("no adapter", async () => {
        setWebGpuAdapterSource(() => Promise.resolve(null));
        const map = await affineMapAsync(net, x, { backend: "webgpu" });
        assertEquals(map.A.data, ref.A.data); // computed by the float64 reference itself
        assertEquals(lines.length, 1);
        assertMatch(lines[0], /^masokit: no WebGPU adapter; computing the affine map on the CPU/);
        setWebGpuAdapterSource(null);
      });
      await t.step("device destroyed mid-run", async () => {
        lines.length = 0;
        webgpuHooks.beforeReadback = (ctx) => ctx.device.destroy();
        const map = await affineMapAsync(net, x, { backend: "webgpu" });
        webgpuHooks.beforeReadback = undefined;
        assertEquals(map.A.data, ref.A.data);
        assertEquals(map.B.data, ref.B.data);
        assertEquals(lines.length, 1);
        assertMatch(lines[0], /^masokit: WebGPU device lost .* the affine map; redone on the CPU/);
      });
      await t.step("device destroyed with two chunks in flight", async () => {
        lines.length = 0;
        webgpuHooks.chunkBytes = net.largestActivation * net.outputSize * 4; // 1 example a chunk
        let reads = 0;
        webgpuHooks.beforeReadback = (ctx) => {
          if (++reads === 2) ctx.device.destroy();
        };
        try {
          const map = await affineMapAsync(net, x, { backend: "webgpu" });
          assertEquals(map.A.data, ref.A.data);
          assertEquals(lines.length, 1);
          assertMatch(
            lines[0],
            /^masokit: WebGPU device lost .* the affine map; redone on the CPU/,
          );
        } finally {
          delete webgpuHooks.chunkBytes;
          webgpuHooks.beforeReadback = undefined;
        }
      });
      await t.step("'auto' never picks a fallback adapter, and picks a GPU", async () => {
        lines.length = 0;
        const ctx = await webgpuContext();
        const ip = await templateInnerProductsAsync(net, x, { backend: "auto" });
        const ref = templateInnerProducts(net, x, { backend: "cpu" }).data;
        if (ctx === null || ctx.isFallback) {
          assertEquals(ip.data, ref); // the CPU engine's float64 result itself
          if (ctx?.isFallback) assertEquals(lines.length, 0);
        } else { // a GPU: its float32 kernels (on the H100 this branch runs)
          assertAllClose(ip.data, ref, 1e-4, "<A_c, x>", largestMagnitude(ref));
          assert(ip.data.some((v, i) => v !== ref[i]), "'auto' ran the CPU engine on a GPU");
        }
      });
    } finally {
      webgpuNotices.write = write;
      webgpuHooks.beforeReadback = undefined;
      setWebGpuAdapterSource(null);
    }
  },
});
