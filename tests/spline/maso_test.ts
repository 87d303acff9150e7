import { assert, assertAllClose, assertEquals, assertThrows } from "../_assert.ts";
import {
  absMaso,
  affineMaso,
  leakyReluMaso,
  Maso,
  maso,
  maxPoolMaso,
  reluMaso,
} from "../../lib/spline/maso.ts";
import { random } from "./_random.ts";

type Rng = ReturnType<typeof random>;
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
const matVec = (W: number[][], x: number[], b: number[]) => W.map((w, k) => dot(w, x) + b[k]);

/** A random MASO with K outputs, R_k pieces (varying with k), D inputs. */
function randomMaso(rng: Rng, K: number, D: number) {
  const slopes = Array.from({ length: K }, (_, k) => rng.matrix(1 + ((k * 3) % 5), D));
  const offsets = slopes.map((rows) => rng.vector(rows.length));
  return { slopes, offsets, S: maso({ slopes, offsets }) };
}

/** Brute force: value and first argmax of every output. */
function bruteForce(slopes: number[][][], offsets: number[][], x: number[]) {
  return slopes.map((rows, k) => {
    const v = rows.map((a, r) => dot(a, x) + offsets[k][r]);
    const max = Math.max(...v);
    return { values: v, max, argmax: v.indexOf(max) };
  });
}

const SIZES: [number, number][] = [[1, 1], [3, 2], [6, 5], [10, 16]];

Deno.test("maso() evaluates the brute-force max of every output", () => {
  const rng = random(11);
  for (const [K, D] of SIZES) {
    const { slopes, offsets, S } = randomMaso(rng, K, D);
    assertEquals(S.outputSize, K);
    assertEquals(S.inputSize, D);
    assertEquals(S.pieces, slopes.map((r) => r.length));
    for (let t = 0; t < 40; t++) {
      const x = rng.vector(D);
      const bf = bruteForce(slopes, offsets, x);
      assertAllClose(S.evaluate(x), bf.map((o) => o.max), 1e-12, `K=${K} D=${D}`);
      assertEquals(S.regions(x), bf.map((o) => o.argmax));
      for (let k = 0; k < K; k++) assertEquals(S.spline(k).region(x), bf[k].argmax);
    }
  }
});

Deno.test("Maso.affine() gives A[x]·x + B[x] = S(x) with the selected rows (eq. 5)", () => {
  const rng = random(12);
  for (const [K, D] of SIZES) {
    const { slopes, offsets, S } = randomMaso(rng, K, D);
    for (let t = 0; t < 40; t++) {
      const x = rng.vector(D).map((v) => 4 * v);
      const { A, B } = S.affine(x);
      assertEquals(A.length, K);
      assertEquals(B.length, K);
      assertAllClose(matVec(A, x, B), S.evaluate(x), 1e-12);
      const r = S.regions(x);
      for (let k = 0; k < K; k++) {
        assertEquals(A[k], slopes[k][r[k]]);
        assertEquals(B[k], offsets[k][r[k]]);
      }
    }
  }
});

Deno.test("Maso.regions() are unchanged, and A[x], B[x] shared, within a small ball", () => {
  const rng = random(13);
  for (const [K, D] of SIZES) {
    const { slopes, offsets, S } = randomMaso(rng, K, D);
    for (let t = 0; t < 20; t++) {
      const x = rng.vector(D);
      const bf = bruteForce(slopes, offsets, x);
      let eps = Infinity;
      bf.forEach(({ values, argmax: r }, k) => {
        for (let q = 0; q < values.length; q++) {
          if (q === r) continue;
          const l1 = slopes[k][q].reduce((s, v, d) => s + Math.abs(v - slopes[k][r][d]), 0);
          eps = Math.min(eps, (values[r] - values[q]) / (2 * l1));
        }
      });
      assert(eps > 0);
      const y = x.map((v) => v + (eps === Infinity ? 1 : eps) * (2 * rng.uniform() - 1));
      assertEquals(S.regions(y), S.regions(x));
      assertEquals(S.affine(y), S.affine(x));
    }
  }
});

Deno.test("maso() outputs are each convex", () => {
  const rng = random(14);
  const { S } = randomMaso(rng, 8, 3);
  for (let n = 0; n < 200; n++) {
    const x = rng.vector(3), y = rng.vector(3), t = rng.uniform();
    const mid = S.evaluate(x.map((v, d) => t * v + (1 - t) * y[d]));
    const fx = S.evaluate(x), fy = S.evaluate(y);
    mid.forEach((m, k) => {
      const chord = t * fx[k] + (1 - t) * fy[k];
      assert(m <= chord + 1e-12 * (1 + Math.abs(chord)), `output ${k}: ${m} > ${chord}`);
    });
  }
});

