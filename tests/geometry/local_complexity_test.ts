import * as tf from "@tensorflow/tfjs";
import { assert, assertStrictEquals, assertThrows } from "../_assert.ts";
import { fromLayersModel } from "../../lib/network/from_layers_model.ts";
import { SplineNetwork } from "../../lib/network/spline_network.ts";
import { partitionCodes } from "../../lib/partition/codes.ts";
import { linePoints } from "../../lib/geometry/input_line.ts";
import { localComplexity } from "../../lib/geometry/local_complexity.ts";
import { cases } from "../_cases.ts";
import { normals, rng } from "../_random_models.ts";

await tf.setBackend("cpu");

/** dense D → K (random) → ReLU: K hyperplanes `w_k·x + b_k = 0`. */
function arrangement(D: number, K: number, seed: number) {
  const r = rng(seed);
  const kernel = Float64Array.from(normals(D * K, r)), bias = Float64Array.from(normals(K, r));
  const net = new SplineNetwork([D], [
    { kind: "dense", name: "d", inputShape: [D], outputShape: [K], units: K, kernel, bias },
    { kind: "relu", name: "r", inputShape: [K], outputShape: [K] },
  ] as never);
  return { net, kernel, bias };
}

Deno.test("localComplexity() of a hyperplane arrangement: a chord crosses exactly the hyperplanes within r·|w·u| of its centre", () => {
  const D = 5, K = 12, N = 6, lines = 40, radius = 0.8;
  const { net, kernel, bias } = arrangement(D, K, 3);
  const x = Float64Array.from(normals(N * D, rng(4)));
  const lc = localComplexity(net, { data: x, shape: [N, D] }, { radius, lines, seed: 5 });
  const u = lc.directions;
  for (let j = 0; j < lines; j++) {
    let norm = 0;
    for (let k = 0; k < D; k++) norm += u[j * D + k] ** 2;
    assert(Math.abs(norm - 1) < 1e-12, `direction ${j} has norm² ${norm}`);
  }
  let total = 0;
  for (let n = 0; n < N; n++) {
    for (let j = 0; j < lines; j++) {
      let expected = 0;
      for (let k = 0; k < K; k++) {
        // the kernel is [D, K]: unit k's weights are kernel[i·K + k]
        let wx = bias[k], wu = 0;
        for (let i = 0; i < D; i++) {
          wx += kernel[i * K + k] * x[n * D + i];
          wu += kernel[i * K + k] * u[j * D + i];
        }
        if (Math.abs(wx) < radius * Math.abs(wu)) expected++;
      }
      assertStrictEquals(lc.levels[0].crossings[n * lines + j], expected, `input ${n}, chord ${j}`);
      total += expected;
    }
    const mean = Array.from(lc.levels[0].crossings.subarray(n * lines, (n + 1) * lines))
      .reduce((a, b) => a + b, 0) / lines;
    assert(Math.abs(lc.regions[n] - (1 + mean)) < 1e-12, `input ${n}: regions ${lc.regions[n]}`);
  }
  assert(total > N * lines, `only ${total} crossings: the test needs chords that cross`);
});

Deno.test("localComplexity() in the plane: the mean crossing rate of a line at distance δ is (2/π)·arccos(δ/r)", () => {
  // one ReLU of x₁ − δ: a random chord of half-length 1 through the origin crosses x₁ = δ
  // exactly when |u₁| ≥ δ, with probability (2/π)·arccos(δ) for u uniform on the circle
  const net = new SplineNetwork([2], [
    {
      kind: "dense",
      name: "d",
      inputShape: [2],
      outputShape: [1],
      units: 1,
      kernel: Float64Array.of(1, 0),
      bias: Float64Array.of(-0.6),
    },
    { kind: "relu", name: "r", inputShape: [1], outputShape: [1] },
  ] as never);
  const lines = 4000;
  const lc = localComplexity(net, { data: new Float64Array(2), shape: [1, 2] }, {
    radius: 1,
    lines,
    seed: 1,
  });
  const p = (2 / Math.PI) * Math.acos(0.6), se = Math.sqrt(p * (1 - p) / lines);
  const rate = lc.regions[0] - 1;
  assert(Math.abs(rate - p) < 4 * se, `rate ${rate}, expected ${p} ± ${se}`);
});

