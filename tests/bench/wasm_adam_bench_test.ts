/**
 * bench/wasm_adam_bench.ts runs and checks that its three Adam updates give the same weights bit
 * for bit (it throws where one differs).
 */
import { assert } from "../_assert.ts";
import { runScript } from "./_run_script.ts";

Deno.test("bench/wasm_adam_bench.ts runs and prints the three updates' times", async () => {
  const { success, out } = await runScript([
    "-A",
    "bench/wasm_adam_bench.ts",
    "--reps=1",
    "--rounds=1",
  ]);
  assert(success, out.slice(-2000));
  assert(
    /\| \[3,3,192,192\] \(331776 weights\) \| [\d.]+ ms \| [\d.]+ ms \| [\d.]+ ms \|/.test(out),
    out,
  );
});
