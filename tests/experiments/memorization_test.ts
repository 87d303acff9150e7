import * as tf from "@tensorflow/tfjs";
import {
  assert,
  assertAllClose,
  assertEquals,
  assertRejects,
  assertStrictEquals,
} from "../_assert.ts";
import {
  memorizationClaims,
  type MemorizationDatasetResult,
  type MemorizationStats,
  runMemorization,
} from "../../lib/experiments/memorization.ts";
import { quickTrainPreset, trainQuick } from "../../lib/experiments/_train_quick.ts";
import { affineMap } from "../../lib/affine/affine_map.ts";
import { CACHE, skipWithoutData } from "./_data.ts";

/** Hand-made statistics with the given means and bimodality (the rest fixed). */
function memStats(meanTrue: number, meanOther: number, bimodality: number): MemorizationStats {
  return {
    count: 4,
    meanTrue,
    meanOther,
    stdTrue: 1,
    stdOther: 1,
    pooledStd: 1,
    bimodality,
    trueLargestFraction: 0.75,
    truePositiveFraction: 0.75,
    otherNegativeFraction: 0.5,
    meanCosTrue: 0.25,
    meanCosOther: -0.125,
    meanTemplateSumRatio: 0.5,
  };
}

/** A hand-made dataset result (2 training images, C = 2) with the given statistics. */
function memDataset(
  dataset: "mnist" | "cifar10",
  meanTrue: number,
  meanOther: number,
  bimodality: number,
): MemorizationDatasetResult {
  return {
    dataset,
    model: "hand-made",
    testAccuracy: 0.5,
    classes: 2,
    ...memStats(meanTrue, meanOther, bimodality),
    labels: [0, 1],
    innerProducts: [[1, -1], [-1, 1]],
    cosines: [[0.5, -0.5], [-0.5, 0.5]],
    templateSumRatios: [0.5, 0.5],
    histogram: { edges: [-1, 0, 1], trueCounts: [0, 2], otherCounts: [2, 0] },
    test: memStats(meanTrue / 2, meanOther / 2, bimodality / 2),
  };
}

Deno.test("memorizationClaims(): Prop. 5's signs hold, and fail when they should", async (t) => {
  const held = (mt: number, mo: number, ct: number, co: number) =>
    memorizationClaims([memDataset("mnist", mt, mo, 3), memDataset("cifar10", ct, co, 1.5)])[0];
  await t.step("holds: true means 5 and 2 > 0, other means −1 and −0.5 < 0", () => {
    const c = held(5, -1, 2, -0.5);
    assertStrictEquals(c.held, true);
    assert(c.measured.includes("mnist (4 training images): mean true 5.00 vs other -1.00"));
    assert(c.measured.includes("cifar10 (4 training images): mean true 2.00 vs other -0.50"));
    assert(c.measured.includes("(test images: means 1.00 / -0.25, gap 0.75"), c.measured);
  });
  await t.step("fails: CIFAR-10's true-class mean is negative", () => {
    const c = held(5, -1, -0.1, -0.5);
    assertStrictEquals(c.held, false);
    assert(c.measured.includes("mean true -0.10 vs other -0.50"), c.measured);
  });
  await t.step("fails: MNIST's other-class mean is positive", () => {
    const c = held(5, 0.2, 2, -0.5);
    assertStrictEquals(c.held, false);
    assert(c.measured.includes("mean true 5.00 vs other 0.20"), c.measured);
  });
  await t.step("fails: a mean of exactly 0 has no sign", () => {
    assertStrictEquals(held(0, -1, 2, -0.5).held, false);
    assertStrictEquals(held(5, -1, 2, 0).held, false);
  });
});

Deno.test("memorizationClaims(): MNIST more bimodal holds, and fails when it should", async (t) => {
  const claim = (m: number, c: number) =>
    memorizationClaims([memDataset("mnist", 5, -1, m), memDataset("cifar10", 2, -0.5, c)])[1];
  await t.step("holds: MNIST 3.00 > CIFAR-10 1.50", () => {
    const c = claim(3, 1.5);
    assertStrictEquals(c.held, true);
    assert(c.measured.includes("MNIST 3.00, CIFAR-10 1.50 (test images: 1.50, 0.75)"), c.measured);
  });
  await t.step("fails: MNIST 1.00 < CIFAR-10 1.50, and when equal", () => {
    const c = claim(1, 1.5);
    assertStrictEquals(c.held, false);
    assert(c.measured.includes("MNIST 1.00, CIFAR-10 1.50"), c.measured);
    assertStrictEquals(claim(1.5, 1.5).held, false);
  });
  await t.step("the signs claim does not depend on the bimodality", () => {
    assertStrictEquals(
      memorizationClaims([
        memDataset("mnist", 5, -1, 1),
        memDataset("cifar10", 2, -0.5, 1.5),
      ])[0].held,
      true,
    );
  });
});

