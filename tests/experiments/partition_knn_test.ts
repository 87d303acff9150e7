import * as tf from "@tensorflow/tfjs";
import { assert, assertAllClose, assertEquals, assertRejects } from "../_assert.ts";
import {
  figure4Claims,
  type PartitionKnnDataset,
  runPartitionKnn,
} from "../../lib/experiments/partition_knn.ts";
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

/**
 * A hand-made dataset result whose Figure 4 claims all hold: within each layer type (ReLU
 * 0/2/4, max-pool 1/3/5) the class agreement rises by 25 points against ≤ 4 untrained, ends
 * ≥ 10 points above untrained and ≥ twice chance (10%), and the Euclidean distance rises by 4
 * against 0.4 untrained. `change` edits copies of its curves.
 */
function knnDataset(
  change: {
    a?: Record<number, number>;
    ua?: Record<number, number>;
    e?: Record<number, number>;
    ue?: Record<number, number>;
    chance?: number;
  } = {},
): PartitionKnnDataset {
  const edit = (v: number[], w: Record<number, number> = {}) => v.map((x, l) => w[l] ?? x);
  const kinds = ["relu", "max-pool", "relu", "max-pool", "relu", "max-pool"];
  return {
    dataset: "cifar10",
    labels: ["a", "b"],
    layers: kinds.map((kind, index) => ({
      index,
      kind,
      name: `layer${index}`,
      units: 8,
      label: `ℓ=${index + 1} ${kind}`,
    })),
    epochs: 1,
    trainSize: 40,
    trainAccuracy: 0.5,
    testAccuracy: 0.4,
    baseSize: 30,
    k: 15,
    queryLabels: [0, 1],
    neighbors: [],
    distances: [],
    neighborLabels: [],
    classAgreement: edit([0.20, 0.25, 0.30, 0.35, 0.45, 0.50], change.a),
    euclidean: edit([10, 11, 12, 13, 14, 15], change.e),
    chanceAgreement: change.chance ?? 0.1,
    randomEuclidean: 20,
    untrained: {
      neighbors: [],
      distances: [],
      classAgreement: edit([0.15, 0.20, 0.17, 0.22, 0.18, 0.24], change.ua),
      euclidean: edit([10, 10.5, 10.2, 10.7, 10.4, 10.9], change.ue),
    },
    shownQueries: [0],
    seconds: { train: 0, codes: 0, search: 0, untrained: 0 },
    codesPerSecond: 1,
    codesEngine: "cpu",
  };
}

/** The `held` of Figure 4's three claims on `d`. */
const heldOf = (d: PartitionKnnDataset) => figure4Claims(d).map((c) => c.held);

Deno.test("figure4Claims(): the agreement trend holds, and fails when it should", async (t) => {
  await t.step("holds: rises by 25 points in each type, untrained by 3 and 4", () => {
    const [c] = figure4Claims(knnDataset());
    assertEquals(c.held, true);
    assert(c.measured.includes("relu +25.0 pp (untrained +3.0 pp)"), c.measured);
    assert(c.measured.includes("max-pool +25.0 pp (untrained +4.0 pp)"), c.measured);
  });
  await t.step("fails: the max-pool agreement falls (50% → 20%)", () => {
    const [c] = figure4Claims(knnDataset({ a: { 5: 0.2 } }));
    assertEquals(c.held, false);
    assert(c.measured.includes("max-pool -5.0 pp"), c.measured);
  });
  await t.step("fails: the ReLU agreement rises, but less than untrained", () => {
    const d = knnDataset({ ua: { 4: 0.45 } }); // untrained ReLU rise 30 > 25 points
    assertEquals(heldOf(d)[0], false);
    assert(figure4Claims(d)[0].measured.includes("relu +25.0 pp (untrained +30.0 pp)"));
  });
  await t.step("fails: a rise equal to the untrained one is not more", () => {
    // Exact in binary: both ReLU rises are 0.25.
    const a = { 0: 0.25, 4: 0.5 };
    assertEquals(heldOf(knnDataset({ a, ua: { 0: 0.125, 4: 0.375 } }))[0], false);
    assertEquals(heldOf(knnDataset({ a, ua: { 0: 0.125, 4: 0.37 } }))[0], true);
  });
});