Deno.test("reluMaso() equals max(0, W·x + b), code 1 where the pre-activation is > 0", async (t) => {
  const rng = random(15);
  await t.step("random W, b, x", () => {
    const W = rng.matrix(7, 4), b = rng.vector(7);
    const S = reluMaso(W, b);
    assertEquals(S.pieces, new Array(7).fill(2));
    for (let n = 0; n < 50; n++) {
      const x = rng.vector(4), z = matVec(W, x, b);
      assertAllClose(S.evaluate(x), z.map((v) => Math.max(0, v)), 1e-12);
      assertEquals(S.regions(x), z.map((v) => (v > 0 ? 1 : 0)));
      const { A, B } = S.affine(x);
      // A[x] = diag(mask)·W, B[x] = diag(mask)·b.
      assertEquals(A, W.map((w, k) => (z[k] > 0 ? w : w.map(() => 0))));
      assertEquals(B, b.map((v, k) => (z[k] > 0 ? v : 0)));
    }
  });
  await t.step("a pre-activation of exactly 0 is inactive", () => {
    const S = reluMaso([[1, -1]], [0]);
    assertEquals(S.regions([2, 2]), [0]);
    assertEquals(S.evaluate([2, 2]), [0]);
    assertEquals(S.affine([2, 2]).A, [[0, 0]]);
  });
  await t.step("no bias means zeros", () => {
    const W = rng.matrix(3, 2), x = rng.vector(2);
    assertEquals(reluMaso(W).evaluate(x), reluMaso(W, [0, 0, 0]).evaluate(x));
  });
});

Deno.test("leakyReluMaso() equals the leaky ReLU of W·x + b", async (t) => {
  const rng = random(16);
  for (const alpha of [0, 0.01, 0.3, 0.9]) {
    await t.step(`alpha ${alpha}`, () => {
      const W = rng.matrix(5, 3), b = rng.vector(5);
      const S = leakyReluMaso(W, { bias: b, alpha });
      for (let n = 0; n < 50; n++) {
        const x = rng.vector(3), z = matVec(W, x, b);
        assertAllClose(S.evaluate(x), z.map((v) => (v > 0 ? v : alpha * v)), 1e-12);
        assertEquals(S.regions(x), z.map((v) => (v > 0 ? 1 : 0)));
        const { A, B } = S.affine(x);
        assertAllClose(matVec(A, x, B), S.evaluate(x), 1e-12);
      }
    });
  }
  await t.step("the default alpha is tfjs's 0.3", () => {
    assertEquals(leakyReluMaso([[1]]).evaluate([-10]), [-3]);
  });
  await t.step("alpha outside [0, 1) is rejected", () => {
    for (const alpha of [-0.1, 1, 2, NaN]) {
      assertThrows(() => leakyReluMaso([[1]], { alpha }), {
        name: "RangeError",
        message: new RegExp(`alpha is ${alpha}`),
      });
    }
  });
});

Deno.test("absMaso() equals |W·x + b|", () => {
  const rng = random(17);
  const W = rng.matrix(6, 3), b = rng.vector(6);
  const S = absMaso(W, b);
  for (let n = 0; n < 50; n++) {
    const x = rng.vector(3), z = matVec(W, x, b);
    assertAllClose(S.evaluate(x), z.map(Math.abs), 1e-12);
    assertEquals(S.regions(x), z.map((v) => (v > 0 ? 1 : 0)));
    const { A } = S.affine(x);
    A.forEach((row, k) => assertEquals(row, W[k].map((v) => (z[k] > 0 ? v : -v))));
  }
});

Deno.test("affineMaso() equals W·x + b with one piece per output", () => {
  const rng = random(18);
  const W = rng.matrix(4, 5), b = rng.vector(4);
  const S = affineMaso(W, b);
  assertEquals(S.pieces, [1, 1, 1, 1]);
  for (let n = 0; n < 20; n++) {
    const x = rng.vector(5);
    assertAllClose(S.evaluate(x), matVec(W, x, b), 1e-12);
    assertEquals(S.affine(x), { A: W, B: b });
  }
});

