import * as tf from "@tensorflow/tfjs";
import { fromLayersModel } from "../../lib/network/from_layers_model.ts";
import { forward } from "../../lib/network/forward.ts";
import { SplineNetwork } from "../../lib/network/spline_network.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { normals, rng } from "../_random_models.ts";

/** An MLP whose weights after the first layer are |w| (Theorem 2's condition) or signed. */
function mlpNet(nonNegative: boolean, act: "relu" | "abs" = "relu"): SplineNetwork {
  const r = rng(nonNegative ? 1 : 2);
  const layers = [
    tf.layers.dense({ inputShape: [3], units: 8 }),
    act === "relu" ? tf.layers.reLU() : tf.layers.leakyReLU({ alpha: 0 }),
    tf.layers.dense({ units: 6 }),
    tf.layers.reLU(),
    tf.layers.dense({ units: 2 }),
  ];
  const m = tf.sequential({ layers });
  m.layers.forEach((l, i) => {
    const ws = l.getWeights();
    if (ws.length === 0) return;
    l.setWeights(ws.map((w) => {
      const v = normals(w.size, r);
      return tf.tensor(i > 0 && nonNegative ? v.map(Math.abs) : v, w.shape);
    }));
  });
  return fromLayersModel(m);
}

/** Checks f(s·a + (1 − s)·b) ≤ s·f(a) + (1 − s)·f(b) for every output on random chords. */
function assertConvexOnChords(net: SplineNetwork, chords: number, seed: number) {
  const D = net.inputSize, C = net.outputSize, r = rng(seed);
  for (let k = 0; k < chords; k++) {
    const a = Float64Array.from(normals(D, r)), b = Float64Array.from(normals(D, r)), s = r();
    const m = a.map((v, i) => s * v + (1 - s) * b[i]);
    const z = forward(net, { data: Float64Array.from([...a, ...b, ...m]), shape: [3, D] }).data;
    for (let c = 0; c < C; c++) {
      assert(z[2 * C + c] <= s * z[c] + (1 - s) * z[C + c] + 1e-12, `chord ${k} output ${c}`);
    }
  }
}

Deno.test("isConvex() implements Theorem 2's test, and such networks are convex", async (t) => {
  await t.step(
    "non-negative weights after the first layer: convex, checked on random chords",
    () => {
      const net = mlpNet(true);
      assert(net.isConvex());
      assertConvexOnChords(net, 200, 3);
    },
  );
  await t.step("signed weights: the test fails, and some chord shows non-convexity", () => {
    const net = mlpNet(false);
    assertEquals(net.isConvex(), false);
    const r = rng(4);
    let violated = false;
    for (let k = 0; k < 2000 && !violated; k++) {
      const a = Float64Array.from(normals(3, r)), b = Float64Array.from(normals(3, r));
      const m = a.map((v, i) => 0.5 * v + 0.5 * b[i]);
      const z = forward(net, { data: Float64Array.from([...a, ...b, ...m]), shape: [3, 3] }).data;
      for (let c = 0; c < 2; c++) violated ||= z[4 + c] > 0.5 * z[c] + 0.5 * z[2 + c] + 1e-9;
    }
    assert(violated, "expected a non-convex chord");
  });
  await t.step("abs: allowed in the first layer (Theorem 2's layers 2…L), not after", () => {
    const abs = (name: string, n: number) => ({
      kind: "abs" as const,
      name,
      inputShape: [n],
      outputShape: [n],
    });
    const dense = (name: string, kernel: number[]) => ({
      kind: "dense" as const,
      name,
      inputShape: [2],
      outputShape: [2],
      units: 2,
      kernel: Float64Array.from(kernel),
      bias: Float64Array.from([0.3, -0.2]),
    });
    // |W₁x + b| then non-negative weights: convex; checked on random chords
    const first = new SplineNetwork([2], [
      dense("d1", [1, -2, 0.5, 1]),
      abs("a1", 2),
      dense("d2", [1, 0.5, 0, 2]),
    ]);
    assert(first.isConvex());
    assertConvexOnChords(first, 500, 5);
    // abs after a ReLU: |relu(x₂) − 0.2| is not convex (its slope falls at 0), and the test says no
    const late = new SplineNetwork([2], [
      { kind: "relu", name: "r", inputShape: [2], outputShape: [2] },
      dense("d", [1, 0, 0, 1]),
      abs("a", 2),
    ]);
    assertEquals(late.isConvex(), false);
    // a leaky ReLU of slope above 1 is concave anywhere; of negative slope, convex only first
    const leaky = (alpha: number) => ({
      kind: "leaky-relu" as const,
      name: `l${alpha}`,
      inputShape: [2],
      outputShape: [2],
      alpha,
    });
    assertEquals(new SplineNetwork([2], [leaky(2)]).isConvex(), false);
    assertEquals(new SplineNetwork([2], [leaky(-0.5)]).isConvex(), true);
    assertEquals(new SplineNetwork([2], [leaky(0.1), leaky(-0.5)]).isConvex(), false);
  });
});

