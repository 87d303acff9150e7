import { SplineNetwork } from "../../lib/network/spline_network.ts";
import { codeDifferences } from "../../lib/partition/code_differences.ts";
import { partitionCodes } from "../../lib/partition/codes.ts";
import { assertEquals, assertThrows } from "../_assert.ts";

/** ReLU on 2 × 2 × 1, then a 2 × 2 max-pool: two code layers, one example. */
const net = new SplineNetwork([2, 2, 1], [
  { kind: "relu", name: "r", inputShape: [2, 2, 1], outputShape: [2, 2, 1] },
  {
    kind: "max-pool",
    name: "p",
    inputShape: [2, 2, 1],
    outputShape: [1, 1, 1],
    poolSize: [2, 2],
    strides: [2, 2],
    padding: [0, 0, 0, 0],
  },
]);
const batch = (values: number[]) => ({ data: new Float64Array(values), shape: [1, 2, 2, 1] });

Deno.test("codeDifferences() classifies each differing code by its float64 gap, by hand", async (t) => {
  await t.step("the reference's own codes differ nowhere", () => {
    const x = batch([4, -1e-9, 0, 2]);
    const ref = partitionCodes(net, x);
    assertEquals(codeDifferences(net, x, [ref[0].bits, ref[1].argmax]), []);
    // the caller's reference codes are taken as given (here: another batch's)
    const other = partitionCodes(net, batch([-1, -1, -1, -1]));
    const given = codeDifferences(net, x, [ref[0].bits, ref[1].argmax], { reference: other });
    assertEquals(given.map((e) => [e.layer, e.unit]), [[0, 0], [0, 3]]);
  });
  await t.step("sign bits: a near tie, an exact tie at 0, a clear decision", () => {
    // reference bits: 4 > 0, −1e-9, 0 (inactive at exactly 0), 2 > 0 → 0b1001; max-pool → 0
    const x = batch([4, -1e-9, 0, 2]);
    const got = [[0b1110], [0]]; // unit 0 clear, unit 1 near (1e-9 / 4), unit 2 exact
    const d = codeDifferences(net, x, got);
    assertEquals(d.map((e) => [e.layer, e.name, e.unit, e.got, e.want, e.kind]), [
      [0, "r", 0, 0, 1, "clear"],
      [0, "r", 1, 1, 0, "near tie"],
      [0, "r", 2, 1, 0, "exact tie"],
    ]);
    assertEquals(d.map((e) => e.gap), [1, 1e-9 / 4, 0]);
  });
  await t.step("max-pool: the gap between the two window entries", () => {
    // the pool's input is the ReLU's output: [3, 3, 1, 3 + 3e-6] → argmax 3
    const x = batch([3, 3, 1, 3 + 3e-6]);
    const near = codeDifferences(net, x, [[0b1111], [0]]);
    assertEquals(near.map((e) => [e.name, e.got, e.want, e.kind]), [["p", 0, 3, "near tie"]]);
    assertEquals(near[0].gap, (3 + 3e-6 - 3) / (3 + 3e-6));
    // a tolerance below the gap makes it a clear decision
    assertEquals(codeDifferences(net, x, [[0b1111], [0]], { tie: 1e-7 })[0].kind, "clear");
    // an exact tie (entries 0 and 1) decided by the later index
    const tied = batch([3, 3, 1, 2]);
    assertEquals(codeDifferences(net, tied, [[0b1111], [1]])[0].kind, "exact tie");
  });
  await t.step("a later layer's difference is downstream of the first one's", () => {
    // the reference: no ReLU active, the pool's window all zeros → index 0; the engine decided
    // unit 1 (−1e-9) active, and its pool picked that unit: a gap of 0, yet no exact tie broken
    const x = batch([-1, -1e-9, -1, -1]);
    const d = codeDifferences(net, x, [[0b0010], [1]]);
    assertEquals(d.map((e) => [e.layer, e.unit, e.got, e.want, e.kind]), [
      [0, 1, 1, 0, "near tie"],
      [1, 0, 1, 0, "downstream"],
    ]);
    assertEquals(d[1].gap, 0);
    // the same pool code alone (no earlier difference) is an exact tie broken
    assertEquals(codeDifferences(net, x, [[0], [1]])[0].kind, "exact tie");
  });
  await t.step("several examples: each gap over its own example's largest magnitude", () => {
    const two = {
      data: new Float64Array([1, 1, 1, -1e-3, 100, 100, 100, -1e-3]),
      shape: [2, 2, 2, 1],
    };
    const d = codeDifferences(net, two, [[0b1111, 0b1111], [0, 0]], { tie: 1e-4 });
    assertEquals(d.map((e) => [e.example, e.unit, e.kind]), [[0, 3, "clear"], [1, 3, "near tie"]]);
    assertEquals(d.map((e) => e.gap), [1e-3, 1e-3 / 100]);
  });
});

Deno.test("codeDifferences() reads sign words as unsigned: unit 31 of an Int32Array", () => {
  const wide = new SplineNetwork([32], [
    { kind: "relu", name: "r", inputShape: [32], outputShape: [32] },
  ]);
  const x = { data: new Float64Array(32).fill(-1), shape: [1, 32] };
  x.data[31] = 1e-9; // unit 31 active in the reference, its bit the word's sign bit
  assertEquals(codeDifferences(wide, x, [Int32Array.of(-(2 ** 31))]), []);
  assertEquals(codeDifferences(wide, x, [Uint32Array.of(2 ** 31)]), []);
  const [d] = codeDifferences(wide, x, [Int32Array.of(0)]);
  assertEquals([d.unit, d.got, d.want, d.kind], [31, 0, 1, "near tie"]);
});

Deno.test("codeDifferences() refuses codes of the wrong shape and a bad tolerance", () => {
  const x = batch([1, 2, 3, 4]);
  assertThrows(() => codeDifferences(net, x, [[0]]), RangeError, "1 code arrays for 2 code layers");
  assertThrows(
    () => codeDifferences(net, x, [[0, 0], [0]]),
    RangeError,
    "has 2 entries, expected 1",
  );
  assertThrows(
    () => codeDifferences(net, x, [[0], [0]], { tie: Number.NaN }),
    RangeError,
    "tie NaN",
  );
});
