/**
 * bench/wasm_gemm_bench.ts runs on small shapes and checks every variant of the fused Winograd
 * kernel's products against float64 (it throws where one differs).
 */
import { assert } from "../_assert.ts";
import { runScript } from "./_run_script.ts";

Deno.test("bench/wasm_gemm_bench.ts runs and prints every variant and XNNPACK's rate", async () => {
  const { success, out } = await runScript([
    "-A",
    "bench/wasm_gemm_bench.ts",
    "--shapes=6,8,20;3,12,8",
    "--mats=2",
    "--rounds=1",
  ]);
  assert(success, out.slice(-2000));
  assert(/\| 4×8, shuffle, multiply[- +]+add \| [\d.]+ \| [\d.]+ \|/.test(out), out);
  assert(/\| XNNPACK 1×1 conv \| [\d.]+ \| [\d.]+ \|/.test(out), out);
});
