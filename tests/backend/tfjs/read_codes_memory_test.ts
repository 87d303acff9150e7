import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { fromLayersModel } from "../../../lib/network/from_layers_model.ts";
import { disposeCodes, forwardPassTf, readCodes } from "../../../lib/backend/tfjs/run.ts";
import { partitionCodes } from "../../../lib/partition/codes.ts";
import { assertEquals } from "../../_assert.ts";
import { cases } from "../../_cases.ts";

// importing the wasm backend makes it the highest priority: start from tfjs-cpu explicitly
await tf.setBackend("cpu");

Deno.test("reading packed codes on tfjs-wasm leaves no tensor behind", async (t) => {
  await tf.setBackend("wasm");
  try {
    for (const c of cases(21)) {
      await t.step(c.name, () => {
        const net = fromLayersModel(c.model);
        const x = tf.tensor(c.x.dataSync(), c.x.shape);
        const once = () => {
          const run = forwardPassTf(net, x);
          run.output.dispose();
          readCodes(run.codes, { packed: true });
          disposeCodes(run.codes);
        };
        once(); // a first call makes the network's constant tensors, kept for later calls
        partitionCodes(net, x, { backend: "tfjs" });
        const before = tf.memory().numTensors;
        once();
        partitionCodes(net, x, { backend: "tfjs" });
        assertEquals(tf.memory().numTensors, before);
        x.dispose();
      });
    }
  } finally {
    await tf.setBackend("cpu");
  }
});