Deno.test("localComplexity(): nested chords cross no fewer boundaries, at every level", () => {
  const net = fromLayersModel(cases(2)[1].model); // a CNN with max- and average pools
  const x = tf.slice(cases(2)[1].x, 0, 2);
  const a = localComplexity(net, x, { radius: 0.3, lines: 4, seed: 2 });
  const b = localComplexity(net, x, { radius: 0.6, lines: 4, seed: 2 });
  a.levels.forEach((l, i) => {
    l.crossings.forEach((c, k) => {
      assert(
        c <= b.levels[i].crossings[k],
        `level ${i}, chord ${k}: ${c} > ${b.levels[i].crossings[k]}`,
      );
      if (i > 0) {
        assert(c >= a.levels[i - 1].crossings[k], `level ${i} has fewer crossings than ${i - 1}`);
      }
    });
  });
  assert(b.regions[0] > 1 && b.regions[1] > 1, `regions ${b.regions}`);
  x.dispose();
});

for (const k of [0, 4]) {
  const c = cases(2)[k];
  Deno.test(`localComplexity() against sampling each chord with the engine's codes: ${c.name}`, () => {
    const net = fromLayersModel(c.model);
    const x = tf.slice(c.x, 0, 2), xs = x.dataSync(), D = net.inputSize;
    const lines = 3, radius = k === 0 ? 2 : 0.5, S = 3000;
    const lc = localComplexity(net, x, { radius, lines, seed: 8 });
    for (let n = 0; n < 2; n++) {
      for (let j = 0; j < lines; j++) {
        const line = {
          origin: xs.subarray(n * D, (n + 1) * D),
          direction: lc.directions.subarray(j * D, (j + 1) * D).map((t) => t * radius),
          range: [-1, 1] as const,
        };
        const t = Array.from({ length: S }, (_, i) => -1 + 2 * (i + 0.5) / S);
        const codes = partitionCodes(net, linePoints(net, line, t), { backend: "cpu" });
        // per level: how many times the codes of the layers up to it change between samples
        const changes = new Array(codes.length).fill(0);
        const key = (l: (typeof codes)[number], i: number) =>
          l.kind === "max-pool"
            ? l.argmax.subarray(i * l.units, (i + 1) * l.units).join()
            : l.bits.subarray(i * l.words, (i + 1) * l.words).join();
        for (let i = 1; i < S; i++) {
          const first = codes.findIndex((l) => key(l, i) !== key(l, i - 1));
          for (let l = Math.max(first, 0); first >= 0 && l < codes.length; l++) changes[l]++;
        }
        lc.levels.forEach((level, l) => {
          const exact = level.crossings[n * lines + j];
          assert(
            changes[l] <= exact,
            `input ${n}, chord ${j}, level ${l}: sampling sees ${changes[l]} > ${exact}`,
          );
          // on the MLP the samples are fine enough to see every one
          if (k === 0) assertStrictEquals(changes[l], exact, `input ${n}, chord ${j}, level ${l}`);
        });
      }
    }
    x.dispose();
  });
}

Deno.test("localComplexity() refuses bad options, naming them", () => {
  const { net } = arrangement(3, 4, 1);
  const x = { data: new Float64Array(6), shape: [2, 3] };
  assertThrows(
    () => localComplexity(net, x, { radius: 0 }),
    /radius is 0, expected a finite number > 0/,
  );
  assertThrows(() => localComplexity(net, x, { radius: NaN }), /radius is NaN/);
  assertThrows(() => localComplexity(net, x, { radius: 1, lines: 1.5 }), /lines is 1.5/);
  assertThrows(() => localComplexity(net, x, { radius: 1, seed: 0.5 }), /seed is 0.5/);
  assertThrows(
    () => localComplexity(net, x, { radius: 1, line: 3 } as never),
    /unknown option 'line'/,
  );
  assertThrows(() => localComplexity(net, x, undefined as never), /options are undefined/);
  assertThrows(
    () => localComplexity(net, { data: new Float64Array(4), shape: [2, 2] }, { radius: 1 }),
    /shape/,
  );
  assertThrows(() => localComplexity(net, x, { radius: 100, maxRegions: 2 }), /maxRegions = 2/);
});
