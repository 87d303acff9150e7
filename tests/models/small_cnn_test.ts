import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertNotEquals, assertThrows } from "../_assert.ts";
import { smallCNN } from "../../lib/models/small_cnn.ts";
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

Deno.test("smallCNN() has the paper's spatial sizes 32→30→15→13→6→6→3 and a 3·3·128 dense input", () => {
  const model = smallCNN({ seed: 1 });
  const s = shapesByName(model);
  assertEquals(s.conv1, [30, 30, 32]);
  assertEquals(s.pool1, [15, 15, 32]);
  assertEquals(s.conv2, [13, 13, 64]);
  assertEquals(s.pool2, [6, 6, 64]);
  assertEquals(s.conv3, [6, 6, 128]);
  assertEquals(s.pool3, [3, 3, 128]);
  assertEquals(s.flatten, [3 * 3 * 128]);
  assertEquals(s.logits, [10]);
  assertEquals(model.getLayer("logits").getWeights()[0].shape, [1152, 10]);
});

Deno.test("smallCNN() on 28×28×1 MNIST inputs: 28→26→13→11→5→5→2", () => {
  const model = smallCNN({ inputShape: [28, 28, 1], classes: 10, seed: 2 });
  const s = shapesByName(model);
  assertEquals(
    ["conv1", "pool1", "conv2", "pool2", "conv3", "pool3"].map((n) => s[n][0]),
    [26, 13, 11, 5, 5, 2],
  );
  assertEquals(s.flatten, [2 * 2 * 128]);
  assertEquals((model.predict(tf.zeros([2, 28, 28, 1])) as tf.Tensor).shape, [2, 10]);
});

Deno.test("smallCNN() layers are conv → BN → ReLU → max-pool, then flatten and bias-free logits", async (t) => {
  await t.step("with batch-norm", () => {
    const model = smallCNN({ filters: [2, 3, 4], classes: 3 });
    assertEquals(
      model.layers.map((l) => l.getClassName()),
      [
        ...["Conv2D", "BatchNormalization", "ReLU", "MaxPooling2D"],
        ...["Conv2D", "BatchNormalization", "ReLU", "MaxPooling2D"],
        ...["Conv2D", "BatchNormalization", "ReLU", "MaxPooling2D"],
        "Flatten",
        "Dense",
      ],
    );
    for (const name of ["conv1", "conv2", "conv3"]) {
      const c = model.getLayer(name).getConfig();
      assertEquals([c.useBias, c.padding, c.activation, c.strides], [false, "valid", "linear", [
        1,
        1,
      ]]);
    }
    assertEquals(model.getLayer("conv3").getConfig().kernelSize, [1, 1]);
    const p = model.getLayer("pool1").getConfig();
    assertEquals([p.poolSize, p.strides, p.padding], [[2, 2], [2, 2], "valid"]);
    const logits = model.getLayer("logits").getConfig();
    assertEquals([logits.useBias, logits.activation, logits.units], [false, "linear", 3]);
    const init = model.getLayer("conv1").getConfig().kernelInitializer as {
      className: string;
      config: Record<string, unknown>;
    };
    assertEquals(init.className, "VarianceScaling"); // Glorot uniform
    assertEquals([init.config.scale, init.config.mode, init.config.distribution], [
      1,
      "fanAvg",
      "uniform",
    ]);
  });
  await t.step("without batch-norm: 11 layers, convs with bias (6 code layers)", () => {
    const model = smallCNN({ filters: [2, 3, 4], batchNorm: false });
    assertEquals(model.layers.length, 11);
    assert(model.layers.every((l) => l.getClassName() !== "BatchNormalization"));
    assertEquals(model.getLayer("conv1").getConfig().useBias, true);
    const codeLayers = model.layers.filter((l) =>
      ["ReLU", "MaxPooling2D"].includes(l.getClassName())
    );
    assertEquals(codeLayers.map((l) => l.name), [
      "relu1",
      "pool1",
      "relu2",
      "pool2",
      "relu3",
      "pool3",
    ]);
  });
  await t.step("other activations", () => {
    const leaky = smallCNN({ filters: [2, 2, 2], activation: "leakyRelu", alpha: 0.1 });
    assertEquals(leaky.getLayer("leaky_relu2").getClassName(), "LeakyReLU");
    assertEquals(leaky.getLayer("leaky_relu2").getConfig().alpha, 0.1);
    const abs = smallCNN({ filters: [2, 2, 2], activation: "abs" });
    assertEquals(abs.getLayer("abs3").getClassName(), "Abs");
  });
});

