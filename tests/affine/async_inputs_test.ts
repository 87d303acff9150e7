import * as tf from "@tensorflow/tfjs";
import { fromLayersModel } from "../../lib/network/from_layers_model.ts";
import type { Batch, BatchInput } from "../../lib/network/batch.ts";
import type { SplineNetwork } from "../../lib/network/spline_network.ts";
import { affineMap } from "../../lib/affine/affine_map.ts";
import { templateInnerProducts } from "../../lib/affine/template_inner_products.ts";
import { partitionCodes } from "../../lib/partition/codes.ts";
import { affineMapAsync } from "../../lib/affine/affine_map_async.ts";
import { templateInnerProductsAsync } from "../../lib/affine/template_inner_products_async.ts";
import { partitionCodesAsync } from "../../lib/partition/codes_async.ts";
import { setWebGpuAdapterSource, webgpuContext } from "../../lib/backend/webgpu/device.ts";
import { webgpuNotices } from "../../lib/backend/webgpu/with_fallback.ts";
import { assert, assertAllClose, assertEquals, largestMagnitude } from "../_assert.ts";
import { cnnModel, mlpModel, randomInput } from "../_random_models.ts";

await tf.setBackend("cpu");

type Engine = (net: SplineNetwork, x: BatchInput, options?: unknown) => unknown;
const entries: { name: string; sync: Engine; async: Engine }[] = [
  { name: "affineMapAsync", sync: affineMap as Engine, async: affineMapAsync as Engine },
  {
    name: "templateInnerProductsAsync",
    sync: templateInnerProducts as Engine,
    async: templateInnerProductsAsync as Engine,
  },
  {
    name: "partitionCodesAsync",
    sync: partitionCodes as Engine,
    async: partitionCodesAsync as Engine,
  },
];

