import { assert, assertAllClose, assertEquals, assertThrows } from "../_assert.ts";
import { MaxAffineSpline, maxAffineSpline } from "../../lib/spline/max_affine_spline.ts";
import { random } from "./_random.ts";

const dot = (a: readonly number[], b: readonly number[]) => a.reduce((s, v, i) => s + v * b[i], 0);

/** Independent brute force: all piece values, their max and first argmax. */
function bruteForce(slopes: number[][], offsets: number[], x: number[]) {
  const values = slopes.map((a, r) => dot(a, x) + offsets[r]);
  const max = Math.max(...values);
  return { values, max, argmax: values.indexOf(max) };
}

function randomSpline(rng: ReturnType<typeof random>, R: number, D: number) {
  const slopes = rng.matrix(R, D), offsets = rng.vector(R);
  return { slopes, offsets, spline: maxAffineSpline({ slopes, offsets }) };
}

const SIZES: [number, number][] = [[1, 1], [2, 1], [3, 2], [5, 3], [8, 10], [20, 4]];

Deno.test("maxAffineSpline() evaluates the brute-force max of its pieces", () => {
  const rng = random(1);
  for (const [R, D] of SIZES) {
    const { slopes, offsets, spline } = randomSpline(rng, R, D);
    assertEquals(spline.pieces, R);
    assertEquals(spline.inputSize, D);
    for (let t = 0; t < 50; t++) {
      const x = rng.vector(D).map((v) => 3 * v);
      const bf = bruteForce(slopes, offsets, x);
      assertAllClose([spline.evaluate(x)], [bf.max], 1e-12, `R=${R} D=${D}`);
      assertAllClose(spline.pieceValues(x), bf.values, 1e-12);
      assertEquals(spline.region(x), bf.argmax);
      assertEquals(spline.slope(x), slopes[bf.argmax]);
      assertEquals(spline.offset(x), offsets[bf.argmax]);
    }
  }
});

Deno.test("MaxAffineSpline.local() is ⟨α[x], x⟩ + β[x] = s(x) with the selected piece", () => {
  const rng = random(2);
  for (const [R, D] of SIZES) {
    const { spline } = randomSpline(rng, R, D);
    for (let t = 0; t < 30; t++) {
      const x = rng.vector(D);
      const local = spline.local(x);
      assertEquals(local.region, spline.region(x));
      assertEquals(local.slope, spline.slope(x));
      assertEquals(local.offset, spline.offset(x));
      assertAllClose([dot(local.slope, x) + local.offset], [spline.evaluate(x)], 1e-12);
      assertEquals(local.value, spline.evaluate(x));
    }
  }
});

Deno.test("MaxAffineSpline.region() is unchanged by a move smaller than the region's margin", () => {
  const rng = random(3);
  for (const [R, D] of SIZES.filter(([R]) => R > 1)) {
    const { slopes, offsets, spline } = randomSpline(rng, R, D);
    for (let t = 0; t < 30; t++) {
      const x = rng.vector(D);
      const { values, argmax: r } = bruteForce(slopes, offsets, x);
      // margin m = v_r − max_{r'≠r} v_r'; a move δ with |δ_d| ≤ ε changes v_r − v_r' by at
      // most ε·‖a_r − a_r'‖₁, so ε = m / (2·max ‖a_r − a_r'‖₁) keeps r the strict winner.
      const margin = Math.min(...values.filter((_, q) => q !== r).map((v) => values[r] - v));
      assert(margin > 0, "random pieces do not tie");
      const spread = Math.max(
        ...slopes.map((a) => a.reduce((s, v, d) => s + Math.abs(v - slopes[r][d]), 0)),
      );
      const eps = margin / (2 * spread);
      for (let m = 0; m < 5; m++) {
        const y = x.map((v) => v + eps * (2 * rng.uniform() - 1));
        assertEquals(spline.region(y), r);
        assertEquals(spline.slope(y), spline.slope(x));
      }
    }
  }
});

Deno.test("maxAffineSpline() is convex: s(tx + (1−t)y) ≤ t·s(x) + (1−t)·s(y)", () => {
  const rng = random(4);
  let strict = 0;
  for (const [R, D] of SIZES) {
    const { spline } = randomSpline(rng, R, D);
    for (let n = 0; n < 100; n++) {
      const x = rng.vector(D), y = rng.vector(D), t = rng.uniform();
      const mid = spline.evaluate(x.map((v, d) => t * v + (1 - t) * y[d]));
      const chord = t * spline.evaluate(x) + (1 - t) * spline.evaluate(y);
      assert(mid <= chord + 1e-12 * (1 + Math.abs(chord)), `R=${R} D=${D}: ${mid} > ${chord}`);
      if (mid < chord - 1e-9) strict++;
    }
  }
  assert(strict > 0, "some chords lie strictly above (the splines are not all affine)");
});