Deno.test("smallCNN() computes the documented forward pass (tfjs ops reference)", () => {
  for (const bn of [true, false]) {
    const model = smallCNN({
      inputShape: [16, 18, 2],
      filters: [3, 4, 5],
      classes: 4,
      seed: 5,
      batchNorm: bn,
    });
    randomizeBatchNorm(model, 100);
    randomizeBiases(model, 200);
    const x = tf.randomNormal([3, 16, 18, 2], 0, 1, "float32", 7) as tf.Tensor4D;
    let h = x;
    for (const i of [1, 2, 3]) {
      h = conv(model, `conv${i}`, h, "valid");
      if (bn) h = batchNorm(model, `bn${i}`, h);
      h = tf.maxPool(tf.relu(h), 2, 2, "valid");
    }
    const expected = dense(model, "logits", tf.reshape(h, [3, -1]));
    const actual = model.predict(x) as tf.Tensor;
    assert(relativeDifference(actual, expected) < 1e-5, `batchNorm ${bn}`);
  }
});

Deno.test("smallCNN() seeds: same seed, same weights; other seed, other weights", () => {
  const a = allWeights(smallCNN({ filters: [4, 4, 4], seed: 42 }));
  const b = allWeights(smallCNN({ filters: [4, 4, 4], seed: 42 }));
  const c = allWeights(smallCNN({ filters: [4, 4, 4], seed: 43 }));
  assertEquals(a, b);
  assertNotEquals(a[0], c[0]);
  assertNotEquals(a[a.length - 1], c[c.length - 1]);
  const unseeded = [
    allWeights(smallCNN({ filters: [4, 4, 4] })),
    allWeights(smallCNN({ filters: [4, 4, 4] })),
  ];
  assertNotEquals(unseeded[0][0], unseeded[1][0]);
});

Deno.test("smallCNN() rejects bad options", async (t) => {
  const cases: [string, Parameters<typeof smallCNN>[0], RegExp][] = [
    ["classes 1", { classes: 1 }, /classes is 1, expected an integer ≥ 2/],
    ["classes 2.5", { classes: 2.5 }, /classes is 2.5/],
    ["rank-2 input", { inputShape: [32, 32] }, /inputShape is \[32, 32\], expected 3/],
    ["zero size", { inputShape: [0, 32, 3] }, /inputShape is \[0, 32, 3\]/],
    [
      "input too small",
      { inputShape: [13, 13, 3] },
      /inputShape \[13, 13, 3\] is too small: .* after pool3 .* smallest square input that fits is 14×14/,
    ],
    [
      "filters",
      { filters: [2, 0, 3] as unknown as [number, number, number] },
      /filters is \[2, 0, 3\]/,
    ],
    ["activation", { activation: "tanh" as "relu" }, /activation is "tanh"/],
    ["alpha", { activation: "leakyRelu", alpha: 1 }, /alpha is 1, expected a number in \[0, 1\)/],
    ["seed", { seed: 1.5 }, /seed is 1.5, expected an integer/],
  ];
  for (const [name, options, message] of cases) {
    await t.step(name, () => {
      assertThrows(() => smallCNN({ filters: [2, 2, 2], ...options }), {
        name: "RangeError",
        message,
      });
    });
  }
  await t.step("the smallest input builds", () => {
    assertEquals(shapesByName(smallCNN({ inputShape: [14, 14, 1], filters: [2, 2, 2] })).pool3, [
      1,
      1,
      2,
    ]);
  });
});