const skip = await skipWithoutData("memorization", ["mnist", "cifar10"]);

Deno.test({
  name: "runMemorization() at tiny scale: histograms and bimodality of ⟨A[x]_c, x⟩",
  ignore: skip,
  async fn(t) {
    const result = await runMemorization({ scale: "tiny", seed: 0, cacheDir: CACHE });

    await t.step("the result has the experiment's structure", () => {
      assertStrictEquals(result.id, "memorization");
      assert(result.scale.startsWith("tiny"), result.scale);
      assertEquals(result.claims.length, 2);
      for (const c of result.claims) assert(c.measured.length > 0 && typeof c.held === "boolean");
      assertEquals(result.datasets.map((d) => d.dataset), ["mnist", "cifar10"]);
      assertEquals(result.figures.map((f) => f.name), [
        "fig2_memorization_mnist",
        "fig2_memorization_cifar10",
      ]);
      JSON.stringify(result.figures);
    });

    for (const d of result.datasets) {
      const N = d.count, C = d.classes;
      await t.step(`${d.dataset}: histogram counts are N·C, split N / N·(C−1)`, () => {
        assertStrictEquals(N, 100);
        assertStrictEquals(C, 10);
        const sum = (v: readonly number[]) => v.reduce((a, b) => a + b, 0);
        assertStrictEquals(sum(d.histogram.trueCounts), N);
        assertStrictEquals(sum(d.histogram.otherCounts), N * (C - 1));
        assertStrictEquals(d.histogram.edges.length, d.histogram.trueCounts.length + 1);
        const fig = result.figures[result.datasets.indexOf(d)];
        assertEquals(fig.data.map((tr) => sum(tr.customdata)), [N, N * (C - 1)]);
        // Every value lies in the bin the histogram counts it in.
        const { edges } = d.histogram;
        const vals = d.innerProducts.flat();
        assert(vals.every((v) => v >= edges[0] && v <= edges.at(-1)!));
      });

      await t.step(`${d.dataset}: the statistics recomputed from the values agree`, () => {
        const truth: number[] = [], other: number[] = [];
        d.innerProducts.forEach((row, n) =>
          row.forEach((v, c) => (c === d.labels[n] ? truth : other).push(v))
        );
        const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
        const ss = (v: number[], m: number) => v.reduce((a, b) => a + (b - m) ** 2, 0);
        const mt = mean(truth), mo = mean(other);
        const pooled = Math.sqrt(
          (ss(truth, mt) + ss(other, mo)) / (truth.length + other.length - 2),
        );
        assertAllClose(
          [d.meanTrue, d.meanOther, d.pooledStd, d.bimodality],
          [mt, mo, pooled, (mt - mo) / pooled],
          1e-9,
        );
        assert(Number.isFinite(d.bimodality) && Number.isFinite(d.test.bimodality));
        assertAllClose(
          [d.meanCosTrue, d.meanCosOther, d.meanTemplateSumRatio],
          [
            mean(d.cosines.map((row, n) => row[d.labels[n]])),
            mean(d.cosines.flatMap((row, n) => row.filter((_, c) => c !== d.labels[n]))),
            mean(d.templateSumRatios),
          ],
          1e-6,
        );
        const largest = d.innerProducts.filter((row, n) =>
          row.every((v) => v <= row[d.labels[n]])
        ).length;
        assertAllClose([d.trueLargestFraction], [largest / N], 1e-12);
        assertAllClose([d.truePositiveFraction], [truth.filter((v) => v > 0).length / N], 1e-12);
      });

      await t.step(
        `${d.dataset}: training images; ⟨A_c, x⟩, cosines and ratios from float64 templates`,
        async () => {
          const qm = await trainQuick(d.dataset, {
            ...quickTrainPreset("tiny", { dataset: d.dataset }),
            seed: 0,
            cacheDir: CACHE,
          });
          // Figure 2 and the claim are on the training split (Prop. 5 is about training data).
          assertEquals(d.labels, Array.from(await qm.dataset.train.y.data()).slice(0, N));
          const x = tf.slice(qm.dataset.train.x, 0, 3);
          const xd = Float64Array.from(await x.data());
          x.dispose();
          const D = xd.length / 3;
          const { A } = affineMap(qm.net, { data: xd, shape: [3, ...qm.net.inputShape] }, {
            backend: "cpu",
          });
          for (let n = 0; n < 3; n++) {
            const dots = Array.from({ length: C }, (_, c) => {
              let s = 0;
              for (let i = 0; i < D; i++) s += A.data[(n * C + c) * D + i] * xd[n * D + i];
              return s;
            });
            const scale = Math.max(...dots.map(Math.abs));
            assertAllClose(d.innerProducts[n], dots, 1e-4, `example ${n}`, scale);
            const row = (c: number) => A.data.subarray((n * C + c) * D, (n * C + c + 1) * D);
            const norm = (v: ArrayLike<number>) =>
              Math.sqrt(Array.from(v).reduce((a, b) => a + b * b, 0));
            const xNorm = norm(xd.subarray(n * D, (n + 1) * D));
            const cos = dots.map((v, c) => v / (norm(row(c)) * xNorm));
            assertAllClose(d.cosines[n], cos, 1e-4, `cosines ${n}`);
            const sum = new Float64Array(D);
            for (let c = 0; c < C; c++) row(c).forEach((v, i) => (sum[i] += v));
            const ratio = norm(sum) /
              Array.from({ length: C }, (_, c) => norm(row(c))).reduce((a, b) => a + b);
            assertAllClose([d.templateSumRatios[n]], [ratio], 1e-4, `ratio ${n}`);
          }
        },
      );
    }

    await t.step("claims follow the training-split numbers; the test split is reported", () => {
      for (const d of result.datasets) {
        assertStrictEquals(d.test.count, 100);
        assert(result.claims[0].measured.includes(`mean true ${d.meanTrue.toFixed(2)}`));
        assert(result.claims[0].measured.includes(`means ${d.test.meanTrue.toFixed(2)}`));
      }
      assert(result.figures.every((f) => f.title.includes("training images")));
      const [m, c] = result.datasets;
      assertStrictEquals(result.mnistMoreBimodal, m.bimodality > c.bimodality);
      assertStrictEquals(result.claims[1].held, result.mnistMoreBimodal);
      assertStrictEquals(
        result.claims[0].held,
        result.datasets.every((d) => d.meanTrue > 0 && d.meanOther < 0),
      );
      assertEquals(result.claims, memorizationClaims(result.datasets));
    });

    await t.step("examples and bins are honoured; bad values are rejected", async () => {
      const small = await runMemorization({
        scale: "tiny",
        cacheDir: CACHE,
        examples: 20,
        bins: 7,
      });
      assertEquals(small.datasets.map((d) => d.count), [20, 20]);
      assertEquals(small.datasets.map((d) => d.histogram.trueCounts.length), [7, 7]);
      assertAllClose(
        small.datasets[0].innerProducts.flat(),
        result.datasets[0].innerProducts.slice(0, 20).flat(),
        1e-5,
      );
      await assertRejects(() => runMemorization({ bins: 0 }), /bins is 0/);
      await assertRejects(() => runMemorization({ examples: -3 }), /examples is -3/);
    });
  },
});