Deno.test("maxAffineSpline() picks the first piece on ties", async (t) => {
  await t.step("identical pieces", () => {
    const s = maxAffineSpline({ slopes: [[1, 2], [1, 2], [1, 2]], offsets: [0, 0, 0] });
    assertEquals(s.region([0.3, -7]), 0);
  });
  await t.step("a kink: |x| at 0", () => {
    const s = maxAffineSpline({ slopes: [[-1], [1]], offsets: [0, 0] });
    assertEquals(s.region([0]), 0);
    assertEquals(s.region([-0]), 0);
    assertEquals(s.evaluate([0]), 0);
    assertEquals(s.region([1e-300]), 1);
  });
  await t.step("a later piece ties with an earlier non-first winner", () => {
    const s = maxAffineSpline({ slopes: [[0], [1], [1]], offsets: [-5, 0, 0] });
    assertEquals(s.region([2]), 1);
  });
});

Deno.test("maxAffineSpline() copies its parameters", () => {
  const slopes = [[1, 0], [0, 1]], offsets = [0, 0];
  const s = new MaxAffineSpline({ slopes, offsets });
  slopes[0][0] = 100;
  offsets[1] = 100;
  assertEquals(s.evaluate([1, 2]), 2);
  assertEquals(s.slopes, [[1, 0], [0, 1]]);
  assertEquals(s.offsets, [0, 0]);
  const copy = s.slope([1, 2]);
  copy[0] = 9;
  assertEquals(s.slope([1, 2]), [0, 1]);
  // Typed arrays are accepted for rows, offsets and points.
  const typed = maxAffineSpline({
    slopes: [Float64Array.of(1, 0), Float32Array.of(0, 1)],
    offsets: Float64Array.of(0, 0),
  });
  assertEquals(typed.evaluate(Float64Array.of(1, 2)), 2);
});

Deno.test("maxAffineSpline() rejects bad parameters and inputs", async (t) => {
  await t.step("no pieces", () => {
    assertThrows(() => maxAffineSpline({ slopes: [], offsets: [] }), {
      name: "RangeError",
      message: /slopes/,
    });
  });
  await t.step("zero-dimensional pieces", () => {
    assertThrows(() => maxAffineSpline({ slopes: [[]], offsets: [0] }), {
      name: "RangeError",
      message: /D ≥ 1/,
    });
  });
  await t.step("ragged slopes", () => {
    assertThrows(
      () => maxAffineSpline({ slopes: [[1, 2], [1]], offsets: [0, 0] }),
      { name: "RangeError", message: /slopes\[1\] has length 1, expected 2/ },
    );
  });
  await t.step("offsets of the wrong length", () => {
    assertThrows(
      () => maxAffineSpline({ slopes: [[1], [2]], offsets: [0] }),
      { name: "RangeError", message: /offsets has length 1, expected 2/ },
    );
  });
  await t.step("NaN and infinite parameters", () => {
    assertThrows(
      () => maxAffineSpline({ slopes: [[1], [NaN]], offsets: [0, 0] }),
      { name: "RangeError", message: /slopes\[1\]\[0\] is NaN/ },
    );
    assertThrows(
      () => maxAffineSpline({ slopes: [[1], [2]], offsets: [0, Infinity] }),
      { name: "RangeError", message: /offsets\[1\] is Infinity/ },
    );
  });
  await t.step("inputs of the wrong length, NaN or not an array", () => {
    const s = maxAffineSpline({ slopes: [[1, 2]], offsets: [0] });
    assertThrows(() => s.evaluate([1]), {
      name: "RangeError",
      message: /x has length 1, expected 2/,
    });
    assertThrows(() => s.region([1, NaN]), { name: "RangeError", message: /x\[1\] is NaN/ });
    assertThrows(() => s.slope([-Infinity, 0]), { name: "RangeError", message: /x\[0\]/ });
    assertThrows(() => s.offset(null as unknown as number[]), TypeError);
    assertThrows(() => s.local([0, 0, 0]), RangeError);
    assertThrows(() => s.pieceValues([NaN, 0]), RangeError);
  });
});
