import { assert, assertStrictEquals } from "../_assert.ts";
import { type EngineStats, mismatchMatrix } from "../../lib/partition/_hamming_engine.ts";
import { toRows } from "../../lib/partition/_hamming_input.ts";
import { bruteForceDistances, randomCodes } from "./_random_codes.ts";

// A worker that stalls past the engine's patience has its items redone by the calling thread;
// when it wakes it must not write an old round's counts over a later round's. `stallMs: 0` with
// `callerWorks: false` makes every round "stall" at once while the worker is still busy (or has
// not started), the worst case of a machine too loaded to schedule it.
Deno.test("mismatchMatrix() stays exact when workers stall, round after round", async (t) => {
  for (const kind of ["relu", "max-pool"] as const) {
    const units = kind === "relu" ? 1024 : 300;
    const a = randomCodes(96, units, { kind, seed: 21, window: 9 });
    const b = randomCodes(400, units, { kind, seed: 22, window: 9 });
    const expected = Float64Array.from(bruteForceDistances(a, b), (d) => Math.round(d * units));
    for (let attempt = 0; attempt < 3; attempt++) {
      await t.step(`${kind}, attempt ${attempt + 1}`, () => {
        const stats = {} as EngineStats;
        const got = mismatchMatrix(toRows(a), toRows(b), {
          backend: "wasm",
          threads: 2,
          minThreadBytes: 0,
          roundBytes: 1, // one query block per round: many rounds
          callerWorks: false,
          stallMs: 0,

          stats,
        });
        assert(stats.workers >= 1, `workers ${stats.workers}`);
        let wrong = -1;
        for (let i = 0; i < got.length && wrong < 0; i++) if (got[i] !== expected[i]) wrong = i;
        assertStrictEquals(wrong, -1, `count ${wrong}: ${got[wrong]} vs ${expected[wrong]}`);
      });
    }
  }
});
