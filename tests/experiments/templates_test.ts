import * as tf from "@tensorflow/tfjs";
import {
  assert,
  assertAllClose,
  assertEquals,
  assertRejects,
  assertStrictEquals,
} from "../_assert.ts";
import { runTemplates } from "../../lib/experiments/templates.ts";
import { quickTrainPreset, trainQuick } from "../../lib/experiments/_train_quick.ts";
import { CACHE, skipWithoutData } from "./_data.ts";

const skip = await skipWithoutData("templates", ["mnist", "cifar10"]);

Deno.test({
  name: "runTemplates() at tiny scale: templates reproduce the outputs and are the gradients",
  ignore: skip,
  async fn(t) {
    const result = await runTemplates({ scale: "tiny", seed: 0, cacheDir: CACHE });

    await t.step("the result has the experiment's structure", () => {
      assertStrictEquals(result.id, "templates");
      assert(result.scale.startsWith("tiny"), result.scale);
      assertEquals(result.claims.length, 3);
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
      x.dispose();
    }

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
