import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertMatch, assertStrictEquals, assertThrows } from "../_assert.ts";
import { partitionDistance } from "../../lib/partition/distance.ts";
import { partitionDistanceMatrix } from "../../lib/partition/distance_matrix.ts";
import type { CodeLayer } from "../../lib/partition/code_layer.ts";
import { type EngineStats, mismatchMatrix } from "../../lib/partition/_hamming_engine.ts";
import { toRows } from "../../lib/partition/_hamming_input.ts";
import { bruteForceDistances, pickRows, randomCodes } from "./_random_codes.ts";

function firstMismatch(actual: ArrayLike<number>, expected: ArrayLike<number>): string {
  if (actual.length !== expected.length) return `length ${actual.length} vs ${expected.length}`;
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) return `index ${i}: ${actual[i]} vs ${expected[i]}`;
  }
  return "";
}

Deno.test("partitionDistance() is 0 for identical inputs", () => {
  const codes = randomCodes(13, 77, { seed: 3 });
  const d = partitionDistance(codes, codes);
  const data = d.dataSync();
  assertEquals(d.shape, [13, 13]);
  assertStrictEquals(d.dtype, "float32");
  for (let i = 0; i < 13; i++) {
    assertStrictEquals(data[i * 13 + i], 0);
    for (let j = 0; j < 13; j++) assertStrictEquals(data[i * 13 + j], data[j * 13 + i]);
  }
  d.dispose();
});

Deno.test("partitionDistance() is 1 for complementary sign codes", () => {
  const a = randomCodes(3, 45, { seed: 4 });
  const bits = a.bits.map((w, i) => (i % a.words === a.words - 1 ? ~w & 0x1fff : ~w) >>> 0);
  const b: CodeLayer = { ...a, bits };
  const d = partitionDistance(a, b);
  const data = d.dataSync();
  for (let i = 0; i < 3; i++) assertStrictEquals(data[i * 3 + i], 1);
  d.dispose();
});

Deno.test("partitionDistance() matches a per-unit brute force", async (t) => {
  const cases: [CodeLayer["kind"], number][] = [
    ["relu", 1],
    ["relu", 31],
    ["relu", 32],
    ["relu", 33],
    ["leaky-relu", 100],
    ["abs", 1000],
    ["relu", 8193],
    ["max-pool", 1],
    ["max-pool", 7],
    ["max-pool", 8],
    ["max-pool", 9],
    ["max-pool", 300],
  ];
  for (const [kind, units] of cases) {
    await t.step(`${kind}, ${units} units, 11 × 17 examples`, () => {
      const a = randomCodes(11, units, { kind, seed: units, window: 9 });
      const b = randomCodes(17, units, { kind, seed: units + 1, window: 9 });
      const expected = bruteForceDistances(a, b);
      const d = partitionDistance(a, b);
      assertEquals(d.shape, [11, 17]);
      const mismatch = firstMismatch(d.dataSync(), Float32Array.from(expected));
      assertStrictEquals(mismatch, "", mismatch);
      d.dispose();
      const raw = partitionDistanceMatrix(a, b);
      assertEquals(raw.shape, [11, 17]);
      assertStrictEquals(firstMismatch(raw.data, expected), "");
    });
  }
});

Deno.test("partitionDistance() selects the layer of PartitionCodes", async (t) => {
  const codes = [
    randomCodes(5, 40, { layer: 0, seed: 1 }),
    randomCodes(5, 9, { layer: 1, kind: "max-pool", seed: 2 }),
    randomCodes(5, 70, { layer: 2, kind: "abs", seed: 3 }),
  ];
  for (const layer of [0, 1, 2]) {
    await t.step(`layer ${layer}`, () => {
      const got = partitionDistanceMatrix(codes, codes, { layer });
      assertEquals(got.data, bruteForceDistances(codes[layer], codes[layer]));
      // A single CodeLayer mixes with PartitionCodes.
      const mixed = partitionDistanceMatrix(codes, codes[layer], { layer });
      assertEquals(mixed.data, got.data);
    });
  }
  await t.step("one layer needs no option", () => {
    const got = partitionDistanceMatrix([codes[2]], [codes[2]]);
    assertEquals(got.data, bruteForceDistances(codes[2], codes[2]));
  });
  await t.step("missing layer", () => {
    assertThrows(
      () => partitionDistance(codes, codes),
      (e: Error) => e instanceof RangeError && /layer is required.*3 code layers/.test(e.message),
    );
  });
  await t.step("layer out of range", () => {
    for (const layer of [3, -1, 1.5]) {
      assertThrows(() => partitionDistance(codes, codes, { layer }), RangeError);
    }
    assertThrows(
      () => partitionDistance(codes, codes, { layer: 3 }),
      (e: Error) => /layer is 3.*3 code layers/.test(e.message),
    );
  });
  await t.step("a CodeLayer of another layer than options.layer", () => {
    assertThrows(
      () => partitionDistance(codes[0], codes[0], { layer: 1 }),
      (e: Error) => e instanceof RangeError && /layer is 1.*layer 0/.test(e.message),
    );
  });
  await t.step("empty PartitionCodes", () => {
    assertThrows(() => partitionDistance([], []), RangeError);
  });
});

