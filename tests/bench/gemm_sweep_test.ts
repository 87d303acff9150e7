/**
 * The tile-shape sweep that a GPU session runs (bench/gemm_sweep.ts), run here on the software
 * adapter at its tiny size: a broken script would cost a lent GPU's minutes. It must capture the
 * pass's tiled products (also with `--winograd=6`), time shapes against the engine's tile, find every shape's output equal
 * to the engine's (it exits non-zero on a wrong one) and sum up.
 */
import { webgpuContext } from "../../lib/backend/webgpu/device.ts";
import { assert } from "../_assert.ts";
import { runScript } from "./_run_script.ts";

const gpu = await webgpuContext();

Deno.test({
  name: "bench/gemm_sweep.ts --tiny runs, and every shape it times agrees with the engine's tile",
  ignore: gpu === null,
  async fn() {
    // by timestamps (the adapter offers them), then by the wall clock (a GPU that does not),
    // the pass with Winograd F(6)
    await sweepRuns([]);
    const f6 = await sweepRuns(["--wall", "--winograd=6"]);
    assert(/gemm-\w+\/winograd6\//.test(f6) && !/\/winograd4\//.test(f6), f6.slice(-3000));
    const bad = await runScript(["-A", "bench/gemm_sweep.ts", "--tiny", "--winograd=5"]);
    assert(!bad.success && bad.out.includes("--winograd=5: expected 2, 4 or 6"), bad.out);
  },
});

/** Runs the sweep with `extra` arguments, checks its output, and returns it. */
async function sweepRuns(extra: string[]): Promise<string> {
  const { success, out } = await runScript(["-A", "bench/gemm_sweep.ts", "--tiny", ...extra]);
  const timing = extra.includes("--wall")
    ? "the wall clock"
    : gpu!.device.features.has("timestamp-query")
    ? "timestamps"
    : "the wall clock";
  assert(out.includes(`timing by ${timing}`), out.slice(0, 1000));
  assert(success, out.slice(-3000));
  const products = Number(/(\d+) distinct tiled products/.exec(out)?.[1]);
  assert(products >= 3, `products captured:\n${out.slice(-3000)}`);
  assert(!out.includes("WRONG") && !out.includes("failed ("), out.slice(-3000));
  assert(
    (out.match(/× the engine's tile: /g) ?? []).length >= 3 * products,
    `a line per shape timed:\n${out.slice(-3000)}`,
  );
  assert(/smallCNN templates: tiled products [\d.]+ ms at the engine's tiles/.test(out), out);
  return out;
}
