import * as tf from "@tensorflow/tfjs";
import { assert, assertAllClose, assertEquals, assertRejects } from "../_assert.ts";
import { runPartitionKnn } from "../../lib/experiments/partition_knn.ts";
import { loadDataset } from "../../lib/data/load_dataset.ts";
import { preprocessPaper } from "../../lib/data/preprocess.ts";
import { smallCNN } from "../../lib/models/small_cnn.ts";
import { train } from "../../lib/train/train.ts";
import { selectBackend } from "../../lib/train/backend.ts";
import { fromLayersModel } from "../../lib/network/from_layers_model.ts";
import { partitionCodes } from "../../lib/partition/codes.ts";
import type { CodeLayer } from "../../lib/partition/code_layer.ts";

await selectBackend({ prefer: "wasm" });

/** Eq. (15) by plain counting: 1 − (#equal code entries) / D. */
function bruteDistance(a: CodeLayer, i: number, b: CodeLayer, j: number): number {
  let equal = 0;
  for (let u = 0; u < a.units; u++) {
    if (a.kind === "max-pool") {
      if (a.argmax[i * a.units + u] === b.argmax[j * b.units + u]) equal++;
    } else {
      const bit = (c: CodeLayer, n: number) => (c.bits[n * c.words + (u >>> 5)] >>> (u & 31)) & 1;
      if (bit(a, i) === bit(b, j)) equal++;
    }
  }
  return 1 - equal / a.units;
}

const SETTINGS = { trainSize: 500, epochs: 1, baseSize: 300, queries: 20, seed: 0 } as const;

