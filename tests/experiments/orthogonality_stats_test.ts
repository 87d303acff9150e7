import * as tf from "@tensorflow/tfjs";
import { assert, assertAllClose, assertEquals } from "../_assert.ts";
import {
  orthogonalityClaims,
  type OrthogonalityRun,
  type OrthogonalitySummary,
  templateOrthogonality,
} from "../../lib/experiments/orthogonality.ts";

/** A one-Dense-layer model whose class rows W_c are the columns of `kernel` ([inputs][classes]). */
function denseModel(kernel: number[][]): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [kernel.length],
        units: kernel[0].length,
        useBias: false,
        weights: [tf.tensor2d(kernel)],
      }),
    ],
  });
}

Deno.test("templateOrthogonality(): cosines by hand, zero rows and NaN weights", async (t) => {
  await t.step("a zero row has no cosine: it is left out, not counted as orthogonal", () => {
    // W_0 = (0, 0), W_1 = (1, 0), W_2 = (1, 1): the only defined pairs are (1, 2) and
    // (2, 1), with |cos| = 1/√2; counting the four pairs with W_0 as 0 would give 0.2357.
    const model = denseModel([[0, 1, 1], [0, 0, 1]]);
    const x = tf.tensor2d([[1, 2], [-3, 0.5]]);
    const m = templateOrthogonality(model, x);
    assertAllClose([m.weightCosine], [Math.SQRT1_2], 1e-6, "row cosine");
    // One Dense layer: A[x] = W for every x, so the templates are the rows.
    assertAllClose([m.templateCosine], [Math.SQRT1_2], 1e-6, "template cosine");
    model.dispose();
    x.dispose();
  });
  await t.step("all rows zero: no cosine at all (NaN), not 0", () => {
    const model = denseModel([[0, 0], [0, 0]]);
    const m = templateOrthogonality(model, tf.zeros([0, 2]));
    assert(Number.isNaN(m.weightCosine), `weightCosine ${m.weightCosine}`);
    model.dispose();
  });
  await t.step("a NaN weight makes the row cosine NaN, never 'orthogonal' (0)", () => {
    // W_0 = (NaN, 0), W_1 = (1, 0), W_2 = (0, 1): W_1 ⊥ W_2, and the pairs with W_0 are NaN.
    const model = denseModel([[NaN, 1, 0], [0, 0, 1]]);
    const m = templateOrthogonality(model, tf.zeros([0, 2]));
    assert(Number.isNaN(m.weightCosine), `weightCosine ${m.weightCosine}`);
    model.dispose();
  });
  await t.step("no zero row: the plain mean over the C(C − 1) ordered pairs", () => {
    // W_0 = (1, 0), W_1 = (1, 1), W_2 = (0, 2): |cos| 1/√2, 0, 1/√2 for (0,1), (0,2), (1,2).
    const model = denseModel([[1, 1, 0], [0, 1, 2]]);
    const m = templateOrthogonality(model, tf.zeros([0, 2]));
    assertAllClose([m.weightCosine], [(2 * Math.SQRT1_2) / 3], 1e-6, "row cosine");
    assertEquals(Number.isNaN(m.templateCosine), true); // no image
    model.dispose();
  });
});

/** A summary row of smallCNN/mnist at `lambda` with the given row and template cosines. */
function row(lambda: number, weightCosine: number, templateCosine: number): OrthogonalitySummary {
  return {
    arch: "smallCNN",
    dataset: "mnist",
    lambda,
    runs: 3,
    nonFinite: 0,
    mean: 0.5,
    std: 0.01,
    max: 0.51,
    trainMean: 0.6,
    evalTrainMean: 0.6,
    evalTestMean: 0.5,
    gap: 0.1,
    penalty: 1,
    weightCosine,
    weightSquaredNorm: 1,
    initialWeightCosine: 0.3,
    templateCosine,
    templateInner: 1,
    templateSquaredNorm: 1,
  };
}

