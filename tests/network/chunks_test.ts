import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { chunking, examplesPerChunk } from "../../lib/network/_chunks.ts";
import { fromLayersModel } from "../../lib/network/from_layers_model.ts";
import { forward } from "../../lib/network/forward.ts";
import { affineMap } from "../../lib/affine/affine_map.ts";
import { templateInnerProducts } from "../../lib/affine/template_inner_products.ts";
import { partitionCodes } from "../../lib/partition/codes.ts";
import type { Batch } from "../../lib/network/batch.ts";
import { assertEquals } from "../_assert.ts";
import { cases } from "../_cases.ts";

// importing the wasm backend makes it the highest priority: start from tfjs-cpu explicitly
await tf.setBackend("cpu");

/** Every engine output of one call, as plain arrays. */
function outputs(net: ReturnType<typeof fromLayersModel>, x: tf.Tensor | Batch) {
  const data = (v: tf.Tensor | Batch) => Array.from(v instanceof tf.Tensor ? v.dataSync() : v.data);
  const { A, B } = affineMap(net, x);
  const ip = templateInnerProducts(net, x);
  const codes = partitionCodes(net, x);
  const out = {
    A: data(A),
    B: data(B),
    ip: data(ip),
    codes: codes.map((c) => [Array.from(c.bits), Array.from(c.argmax)]),
    forward: x instanceof tf.Tensor ? [] : data(forward(net, x)),
  };
  if (A instanceof tf.Tensor) tf.dispose([A, B as tf.Tensor, ip as tf.Tensor]);
  return out;
}

Deno.test("engine calls in chunks give the whole batch's results", async (t) => {
  const before = chunking.bytes;
  for (const backend of ["cpu", "wasm"]) {
    for (const c of cases(21)) {
      await t.step(`${c.name}, float64 and tfjs-${backend}`, async () => {
        const net = fromLayersModel(c.model);
        await tf.setBackend(backend);
        const x = tf.tensor(c.x.dataSync(), c.x.shape);
        const batch: Batch = { data: Float64Array.from(c.x.dataSync()), shape: c.x.shape };
        try {
          const whole = [outputs(net, x), outputs(net, batch)];
          // a budget of one example's largest templates intermediate in float32: the tfjs
          // engine runs templates one example at a time, everything else in chunks of 10
          chunking.bytes = net.largestActivation * net.outputSize * 4;
          assertEquals(examplesPerChunk(net, net.outputSize, 4), 1);
          assertEquals(examplesPerChunk(net, 1, 8), Math.floor(net.outputSize / 2));
          const chunked = [outputs(net, x), outputs(net, batch)];
          assertEquals(chunked, whole);
        } finally {
          chunking.bytes = before;
          x.dispose();
          await tf.setBackend("cpu");
        }
      });
    }
  }
});

Deno.test("examplesPerChunk() is at least 1, whatever the budget", () => {
  const net = fromLayersModel(cases(1)[1].model);
  const before = chunking.bytes;
  try {
    chunking.bytes = 1;
    assertEquals(examplesPerChunk(net, 10, 8), 1);
    chunking.bytes = net.largestActivation * 3 * 4 * 7;
    assertEquals(examplesPerChunk(net, 3, 4), 7);
  } finally {
    chunking.bytes = before;
  }
});
