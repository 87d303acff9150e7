import * as tf from "@tensorflow/tfjs";
import { fromLayersModel } from "../../lib/network/from_layers_model.ts";
import {
  type ClosedFormFactor,
  closedFormFactors,
  evaluateClosedForm,
} from "../../lib/affine/closed_form.ts";
import { smallCNN } from "../../lib/models/small_cnn.ts";
import { assert, assertEquals } from "../_assert.ts";

await tf.setBackend("cpu");

/** Factor `f` of example `n` as a dense `[rows][cols]` matrix acting on the vector before it. */
function denseFactor(f: ClosedFormFactor, n: number, width: number): number[][] {
  if (f.kind === "affine") {
    const m = Array.from({ length: f.C.rows }, () => new Array(f.C.cols).fill(0));
    for (let i = 0; i < f.C.rows; i++) {
      for (let j = f.C.rowPtr[i]; j < f.C.rowPtr[i + 1]; j++) m[i][f.C.col[j]] = f.C.val[j];
    }
    return m;
  }
  if (f.kind === "slopes") {
    return Array.from({ length: width }, (_, i) => {
      const row = new Array(width).fill(0);
      row[i] = f.slopes[n * width + i];
      return row;
    });
  }
  if (f.kind === "selection") {
    return Array.from({ length: width }, (_, k) => {
      const row = new Array(f.inputSize).fill(0);
      row[f.indices[n * width + k]] = 1;
      return row;
    });
  }
  throw new Error(`no dense form of ${f.kind} here`);
}

/**
 * Eq. (7) multiplied out with every factor as a dense matrix, from the output side, each sum
 * over ascending indices: `B += M·b`, then `M ← M·F`, factor by factor.
 */
function denseProduct(factors: ClosedFormFactor[], rows: number, n: number) {
  let M = Array.from({ length: rows }, (_, c) => {
    const r = new Array(rows).fill(0);
    r[c] = 1;
    return r;
  });
  const B = new Array(rows).fill(0);
  for (let f = factors.length - 1; f >= 0; f--) {
    const fac = factors[f], width = M[0].length;
    if (fac.kind === "affine" && fac.b) {
      for (let c = 0; c < rows; c++) {
        let s = 0;
        for (let i = 0; i < width; i++) s += M[c][i] * fac.b[i];
        B[c] += s;
      }
    }
    const F = denseFactor(fac, n, width);
    M = M.map((row) => {
      const next = new Array(F[0].length).fill(0);
      for (let i = 0; i < width; i++) {
        for (let j = 0; j < F[0].length; j++) next[j] += row[i] * F[i][j];
      }
      return next;
    });
  }
  return { A: M.flat(), B };
}

/** Equal values, ±0 alike. */
const same = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  a.length === b.length && Array.from(a).every((v, i) => v === b[i]);

Deno.test("evaluateClosedForm() gives the bits of the dense product of eq. (7)'s factors", () => {
  const model = smallCNN({ inputShape: [28, 28, 1], classes: 4, filters: [2, 3, 4], seed: 11 });
  const net = fromLayersModel(model);
  const N = 3, D = net.inputSize;
  const data = Float64Array.from({ length: N * D }, (_, i) => Math.sin(i * 0.37) + 0.2);
  const f = closedFormFactors(net, { data, shape: [N, 28, 28, 1] });
  const classifier = f.factors.at(-1)!;
  assert(classifier.kind === "affine");
  // eq. (7) (4 class rows) and eq. (9) (the classifier's inputs: more rows, sparser)
  const blocks = [
    { factors: f, rows: f.outputSize },
    {
      factors: { ...f, outputSize: classifier.C.cols, factors: f.factors.slice(0, -1) },
      rows: classifier.C.cols,
    },
  ];
  for (const { factors, rows } of blocks) {
    for (let n = 0; n < N; n++) {
      const got = evaluateClosedForm(factors, { example: n });
      const want = denseProduct(factors.factors, rows, n);
      assertEquals(got.A.length, rows * D);
      assert(same(got.A, want.A), `A of example ${n}, ${rows} rows`);
      assert(same(got.B, want.B), `B of example ${n}, ${rows} rows`);
      assert(got.A.some((v) => v !== 0));
    }
  }
  model.dispose();
});