Deno.test("SplineNetwork checks shapes and groups MASO layers (Definition 1)", async (t) => {
  await t.step("mismatched shapes name the layer", () => {
    assertThrows(
      () =>
        new SplineNetwork([3], [
          { kind: "relu", name: "r1", inputShape: [4], outputShape: [4] },
        ]),
      /layer 'r1' expects input shape \[4\], got \[3\]/,
    );
  });
  await t.step("a layer inconsistent in itself is refused, named, with what was expected", () => {
    const dense = {
      kind: "dense" as const,
      name: "d",
      inputShape: [2],
      outputShape: [3],
      units: 3,
      kernel: new Float64Array(6),
      bias: new Float64Array(3) as Float64Array | null,
    };
    const conv = {
      kind: "conv2d" as const,
      name: "c",
      inputShape: [6, 5, 2],
      outputShape: [3, 2, 4],
      kernel: new Float64Array(3 * 3 * 2 * 4),
      bias: null,
      kernelSize: [3, 3] as const,
      strides: [2, 2] as const,
      padding: [1, 0, 0, 1] as const, // 6 + 1 − 3 = 4 → 3 rows; 5 + 1 − 3 = 3 → 2 columns
    };
    new SplineNetwork([6, 5, 2], [conv]); // consistent
    new SplineNetwork([2], [dense]);
    const bad: [unknown, RegExp][] = [
      [{ ...dense, kernel: new Float64Array(5) }, /'d': kernel has 5 values, expected .* of 6/],
      [{ ...dense, units: 4 }, /'d': output shape \[3\], .* give \[4\]/],
      [{ ...dense, bias: new Float64Array(2) }, /'d': bias has 2 values/],
      [{ ...dense, kernel: new Float64Array(6).fill(NaN) }, /'d': kernel\[0\] is NaN/],
      [{ ...dense, kind: "sigmoid" }, /'d' has kind 'sigmoid', expected one of dense/],
      [{ ...dense, inputShape: [2, 2] }, /'d': output shape \[3\], its input \[2,2\] .* \[2,3\]/],
      [{ ...conv, outputShape: [4, 2, 4] }, /'c': output shape \[4,2,4\], .* give \[3,2,4\]/],
      [{ ...conv, strides: [0, 2] }, /'c': strides \[0,2\], expected positive integers/],
      [{ ...conv, padding: [1, 0, 0] }, /'c': padding \[1,0,0\], expected 4 integers/],
      [{ ...conv, kernel: new Float64Array(3) }, /'c': kernel has 3 values, .* of 72/],
      [{
        kind: "max-pool",
        name: "p",
        inputShape: [4, 4, 1],
        outputShape: [3, 3, 1],
        poolSize: [2, 2],
        strides: [2, 2],
        padding: [0, 0, 0, 0],
      }, /'p': output shape \[3,3,1\], .* give \[2,2,1\]/],
      [{
        kind: "max-pool",
        name: "g",
        inputShape: [257, 256, 1],
        outputShape: [1, 1, 1],
        poolSize: [257, 256],
        strides: [257, 256],
        padding: [0, 0, 0, 0],
      }, /'g': windows of 257 × 256 positions, expected at most 65,536/],
      [{
        kind: "leaky-relu",
        name: "l",
        inputShape: [3],
        outputShape: [3],
        alpha: NaN,
      }, /'l': alpha is NaN/],
    ];
    for (const [layer, message] of bad) {
      const l = layer as { inputShape: number[] };
      assertThrows(
        () => new SplineNetwork(l.inputShape, [layer as typeof dense]),
        (e: Error) => e instanceof RangeError && message.test(e.message),
        String(message),
      );
    }
  });
  await t.step("each nonlinearity closes a MASO layer; the classifier is the last", () => {
    const net = mlpNet(true);
    assertEquals(net.masoLayers().map((g) => g.map((l) => l.kind)), [
      ["dense", "relu"],
      ["dense", "relu"],
      ["dense"],
    ]);
  });
});