Deno.test("runPartitionKnn() at tiny scale: neighbours, distances and curves are right", async (t) => {
  const result = await runPartitionKnn({ scale: "tiny", ...SETTINGS });
  assertEquals(result.id, "partition_knn");
  assert(result.seconds < 60, `tiny took ${result.seconds} s`);
  assert(result.notes.some((n) => n.startsWith("SVHN skipped")));
  const [d] = result.datasets;
  assertEquals(d.dataset, "cifar10");
  assertEquals(d.layers.map((l) => l.kind), [
    "relu",
    "max-pool",
    "relu",
    "max-pool",
    "relu",
    "max-pool",
  ]);
  assertEquals(d.layers.map((l) => l.units), [
    30 * 30 * 32,
    15 * 15 * 32,
    13 * 13 * 64,
    6 * 6 * 64,
    6 * 6 * 128,
    3 * 3 * 128,
  ]);
  const Q = 20, K = 15;
  assertEquals(d.queryLabels.length, Q);
  for (const arr of [d.neighbors, d.distances, d.neighborLabels]) {
    assertEquals(arr.length, 6);
    for (const layer of arr) {
      assertEquals(layer.length, Q);
      for (const row of layer) assertEquals(row.length, K);
    }
  }
  for (const layer of d.distances) {
    for (const row of layer) {
      for (let j = 0; j < K; j++) {
        assert(row[j] >= 0 && row[j] <= 1, `distance ${row[j]}`);
        if (j > 0) assert(row[j] >= row[j - 1], "distances ascending");
      }
    }
  }
  assertEquals(d.classAgreement.length, 6);
  assertEquals(d.euclidean.length, 6);

  // The same data and the same seeded training reproduce the network exactly.
  const raw = await loadDataset("cifar10", {
    trainSize: 500,
    testSize: 20,
    seed: 0,
    preprocess: "none",
  });
  const xTrain = preprocessPaper(raw.train.x), xTest = preprocessPaper(raw.test.x);
  const baseLabels = Array.from(await raw.train.y.data()).slice(0, 300);
  const queryLabels = Array.from(await raw.test.y.data());
  const xBase = tf.slice(xTrain, 0, 300);
  /** Euclidean distance between query image i and base image j, in float64. */
  const euclidean = async () => {
    const q = await xTest.data(), b = await xBase.data();
    const D = 32 * 32 * 3;
    return (i: number, j: number) => {
      let s = 0;
      for (let k = 0; k < D; k++) s += (q[i * D + k] - b[j * D + k]) ** 2;
      return Math.sqrt(s);
    };
  };

  await t.step("class agreement and chance level recomputed from the labels", () => {
    assertEquals(d.queryLabels, queryLabels);
    d.neighbors.forEach((layer, l) =>
      layer.forEach((row, q) => assertEquals(d.neighborLabels[l][q], row.map((i) => baseLabels[i])))
    );
    const agree = d.neighborLabels.map((layer) =>
      layer.flatMap((row, q) => row.map((c) => (c === queryLabels[q] ? 1 : 0))).reduce<number>(
        (a, b) => a + b,
        0,
      ) / (Q * K)
    );
    assertAllClose(d.classAgreement, agree, 1e-12);
    const chance = queryLabels.reduce(
      (a, c) => a + baseLabels.filter((b) => b === c).length / 300,
      0,
    ) / Q;
    assertAllClose([d.chanceAgreement], [chance], 1e-12);
  });

  await t.step(
    "Euclidean distances recomputed in float64 from the preprocessed images",
    async () => {
      const dist = await euclidean();
      const eu = d.neighbors.map((layer) =>
        layer.reduce((a, row, i) => a + row.reduce((s, j) => s + dist(i, j), 0), 0) / (Q * K)
      );
      assertAllClose(d.euclidean, eu, 1e-9);
      let all = 0;
      for (let i = 0; i < Q; i++) for (let j = 0; j < 300; j++) all += dist(i, j);
      assertAllClose([d.randomEuclidean], [all / (Q * 300)], 1e-4);
    },
  );

  await t.step(
    "neighbours are the k nearest under eq. (15), by brute force on the codes",
    async () => {
      const model = smallCNN({ inputShape: [32, 32, 3], classes: 10, batchNorm: false, seed: 0 });
      const { history } = await train(model, {
        train: { x: xTrain, y: raw.train.y },
        test: { x: xTest, y: raw.test.y },
        classes: 10,
      }, { epochs: 1, batchSize: 50, learningRate: 1e-3, seed: 0, silent: true });
      assertEquals(history[0].testAccuracy, d.testAccuracy);
      const net = fromLayersModel(model);
      const qc = partitionCodes(net, xTest), bc = partitionCodes(net, xBase);
      model.dispose();
      for (let l = 0; l < 6; l++) {
        for (let i = 0; i < Q; i++) {
          const got = d.neighbors[l][i];
          const mine = got.map((j) => bruteDistance(qc[l], i, bc[l], j));
          assertAllClose(d.distances[l][i], mine, 1e-6);
          if (i >= 4) continue; // the full scan (every base image) for a few queries
          const all = Array.from({ length: 300 }, (_, j) => bruteDistance(qc[l], i, bc[l], j));
          const kth = d.distances[l][i][K - 1];
          const chosen = new Set(got);
          for (let j = 0; j < 300; j++) {
            if (!chosen.has(j)) {
              assert(
                all[j] >= kth - 1e-6,
                `layer ${l} query ${i}: base ${j} closer`,
              );
            }
          }
        }
      }
    },
  );

  await t.step(
    "untrained baseline: neighbours by brute force on an untrained smallCNN's codes, curves recomputed",
    async () => {
      const u = d.untrained;
      const model = smallCNN({ inputShape: [32, 32, 3], classes: 10, batchNorm: false, seed: 0 });
      const net = fromLayersModel(model);
      const qc = partitionCodes(net, xTest), bc = partitionCodes(net, xBase);
      model.dispose();
      for (let l = 0; l < 6; l++) {
        for (let i = 0; i < Q; i++) {
          const all = Array.from({ length: 300 }, (_, j) => bruteDistance(qc[l], i, bc[l], j));
          assertAllClose(u.distances[l][i], u.neighbors[l][i].map((j) => all[j]), 1e-6);
          const kth = [...all].sort((a, b) => a - b)[K - 1];
          assertAllClose([u.distances[l][i][K - 1]], [kth], 1e-6, `layer ${l} query ${i}: k-th`);
        }
      }
      // The baseline is not the trained network: some neighbour list differs.
      assert(JSON.stringify(u.neighbors) !== JSON.stringify(d.neighbors), "untrained = trained");
      const dist = await euclidean();
      const mean = (f: (i: number, j: number) => number) =>
        u.neighbors.map((layer) =>
          layer.reduce((a, row, i) => a + row.reduce((s, j) => s + f(i, j), 0), 0) / (Q * K)
        );
      assertAllClose(u.euclidean, mean(dist), 1e-9);
      assertAllClose(
        u.classAgreement,
        mean((i, j) => (baseLabels[j] === queryLabels[i] ? 1 : 0)),
        1e-12,
      );
    },
  );

  await t.step("claims and figures follow the numbers", () => {
    assertEquals(result.claims.length, 3);
    // Recomputed from the raw curves: ReLU layers 0, 2, 4 and max-pool layers 1, 3, 5.
    const types = [[0, 2, 4], [1, 3, 5]];
    const up = (v: number[], w: number[]) =>
      types.every(([f, , l]) => v[l] - v[f] > 0 && v[l] - v[f] > w[l] - w[f]);
    const u = d.untrained;
    assertEquals(result.claims[0].held, up(d.classAgreement, u.classAgreement));
    assertEquals(
      result.claims[1].held,
      [4, 5].every((l) =>
        d.classAgreement[l] >= u.classAgreement[l] + 0.1 &&
        d.classAgreement[l] >= 2 * d.chanceAgreement
      ),
    );
    assertEquals(result.claims[2].held, up(d.euclidean, u.euclidean));
    for (const c of result.claims) assert(c.measured.includes("untrained"), c.measured);
    assertEquals(result.figures.map((f) => f.name), [
      "fig4_neighbors_cifar10",
      "fig4_curves_cifar10",
    ]);
    const [grid, curves] = result.figures;
    assertEquals(grid.layout.shapes.length, d.shownQueries.length * 6 * (1 + K));
    assertEquals(new Set(d.shownQueries.map((q) => queryLabels[q])).size, d.shownQueries.length);
    assertEquals(curves.data[0].y, d.classAgreement);
    assertEquals(curves.data[2].y, d.euclidean);
    assertEquals(curves.data[4].y, u.classAgreement);
    assertEquals(curves.data[5].y, u.euclidean);
  });
  tf.dispose([raw.train.x, raw.train.y, raw.test.x, raw.test.y, xTrain, xTest, xBase]);
});

Deno.test("runPartitionKnn() rejects bad options", async (t) => {
  await t.step("unknown scale", async () => {
    await assertRejects(() => runPartitionKnn({ scale: "huge" as "tiny" }), RangeError);
  });
  await t.step("non-integer k, base larger than the training set", async () => {
    await assertRejects(() => runPartitionKnn({ scale: "tiny", k: 0 }), /k is 0/);
    await assertRejects(
      () => runPartitionKnn({ scale: "tiny", trainSize: 100, baseSize: 200 }),
      /baseSize 200 exceeds trainSize 100/,
    );
  });
});
