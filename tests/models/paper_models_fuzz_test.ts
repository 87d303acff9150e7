import * as tf from "@tensorflow/tfjs";
import { fromLayersModel } from "../../lib/network/from_layers_model.ts";
import { forward } from "../../lib/network/forward.ts";
import { affineMap } from "../../lib/affine/affine_map.ts";
import { closedFormFactors, evaluateClosedForm } from "../../lib/affine/closed_form.ts";
import { smallCNN } from "../../lib/models/small_cnn.ts";
import { largeCNN } from "../../lib/models/large_cnn.ts";
import { resNet } from "../../lib/models/resnet.ts";
import { mlp } from "../../lib/models/mlp.ts";
import type { Activation } from "../../lib/models/_model_options.ts";
import { assertAllClose, largestMagnitude } from "../_assert.ts";
import { randomInput, randomizeWeights, rng } from "../_random_models.ts";

await tf.setBackend("cpu");

/** A seeded paper model with random options: small widths, odd non-square inputs. */
function paperModel(seed: number): { name: string; model: tf.LayersModel; shape: number[] } {
  const r = rng(seed + 99);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
  const kind = pick(["smallCNN", "largeCNN", "resNet", "mlp"] as const);
  const common = {
    classes: int(2, 5),
    batchNorm: r() < 0.6,
    seed: int(0, 1000),
    activation: pick<Activation>(["relu", "leakyRelu", "abs"]),
    alpha: pick([0, 0.1, 0.3, 0.9]),
  };
  const name = `${kind} ${JSON.stringify(common)}`;
  const f = () => int(1, 3);
  if (kind === "smallCNN") {
    const shape = [int(14, 19), int(14, 19), int(1, 3)];
    return {
      name,
      shape,
      model: smallCNN({ ...common, inputShape: shape, filters: [f(), f(), f()] }),
    };
  }
  if (kind === "largeCNN") {
    const shape = [int(16, 19), int(16, 19), int(1, 3)];
    return { name, shape, model: largeCNN({ ...common, inputShape: shape, filters: [f(), f()] }) };
  }
  if (kind === "resNet") {
    const shape = [int(4, 9), int(4, 9), int(1, 3)];
    const blocks: [number, number, number] = [int(0, 2), int(0, 1), int(0, 1)];
    return {
      name,
      shape,
      model: resNet({ ...common, inputShape: shape, filters: [f(), f(), f()], blocks }),
    };
  }
  const shape = r() < 0.5 ? [int(2, 8)] : [int(2, 4), int(2, 5), int(1, 2)];
  const hidden = Array.from({ length: int(0, 3) }, () => int(1, 6));
  return {
    name: `${name} hidden [${hidden}]`,
    shape,
    model: mlp({ ...common, inputShape: shape, hidden }),
  };
}

Deno.test("paper models with random options convert exactly: forward, A·x+B, tfjs engine, eq. (7)", async (t) => {
  const seeds = Number(Deno.env.get("MASOKIT_FUZZ_SEEDS") ?? 16);
  for (let seed = 0; seed < seeds; seed++) {
    const { name, model, shape } = paperModel(seed);
    await t.step(`seed ${seed}: ${name} [${shape}]`, () => {
      randomizeWeights(model, seed);
      const N = 2, xt = randomInput(shape, N, seed);
      const x = { data: Float64Array.from(xt.dataSync()), shape: xt.shape };
      const net = fromLayersModel(model);
      const C = net.outputSize, D = net.inputSize;
      const want = model.predict(xt) as tf.Tensor;
      const out = forward(net, x).data;
      const scale = (a: ArrayLike<number>) => Math.max(largestMagnitude(a), 1e-3);
      assertAllClose(out, want.dataSync(), 1e-4, "forward", scale(want.dataSync()));
      const { A, B } = affineMap(net, x, { backend: "cpu" });
      const recon = Float64Array.from({ length: N * C }, (_, k) => {
        const n = Math.floor(k / C);
        let s = B.data[k];
        for (let d = 0; d < D; d++) s += A.data[k * D + d] * x.data[n * D + d];
        return s;
      });
      assertAllClose(recon, out, 1e-9, "A·x + B", scale(out));
      const tfjs = affineMap(net, xt, { backend: "tfjs" });
      assertAllClose(tfjs.A.dataSync(), A.data, 1e-4, "tfjs engine A", scale(A.data));
      assertAllClose(tfjs.B.dataSync(), B.data, 1e-4, "tfjs engine B", scale(B.data));
      const f = closedFormFactors(net, x);
      for (let n = 0; n < N; n++) {
        const lit = evaluateClosedForm(f, { example: n });
        assertAllClose(
          lit.A,
          A.data.subarray(n * C * D, (n + 1) * C * D),
          1e-9,
          "eq. (7) A",
          scale(A.data),
        );
        assertAllClose(
          lit.B,
          B.data.subarray(n * C, (n + 1) * C),
          1e-9,
          "eq. (7) B",
          scale(B.data),
        );
      }
      for (const v of [xt, want, tfjs.A, tfjs.B]) v.dispose();
      model.dispose();
    });
  }
});
