import * as tf from "@tensorflow/tfjs";
import { fromLayersModel } from "../../lib/network/from_layers_model.ts";
import { foldedLayers } from "../../lib/network/folded_layers.ts";
import { SplineNetwork } from "../../lib/network/spline_network.ts";
import { forwardPass } from "../../lib/backend/cpu/run.ts";
import { assertAllClose, assertEquals, largestMagnitude } from "../_assert.ts";
import { cnnModel, randomInput, wideCnnModel } from "../_random_models.ts";

await tf.setBackend("cpu");

Deno.test("folded layers: batch norm into the conv before it, zero padding into the conv after it, the same function and codes (float64)", () => {
  for (
    const [model, shape] of [[cnnModel(3), [11, 9, 3]], [wideCnnModel(3), [10, 9, 3]]] as const
  ) {
    const net = fromLayersModel(model);
    const folded = foldedLayers(net);
    const kinds = folded.map((l) => l.kind);
    assertEquals(kinds.includes("zero-pad"), false, "no zero padding left before a conv");
    assertEquals(kinds.includes("channel-affine"), false, "no batch norm left after a conv");
    assertEquals(folded.length < net.layers.length, true);
    const x = Float64Array.from(randomInput([...shape], 4, 5).dataSync());
    const ref = forwardPass(net, x, 4);
    const ours = forwardPass(new SplineNetwork(net.inputShape, folded), x, 4);
    assertAllClose(ours.output, ref.output, 1e-12, "output", largestMagnitude(ref.output));
    // the nonlinear layers are the same objects: their codes are keyed and equal alike
    for (const [layer, codes] of ref.codes) assertEquals(ours.codes.get(layer), codes);
    model.dispose();
  }
});
