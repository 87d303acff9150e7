import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertNotEquals, assertThrows } from "../_assert.ts";
import { resNet } from "../../lib/models/resnet.ts";
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

const inbound = (model: tf.LayersModel, name: string) =>
  model.getLayer(name).inboundNodes[0].inboundLayers.map((l) => l.name);

Deno.test("resNet() default: 12/11/11 blocks at widths 32/64/128, 32→16→8, 260 layers", () => {
  const t0 = performance.now();
  const model = resNet({ seed: 3 });
  const built = performance.now() - t0;
  assertEquals(model.layers.length, 22 + 7 * 34);
  const s = shapesByName(model);
  assertEquals(s.conv0, [32, 32, 32]);
  assertEquals(s.s1b12_add, [32, 32, 32]);
  assertEquals(s.s2b0_add, [32, 32, 64]);
  assertEquals(s.s2b0_pool, [16, 16, 64]);
  assertEquals(s.s2b11_add, [16, 16, 64]);
  assertEquals(s.s3b0_pool, [8, 8, 128]);
  assertEquals(s.s3b11_add, [8, 8, 128]);
  assertEquals(s.gap, [128]);
  assertEquals(s.logits, [10]);
  assert(!("s1b13_add" in s) && !("s2b12_add" in s) && !("s1b0_add" in s));
  assert(built < 10_000, `building took ${built} ms`);
});

Deno.test("resNet() wiring: pre-activation blocks with identity skips, projected downsampling", () => {
  const model = resNet({
    inputShape: [8, 8, 3],
    filters: [2, 3, 4],
    blocks: [2, 1, 0],
    classes: 4,
  });
  assertEquals(model.layers.length, 22 + 7 * 3);
  assertEquals(model.getLayer("conv0").getConfig().useBias, true);
  assertEquals(model.getLayer("conv0").getConfig().activation, "linear");
  // Identity block: bn1 → relu1 → conv1 → bn2 → relu2 → conv2, add(conv2, block input).
  assertEquals(inbound(model, "s1b1_bn1"), ["conv0"]);
  assertEquals(inbound(model, "s1b1_relu1"), ["s1b1_bn1"]);
  assertEquals(inbound(model, "s1b1_conv1"), ["s1b1_relu1"]);
  assertEquals(inbound(model, "s1b1_bn2"), ["s1b1_conv1"]);
  assertEquals(inbound(model, "s1b1_conv2"), ["s1b1_relu2"]);
  assertEquals(inbound(model, "s1b1_add"), ["s1b1_conv2", "conv0"]);
  assertEquals(inbound(model, "s1b2_add"), ["s1b2_conv2", "s1b1_add"]);
  // Downsampling block: the branch and a 1×1 projection of the block input, summed, pooled.
  assertEquals(inbound(model, "s2b0_bn1"), ["s1b2_add"]);
  assertEquals(inbound(model, "s2b0_proj"), ["s1b2_add"]);
  assertEquals(inbound(model, "s2b0_add"), ["s2b0_conv2", "s2b0_proj"]);
  assertEquals(inbound(model, "s2b0_pool"), ["s2b0_add"]);
  assertEquals(model.getLayer("s2b0_pool").getClassName(), "AveragePooling2D");
  assertEquals(model.getLayer("s2b0_proj").getConfig().kernelSize, [1, 1]);
  assertEquals(model.getLayer("s2b0_proj").getConfig().useBias, false);
  assertEquals(inbound(model, "s2b1_add"), ["s2b1_conv2", "s2b0_pool"]);
  assertEquals(inbound(model, "s3b0_bn1"), ["s2b1_add"]);
  assertEquals(inbound(model, "gap"), ["s3b0_pool"]);
  assertEquals(model.getLayer("logits").getConfig().useBias, false);
  assertEquals(model.getLayer("s1b1_conv1").getConfig().useBias, false);
  const plain = resNet({
    inputShape: [8, 8, 3],
    filters: [2, 3, 4],
    blocks: [2, 1, 0],
    batchNorm: false,
  });
  assertEquals(plain.layers.length, 18 + 5 * 3);
  assertEquals(inbound(plain, "s1b1_relu1"), ["conv0"]);
  assertEquals(plain.getLayer("s1b1_conv1").getConfig().useBias, true);
});

Deno.test("resNet() computes the documented forward pass (tfjs ops reference)", () => {
  for (const bn of [true, false]) {
    const blocks: [number, number, number] = [2, 1, 1];
    const model = resNet({
      inputShape: [9, 10, 2],
      filters: [3, 4, 5],
      blocks,
      classes: 3,
      seed: 11,
      batchNorm: bn,
      activation: "abs",
    });
    randomizeBatchNorm(model, 30);
    randomizeBiases(model, 40);
    const x = tf.randomNormal([2, 9, 10, 2], 0, 1, "float32", 5) as tf.Tensor4D;
    const branch = (h: tf.Tensor4D, p: string) => {
      for (const i of [1, 2]) {
        if (bn) h = batchNorm(model, `${p}bn${i}`, h);
        h = conv(model, `${p}conv${i}`, tf.abs(h), "same");
      }
      return h;
    };
    let h = conv(model, "conv0", x, "same");
    for (const s of [1, 2, 3]) {
      if (s > 1) {
        const p = `s${s}b0_`;
        h = tf.avgPool(tf.add(branch(h, p), conv(model, `${p}proj`, h, "valid")), 2, 2, "valid");
      }
      for (let j = 1; j <= blocks[s - 1]; j++) h = tf.add(branch(h, `s${s}b${j}_`), h);
    }
    const expected = dense(model, "logits", tf.mean(h, [1, 2]) as tf.Tensor2D);
    assert(relativeDifference(model.predict(x) as tf.Tensor, expected) < 1e-5, `batchNorm ${bn}`);
  }
});

Deno.test("resNet() seeds: same seed, same weights; other seed, other weights", () => {
  const options = { inputShape: [8, 8, 1], filters: [2, 2, 2], blocks: [1, 1, 1] } as const;
  const a = allWeights(resNet({ ...options, seed: 5 }));
  assertEquals(a, allWeights(resNet({ ...options, seed: 5 })));
  assertNotEquals(a, allWeights(resNet({ ...options, seed: 6 })));
  const m = resNet({ ...options, seed: 5 });
  assertNotEquals(
    m.getLayer("s1b1_conv1").getWeights()[0].dataSync(),
    m.getLayer("s1b1_conv2").getWeights()[0].dataSync(),
  );
});

Deno.test("resNet() rejects bad options", async (t) => {
  await t.step("input too small: the smallest is 4×4", () => {
    assertThrows(() => resNet({ inputShape: [3, 8, 1], blocks: [0, 0, 0] }), {
      name: "RangeError",
      message: /inputShape \[3, 8, 1\] is too small.*s3b0_pool.*4×4/,
    });
    const tiny = resNet({ inputShape: [4, 4, 1], filters: [1, 1, 1], blocks: [0, 0, 0] });
    assertEquals(shapesByName(tiny).s3b0_pool, [1, 1, 1]);
  });
  await t.step("blocks", () => {
    assertThrows(() => resNet({ blocks: [1, -1, 1] }), {
      name: "RangeError",
      message: /blocks is \[1, -1, 1\], expected 3 integers ≥ 0/,
    });
  });
  await t.step("classes", () => {
    assertThrows(() => resNet({ classes: NaN }), { name: "RangeError", message: /classes is NaN/ });
  });
});