Deno.test("partitionDistance() rejects codes that cannot be compared", async (t) => {
  const relu = randomCodes(2, 40);
  await t.step("different kinds", () => {
    const abs = randomCodes(2, 40, { kind: "abs" });
    assertThrows(
      () => partitionDistance(relu, abs),
      (e: Error) => e instanceof RangeError && /relu, 40 units.*abs, 40 units/.test(e.message),
    );
    const pool = randomCodes(2, 40, { kind: "max-pool" });
    assertThrows(() => partitionDistance(relu, pool), RangeError);
  });
  await t.step("different units", () => {
    assertThrows(
      () => partitionDistance(relu, randomCodes(2, 41)),
      (e: Error) => e instanceof RangeError && /40 units.*41 units/.test(e.message),
    );
  });
  await t.step("different layers", () => {
    assertThrows(
      () => partitionDistance(relu, randomCodes(2, 40, { layer: 1 })),
      (e: Error) => e instanceof RangeError && /different layers/.test(e.message),
    );
  });
  await t.step("malformed code layers", () => {
    assertThrows(() => partitionDistance({ ...relu, words: 1 }, relu), RangeError);
    assertThrows(() => partitionDistance({ ...relu, bits: new Uint32Array(3) }, relu), RangeError);
    assertThrows(() => partitionDistance({ ...relu, units: 0, words: 0 }, relu), RangeError);
    const dirty = { ...relu, bits: relu.bits.slice() };
    dirty.bits[1] |= 1 << 9; // unit 41 of a 40-unit layer
    assertThrows(
      () => partitionDistance(dirty, relu),
      (e: Error) => /example 0 has bits set past unit 39/.test(e.message),
    );
    const pool = randomCodes(2, 5, { kind: "max-pool" });
    assertThrows(
      () => partitionDistance({ ...pool, argmax: new Uint16Array(9) }, pool),
      RangeError,
    );
  });
  await t.step("bad threads", () => {
    assertThrows(() => partitionDistance(relu, relu, { threads: 0 }), RangeError);
  });
});

Deno.test("partitionDistance() of an empty batch is empty", async (t) => {
  const a = randomCodes(0, 50), b = randomCodes(6, 50);
  await t.step("empty first batch", () => {
    const d = partitionDistance(a, b);
    assertEquals(d.shape, [0, 6]);
    d.dispose();
  });
  await t.step("empty second batch", () => {
    const d = partitionDistance(b, a);
    assertEquals(d.shape, [6, 0]);
    d.dispose();
  });
});

Deno.test("partitionDistance() creates its tensor without leaking", () => {
  const a = randomCodes(4, 64);
  const before = tf.memory().numTensors;
  const d = partitionDistance(a, a);
  assertStrictEquals(tf.memory().numTensors, before + 1);
  d.dispose();
});

Deno.test("mismatchMatrix() kernels, threads and rounds agree with the brute force", async (t) => {
  const configs = [
    { units: 8192, na: 13, nb: 67 }, // D = 8,192: the benchmark's code size
    { units: 333, na: 21, nb: 70 }, // odd unit count, odd word count
    { units: 65, na: 5, nb: 3 },
  ];
  for (const kind of ["relu", "max-pool"] as const) {
    for (const { units, na, nb } of configs) {
      const u = kind === "max-pool" ? Math.ceil(units / 8) + 1 : units;
      const a = randomCodes(na, u, { kind, seed: 7, window: 9 });
      const b = pickRows(randomCodes(nb, u, { kind, seed: 8, window: 9 }), [
        ...Array(nb).keys(),
      ]);
      const expected = Float64Array.from(bruteForceDistances(a, b), (d) => Math.round(d * u));
      for (
        const options of [
          { backend: "js" as const, threads: 1 },
          { backend: "wasm" as const, threads: 1 },
          { backend: "wasm" as const, threads: 1, roundBytes: 1 }, // one query block per round
          { backend: "wasm" as const, threads: 3, minThreadBytes: 0 },
          { backend: "wasm" as const, threads: 2, minThreadBytes: 0, callerWorks: false },
        ]
      ) {
        await t.step(`${kind} ${u} units, ${na} × ${nb}, ${JSON.stringify(options)}`, () => {
          const stats = {} as EngineStats;
          const got = mismatchMatrix(toRows(a), toRows(b), { ...options, stats });
          assertStrictEquals(firstMismatch(got, expected), "");
          assertStrictEquals(stats.backend, options.backend);
          if (options.callerWorks === false) {
            // Every item ran on the worker: the worker path is exercised.
            assert(stats.workers >= 1, `workers ${stats.workers}`);
            assertStrictEquals(stats.workerItems, stats.items);
          }
        });
      }
    }
  }
});

Deno.test("mismatchMatrix() reports rows of different kinds or lengths", () => {
  const a = toRows(randomCodes(2, 40)), b = toRows(randomCodes(2, 70));
  assertThrows(() => mismatchMatrix(a, b), RangeError);
  const err = (() => {
    try {
      mismatchMatrix(a, b);
    } catch (e) {
      return (e as Error).message;
    }
    return "";
  })();
  assertMatch(err, /length 2 vs sign rows of length 3/);
});