/** `"name: message"` of what `f` throws or rejects with, or `"ok"`. */
async function outcome(f: () => unknown): Promise<string> {
  try {
    await f();
    return "ok";
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
}

/** Counts adapter requests; answers with no adapter (no device work at all). */
function countingSource(): { requests: number } {
  const counter = { requests: 0 };
  setWebGpuAdapterSource(() => {
    counter.requests++;
    return Promise.resolve(null);
  });
  return counter;
}

Deno.test("the async engine calls refuse bad inputs as their sync twins do, before any device work", async (t) => {
  const model = mlpModel(31);
  const net = fromLayersModel(model);
  const D = net.inputSize;
  const disposed = tf.zeros([1, D]);
  disposed.dispose();
  const nan = tf.fill([1, D], Number.NaN);
  const bool = tf.zeros([1, D], "bool");
  const inputs: [string, unknown][] = [
    ["null", null],
    ["an array", [[1, 2]]],
    ["a number", 3],
    ["a disposed tensor", disposed],
    ["a tensor of the wrong shape", tf.zeros([2, D + 1])],
    ["a batch of the wrong shape", { data: new Float64Array(3), shape: [1, 3] }],
    ["a batch without a shape", { data: new Float64Array(3) }],
    ["a batch of too many values", { data: new Float64Array(D + 1), shape: [1, D] }],
    ["a Float32Array batch", { data: new Float32Array(D), shape: [1, D] }],
    ["a NaN batch", { data: new Float64Array(D).fill(Number.NaN), shape: [1, D] }],
    ["a NaN tensor", nan],
    ["a bool tensor", bool],
  ];
  const good: Batch = { data: new Float64Array(D), shape: [1, D] };
  const optionSets: [string, unknown][] = [
    ["no options", undefined],
    ["an unknown option", { backnd: "cpu" }],
    ["an unknown backend", { backend: "gpu" }],
    ["null options", null],
  ];
  const lines: string[] = [];
  const write = webgpuNotices.write;
  webgpuNotices.write = (line) => lines.push(line);
  try {
    for (const e of entries) {
      await t.step(`${e.name}: each bad input, on every backend`, async () => {
        for (const [what, x] of inputs) {
          for (const backend of ["auto", "cpu", "tfjs", "webgpu"]) {
            const counter = countingSource();
            // the sync twin has no "webgpu": its "cpu" refusal is the one to give
            const want = await outcome(() =>
              e.sync(net, x as BatchInput, { backend: backend === "webgpu" ? "cpu" : backend })
            );
            const got = await outcome(() => e.async(net, x as BatchInput, { backend }));
            assert(want !== "ok", `${what}: the sync call accepted it`);
            assertEquals(got, want, `${e.name}, ${what}, backend ${backend}`);
            assertEquals(
              counter.requests,
              0,
              `${e.name}, ${what}, backend ${backend}: adapter requested`,
            );
          }
        }
      });
      await t.step(
        `${e.name}: a bad input is named before bad options, as in the sync call`,
        async () => {
          for (const [what, options] of optionSets) {
            const counter = countingSource();
            const want = await outcome(() => e.sync(net, null as never, options));
            const got = await outcome(() => e.async(net, null as never, options));
            assertEquals(got, want, `${e.name}, null input with ${what}`);
            assertEquals(counter.requests, 0, `${e.name}, ${what}: adapter requested`);
          }
        },
      );
      await t.step(
        `${e.name}: bad options of a good input are refused without device work`,
        async () => {
          for (const [what, options] of optionSets.slice(1)) {
            const counter = countingSource();
            const got = await outcome(() => e.async(net, good, options));
            assert(/^(TypeError|RangeError): /.test(got), `${e.name}, ${what}: ${got}`);
            assertEquals(counter.requests, 0, `${e.name}, ${what}: adapter requested`);
          }
        },
      );
    }
    assertEquals(lines, [], "no fallback notice for a refused call");
  } finally {
    webgpuNotices.write = write;
    setWebGpuAdapterSource(null);
    tf.dispose([nan, bool]);
    model.dispose();
  }
});

const gpu = await webgpuContext();

Deno.test({
  name:
    "the async engine calls agree with the float64 CPU reference for batches of 0, 1 and 3, tensors and batches, and keep the caller's tensor",
  ignore: gpu === null,
  async fn(t) {
    const models = [
      { name: "MLP", model: mlpModel(32), shape: [7] },
      { name: "CNN", model: cnnModel(33), shape: [11, 9, 3] },
    ];
    for (const m of models) {
      const net = fromLayersModel(m.model);
      for (const n of [0, 1, 3]) {
        const t0 = randomInput(m.shape, n, 40 + n);
        const batch: Batch = { data: Float64Array.from(t0.dataSync()), shape: t0.shape };
        const refMap = affineMap(net, batch, { backend: "cpu" });
        const refIp = templateInnerProducts(net, batch, { backend: "cpu" });
        const refCodes = partitionCodes(net, batch, { backend: "cpu" });
        for (const backend of ["webgpu", "auto", "cpu"] as const) {
          await t.step(`${m.name}, batch ${n}, backend ${backend}`, async () => {
            for (const x of [t0, batch] as BatchInput[]) {
              const kind = x instanceof tf.Tensor ? "tensor" : "batch";
              const what = `${m.name}, ${n} examples, ${kind}, ${backend}`;
              const close = (got: tf.Tensor | Batch, want: Batch, name: string) => {
                assertEquals(
                  got instanceof tf.Tensor,
                  x instanceof tf.Tensor,
                  `${what}: ${name} form`,
                );
                assertEquals([...got.shape], [...want.shape], `${what}: ${name} shape`);
                const values = got instanceof tf.Tensor ? got.dataSync() : got.data;
                if (!(got instanceof tf.Tensor)) assert(got.data instanceof Float64Array);
                else assertEquals(got.dtype, "float32");
                assertAllClose(
                  values,
                  want.data,
                  1e-4,
                  `${what}: ${name}`,
                  largestMagnitude(want.data),
                );
                assert(got !== x, `${what}: ${name} is the input`);
              };
              const { A, B } = await affineMapAsync(net, x as tf.Tensor, { backend });
              close(A, refMap.A, "A");
              close(B, refMap.B, "B");
              const ip = await templateInnerProductsAsync(net, x as tf.Tensor, { backend });
              close(ip, refIp, "<A_c, x>");
              const codes = await partitionCodesAsync(net, x, { backend });
              assertEquals(codes, refCodes, `${what}: codes`);
              if (x instanceof tf.Tensor) {
                assert(!x.isDisposed, `${what}: the input tensor was disposed`);
                tf.dispose([A, B, ip]);
              }
            }
          });
        }
        t0.dispose();
      }
      m.model.dispose();
    }
  },
});
