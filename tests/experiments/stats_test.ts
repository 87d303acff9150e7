import { assert, assertEquals } from "../_assert.ts";
import { rowRelativeError } from "../../lib/experiments/_stats.ts";

Deno.test("rowRelativeError(): the worst row's relative error, by hand", async (t) => {
  await t.step("each row scaled by its own largest reference value", () => {
    // Row 1: max |a − b| = 0.5 over max |b| = 2 → 0.25; row 2: 1 over 10 → 0.1.
    assertEquals(rowRelativeError([1, 2.5, 10, 9], [1, 2, 10, 10], 2), 0.25);
    assertEquals(rowRelativeError([10, 9, 1, 2.5], [10, 10, 1, 2], 2), 0.25);
  });
  await t.step("exact rows give 0, also when the reference row is all zero", () => {
    assertEquals(rowRelativeError([0, 0, 3, 4], [0, 0, 3, 4], 2), 0);
  });
  await t.step("a NaN in an early row is not replaced by a later finite row's error", () => {
    // Before the fix, worst = NaN was overwritten by the next row's 0, and the bound held.
    for (const a of [[NaN, 2, 3, 4], [1, 2, 3, NaN], [1, 2, NaN, NaN]]) {
      const e = rowRelativeError(a, [1, 2, 3, 4], 2);
      assert(Number.isNaN(e), `${a}: ${e}`);
      assert(!(e <= 1e-4), "a NaN error must fail the bound");
    }
    assert(Number.isNaN(rowRelativeError([1, 2, 3, 4], [NaN, 2, 3, 4], 2)));
  });
});
