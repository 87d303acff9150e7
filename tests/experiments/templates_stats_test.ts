import { assert, assertEquals, assertStrictEquals } from "../_assert.ts";
import { templatesClaims, type TemplatesPanel } from "../../lib/experiments/templates.ts";
import { trueClassLargestFraction } from "../../lib/experiments/_stats.ts";

Deno.test("trueClassLargestFraction(): strictly largest, by hand", async (t) => {
  await t.step("counts images whose true class beats every other", () => {
    // Image 0: class 1 largest (label 1) ✓; image 1: class 2 largest (label 0) ✗;
    // image 2: class 0 largest (label 0) ✓; image 3: class 2 largest (label 2) ✓.
    const ip = [[0, 5, 1], [1, 0, 2], [-1, -2, -3], [0, 0, 0.5]];
    assertEquals(trueClassLargestFraction(ip, [1, 0, 0, 2]), 0.75);
  });
  await t.step("a row with a NaN never counts (before: argmax fell back to class 0)", () => {
    assertEquals(trueClassLargestFraction([[NaN, NaN, NaN]], [0]), 0);
    assertEquals(trueClassLargestFraction([[NaN, 1, 2]], [2]), 0);
    assertEquals(trueClassLargestFraction([[3, NaN, 2]], [0]), 0);
  });
  await t.step("a tie for the largest counts for no class, whatever its index", () => {
    assertEquals(trueClassLargestFraction([[2, 2, 0]], [0]), 0);
    assertEquals(trueClassLargestFraction([[2, 2, 0]], [1]), 0);
  });
  await t.step("no image: NaN, which fails the ≥ 2/C bar", () => {
    assert(Number.isNaN(trueClassLargestFraction([], [])));
    const nan = panel("cifar10", { trueLargestFraction: NaN });
    assertStrictEquals(templatesClaims([panel("mnist", {}), nan])[1].held, false);
  });
});

/** A panel on which both claims hold but for `trueLargestFraction` (C = 10, bar 20%). */
function panel(dataset: "mnist" | "cifar10", change: Partial<TemplatesPanel>): TemplatesPanel {
  const C = 10;
  const allInnerProducts = Array.from({ length: C }, (_, c) => (c === 0 ? 3 : -c / 4));
  return {
    dataset,
    model: "hand-made",
    testAccuracy: 0.5,
    index: 4,
    label: 0,
    predicted: 0,
    classes: [0, 1, 2],
    shape: [1, 1, 1],
    input: [1],
    labelName: "zero",
    classNames: ["zero", "one", "two"],
    templates: [[3], [-0.25], [-0.5]],
    innerProducts: [3, -0.25, -0.5],
    logits: allInnerProducts,
    allInnerProducts,
    innerProductsTfjs: allInnerProducts,
    offsets: new Array(C).fill(0),
    maxRelativeError: 1e-6,
    maxRelativeErrorInnerProducts: 1e-6,
    decisionMatches: true,
    trueClassLargest: true,
    testLabels: new Array(10000).fill(0),
    testInnerProducts: [],
    trueLargestFraction: 0.3,
    ...change,
  };
}

Deno.test("templatesClaims(): the displayed fraction never contradicts the 2/C verdict", async (t) => {
  await t.step("1999 of 10,000 (19.99%) is below the 20% bar and reads so", () => {
    const c =
      templatesClaims([panel("mnist", {}), panel("cifar10", { trueLargestFraction: 0.1999 })])[1];
    assertStrictEquals(c.held, false);
    assert(c.measured.includes("largest in 19.99% of 10000 test images"), c.measured);
    assert(c.measured.includes("bar 20.00%"), c.measured);
    assert(c.measured.includes("mnist: true class largest in 30.0% "), c.measured);
  });
  await t.step("a misclassified panel image is not called correctly classified", () => {
    const c = templatesClaims([panel("mnist", { predicted: 3 }), panel("cifar10", {})])[1];
    assert(
      c.measured.includes(
        "mnist: true class largest in 30.0% of 10000 test images " +
          "(chance 10.0%, bar 20.0%); the panel's selected image (test image 4, the first of " +
          "its class: none was classified correctly)",
      ),
      c.measured,
    );
    assert(c.measured.includes("(test image 4, the first correctly classified of its class)"));
  });
});
