import { assert, assertEquals } from "../_assert.ts";
import { figure4Claims, type PartitionKnnDataset } from "../../lib/experiments/partition_knn.ts";

/**
 * A dataset result with Q·k = 3000 neighbours per layer (200 queries × 15): agreements are
 * counts over 3000. ReLU layers 0/2/4, max-pool 1/3/5; chance 10%, so twice chance is 20%
 * and the bar of the deepest layers is untrained + 10 points. `a` and `ua` set counts of
 * same-class neighbours (trained, untrained) by layer.
 */
function dataset(a: Record<number, number>, ua: Record<number, number>): PartitionKnnDataset {
  const kinds = ["relu", "max-pool", "relu", "max-pool", "relu", "max-pool"];
  const of = (base: number[], w: Record<number, number>) => base.map((x, l) => (w[l] ?? x) / 3000);
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
    trainSize: 6000,
    trainAccuracy: 0.5,
    testAccuracy: 0.4,
    baseSize: 5000,
    k: 15,
    queryLabels: new Array(200).fill(0),
    neighbors: [],
    distances: [],
    neighborLabels: [],
    classAgreement: of([600, 650, 700, 750, 1500, 1500], a),
    euclidean: [10, 11, 12, 13, 14, 15],
    chanceAgreement: 0.1,
    randomEuclidean: 20,
    untrained: {
      neighbors: [],
      distances: [],
      classAgreement: of([600, 650, 600, 650, 600, 650], ua),
      euclidean: [10, 10, 10, 10, 10, 10],
    },
    shownQueries: [0],
    seconds: { train: 0, codes: 0, search: 0, untrained: 0 },
    codesPerSecond: 1,
    codesEngine: "cpu",
  };
}

Deno.test("figure4Claims(): the '≥ 10 points above untrained' bar at and near the bar", async (t) => {
  await t.step("exactly 10 points above holds (900/3000 against 600/3000 + 0.1)", () => {
    // In floating point 600/3000 + 0.1 = 0.30000000000000004 > 900/3000 = 0.3.
    const c = figure4Claims(dataset({ 4: 900 }, { 4: 600 }))[1];
    assertEquals(c.held, true, c.measured);
    assert(c.measured.includes("ℓ=5 relu: 30.0% (untrained 20.0%, bar 30.0%)"), c.measured);
  });
  await t.step("one neighbour in 3000 below the bar fails", () => {
    assertEquals(figure4Claims(dataset({ 4: 899 }, { 4: 600 }))[1].held, false);
  });
  await t.step("exactly twice chance holds (600/3000 against 2 × 10%)", () => {
    // Untrained 300/3000: its bar 20% + ε is below twice chance, 20%.
    assertEquals(figure4Claims(dataset({ 4: 600 }, { 4: 300 }))[1].held, true);
  });
  await t.step("a value below its bar never reads as equal to it", () => {
    // 1112/3000 = 37.0667% against the bar 813/3000 + 10 points = 37.1%: one decimal would
    // print "37.1% … bar 37.1%" next to "no".
    const c = figure4Claims(dataset({ 5: 1112 }, { 5: 813 }))[1];
    assertEquals(c.held, false);
    assert(c.measured.includes("ℓ=6 max-pool: 37.07% (untrained 27.10%, bar 37.10%)"), c.measured);
    // the other layer keeps one decimal
    assert(c.measured.includes("ℓ=5 relu: 50.0% (untrained 20.0%, bar 30.0%)"), c.measured);
  });
  await t.step("NaN agreement never holds", () => {
    const d = dataset({}, {});
    const nan = { ...d, classAgreement: d.classAgreement.map((v, l) => l === 5 ? NaN : v) };
    assertEquals(figure4Claims(nan).map((c) => c.held), [false, false, true]);
  });
});
