/**
 * Eq. (7) evaluated literally (`closedFormFactors` + `evaluateClosedForm`, float64) on the
 * reproduce's network shape (smallCNN, 28×28×1, 10 classes, seeded weights, sine inputs):
 * ms an example for the class rows (eq. 7) and for the classifier's inputs (eq. 9's
 * A_CNN[x], 512 rows), beside `affineMap` on the float64 reference engine (`backend: "cpu"`),
 * which gets A[x] another way, in the same run; the two A[x] agree to 1e-9 (checked here).
 *
 * Run: `deno run -A bench/closed_form_bench.ts [--images=8] [--reps=5]`
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { closedFormFactors, evaluateClosedForm } from "../lib/affine/closed_form.ts";
import { affineMap } from "../lib/affine/affine_map.ts";
import { fromLayersModel } from "../lib/network/from_layers_model.ts";
import { smallCNN } from "../lib/models/small_cnn.ts";

const value = (name: string) => Deno.args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const N = Number(value("images") ?? 8), REPS = Number(value("reps") ?? 5);
await tf.setBackend("cpu");
const net = fromLayersModel(smallCNN({ inputShape: [28, 28, 1], classes: 10, seed: 3 }));
const D = net.inputSize, C = net.outputSize;
const data = Float64Array.from({ length: N * D }, (_, i) => Math.max(0, Math.sin(i * 0.731)));
const x = { data, shape: [N, 28, 28, 1] };

const factors = closedFormFactors(net, x);
const classifier = factors.factors.at(-1)!;
if (classifier.kind !== "affine") throw new Error("the last factor is not the classifier");
const features = {
  ...factors,
  outputSize: classifier.C.cols,
  factors: factors.factors.slice(0, -1),
};
const arms: [string, () => unknown][] = [
  ["factors (closedFormFactors)", () => closedFormFactors(net, x)],
  [`eq. (7), ${C} rows`, () => {
    for (let n = 0; n < N; n++) evaluateClosedForm(factors, { example: n });
  }],
  [`eq. (9), ${features.outputSize} rows`, () => {
    for (let n = 0; n < N; n++) evaluateClosedForm(features, { example: n });
  }],
  ["affineMap, cpu engine", () => affineMap(net, x, { backend: "cpu" })],
];
// the same A[x] both ways
const ref = affineMap(net, x, { backend: "cpu" }).A.data;
let worst = 0;
for (let n = 0; n < N; n++) {
  const { A } = evaluateClosedForm(factors, { example: n });
  for (let i = 0; i < A.length; i++) {
    worst = Math.max(worst, Math.abs(A[i] - ref[n * C * D + i]) / Math.max(1, Math.abs(ref[i])));
  }
}
if (!(worst < 1e-9)) throw new Error(`eq. (7) and affineMap disagree: ${worst}`);

arms.forEach(([, f]) => f());
const ts: number[][] = arms.map(() => []);
for (let r = 0; r < REPS; r++) {
  arms.forEach(([, f], i) => {
    const t0 = performance.now();
    f();
    ts[i].push(performance.now() - t0);
  });
}
console.log(
  `smallCNN 28×28×1, ${N} images, median of ${REPS}, ms an image (A[x] agree: ${
    worst.toExponential(1)
  })`,
);
arms.forEach(([label], i) =>
  console.log(`  ${label.padEnd(30)} ${(ts[i].sort((a, b) => a - b)[REPS >> 1] / N).toFixed(1)}`)
);