Deno.test("maxPoolMaso() equals 2×2 max-pooling of an image, argmax in window order", async (t) => {
  const rng = random(19);
  const H = 4, Wd = 6;
  const windows: number[][] = [];
  for (let i = 0; i < H; i += 2) {
    for (let j = 0; j < Wd; j += 2) {
      windows.push([i * Wd + j, i * Wd + j + 1, (i + 1) * Wd + j, (i + 1) * Wd + j + 1]);
    }
  }
  const S = maxPoolMaso(windows);
  await t.step("random images", () => {
    assertEquals(S.inputSize, H * Wd);
    assertEquals(S.outputSize, 6);
    for (let n = 0; n < 50; n++) {
      const x = rng.vector(H * Wd);
      const direct = windows.map((w) => Math.max(...w.map((i) => x[i])));
      assertEquals(S.evaluate(x), direct);
      const arg = windows.map((w, k) => w.findIndex((i) => x[i] === direct[k]));
      assertEquals(S.regions(x), arg);
      const { A, B } = S.affine(x);
      assertEquals(B, new Array(6).fill(0));
      A.forEach((row, k) => {
        assertEquals(row.filter((v) => v !== 0).length, 1);
        assertEquals(row[windows[k][arg[k]]], 1);
      });
    }
  });
  await t.step("ties pick the first position of the window", () => {
    assertEquals(S.regions(new Array(H * Wd).fill(1)), new Array(6).fill(0));
  });
  await t.step("windows of unequal size and an explicit input size", () => {
    const P = maxPoolMaso([[0], [1, 2, 3]], 6);
    assertEquals(P.pieces, [1, 3]);
    assertEquals(P.inputSize, 6);
    assertEquals(P.evaluate([5, 1, 7, 2, 100, 100]), [5, 7]);
  });
});

Deno.test("maso() rejects bad parameters and inputs", async (t) => {
  await t.step("no outputs or no pieces", () => {
    assertThrows(() => maso({ slopes: [], offsets: [] }), RangeError);
    assertThrows(() => maso({ slopes: [[[1]], []], offsets: [[0], []] }), {
      name: "RangeError",
      message: /slopes\[1\] has no pieces/,
    });
  });
  await t.step("mismatched dimensions", () => {
    assertThrows(() => maso({ slopes: [[[1, 2]], [[1]]], offsets: [[0], [0]] }), {
      name: "RangeError",
      message: /slopes\[1\]\[0\] has length 1, expected 2/,
    });
    assertThrows(() => maso({ slopes: [[[1]], [[1]]], offsets: [[0]] }), {
      name: "RangeError",
      message: /offsets has 1 outputs, expected 2/,
    });
    assertThrows(() => maso({ slopes: [[[1], [2]]], offsets: [[0]] }), {
      name: "RangeError",
      message: /offsets\[0\] has length 1, expected 2/,
    });
  });
  await t.step("NaN parameters name their output", () => {
    assertThrows(() => maso({ slopes: [[[1]], [[1], [NaN]]], offsets: [[0], [0, 0]] }), {
      name: "RangeError",
      message: /slopes\[1\]\[1\]\[0\] is NaN/,
    });
    assertThrows(() => maso({ slopes: [[[1]], [[1]]], offsets: [[0], [NaN]] }), {
      name: "RangeError",
      message: /offsets\[1\]\[0\] is NaN/,
    });
  });
  await t.step("bad inputs", () => {
    const S = new Maso({ slopes: [[[1, 2]]], offsets: [[0]] });
    assertThrows(() => S.evaluate([1]), { name: "RangeError", message: /x has length 1/ });
    assertThrows(() => S.regions([0, NaN]), { name: "RangeError", message: /x\[1\] is NaN/ });
    assertThrows(() => S.affine([Infinity, 0]), { name: "RangeError", message: /x\[0\]/ });
    assertThrows(() => S.spline(1), { name: "RangeError", message: /k is 1/ });
  });
  await t.step("helpers", () => {
    assertThrows(() => reluMaso([]), RangeError);
    assertThrows(() => reluMaso([[1, 2], [3]]), {
      name: "RangeError",
      message: /weights\[1\] has length 1, expected 2/,
    });
    assertThrows(() => absMaso([[1]], [0, 0]), {
      name: "RangeError",
      message: /bias has length 2, expected 1/,
    });
    assertThrows(() => affineMaso([[NaN]]), {
      name: "RangeError",
      message: /weights\[0\]\[0\] is NaN/,
    });
    assertThrows(() => reluMaso([[1]], [NaN]), { name: "RangeError", message: /bias\[0\]/ });
    assertThrows(() => maxPoolMaso([]), RangeError);
    assertThrows(() => maxPoolMaso([[0], []]), {
      name: "RangeError",
      message: /windows\[1\] is empty/,
    });
    assertThrows(() => maxPoolMaso([[0, 1.5]]), {
      name: "RangeError",
      message: /windows\[0\]\[1\] is 1.5/,
    });
    assertThrows(() => maxPoolMaso([[0, 4]], 3), {
      name: "RangeError",
      message: /index 4 is out of range for inputSize 3/,
    });
  });
});
