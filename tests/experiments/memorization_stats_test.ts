import { assert, assertStrictEquals } from "../_assert.ts";
import {
  memorizationClaims,
  type MemorizationDatasetResult,
  type MemorizationStats,
} from "../../lib/experiments/memorization.ts";

/** Statistics with the given bimodality (means 2 and −1: the signs claim holds). */
function stats(bimodality: number): MemorizationStats {
  return {
    count: 4,
    meanTrue: 2,
    meanOther: -1,
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

function dataset(name: "mnist" | "cifar10", bimodality: number): MemorizationDatasetResult {
  return {
    dataset: name,
    model: "hand-made",
    testAccuracy: 0.5,
    classes: 2,
    ...stats(bimodality),
    labels: [0, 1],
    innerProducts: [[1, -1], [-1, 1]],
    cosines: [[0.5, -0.5], [-0.5, 0.5]],
    templateSumRatios: [0.5, 0.5],
    histogram: { edges: [-1, 0, 1], trueCounts: [0, 2], otherCounts: [2, 0] },
    test: stats(bimodality),
  };
}

Deno.test("memorizationClaims(): the bimodality comparison never reads as a tie", async (t) => {
  await t.step("1.554 > 1.551 holds and prints three decimals, not 1.55 vs 1.55", () => {
    const c = memorizationClaims([dataset("mnist", 1.554), dataset("cifar10", 1.551)])[1];
    assertStrictEquals(c.held, true);
    assert(c.measured.includes("training images: MNIST 1.554, CIFAR-10 1.551"), c.measured);
  });
  await t.step("values apart at two decimals keep two; equal values print equal", () => {
    const c = memorizationClaims([dataset("mnist", 1.55), dataset("cifar10", 1.11)])[1];
    assert(c.measured.includes("training images: MNIST 1.55, CIFAR-10 1.11"), c.measured);
    const tie = memorizationClaims([dataset("mnist", 1.5), dataset("cifar10", 1.5)])[1];
    assertStrictEquals(tie.held, false);
    assert(tie.measured.includes("training images: MNIST 1.50, CIFAR-10 1.50"), tie.measured);
  });
  await t.step("NaN bimodality never holds", () => {
    assertStrictEquals(
      memorizationClaims([dataset("mnist", NaN), dataset("cifar10", 1)])[1].held,
      false,
    );
    assertStrictEquals(
      memorizationClaims([dataset("mnist", 2), dataset("cifar10", NaN)])[1].held,
      false,
    );
  });
});
