import * as tf from "@tensorflow/tfjs";
import {
  assert,
  assertAllClose,
  assertEquals,
  assertRejects,
  assertStrictEquals,
} from "../_assert.ts";
import {
  runTemplates,
  templatesClaims,
  type TemplatesPanel,
} from "../../lib/experiments/templates.ts";
import { quickTrainPreset, trainQuick } from "../../lib/experiments/_train_quick.ts";
import { trueClassLargestFraction } from "../../lib/experiments/_stats.ts";
import { affineMap } from "../../lib/affine/affine_map.ts";
import { CACHE, skipWithoutData } from "./_data.ts";

/**
 * A hand-made panel on which both claims hold: eq. (8) reproduced to 1e-6 (inner products
 * 2e-6), the decision matching, and the true class largest in 30% of 10 test images (C = 10,
 * bar 20%). `change` overrides fields (the claims read `trueLargestFraction`, not the rows).
 */
function templatesPanel(
  dataset: "mnist" | "cifar10",
  change: Partial<TemplatesPanel> = {},
): TemplatesPanel {
  const C = 10;
  const allInnerProducts = Array.from({ length: C }, (_, c) => (c === 0 ? 3 : -c / 4));
  const offsets = new Array(C).fill(0.5);
  const testLabels = Array.from({ length: 10 }, (_, n) => n % C);
  return {
    dataset,
    model: "hand-made",
    testAccuracy: 0.5,
    index: 0,
    label: 0,
    predicted: 0,
    classes: [0, 1, 2],
    shape: [1, 1, 1],
    input: [1],
    labelName: "zero",
    classNames: ["zero", "one", "two"],
    templates: [[3], [-0.25], [-0.5]],
    innerProducts: [3, -0.25, -0.5],
    logits: allInnerProducts.map((v, c) => v + offsets[c]),
    allInnerProducts,
    innerProductsTfjs: allInnerProducts,
    offsets,
    maxRelativeError: 1e-6,
    maxRelativeErrorInnerProducts: 2e-6,
    decisionMatches: true,
    trueClassLargest: true,
    testLabels,
    // The true class largest in the first 3 of 10 images, the next class in the rest.
    testInnerProducts: testLabels.map((y, n) =>
      allInnerProducts.map((_, c) => (c === (n < 3 ? y : (y + 1) % C) ? 1 : 0))
    ),
    trueLargestFraction: 0.3,
    ...change,
  };
}

/** The two panels, MNIST then CIFAR-10, with `change` applied to CIFAR-10's. */
const panels = (change: Partial<TemplatesPanel> = {}) => [
  templatesPanel("mnist"),
  templatesPanel("cifar10", change),
];

Deno.test("templatesClaims(): eq. (8) with the decision check holds, and fails when it should", async (t) => {
  await t.step("holds: errors 1e-6 and 2e-6, decisions match", () => {
    const [c] = templatesClaims(panels());
    assertStrictEquals(c.held, true);
    assert(c.measured.includes("cifar10: max relative error 1.00e-6"), c.measured);
    assert(c.measured.includes("float64: 2.00e-6); argmax ⟨A_c, x⟩ + B_c = 0, prediction 0"));
  });
  await t.step("holds at the bound itself (1e-4)", () => {
    const p = panels({ maxRelativeError: 1e-4, maxRelativeErrorInnerProducts: 1e-4 });
    assertStrictEquals(templatesClaims(p)[0].held, true);
  });
  await t.step("fails: z_c off by 2e-4 on CIFAR-10", () => {
    const [c, fraction] = templatesClaims(panels({ maxRelativeError: 2e-4 }));
    assertStrictEquals(c.held, false);
    assertStrictEquals(fraction.held, true);
    assert(c.measured.includes("cifar10: max relative error 2.00e-4"), c.measured);
  });
  await t.step("fails: the tfjs inner products off by 2e-4", () => {
    const [c] = templatesClaims(panels({ maxRelativeErrorInnerProducts: 2e-4 }));
    assertStrictEquals(c.held, false);
    assert(c.measured.includes("vs float64: 2.00e-4"), c.measured);
  });
  await t.step("fails: the decision is not argmax ⟨A_c, x⟩ + B_c", () => {
    const [c] = templatesClaims(panels({ decisionMatches: false, predicted: 3 }));
    assertStrictEquals(c.held, false);
    assert(c.measured.includes("= 0, prediction 3"), c.measured);
  });
});

