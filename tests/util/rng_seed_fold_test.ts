import { assert, assertEquals } from "../_assert.ts";
import { Rng } from "../../lib/util/rng.ts";

const state = (seed: number) => JSON.stringify(new Rng(seed).state);

Deno.test("Rng: negative seeds and seeds ≥ 2^32 do not repeat small seeds' streams", async (t) => {
  await t.step("-k was the stream of k − 1, 2^32 + k that of 0 ^ k", () => {
    for (let k = 1; k <= 50; k++) {
      assert(state(-k) !== state(k - 1), `seed ${-k} repeats seed ${k - 1}`);
      assert(state(2 ** 32 + k) !== state(0), `seed 2^32 + ${k}`);
      assert(state(2 ** 32 + k) !== state(-k), `seeds 2^32 + ${k} and ${-k}`);
    }
  });
  await t.step("seeds -100…100 give 201 different streams", () => {
    const seen = new Set(Array.from({ length: 201 }, (_, i) => state(i - 100)));
    assertEquals(seen.size, 201);
  });
  await t.step("seeds in [0, 2^32) keep their streams", () => {
    // states of the generator before the fix
    const before: [number, number[]][] = [
      [0, [2462723854, 1020716019, 454327756, 1275600319]],
      [1, [2527132011, 314344336, 2535364964, 2041432039]],
      [42, [939911724, 3948730756, 321366731, 3317318717]],
      [123456789, [1573771921, 319883699, 2742014374, 1324369493]],
      [4294967295, [920564995, 4230986166, 697614773, 1778835764]],
    ];
    for (const [seed, s] of before) assertEquals(new Rng(seed).state, s, `seed ${seed}`);
  });
});
