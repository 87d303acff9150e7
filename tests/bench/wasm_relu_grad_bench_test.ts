/**
 * bench/wasm_relu_grad_bench.ts runs and checks the one-pass ReLU gradient against tfjs's
 * `Step` + `Multiply` bit for bit (it throws where they differ).
 */
import { assert } from "../_assert.ts";
import { runScript } from "./_run_script.ts";

Deno.test("bench/wasm_relu_grad_bench.ts runs and prints the three ways' times", async () => {
  const { success, out } = await runScript(["-A", "bench/wasm_relu_grad_bench.ts", "--reps=1"]);
  assert(success, out.slice(-2000));
  assert(/\| \[16,36,36,96\] \| [\d.]+ ms \| [\d.]+ ms \| [\d.]+ ms \|/.test(out), out);
});