Deno.test("orthogonalityClaims(): the halving claims' numbers never show the other verdict", async (t) => {
  const claims = (zero: [number, number], one: [number, number]) =>
    orthogonalityClaims("smallCNN/mnist", [row(0, ...zero), row(1, ...one)], [], 8);
  await t.step("0.02703 is not half of 0.05405; 3 digits would print 0.0270 against 0.0541", () => {
    const [, , eq13, sec6] = claims([0.05405, 0.05405], [0.02703, 0.02703]);
    assertEquals([eq13.held, sec6.held], [false, false]);
    assert(eq13.measured.includes("λ=0 0.05405, λ=1 0.02703;"), eq13.measured);
    assert(sec6.measured.endsWith("λ=0 0.05405, λ=1 0.02703"), sec6.measured);
  });
  await t.step("0.02705 is half of 0.0541; 3 digits would print 0.0271 against 0.0541", () => {
    const [, , eq13, sec6] = claims([0.0541, 0.0541], [0.02705, 0.02705]);
    assertEquals([eq13.held, sec6.held], [true, true]);
    assert(eq13.measured.includes("λ=0 0.05410, λ=1 0.02705;"), eq13.measured);
    assert(sec6.measured.endsWith("λ=0 0.05410, λ=1 0.02705"), sec6.measured);
  });
  await t.step("clear cases keep 3 digits; NaN never holds", () => {
    const [, , eq13, sec6] = claims([0.4, 0.3], [0.2, 0.1]);
    assertEquals([eq13.held, sec6.held], [true, true]);
    assert(eq13.measured.includes("λ=0 0.400, λ=1 0.200;"), eq13.measured);
    assert(sec6.measured.endsWith("λ=0 0.300, λ=1 0.100"), sec6.measured);
    const nan = claims([0.4, 0.3], [NaN, NaN]);
    assertEquals([nan[2].held, nan[3].held], [false, false]);
    assert(nan[2].measured.includes("λ=1 n/a;"), nan[2].measured);
  });
});

/** A finished run of smallCNN/mnist with its test accuracy and inference (train, test). */
function run(lambda: number, seed: number, acc: number, train: number, test: number) {
  return {
    index: 0,
    key: `smallCNN|mnist|${lambda}|${seed}|${seed}`,
    arch: "smallCNN",
    dataset: "mnist",
    lambda,
    run: seed,
    seed,
    testAccuracy: acc,
    trainAccuracy: train,
    lastEpochs: 3,
    history: [],
    seconds: 1,
    finishedAt: "2024-01-01T00:00:00.000Z",
    inference: { train, test, trainImages: 200 },
  } satisfies OrthogonalityRun;
}

Deno.test("orthogonalityClaims(): a per-seed mean above its standard error never prints equal to it", () => {
  // Seeds 0, 1: test accuracy +0.01 and +2 points; gap cut by 0.01 and 2 points. Mean
  // 1.005 pp, standard error √(((0.995)² · 2) / 1 / 2) = 0.995 pp: held, and "1.0 ± 1.0"
  // at one decimal.
  const runs = [
    run(0, 0, 0.5, 0.9, 0.7),
    run(0, 1, 0.5, 0.9, 0.7),
    run(1, 0, 0.5001, 0.8999, 0.7),
    run(1, 1, 0.52, 0.88, 0.7),
  ];
  const [fig3a, fig3b] = orthogonalityClaims(
    "smallCNN/mnist",
    [row(0, 0.4, 0.3), row(1, 0.2, 0.1)],
    runs,
    8,
  );
  assertEquals([fig3a.held, fig3b.held], [true, true]);
  assert(
    fig3a.measured.endsWith("per-seed gain +1.01 pp ± 1.00 pp (standard error, 2 seeds)"),
    fig3a.measured,
  );
  assert(
    fig3b.measured.endsWith("per-seed reduction +1.01 pp ± 1.00 pp (standard error, 2 seeds)"),
    fig3b.measured,
  );
});
