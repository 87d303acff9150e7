import { assert, assertEquals, assertStrictEquals, assertThrows } from "../_assert.ts";
import { classBalancedBatches, Rng, shuffledBatches } from "../../lib/util/rng.ts";

/** Reference xoshiro128** (Blackman & Vigna), written independently with BigInt-free uint32 math. */
function xoshiroRef(state: number[], count: number): number[] {
  const s = state.slice();
  const out: number[] = [];
  const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;
  for (let i = 0; i < count; i++) {
    out.push(
      Number((BigInt(rotl(Number((BigInt(s[1]) * 5n) & 0xffffffffn), 7)) * 9n) & 0xffffffffn),
    );
    const t = (s[1] << 9) >>> 0;
    s[2] = (s[2] ^ s[0]) >>> 0;
    s[3] = (s[3] ^ s[1]) >>> 0;
    s[1] = (s[1] ^ s[2]) >>> 0;
    s[0] = (s[0] ^ s[3]) >>> 0;
    s[2] = (s[2] ^ t) >>> 0;
    s[3] = rotl(s[3], 11);
  }
  return out;
}

Deno.test("Rng follows xoshiro128** from its state", () => {
  const r = new Rng(123);
  const ref = xoshiroRef(r.state, 50);
  assertEquals(Array.from({ length: 50 }, () => r.nextUint32()), ref);
});

Deno.test("Rng is reproducible and resumable from its state", async (t) => {
  await t.step("same seed, same sequence", () => {
    const a = new Rng(9), b = new Rng(9);
    assertEquals(
      Array.from({ length: 20 }, () => a.next()),
      Array.from({ length: 20 }, () => b.next()),
    );
  });
  await t.step("different seeds differ (including seeds beyond 2^32)", () => {
    assert(new Rng(1).next() !== new Rng(2).next());
    assert(new Rng(1).next() !== new Rng(2 ** 32 + 1).next());
  });
  await t.step("fromState continues the sequence", () => {
    const a = new Rng(4);
    a.next();
    const b = Rng.fromState(JSON.parse(JSON.stringify(a.state)));
    assertEquals([a.nextUint32(), a.int(7)], [b.nextUint32(), b.int(7)]);
  });
  await t.step("bad seeds and states", () => {
    assertThrows(() => new Rng(0.5), RangeError);
    assertThrows(() => Rng.fromState([0, 0, 0, 0]), RangeError);
    assertThrows(() => Rng.fromState([1, 2, 3]), RangeError);
  });
});

Deno.test("Rng.int() is uniform (chi-square) and in range", () => {
  const r = new Rng(77), k = 6, n = 60000;
  const counts = new Array(k).fill(0);
  for (let i = 0; i < n; i++) counts[r.int(k)]++;
  const e = n / k;
  const chi2 = counts.reduce((s, c) => s + (c - e) ** 2 / e, 0);
  assert(chi2 < 20.5, `chi2 ${chi2} (5 dof, p = 0.001 at 20.5) counts ${counts}`);
  assertThrows(() => r.int(0), RangeError);
});

Deno.test("Rng.shuffle() permutes and reaches every permutation of 3", () => {
  const r = new Rng(1);
  const seen = new Set<string>();
  for (let i = 0; i < 300; i++) seen.add(r.shuffle([0, 1, 2]).join(""));
  assertStrictEquals(seen.size, 6);
  assertEquals([...r.shuffle(Int32Array.from([5, 4, 3, 2, 1]))].sort(), [1, 2, 3, 4, 5]);
});

Deno.test("classBalancedBatches() puts batch/C examples of every class in each batch", async (t) => {
  const labels = Array.from({ length: 60 }, (_, i) => (i * 7) % 3);
  const batches = classBalancedBatches(labels, new Rng(3), { batchSize: 6, classes: 3 });
  await t.step("counts per class", () => {
    assertStrictEquals(batches.length, 10);
    for (const b of batches) {
      const count = [0, 0, 0];
      for (const i of b) count[labels[i]]++;
      assertEquals(count, [2, 2, 2]);
    }
  });
  await t.step("balanced data: one epoch visits every example once", () => {
    assertEquals(batches.flatMap((b) => [...b]).sort((a, b) => a - b), labels.map((_, i) => i));
  });
  await t.step("imbalanced data: small classes are reshuffled, not skipped", () => {
    const lab = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1];
    const bs = classBalancedBatches(lab, new Rng(1), { batchSize: 2, classes: 2, steps: 5 });
    const ones = bs.map((b) => b[1]);
    assert(ones.every((i) => lab[i] === 1));
    assertEquals(new Set(ones.slice(0, 2)).size, 2); // without replacement within a pass
  });
  await t.step("errors", () => {
    assertThrows(
      () => classBalancedBatches(labels, new Rng(1), { batchSize: 4, classes: 3 }),
      /not a positive multiple/,
    );
    assertThrows(
      () => classBalancedBatches([0, 5], new Rng(1), { batchSize: 2, classes: 2 }),
      /label 5 at index 1/,
    );
    assertThrows(
      () => classBalancedBatches([0, 0], new Rng(1), { batchSize: 2, classes: 2 }),
      /class 1 has no examples/,
    );
  });
});

Deno.test("shuffledBatches() draws disjoint batches of a permutation", () => {
  const b = shuffledBatches(11, new Rng(2), 4);
  assertStrictEquals(b.length, 2);
  assertStrictEquals(new Set(b.flatMap((x) => [...x])).size, 8);
});
