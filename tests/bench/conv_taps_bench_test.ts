/**
 * The taps benchmark that a GPU session runs (bench/conv_taps_bench.ts), here on the software
 * adapter with few rows, in its products and a GPU's tiles: a broken script would cost a lent
 * GPU's minutes. Its two ways of transposing largeCNN's first conv must agree (it exits non-zero
 * where they differ).
 */
import { webgpuContext } from "../../lib/backend/webgpu/device.ts";
import { assert } from "../_assert.ts";
import { runScript } from "./_run_script.ts";

const gpu = await webgpuContext();

Deno.test({
  name: "bench/conv_taps_bench.ts runs, and taps agree with the col2im product",
  ignore: gpu === null,
  async fn() {
    for (const extra of [[], ["--hw"]]) {
      const { success, out } = await runScript(["-A", "bench/conv_taps_bench.ts", "3", ...extra]);
      assert(success, out.slice(-2000));
      assert(/3 rows: sign pass \+ col2im product [\d.]+ ms, taps [\d.]+ ms/.test(out), out);
      assert(out.includes("outputs agree"), out);
    }
  },
});
