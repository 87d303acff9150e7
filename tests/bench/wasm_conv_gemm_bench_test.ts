/**
 * bench/wasm_conv_gemm_bench.ts runs and checks the direct conv against XNNPACK's on each shape
 * it times (it throws where they differ or where the kernel did not run).
 */
import { assert } from "../_assert.ts";
import { runScript } from "./_run_script.ts";

Deno.test("bench/wasm_conv_gemm_bench.ts runs and prints both rates", async () => {
  for (const extra of [[], ["--fresh-filter"]]) {
    const { success, out } = await runScript([
      "-A",
      "bench/wasm_conv_gemm_bench.ts",
      "--only=conv3 (1×1)",
      "--reps=1",
      ...extra,
    ]);
    assert(success, out.slice(-2000));
    assert(
      /\| smallCNN conv3 \(1×1\), batch 10 \| .* \| [\d.]+ ms \| [\d.]+ ms \| [\d.]+× \|/.test(out),
      out,
    );
  }
});
