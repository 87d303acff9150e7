/**
 * The loop limit of Mesa's software adapters (llvmpipe / lavapipe end a shader's loop nest
 * after 65,535 iterations, without an error): the limit itself, shown on the adapter; the
 * engine refusing, by name, the networks and nearest-neighbour jobs whose kernels would loop
 * longer there — and checking that a GPU, which has no such limit, computes them right
 * (bench/gpu_run.sh runs these tests there) — and running those just under it correctly.
 */
import * as tf from "@tensorflow/tfjs";
import { webgpuContext } from "../../../lib/backend/webgpu/device.ts";
import {
  layerLoopIterations,
  SOFTWARE_LOOP_LIMIT,
} from "../../../lib/backend/webgpu/software_loops.ts";
import { fromLayersModel } from "../../../lib/network/from_layers_model.ts";
import { templateInnerProductsAsync } from "../../../lib/affine/template_inner_products_async.ts";
import { templateInnerProducts } from "../../../lib/affine/template_inner_products.ts";
import { nearestNeighborsAsync } from "../../../lib/partition/nearest_neighbors_async.ts";
import { nearestNeighbors } from "../../../lib/partition/nearest_neighbors.ts";
import { randomCodes } from "../../partition/_random_codes.ts";
import type { SplineLayer } from "../../../lib/network/spline_network.ts";
import { assertAllClose, assertEquals, assertRejects, largestMagnitude } from "../../_assert.ts";

await tf.setBackend("cpu");
const gpu = await webgpuContext();
const software = gpu?.isFallback === true && /llvmpipe/.test(gpu.adapterName);

/** The loop counter of one invocation: `n` iterations of a loop that adds 1. */
async function countLoop(n: number): Promise<number> {
  const { device } = gpu!;
  const module = device.createShaderModule({
    code: `@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(1) fn main() {
  var m = 0u;
  for (var i = 0u; i < ${n}u; i++) { m += 1u; }
  out[0] = m;
}`,
  });
  const pipeline = device.createComputePipeline({
    layout: "auto",
    compute: { module, entryPoint: "main" },
  });
  const out = device.createBuffer({ size: 4, usage: GPUBufferUsage.STORAGE | 0x04 });
  const read = device.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ | 0x08 });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(
    0,
    device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: { buffer: out } }],
    }),
  );
  pass.dispatchWorkgroups(1);
  pass.end();
  enc.copyBufferToBuffer(out, 0, read, 0, 4);
  device.queue.submit([enc.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const [m] = new Uint32Array(read.getMappedRange().slice(0));
  out.destroy();
  read.destroy();
  return m;
}

Deno.test({
  name: "a software adapter stops a shader loop after 65,535 iterations; a GPU does not",
  ignore: gpu === null || (gpu.isFallback && !software),
  async fn() {
    assertEquals(await countLoop(SOFTWARE_LOOP_LIMIT), SOFTWARE_LOOP_LIMIT);
    assertEquals(await countLoop(70_000), software ? SOFTWARE_LOOP_LIMIT : 70_000);
  },
});

/** A dense network of `inputs` inputs → 4 (ReLU) → 3, and two inputs. */
function wideDense(inputs: number) {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [inputs], units: 4, activation: "relu" }),
      tf.layers.dense({ units: 3 }),
    ],
  });
  const x = {
    data: Float64Array.from({ length: 2 * inputs }, (_, i) => Math.sin(i * 0.37)),
    shape: [2, inputs],
  };
  return { model, net: fromLayersModel(model), x };
}

Deno.test({
  name:
    "a layer that would loop past the limit: refused by name on a software adapter, right on a GPU",
  ignore: gpu === null,
  async fn() {
    for (const inputs of [60_000, 70_000]) {
      const { model, net, x } = wideDense(inputs);
      const ref = templateInnerProducts(net, x, { backend: "cpu" }).data;
      const run = () => templateInnerProductsAsync(net, x, { backend: "webgpu" });
      if (gpu!.isFallback && inputs > SOFTWARE_LOOP_LIMIT) {
        await assertRejects(run, RangeError, `dense layer ${net.layers[0].name}`);
        await assertRejects(run, RangeError, "needs 70000");
      } else {
        const got = (await run()).data;
        assertAllClose(got, ref, 1e-4, `<A_c, x>, ${inputs} inputs`, largestMagnitude(ref));
      }
      model.dispose();
    }
  },
});

Deno.test({
  name:
    "a top-k merge that would loop past the limit: shorter chunks, or refused, on a software adapter",
  ignore: gpu === null,
  async fn() {
    // 4,100 base rows: a top-64 merge over the default 4,096 a chunk would loop 66,240 times
    const q = randomCodes(6, 300, { seed: 31 }), b = randomCodes(4100, 300, { seed: 32 });
    for (const k of [64, 100]) {
      const want = nearestNeighbors(q, b, { k });
      const run = () => nearestNeighborsAsync(q, b, { k, backend: "webgpu" });
      if (gpu!.isFallback && k === 100) {
        await assertRejects(run, RangeError, "top-100 merge");
      } else { // k = 64 on a software adapter: base chunks short enough for the merge
        const got = await run();
        assertEquals(got.indices.arraySync(), want.indices.arraySync());
        assertEquals(got.distances.arraySync(), want.distances.arraySync());
        tf.dispose([got.indices, got.distances]);
      }
      tf.dispose([want.indices, want.distances]);
    }
  },
});

Deno.test("layerLoopIterations(): products' depth both ways, pooling windows, residual paths", () => {
  const base = { name: "l", inputShape: [8, 8, 5], outputShape: [8, 8, 7] };
  const conv = {
    ...base,
    kind: "conv2d",
    kernel: new Float64Array(0),
    bias: null,
    kernelSize: [3, 2],
    strides: [1, 1],
    padding: [0, 0, 0, 0],
  } as SplineLayer;
  const dense = {
    name: "d",
    kind: "dense",
    inputShape: [6, 9],
    outputShape: [6, 11],
    units: 11,
    kernel: new Float64Array(0),
    bias: null,
  } as SplineLayer;
  const pool = (kind: "max-pool" | "avg-pool") =>
    ({ ...base, kind, poolSize: [4, 3], strides: [4, 3], padding: [0, 0, 0, 0] }) as SplineLayer;
  assertEquals(layerLoopIterations(conv), 6 * 7); // taps × the wider side (transposed: 7 outputs)
  assertEquals(layerLoopIterations(dense), 11);
  assertEquals(layerLoopIterations(pool("max-pool")), 4 * 3 + 4);
  assertEquals(layerLoopIterations(pool("avg-pool")), 4 * 3 + 4);
  assertEquals(
    layerLoopIterations({ ...base, kind: "global-avg-pool", outputShape: [5] } as SplineLayer),
    64,
  );
  assertEquals(
    layerLoopIterations({ ...base, kind: "residual", paths: [[conv], [dense]] } as SplineLayer),
    42,
  );
  assertEquals(layerLoopIterations({ ...base, kind: "relu" } as SplineLayer), 0);
});