Deno.test("figure4Claims(): the 'mainly the same class' bar holds, and fails when it should", async (t) => {
  await t.step("holds: deepest layers 45% and 50% against bars 28% and 34%", () => {
    const c = figure4Claims(knnDataset())[1];
    assertEquals(c.held, true);
    assert(c.measured.includes("ℓ=5 relu: 45.0% (untrained 18.0%, bar 28.0%)"), c.measured);
    assert(c.measured.includes("ℓ=6 max-pool: 50.0% (untrained 24.0%, bar 34.0%)"), c.measured);
  });
  await t.step("fails: deepest max-pool layer < untrained + 10 points", () => {
    const d = knnDataset({ ua: { 5: 0.41 } }); // bar 51% > 50%; the trend still holds
    assertEquals(heldOf(d), [true, false, true]);
    assert(figure4Claims(d)[1].measured.includes("bar 51.0%"));
  });
  await t.step("fails: deepest ReLU layer < twice chance", () => {
    const d = knnDataset({ chance: 0.26 }); // bar 52% > 45%
    assertEquals(heldOf(d), [true, false, true]);
    assert(figure4Claims(d)[1].measured.includes("ℓ=5 relu: 45.0% (untrained 18.0%, bar 52.0%)"));
  });
  await t.step("holds at the bar itself (twice chance = 45%)", () => {
    assertEquals(heldOf(knnDataset({ chance: 0.225 }))[1], true);
  });
});

Deno.test("figure4Claims(): the Euclidean trend holds, and fails when it should", async (t) => {
  await t.step("holds: rises by 4 in each type, untrained by 0.4", () => {
    const c = figure4Claims(knnDataset())[2];
    assertEquals(c.held, true);
    assert(c.measured.includes("relu +4.00 (untrained +0.40), max-pool +4.00"), c.measured);
  });
  await t.step("fails: the ReLU distance falls (10 → 9)", () => {
    const d = knnDataset({ e: { 4: 9 } });
    assertEquals(heldOf(d), [true, true, false]);
    assert(figure4Claims(d)[2].measured.includes("relu -1.00"));
  });
  await t.step("fails: the max-pool distance rises, but less than untrained", () => {
    const d = knnDataset({ ue: { 5: 15 } }); // untrained max-pool rise 4.5 > 4
    assertEquals(heldOf(d), [true, true, false]);
    assert(figure4Claims(d)[2].measured.includes("max-pool +4.00 (untrained +4.50)"));
  });
});

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
    assertEquals(result.claims, figure4Claims(d));
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

Deno.test("figure4Claims(): the '≥ 10 points above untrained' bar at and near the bar", async (t) => {
  // agreements as counts over Q·k = 3000 neighbours (200 queries × 15)
  const at = (a: number, ua: number, l = 4) =>
    knnDataset({ a: { [l]: a / 3000 }, ua: { [l]: ua / 3000 } });
  await t.step("exactly 10 points above holds (900/3000 against 600/3000 + 0.1)", () => {
    // In floating point 600/3000 + 0.1 = 0.30000000000000004 > 900/3000 = 0.3.
    const c = figure4Claims(at(900, 600))[1];
    assertEquals(c.held, true, c.measured);
    assert(c.measured.includes("ℓ=5 relu: 30.0% (untrained 20.0%, bar 30.0%)"), c.measured);
  });
  await t.step("one neighbour in 3000 below the bar fails", () => {
    assertEquals(figure4Claims(at(899, 600))[1].held, false);
  });
  await t.step("exactly twice chance holds (600/3000 against 2 × 10%)", () => {
    // Untrained 300/3000: its bar 20% + ε is below twice chance, 20%.
    assertEquals(figure4Claims(at(600, 300))[1].held, true);
  });
  await t.step("a value below its bar never reads as equal to it", () => {
    // 1112/3000 = 37.0667% against the bar 813/3000 + 10 points = 37.1%: one decimal would
    // print "37.1% … bar 37.1%" next to "no".
    const c = figure4Claims(at(1112, 813, 5))[1];
    assertEquals(c.held, false);
    assert(c.measured.includes("ℓ=6 max-pool: 37.07% (untrained 27.10%, bar 37.10%)"), c.measured);
    // the other layer keeps one decimal
    assert(c.measured.includes("ℓ=5 relu: 45.0% (untrained 18.0%, bar 28.0%)"), c.measured);
  });
  await t.step("NaN agreement never holds", () => {
    const d = knnDataset();
    const nan = { ...d, classAgreement: d.classAgreement.map((v, l) => l === 5 ? NaN : v) };
    assertEquals(figure4Claims(nan).map((c) => c.held), [false, false, true]);
  });
});