Deno.test("templatesClaims(): the test-set fraction ≥ 2/C holds, and fails when it should", async (t) => {
  await t.step("holds: 30% and exactly 20% against bar 20% (C = 10)", () => {
    const c = templatesClaims(panels({ trueLargestFraction: 0.2 }))[1];
    assertStrictEquals(c.held, true);
    assert(
      c.measured.includes(
        "cifar10: true class largest in 20.0% of 10 test images " +
          "(chance 10.0%, bar 20.0%)",
      ),
      c.measured,
    );
    assert(c.measured.includes("largest: the true class"), c.measured);
  });
  await t.step("fails: 19% on CIFAR-10", () => {
    const [eq8, c] = templatesClaims(panels({ trueLargestFraction: 0.19 }));
    assertStrictEquals(eq8.held, true);
    assertStrictEquals(c.held, false);
    assert(c.measured.includes("largest in 19.0% of 10 test images"), c.measured);
  });
  await t.step("fails: 45% with C = 4 (bar 50%), C from the logits", () => {
    const c = templatesClaims(panels({ trueLargestFraction: 0.45, logits: [3, 1, 0, -1] }))[1];
    assertStrictEquals(c.held, false);
    assert(c.measured.includes("(chance 25.0%, bar 50.0%)"), c.measured);
  });
});

const skip = await skipWithoutData("templates", ["mnist", "cifar10"]);

Deno.test({
  name: "runTemplates() at tiny scale: templates reproduce the outputs and are the gradients",
  ignore: skip,
  async fn(t) {
    const result = await runTemplates({ scale: "tiny", seed: 0, cacheDir: CACHE });

    await t.step("the result has the experiment's structure", () => {
      assertStrictEquals(result.id, "templates");
      assert(result.scale.startsWith("tiny"), result.scale);
      assertEquals(result.claims.length, 2);
      for (const c of result.claims) assert(c.measured.length > 0 && typeof c.held === "boolean");
      assertEquals(result.panels.map((p) => p.dataset), ["mnist", "cifar10"]);
      assertEquals(result.figures.map((f) => f.name), [
        "fig1_templates_mnist",
        "fig1_templates_cifar10",
      ]);
      for (const f of result.figures) assertStrictEquals(f.data.length, 4); // input + 3 templates
      assertEquals(result.panels.map((p) => p.shape), [[28, 28, 1], [32, 32, 3]]);
      assertEquals(result.panels.map((p) => p.label), [0, 9]); // the paper's '0' and truck
      JSON.stringify(result.figures);
    });

    for (const p of result.panels) {
      const D = p.input.length, C = p.logits.length;
      const qm = await trainQuick(p.dataset, {
        ...quickTrainPreset("tiny", { dataset: p.dataset }),
        seed: 0,
        cacheDir: CACHE,
      });
      const x = tf.slice(qm.dataset.test.x, p.index, 1);

      await t.step(
        `${p.dataset}: the panel shows test image ${p.index}, of its class`,
        async () => {
          assertAllClose(p.input, await x.data(), 0, "input");
          assertStrictEquals((await qm.dataset.test.y.data())[p.index], p.label);
          assertStrictEquals(p.classes[0], p.label);
          assertStrictEquals(new Set(p.classes).size, 3);
          assertEquals(p.templates.map((r) => r.length), [D, D, D]);
          assertStrictEquals(p.classNames[0], qm.dataset.labels[p.label]);
        },
      );

      await t.step(
        `${p.dataset}: z_c = ⟨A_c, x⟩ + B_c and ⟨A_c, x⟩ = the templates' dot products`,
        async () => {
          const z = qm.model.predict(x) as tf.Tensor;
          const zv = await z.data();
          z.dispose();
          assertAllClose(p.logits, zv, 1e-6, "logits");
          assertAllClose(p.allInnerProducts.map((v, c) => v + p.offsets[c]), zv, 1e-4, "A·x + B");
          const dots = p.templates.map((a) => a.reduce((s, v, d) => s + v * p.input[d], 0));
          assertAllClose(p.innerProducts, dots, 1e-9, "⟨A_c, x⟩");
          assertAllClose(p.innerProductsTfjs, p.allInnerProducts, 1e-4, "tfjs masked pass");
          const best = p.allInnerProducts.reduce(
            (b, v, c) => (v > p.allInnerProducts[b] ? c : b),
            0,
          );
          assertStrictEquals(p.trueClassLargest, best === p.label);
          assert(p.maxRelativeError <= 1e-4);
          assertStrictEquals(C, 10);
        },
      );

      await t.step(`${p.dataset}: the templates are tfjs autodiff gradients ∂z_c/∂x`, async () => {
        for (let k = 0; k < 3; k++) {
          const c = p.classes[k];
          const g = tf.tidy(() =>
            tf.grad((input: tf.Tensor) =>
              tf.sum(
                tf.slice(qm.model.apply(input, { training: false }) as tf.Tensor, [0, c], [1, 1]),
              )
            )(x)
          );
          const scale = Math.max(...p.templates[k].map(Math.abs));
          assertAllClose(p.templates[k], await g.data(), 1e-4, `template ${c}`, scale);
          g.dispose();
        }
      });
      await t.step(
        `${p.dataset}: ⟨A_c, x⟩ over the test subset matches float64 templates; fraction recomputed`,
        async () => {
          assertEquals(p.testLabels, Array.from(await qm.dataset.test.y.data()));
          const N = p.testLabels.length;
          assertEquals(p.testInnerProducts.map((r) => r.length), new Array(N).fill(C));
          assertAllClose(p.testInnerProducts[p.index], p.allInnerProducts, 1e-4, "panel image");
          for (const n of [0, N - 1]) {
            const xn = tf.slice(qm.dataset.test.x, n, 1);
            const xd = Float64Array.from(await xn.data());
            xn.dispose();
            const { A } = affineMap(qm.net, { data: xd, shape: [1, ...qm.net.inputShape] }, {
              backend: "cpu",
            });
            const dots = Array.from({ length: C }, (_, c) => {
              let s = 0;
              for (let i = 0; i < D; i++) s += A.data[c * D + i] * xd[i];
              return s;
            });
            const scale = Math.max(...dots.map(Math.abs));
            assertAllClose(p.testInnerProducts[n], dots, 1e-4, `test image ${n}`, scale);
          }
          const largest = p.testInnerProducts.filter((row, n) =>
            row.every((v, c) =>
              c === p.testLabels[n] || v < row[p.testLabels[n]]
            )
          ).length;
          assertAllClose([p.trueLargestFraction], [largest / N], 1e-12);
        },
      );
      x.dispose();
    }

    await t.step("claims follow the numbers, recomputed", () => {
      const top = (v: number[]) => v.indexOf(Math.max(...v));
      const eq8 = result.panels.every((p) => {
        const zc = p.allInnerProducts.map((v, c) => v + p.offsets[c]);
        const rel = Math.max(...zc.map((v, c) => Math.abs(v - p.logits[c]))) /
          Math.max(...p.logits.map(Math.abs));
        const relIp = Math.max(
          ...p.innerProductsTfjs.map((v, c) => Math.abs(v - p.allInnerProducts[c])),
        ) / Math.max(...p.allInnerProducts.map(Math.abs));
        return rel <= 1e-4 && relIp <= 1e-4 && top(zc) === top(p.logits);
      });
      assertStrictEquals(result.claims[0].held, eq8);
      const fig1 = result.panels.every((p) => {
        const hits = p.testInnerProducts.filter((row, n) => top(row) === p.testLabels[n]).length;
        return hits / p.testLabels.length >= 2 / 10;
      });
      assertStrictEquals(result.claims[1].held, fig1);
      assertEquals(result.claims, templatesClaims(result.panels));
      assert(result.claims[1].measured.includes("selected"), result.claims[1].measured);
    });

    await t.step("otherClasses chooses the shown classes; bad classes are rejected", async () => {
      const again = await runTemplates({
        scale: "tiny",
        cacheDir: CACHE,
        otherClasses: { mnist: [1, 2], cifar10: [2, 5] },
      });
      assertEquals(again.panels.map((p) => p.classes), [[0, 1, 2], [9, 2, 5]]);
      assertEquals(again.panels[1].classNames, ["truck", "bird", "dog"]);
      await assertRejects(
        () => runTemplates({ scale: "tiny", cacheDir: CACHE, inputClass: { mnist: -1 } }),
        /inputClass\.mnist is -1/,
      );
      await assertRejects(
        () => runTemplates({ scale: "tiny", cacheDir: CACHE, otherClasses: { mnist: [0, 3] } }),
        /otherClasses\.mnist is \[0,3\]/,
      );
    });
  },
});

