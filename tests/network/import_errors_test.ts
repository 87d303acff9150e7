import * as tf from "@tensorflow/tfjs";
import { fromLayersModel } from "../../lib/network/from_layers_model.ts";
import { forward } from "../../lib/network/forward.ts";
import { affineMap } from "../../lib/affine/affine_map.ts";
import { SplineError } from "../../lib/util/errors.ts";
import { assert, assertAllClose, assertEquals, assertThrows } from "../_assert.ts";
import { randomInput, randomizeWeights } from "../_random_models.ts";

await tf.setBackend("cpu");

// deno-lint-ignore no-explicit-any
const L = tf.layers as any;
type Layer = tf.layers.Layer;
const seq = (...layers: Layer[]) => tf.sequential({ layers });
const apply = (l: Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) =>
  l.apply(x) as tf.SymbolicTensor;

/** Asserts a SplineError whose message matches every pattern. */
function refuses(model: tf.LayersModel, ...patterns: RegExp[]) {
  assertThrows(() => fromLayersModel(model), (e: unknown) => {
    assert(e instanceof SplineError, `expected a SplineError, got ${e}`);
    for (const p of patterns) assert(p.test(e.message), `'${e.message}' does not match ${p}`);
    return true;
  });
}

Deno.test("fromLayersModel() names the layer and what is supported for every unsupported layer", async (t) => {
  const cases: [string, () => Layer[]][] = [
    ["LSTM", () => [L.lstm({ inputShape: [4, 3], units: 2, name: "bad" })]],
    ["Conv2DTranspose", () => [
      L.conv2dTranspose({ inputShape: [4, 4, 1], filters: 2, kernelSize: 2, name: "bad" }),
    ]],
    ["SeparableConv2D", () => [
      L.separableConv2d({ inputShape: [4, 4, 2], filters: 2, kernelSize: 2, name: "bad" }),
    ]],
    ["DepthwiseConv2D", () => [
      L.depthwiseConv2d({ inputShape: [4, 4, 2], kernelSize: 2, name: "bad" }),
    ]],
    ["UpSampling2D", () => [L.upSampling2d({ inputShape: [4, 4, 2], name: "bad" })]],
    ["Conv1D", () => [L.conv1d({ inputShape: [6, 2], filters: 2, kernelSize: 2, name: "bad" })]],
    ["Cropping2D", () => [L.cropping2D({ inputShape: [4, 4, 1], cropping: 1, name: "bad" })]],
    ["ELU", () => [L.dense({ inputShape: [3], units: 4 }), L.elu({ name: "bad" })]],
    ["PReLU", () => [L.dense({ inputShape: [3], units: 4 }), L.prelu({ name: "bad" })]],
    ["LayerNormalization", () => [L.layerNormalization({ inputShape: [3], name: "bad" })]],
    ["Permute", () => [L.permute({ inputShape: [2, 3, 1], dims: [2, 1, 3], name: "bad" })]],
  ];
  for (const [cls, make] of cases) {
    await t.step(cls, () => {
      refuses(
        seq(...make()),
        new RegExp(`layer 'bad': ${cls} is not a max-affine spline`),
        /supported: Dense, Conv2D, .*BatchNormalization.*MaxPooling2D.*Add/,
      );
    });
  }
  await t.step("Reshape to anything but a vector", () => {
    refuses(
      seq(L.dense({ inputShape: [4], units: 4 }), L.reshape({ targetShape: [2, 2, 1], name: "r" })),
      /layer 'r': Reshape from \[4\] to \[2,2,1\] is not supported \(only to a vector/,
    );
  });
});

Deno.test("fromLayersModel() refuses activations that are not max-affine splines", async (t) => {
  for (const act of ["sigmoid", "tanh", "relu6", "swish"]) {
    await t.step(`${act} inside a layer`, () => {
      refuses(
        seq(
          L.dense({ inputShape: [3], units: 4, activation: act, name: "d" }),
          L.dense({ units: 2 }),
        ),
        new RegExp(`layer 'd': activation '${act}' is not a max-affine spline \\(supported: relu`),
      );
    });
  }
  await t.step("sigmoid as the last activation (only softmax is the paper's g)", () => {
    refuses(
      seq(L.dense({ inputShape: [3], units: 2, activation: "sigmoid", name: "d" })),
      /layer 'd': activation 'sigmoid'/,
    );
  });
  await t.step("softmax mid-network, in a layer, an Activation or a Softmax layer", () => {
    refuses(
      seq(
        L.dense({ inputShape: [3], units: 4, activation: "softmax", name: "d" }),
        L.dense({ units: 2 }),
      ),
      /layer 'd': softmax is only allowed as the network's final activation/,
    );
    refuses(
      seq(L.dense({ inputShape: [3], units: 4 }), L.softmax({ name: "s" }), L.dense({ units: 2 })),
      /layer 's': softmax is only allowed/,
    );
  });
  await t.step("ReLU with a maximum", () => {
    refuses(
      seq(L.dense({ inputShape: [3], units: 4 }), L.reLU({ maxValue: 6, name: "r" })),
      /layer 'r': ReLU with maxValue 6/,
    );
  });
});

Deno.test("fromLayersModel() drops a final softmax (the paper's g) and keeps the logits", () => {
  const m = seq(
    L.dense({ inputShape: [3], units: 4, activation: "relu" }),
    L.dense({ units: 3, activation: "softmax" }),
    L.dropout({ rate: 0.5 }),
  );
  randomizeWeights(m, 1);
  const net = fromLayersModel(m);
  const x = randomInput([3], 4, 2);
  const probs = m.predict(x) as tf.Tensor;
  const logits = forward(net, x);
  assertAllClose(tf.softmax(logits).dataSync(), probs.dataSync(), 1e-5, "softmax of the logits");
});

Deno.test("fromLayersModel() refuses what is not a one-input, one-output, channels-last graph", async (t) => {
  await t.step("channelsFirst", () => {
    const cf = { dataFormat: "channelsFirst", name: "cf" };
    for (
      const l of [
        L.conv2d({ inputShape: [1, 4, 4], filters: 2, kernelSize: 2, ...cf }),
        L.maxPooling2d({ inputShape: [1, 4, 4], poolSize: 2, ...cf }),
        L.averagePooling2d({ inputShape: [1, 4, 4], poolSize: 2, ...cf }),
        L.globalAveragePooling2d({ inputShape: [1, 4, 4], ...cf }),
        L.globalMaxPooling2d({ inputShape: [1, 4, 4], ...cf }),
      ]
    ) {
      refuses(
        seq(l),
        /layer 'cf': dataFormat 'channelsFirst' is not supported \(channelsLast only\)/,
      );
    }
    refuses(
      seq(
        L.conv2d({ inputShape: [4, 4, 2], filters: 2, kernelSize: 1 }),
        L.batchNormalization({ axis: 1, name: "bn" }),
      ),
      /layer 'bn': batch-norm on axis 1 is not supported \(the last axis only\)/,
    );
  });
  await t.step("dilation", () => {
    refuses(
      seq(
        L.conv2d({ inputShape: [6, 6, 1], filters: 2, kernelSize: 2, dilationRate: 2, name: "c" }),
      ),
      /layer 'c': dilation \[2,2\] is not supported \(1 only\)/,
    );
  });
  await t.step("several inputs or outputs", () => {
    const i = tf.input({ shape: [3] }), j = tf.input({ shape: [3] });
    refuses(
      tf.model({ inputs: [i, j], outputs: apply(L.add(), [i, j]) }),
      /2 inputs and 1 outputs, expected 1 and 1/,
    );
    const outs = [apply(L.dense({ units: 3 }), i), apply(L.dense({ units: 2 }), i)];
    refuses(tf.model({ inputs: i, outputs: outs }), /1 inputs and 2 outputs, expected 1 and 1/);
  });
  await t.step("merges other than Add", () => {
    for (const make of [L.concatenate, L.multiply, L.maximum, L.average]) {
      const i = tf.input({ shape: [3] });
      const m = tf.model({
        inputs: i,
        outputs: apply(make({ name: "m" }), [apply(L.dense({ units: 3 }), i), i]),
      });
      refuses(m, /layer 'm': \w+ with 2 inputs is not supported \(Add is\)/);
    }
  });
  await t.step("an Add that broadcasts", () => {
    const i = tf.input({ shape: [2, 2, 3] });
    const v = apply(L.dense({ units: 3 }), apply(L.globalAveragePooling2d({}), i));
    refuses(
      tf.model({ inputs: i, outputs: apply(L.add({ name: "a" }), [i, v]) }),
      /layer 'a': Add of inputs shaped \[2, 2, 3\] and \[3\] broadcasts to \[2, 2, 3\], which is not supported/,
    );
    const c = apply(L.conv2d({ filters: 1, kernelSize: 1 }), i);
    refuses(
      tf.model({ inputs: i, outputs: apply(L.add({ name: "b" }), [i, c]) }),
      /layer 'b': Add of inputs shaped \[2, 2, 3\] and \[2, 2, 1\] broadcasts/,
    );
  });
  await t.step("an unknown dimension", () => {
    refuses(
      seq(L.dense({ inputShape: [null, 3], units: 2 })),
      /shape \[null, null, 3\] has an unknown dimension \(expected a fixed per-example shape/,
    );
  });
  await t.step("not a LayersModel", () => {
    assertThrows(() => fromLayersModel({} as tf.LayersModel), /is not a tf.LayersModel/);
    assertThrows(
      () => fromLayersModel(null as unknown as tf.LayersModel),
      /null is not a tf.LayersModel/,
    );
  });
  await t.step("an empty Sequential (never built)", () => {
    refuses(
      tf.sequential(),
      /0 inputs and 0 outputs, expected 1 and 1 \(an empty Sequential is not built: add layers, the first with an inputShape\)/,
    );
  });
});

Deno.test("fromLayersModel() converts models nested as layers and shared layers", async (t) => {
  const check = (m: tf.LayersModel, shape: number[], seed: number) => {
    randomizeWeights(m, seed);
    const net = fromLayersModel(m);
    const x = randomInput(shape, 3, seed);
    const want = (m.predict(x) as tf.Tensor).dataSync();
    assertAllClose(forward(net, x).dataSync(), want, 1e-5, "forward");
    const { A, B } = affineMap(net, { data: Float64Array.from(x.dataSync()), shape: x.shape });
    const D = net.inputSize, C = net.outputSize, xs = x.dataSync();
    const recon = Float64Array.from({ length: 3 * C }, (_, k) => {
      const n = Math.floor(k / C);
      let s = B.data[k];
      for (let d = 0; d < D; d++) s += A.data[k * D + d] * xs[n * D + d];
      return s;
    });
    assertAllClose(recon, want, 1e-5, "A·x + B");
    return net;
  };
  await t.step("a sequential feature extractor inside a sequential model", () => {
    const base = seq(
      L.conv2d({ inputShape: [7, 6, 2], filters: 3, kernelSize: 3, padding: "same" }),
      L.batchNormalization(),
      L.reLU(),
      L.maxPooling2d({ poolSize: 2 }),
    );
    const net = check(seq(base, L.flatten(), L.dense({ units: 4 })), [7, 6, 2], 1);
    assertEquals(net.codeLayers.map((c) => c.kind), ["relu", "max-pool"]);
  });
  await t.step("a functional residual block nested in a functional model, applied twice", () => {
    const i = tf.input({ shape: [5] });
    const h = apply(L.dense({ units: 5 }), apply(L.reLU(), apply(L.dense({ units: 5 }), i)));
    const block = tf.model({ inputs: i, outputs: apply(L.add(), [i, h]) });
    const o = tf.input({ shape: [5] });
    const y = apply(L.dense({ units: 3 }), apply(block, apply(block, o)));
    const net = check(tf.model({ inputs: o, outputs: y }), [5], 2);
    assertEquals(net.codeLayers.length, 2);
  });
  await t.step("a nested classifier ending in softmax: the logits", () => {
    const head = seq(L.dense({ inputShape: [4], units: 3, activation: "softmax" }));
    const m = seq(L.dense({ inputShape: [3], units: 4, activation: "relu" }), head);
    randomizeWeights(m, 3);
    const x = randomInput([3], 2, 3);
    const logits = forward(fromLayersModel(m), x);
    assertAllClose(tf.softmax(logits).dataSync(), (m.predict(x) as tf.Tensor).dataSync(), 1e-5);
  });
  await t.step("a nested model ending in softmax mid-network is refused", () => {
    const inner = seq(L.dense({ inputShape: [4], units: 3, activation: "softmax", name: "sm" }));
    refuses(
      seq(L.dense({ inputShape: [3], units: 4 }), inner, L.dense({ units: 2 })),
      /layer 'sm': softmax is only allowed/,
    );
  });
  await t.step("a nested model with two outputs is refused", () => {
    const i = tf.input({ shape: [3] });
    const two = tf.model({
      inputs: i,
      outputs: [apply(L.dense({ units: 2 }), i), apply(L.dense({ units: 2 }), i)],
      name: "two",
    });
    const o = tf.input({ shape: [3] });
    const [a] = two.apply(o) as tf.SymbolicTensor[];
    refuses(
      tf.model({ inputs: o, outputs: a }),
      /layer 'two': a nested Model with 1 inputs and 2 outputs is not supported \(expected 1 and 1\)/,
    );
  });
  await t.step("a dense layer shared by two places", () => {
    const shared = L.dense({ units: 4 });
    const i = tf.input({ shape: [4] });
    const y = apply(shared, apply(L.reLU(), apply(shared, i)));
    check(tf.model({ inputs: i, outputs: y }), [4], 4);
  });
});