Deno.test("memorizationClaims(): the bimodality comparison never reads as a tie", async (t) => {
  await t.step("1.554 > 1.551 holds and prints three decimals, not 1.55 vs 1.55", () => {
    const c = memorizationClaims([
      memDataset("mnist", 2, -1, 1.554),
      memDataset("cifar10", 2, -1, 1.551),
    ])[1];
    assertStrictEquals(c.held, true);
    assert(c.measured.includes("training images: MNIST 1.554, CIFAR-10 1.551"), c.measured);
  });
  await t.step("values apart at two decimals keep two; equal values print equal", () => {
    const c =
      memorizationClaims([memDataset("mnist", 2, -1, 1.55), memDataset("cifar10", 2, -1, 1.11)])[1];
    assert(c.measured.includes("training images: MNIST 1.55, CIFAR-10 1.11"), c.measured);
    const tie =
      memorizationClaims([memDataset("mnist", 2, -1, 1.5), memDataset("cifar10", 2, -1, 1.5)])[1];
    assertStrictEquals(tie.held, false);
    assert(tie.measured.includes("training images: MNIST 1.50, CIFAR-10 1.50"), tie.measured);
  });
  await t.step("NaN bimodality never holds", () => {
    assertStrictEquals(
      memorizationClaims([memDataset("mnist", 2, -1, NaN), memDataset("cifar10", 2, -1, 1)])[1]
        .held,
      false,
    );
    assertStrictEquals(
      memorizationClaims([memDataset("mnist", 2, -1, 2), memDataset("cifar10", 2, -1, NaN)])[1]
        .held,
      false,
    );
  });
});
