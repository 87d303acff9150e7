import * as tf from "@tensorflow/tfjs";
import {
  assert,
  assertAllClose,
  assertEquals,
  assertRejects,
  assertStrictEquals,
} from "../_assert.ts";
import { runAffineFormula } from "../../lib/experiments/affine_formula.ts";
import { quickTrainPreset, trainQuick } from "../../lib/experiments/_train_quick.ts";
import { partitionCodes } from "../../lib/partition/codes.ts";
import { CACHE, skipWithoutData } from "./_data.ts";

const skip = await skipWithoutData("affine-formula", ["mnist"]);

function popcount(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

Deno.test({
  name: "runAffineFormula() at tiny scale: eq. (7) reproduces the trained CNN's output",
  ignore: skip,
  async fn(t) {
    const result = await runAffineFormula({ scale: "tiny", seed: 0, cacheDir: CACHE });
    const N = result.count, C = result.classes;

    await t.step("the result has the experiment's structure", () => {
      assertStrictEquals(result.id, "affine_formula");
      assert(result.scale.startsWith("tiny"), result.scale);
      assertEquals(result.claims.length, 4);
      for (const c of result.claims) {
        assert(c.claim.length > 0 && c.measured.length > 0 && typeof c.held === "boolean");
      }
      assertEquals(result.figures.map((f) => f.name), [
        "affine_formula_factors",
        "affine_formula_scatter",
      ]);
      assert(result.seconds > 0);
      assertStrictEquals(N, 8);
      assertStrictEquals(C, 10);
      assertEquals(result.logits.length, N);
      assertEquals(result.closedForm.map((r) => r.length), new Array(N).fill(C));
      JSON.stringify(result.figures); // plain JSON
    });

    await t.step("eq. (7) holds: errors within the stated bounds, and the claims say so", () => {
      assert(result.maxRelativeErrorTfjs <= 1e-4, `${result.maxRelativeErrorTfjs}`);
      assert(result.maxRelativeErrorFloat64 <= 1e-9, `${result.maxRelativeErrorFloat64}`);
      // on failure, what it takes to tell a near tie from an engine error (a one-time CI failure
      // at 0.27 was not reproduced: keep the evidence if it comes back)
      assert(
        result.maxRelativeErrorTemplates <= 1e-4,
        `template errors per image ${JSON.stringify(result.templateRelativeErrors)}, ` +
          `off-region ${result.templatesOffRegion}, unexplained ${result.templatesUnexplained}, ` +
          `tfjs backend ${tf.getBackend()}, model: ${result.model}`,
      );
      assertEquals(result.templateRelativeErrors.length, N);
      assertStrictEquals(
        Math.max(0, ...result.templateRelativeErrors.map((e) => e ?? 0)),
        result.maxRelativeErrorTemplates,
      );
      // autodiff's regions: any image off the float64 one is so at a near tie, never a clear one
      assertStrictEquals(result.templatesUnexplained, 0);
      assert(result.templatesOffRegion < N, `${result.templatesOffRegion} of ${N}`);
      assert(result.claims.every((c) => c.held));
    });

    // The same settings return the same (memoized) model: check against it independently.
    const qm = await trainQuick("mnist", {
      ...quickTrainPreset("tiny", { dataset: "mnist", architecture: "smallCNN" }),
      seed: 0,
      cacheDir: CACHE,
    });
    const x = tf.slice(qm.dataset.test.x, 0, N);

    await t.step("logits are the model's own predictions and A·x + B matches them", async () => {
      const z = qm.model.predict(x) as tf.Tensor;
      const zv = Array.from(await z.data());
      z.dispose();
      assertAllClose(result.logits.flat(), zv, 1e-6, "logits");
      assertAllClose(result.closedForm.flat(), zv, 1e-4, "A·x + B", 1);
      const scatter = result.figures[1].data[0];
      assertEquals(scatter.x.length, N * C);
    });

    await t.step("eq. (9): A_CNN·x + B_CNN = the features before the classifier", async () => {
      assertEquals(result.classifierLayers[0], "flatten");
      // The tfjs model's input to its flatten layer, flattened: z^(L−1)(x).
      const layers = qm.model.layers;
      const flat = layers.findIndex((l) => l.name === "flatten");
      const sub = tf.model({
        inputs: qm.model.inputs,
        outputs: layers[flat - 1].output as tf.SymbolicTensor,
      });
      const f = tf.tidy(() => tf.reshape(sub.predict(x) as tf.Tensor, [N, -1]));
      const F = f.shape[1];
      const fv = Array.from(await f.data());
      f.dispose();
      assertAllClose(result.features.flat(), fv, 1e-6, "features");
      const scale = Math.max(...fv.map(Math.abs));
      assertAllClose(result.featuresClosedForm.flat(), fv, 1e-4, "A_CNN·x + B_CNN", scale);
      // The features feed the classifier: W^(L) z^(L−1) + b_W^(L) = the logits.
      const dense = layers.slice(flat + 1).find((l) => l.getWeights().length > 0)!;
      const [W, b] = dense.getWeights().map((w) => w.arraySync());
      const bias = (b ?? new Array(C).fill(0)) as number[]; // b_W^(L) = 0 without a bias
      const z = result.features.map((row) =>
        bias.map((bc, c) => row.reduce((s, v, i) => s + v * (W as number[][])[i][c], bc))
      );
      assertAllClose(z.flat(), result.logits.flat(), 1e-4, "W·z + b", 1);
      assertStrictEquals(F, result.features[0].length);
      const rel = Math.max(
        ...result.featuresClosedForm.map((row, n) => {
          const m = Math.max(...result.features[n].map(Math.abs));
          return Math.max(...row.map((v, i) => Math.abs(v - result.features[n][i]))) / m;
        }),
      );
      assertAllClose([result.maxRelativeErrorFeatures], [rel], 1e-12);
      assertStrictEquals(result.claims[1].held, rel <= 1e-4);
    });

    await t.step("active-ReLU fractions equal the partition codes' popcounts", () => {
      // the float64 engine, as the closed form's factors: the float32 tfjs engine may put a
      // pre-activation within its rounding of 0 (one of 7,744 here, −7.5e-7 of a largest 5.2)
      // on the other side, which is no bookkeeping error
      const codes = partitionCodes(qm.net, x, { backend: "cpu" });
      const signs = codes.filter((c) => c.kind === "relu");
      const relu = result.codeLayers.filter((l) => l.kind === "relu");
      assertEquals(relu.map((l) => l.name), signs.map((c) => c.name));
      assertEquals(result.codeLayers.length, codes.length);
      for (let k = 0; k < signs.length; k++) {
        const c = signs[k];
        for (let n = 0; n < N; n++) {
          let on = 0;
          for (let w = 0; w < c.words; w++) on += popcount(c.bits[n * c.words + w]);
          assertAllClose([relu[k].activeFraction![n]], [on / c.units], 1e-12, c.name);
        }
      }
    });

    await t.step("affine factors chain from the input size to the classes", () => {
      const f = result.affineFactors;
      assertStrictEquals(f[0].cols, 28 * 28);
      assertStrictEquals(f.at(-1)!.rows, C);
      assertEquals(f.map((a) => a.names[0]), ["conv1", "conv2", "conv3", "flatten"]);
      for (const a of f) assert(a.nonzeros > 0 && a.nonzeros <= a.rows * a.cols);
      // Factor k feeds ReLU k (same size), whose max-pool feeds factor k + 1.
      const relu = result.codeLayers.filter((l) => l.kind === "relu");
      const pool = result.codeLayers.filter((l) => l.kind === "max-pool");
      assertEquals(relu.map((l) => l.units), f.slice(0, -1).map((a) => a.rows));
      assertEquals(pool.map((l) => l.units), f.slice(1).map((a) => a.cols));
    });
    x.dispose();

    await t.step("bad options are rejected with the value quoted", async () => {
      await assertRejects(() => runAffineFormula({ examples: 1.5 }), /examples is 1\.5/);
      await assertRejects(
        () => runAffineFormula({ scale: "huge" as "tiny" }),
        /Unknown scale "huge"/,
      );
    });
  },
});
