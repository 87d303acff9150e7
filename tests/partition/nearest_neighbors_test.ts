import * as tf from "@tensorflow/tfjs";
import {
  assert,
  assertEquals,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "../_assert.ts";
import { nearestNeighborsAsync } from "../../lib/partition/nearest_neighbors_async.ts";
import { nearestNeighbors } from "../../lib/partition/nearest_neighbors.ts";
import { partitionDistance } from "../../lib/partition/distance.ts";
import type { CodeLayer } from "../../lib/partition/code_layer.ts";
import { type EngineStats, mismatchTopK } from "../../lib/partition/_hamming_engine.ts";
import { toRows } from "../../lib/partition/_hamming_input.ts";
import { bruteForceNeighbors, pickRows, randomCodes } from "./_random_codes.ts";

function neighbors(query: CodeLayer, base: CodeLayer, k: number, exclude = false) {
  const out = nearestNeighbors(query, base, { k, exclude: exclude ? "same-index" : undefined });
  const result = {
    indices: out.indices.arraySync(),
    distances: out.distances.arraySync(),
    dtypes: [out.indices.dtype, out.distances.dtype],
    shape: out.indices.shape,
  };
  tf.dispose([out.indices, out.distances]);
  return result;
}

Deno.test("nearestNeighbors() matches a brute-force sort by (distance, index)", async (t) => {
  const cases: [CodeLayer["kind"], number, number, number, number][] = [
    // kind, units, queries, base, k
    ["relu", 3, 9, 41, 7], // 3 units: at most 4 distinct distances, many ties
    ["relu", 33, 10, 57, 16],
    ["abs", 700, 5, 101, 1],
    ["leaky-relu", 8192, 6, 70, 16],
    ["max-pool", 2, 7, 39, 11], // ties
    ["max-pool", 301, 6, 45, 45], // k = M
  ];
  for (const [kind, units, nq, nb, k] of cases) {
    await t.step(`${kind}, ${units} units, ${nq} queries × ${nb} base, k = ${k}`, () => {
      const base = randomCodes(nb, units, { kind, seed: units * 3 });
      const query = randomCodes(nq, units, { kind, seed: units * 3 + 1 });
      const got = neighbors(query, base, k);
      const want = bruteForceNeighbors(query, base, k);
      assertEquals(got.shape, [nq, k]);
      assertEquals(got.dtypes, ["int32", "float32"]);
      assertEquals(got.indices, want.indices);
      assertEquals(got.distances, want.distances);
    });
  }
});

Deno.test("nearestNeighbors() breaks ties by the smaller base index", () => {
  // Base rows are 5 copies of the same 3 rows: every distance is tied 5 ways.
  const rows = randomCodes(3, 50, { seed: 9 });
  const base = pickRows(rows, [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]);
  const got = neighbors(pickRows(rows, [1]), base, 7);
  assertEquals(got.indices[0].slice(0, 5), [1, 4, 7, 10, 13]);
  assertStrictEquals(got.distances[0][0], 0);
  assertEquals(got.indices, bruteForceNeighbors(pickRows(rows, [1]), base, 7).indices);
});

Deno.test("nearestNeighbors() distances equal partitionDistance()", () => {
  const base = randomCodes(40, 200, { seed: 5 }), query = randomCodes(6, 200, { seed: 6 });
  const { indices, distances } = neighbors(query, base, 10);
  const d = partitionDistance(query, base);
  const all = d.arraySync();
  d.dispose();
  for (let i = 0; i < 6; i++) {
    for (let t = 0; t < 10; t++) assertStrictEquals(distances[i][t], all[i][indices[i][t]]);
    const sorted = [...all[i]].sort((x, y) => x - y).slice(0, 10);
    assertEquals(distances[i], sorted);
  }
});

Deno.test("nearestNeighbors() leaves the query itself out with exclude", async (t) => {
  for (const kind of ["relu", "max-pool"] as const) {
    await t.step(kind, () => {
      const codes = randomCodes(23, 40, { kind, seed: 11, p: 0.3 });
      const got = neighbors(codes, codes, 5, true);
      for (let i = 0; i < 23; i++) assert(!got.indices[i].includes(i), `query ${i}`);
      assertEquals(got.indices, bruteForceNeighbors(codes, codes, 5, true).indices);
      // Without exclude, each example is its own nearest neighbour at distance 0.
      const plain = neighbors(codes, codes, 1);
      for (let i = 0; i < 23; i++) assertStrictEquals(plain.distances[i][0], 0);
    });
  }
  await t.step("k = M − 1 is the largest allowed", () => {
    const codes = randomCodes(6, 40, { seed: 12 });
    assertEquals(neighbors(codes, codes, 5, true).shape, [6, 5]);
    assertThrows(() => neighbors(codes, codes, 6, true), RangeError);
  });
});

Deno.test("nearestNeighbors() edge cases", async (t) => {
  const base = randomCodes(8, 40, { seed: 13 }), query = randomCodes(3, 40, { seed: 14 });
  await t.step("k = 0 gives [N, 0]", () => {
    const got = neighbors(query, base, 0);
    assertEquals(got.shape, [3, 0]);
  });
  await t.step("no queries gives [0, k]", () => {
    const got = neighbors(randomCodes(0, 40), base, 4);
    assertEquals(got.shape, [0, 4]);
  });
  await t.step("k > M", () => {
    assertThrows(
      () => neighbors(query, base, 9),
      (e: Error) => e instanceof RangeError && /k is 9.*base has 8 examples/.test(e.message),
    );
  });
  await t.step("k not an integer", () => {
    for (const k of [-1, 1.5, NaN]) assertThrows(() => neighbors(query, base, k), RangeError);
  });
  await t.step("bad exclude", () => {
    assertThrows(
      () => nearestNeighbors(query, base, { k: 1, exclude: "self" as "same-index" }),
      RangeError,
    );
  });
  await t.step("not codes, k as a string, options missing", async () => {
    const x = tf.zeros([2, 3]);
    assertThrows(
      () => nearestNeighbors(x as never, base, { k: 1 }),
      /query is a .* without a code layer's fields, expected a CodeLayer or PartitionCodes/,
    );
    x.dispose();
    assertThrows(() => neighbors(query, base, "2" as never), /k is "2" \(a string\)/);
    for (const call of [nearestNeighbors, nearestNeighborsAsync]) {
      await assertRejects(
        async () => await call(query, base, undefined as never),
        /options is undefined, expected \{ k, layer\?, exclude\? \}/,
      );
    }
  });
  await t.step("exclude 'same-index' between sets of different sizes", async () => {
    assert(query.count !== base.count);
    const message =
      /'same-index' is for a set against itself, but query has \d+ examples and base 8/;
    assertThrows(() => nearestNeighbors(query, base, { k: 1, exclude: "same-index" }), message);
    for (const backend of ["cpu", "webgpu"] as const) {
      await assertRejects(
        () => nearestNeighborsAsync(query, base, { k: 1, exclude: "same-index", backend }),
        message,
      );
    }
  });
  await t.step("layer selection and mismatched codes", () => {
    const codes = [base, randomCodes(8, 12, { layer: 1, kind: "max-pool", seed: 2 })];
    const out = nearestNeighbors(codes, codes, { k: 2, layer: 1 });
    assertEquals(
      out.indices.arraySync(),
      bruteForceNeighbors(codes[1], codes[1], 2).indices,
    );
    tf.dispose([out.indices, out.distances]);
    assertThrows(() => nearestNeighbors(codes, codes, { k: 2 }), RangeError);
    assertThrows(() => nearestNeighbors(codes, codes, { k: 2, layer: 2 }), RangeError);
    assertThrows(() => nearestNeighbors(query, randomCodes(8, 41), { k: 2 }), RangeError);
  });
});

Deno.test("mismatchTopK() kernels, threads and base chunks agree with the brute force", async (t) => {
  for (const kind of ["relu", "max-pool"] as const) {
    const units = kind === "relu" ? 2049 : 517;
    const base = randomCodes(203, units, { kind, seed: 21, p: 0.5, window: 2 });
    const query = pickRows(base, [5, 0, 202, 17, 17, 99, 3, 150, 1, 2, 8]);
    const k = 16;
    const want = bruteForceNeighbors(query, base, k);
    const first = pickRows(base, [...Array(20).keys()]); // leave-one-out: query i is base i
    const wantEx = bruteForceNeighbors(first, base, 3, true);
    for (
      const options of [
        { backend: "js" as const, threads: 1 },
        { backend: "wasm" as const, threads: 1 },
        { backend: "wasm" as const, threads: 1, subBlockRows: 6 }, // many kernel calls
        { backend: "wasm" as const, threads: 4, minThreadBytes: 0, subBlockRows: 10 }, // chunks
        { backend: "wasm" as const, threads: 2, minThreadBytes: 0, callerWorks: false },
      ]
    ) {
      await t.step(`${kind}, ${JSON.stringify(options)}`, () => {
        const stats = {} as EngineStats;
        const got = mismatchTopK(toRows(query), toRows(base), { ...options, k, stats });
        const rowsOf = (a: ArrayLike<number>) =>
          Array.from({ length: query.count }, (_, i) => Array.from(a).slice(i * k, (i + 1) * k));
        assertEquals(rowsOf(got.indices), want.indices);
        assertEquals(
          rowsOf(got.counts).map((r) => r.map((c) => Math.fround(c / units))),
          want.distances,
        );
        if ("subBlockRows" in options && options.threads > 1) {
          assert(stats.items >= 8, `${stats.items} items: the base was not split in chunks`);
        }
        if (options.callerWorks === false) {
          assert(stats.workers >= 1);
          assertStrictEquals(stats.workerItems, stats.items);
        }
        const ex = mismatchTopK(toRows(first), toRows(base), { ...options, k: 3, exclude: true });
        assertEquals(
          Array.from({ length: 20 }, (_, i) => Array.from(ex.indices.slice(i * 3, i * 3 + 3))),
          wantEx.indices,
        );
      });
    }
  }
});