/** `templatesPanel` of 10,000 test images, its selected image test image 4. */
const panel10k = (dataset: "mnist" | "cifar10", change: Partial<TemplatesPanel>) =>
  templatesPanel(dataset, { index: 4, testLabels: new Array(10000).fill(0), ...change });

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
    const nan = panel10k("cifar10", { trueLargestFraction: NaN });
    assertStrictEquals(templatesClaims([panel10k("mnist", {}), nan])[1].held, false);
  });
});

Deno.test("templatesClaims(): the displayed fraction never contradicts the 2/C verdict", async (t) => {
  await t.step("1999 of 10,000 (19.99%) is below the 20% bar and reads so", () => {
    const c = templatesClaims([
      panel10k("mnist", {}),
      panel10k("cifar10", { trueLargestFraction: 0.1999 }),
    ])[1];
    assertStrictEquals(c.held, false);
    assert(c.measured.includes("largest in 19.99% of 10000 test images"), c.measured);
    assert(c.measured.includes("bar 20.00%"), c.measured);
    assert(c.measured.includes("mnist: true class largest in 30.0% "), c.measured);
  });
  await t.step("a misclassified panel image is not called correctly classified", () => {
    const c = templatesClaims([panel10k("mnist", { predicted: 3 }), panel10k("cifar10", {})])[1];
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
