import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertNotEquals, assertThrows } from "../_assert.ts";
import { largeCNN } from "../../lib/models/large_cnn.ts";
import {
  allWeights,
  batchNorm,
  conv,
  dense,
  randomizeBatchNorm,
  randomizeBiases,
  relativeDifference,
  shapesByName,
} from "./_reference.ts";

const SPATIAL = [
  "conv1",
  "conv2",
  "conv3",
  "pool1",
  "conv4",
  "conv5",
  "conv6",
  "pool2",
  "conv7",
  "conv8",
  "pool3",
];

Deno.test("largeCNN() has the paper's spatial sizes 32→32→34→36→18→16→18→16→8→6→6→3", () => {
  const t0 = performance.now();
  const model = largeCNN({ seed: 1 });
  const built = performance.now() - t0;
  const s = shapesByName(model);
  assertEquals(SPATIAL.map((n) => s[n][0]), [32, 34, 36, 18, 16, 18, 16, 8, 6, 6, 3]);
  assertEquals(SPATIAL.map((n) => s[n][1]), [32, 34, 36, 18, 16, 18, 16, 8, 6, 6, 3]);
  assertEquals(SPATIAL.map((n) => s[n][2]), [96, 96, 96, 96, 192, 192, 192, 192, 192, 192, 192]);
  assertEquals([s.pad2, s.pad3, s.pad5], [[36, 36, 96], [38, 38, 96], [20, 20, 192]]);
  assertEquals(s.flatten, [3 * 3 * 192]);
  assertEquals(s.logits, [10]);
  assert(built < 10_000, `building took ${built} ms`);
});

Deno.test("largeCNN() on 28×28×1 MNIST inputs: 28→28→30→32→16→14→16→14→7→5→5→2", () => {
  const model = largeCNN({ inputShape: [28, 28, 1], filters: [4, 6], seed: 2 });
  const s = shapesByName(model);
  assertEquals(SPATIAL.map((n) => s[n][0]), [28, 30, 32, 16, 14, 16, 14, 7, 5, 5, 2]);
  assertEquals(s.flatten, [2 * 2 * 6]);
  assertEquals((model.predict(tf.zeros([2, 28, 28, 1])) as tf.Tensor).shape, [2, 10]);
});

Deno.test("largeCNN() layers: 31 with batch-norm, 24 without; conv8 is 1×1 with bias and no BN", () => {
  const model = largeCNN({ filters: [2, 3], classes: 5 });
  assertEquals(model.layers.map((l) => l.name), [
    ...["conv1", "bn1", "relu1", "pad2", "conv2", "bn2", "relu2", "pad3", "conv3", "bn3"],
    ...["relu3", "pool1", "conv4", "bn4", "relu4", "pad5", "conv5", "bn5", "relu5", "conv6"],
    ...["bn6", "relu6", "pool2", "conv7", "bn7", "relu7", "conv8", "relu8", "pool3", "flatten"],
    "logits",
  ]);
  assertEquals(model.getLayer("pad2").getClassName(), "ZeroPadding2D");
  assertEquals(model.getLayer("pad2").getConfig().padding, [[2, 2], [2, 2]]);
  assertEquals(model.getLayer("conv1").getConfig().padding, "same");
  assertEquals(model.getLayer("conv2").getConfig().padding, "valid");
  assertEquals(model.getLayer("conv8").getConfig().kernelSize, [1, 1]);
  assertEquals(model.getLayer("conv8").getConfig().useBias, true);
  assertEquals(model.getLayer("conv7").getConfig().useBias, false);
  assertEquals(model.getLayer("logits").getConfig().useBias, false);
  const plain = largeCNN({ filters: [2, 3], batchNorm: false });
  assertEquals(plain.layers.length, 24);
  assert(
    plain.layers.filter((l) => l.getClassName() === "Conv2D").every((l) => l.getConfig().useBias),
  );
});

Deno.test("largeCNN() computes the documented forward pass (tfjs ops reference)", () => {
  for (const bn of [true, false]) {
    const model = largeCNN({
      inputShape: [17, 16, 2],
      filters: [3, 4],
      classes: 3,
      seed: 9,
      batchNorm: bn,
    });
    randomizeBatchNorm(model, 10);
    randomizeBiases(model, 20);
    const x = tf.randomNormal([2, 17, 16, 2], 0, 1, "float32", 3) as tf.Tensor4D;
    const plan: [number, "same" | "valid" | "full"][] = [
      [1, "same"],
      [2, "full"],
      [3, "full"],
      [0, "valid"],
      [4, "valid"],
      [5, "full"],
      [6, "valid"],
      [0, "valid"],
      [7, "valid"],
      [8, "valid"],
      [0, "valid"],
    ];
    let h = x;
    for (const [i, padding] of plan) {
      if (i === 0) {
        h = tf.maxPool(h, 2, 2, "valid");
        continue;
      }
      if (padding === "full") h = tf.pad(h, [[0, 0], [2, 2], [2, 2], [0, 0]]);
      h = conv(model, `conv${i}`, h, padding === "same" ? "same" : "valid");
      if (bn && i !== 8) h = batchNorm(model, `bn${i}`, h);
      h = tf.relu(h);
    }
    const expected = dense(model, "logits", tf.reshape(h, [2, -1]));
    assert(relativeDifference(model.predict(x) as tf.Tensor, expected) < 1e-5, `batchNorm ${bn}`);
  }
});

Deno.test("largeCNN() seeds: same seed, same weights; other seed, other weights", () => {
  const a = allWeights(largeCNN({ filters: [2, 2], seed: 0 }));
  assertEquals(a, allWeights(largeCNN({ filters: [2, 2], seed: 0 })));
  const c = allWeights(largeCNN({ filters: [2, 2], seed: 1 }));
  assertNotEquals(a[0], c[0]);
  // conv5 and conv6 kernels have the same shape: derived seeds differ per layer.
  const model = largeCNN({ filters: [2, 2], seed: 0 });
  assertNotEquals(
    model.getLayer("conv5").getWeights()[0].dataSync(),
    model.getLayer("conv6").getWeights()[0].dataSync(),
  );
});

Deno.test("largeCNN() rejects bad options", async (t) => {
  await t.step("input too small: the smallest is 16×16", () => {
    assertThrows(() => largeCNN({ inputShape: [15, 15, 3], filters: [2, 2] }), {
      name: "RangeError",
      message: /inputShape \[15, 15, 3\] is too small.*16×16/,
    });
    assertEquals(shapesByName(largeCNN({ inputShape: [16, 16, 3], filters: [2, 2] })).pool3, [
      1,
      1,
      2,
    ]);
  });
  await t.step("filters", () => {
    assertThrows(() => largeCNN({ filters: [2] as unknown as [number, number] }), {
      name: "RangeError",
      message: /filters is \[2\], expected 2 integers/,
    });
  });
  await t.step("classes and shape", () => {
    assertThrows(() => largeCNN({ classes: 0 }), { name: "RangeError", message: /classes is 0/ });
    assertThrows(() => largeCNN({ inputShape: [32, 32, 3, 1] }), {
      name: "RangeError",
      message: /inputShape is \[32, 32, 3, 1\]/,
    });
  });
});
