/**
 * The GPU benchmark that a GPU session runs (bench/webgpu_bench.ts), here on the software
 * adapter at tiny sizes: its parts, its variants in the order asked, a tiles file and the kernel
 * profile — a broken option would cost a lent GPU's minutes. It checks every workload against the
 * CPU reference before timing and exits non-zero where they differ.
 */
import { webgpuContext } from "../../lib/backend/webgpu/device.ts";
import { assert, assertMatch } from "../_assert.ts";
import { runScript } from "./_run_script.ts";

const gpu = await webgpuContext();

/** Runs the benchmark at tiny sizes with `args`: its exit status and output. */
const bench = (...args: string[]) =>
  runScript(["-A", "bench/webgpu_bench.ts", "--tiny", "--reps=1", ...args]);

Deno.test({
  name:
    "bench/webgpu_bench.ts: --parts, --variants in their order, --tiles (with --swept-winograd) and --profile",
  ignore: gpu === null,
  async fn() {
    const { success, out } = await bench(
      "--parts=smallCNN",
      "--profile",
      "--variants=winograd-recording,plain",
      "--tiles=bench/gpu_logs/h100_next_tiles.json",
      "--swept-winograd=6",
    );
    assert(success, out.slice(-3000));
    assert(!out.includes("kNN"), "--parts=smallCNN leaves the kNN out");
    assert(!out.includes("largeCNN"), "and largeCNN");
    assertMatch(out, /agreement smallCNN templates A: [\d.e+-]+ of the largest value \(ok/);
    assertMatch(out, /by kind, share of an image's time: /);
    // the variants in the order asked, the tiles file's after them
    const order = ["Winograd in the pass that records", "plain tiles", "the GEMM sweep's best"]
      .map((v) => out.indexOf(`variant: smallCNN ${v}`));
    assert(order.every((i, k) => i > 0 && (k === 0 || i > order[k - 1])), `order ${order}`);
    assertMatch(
      out,
      /the GEMM sweep's best tiles \(4 products, [^)]*\), Winograd F\(6 × 6, 3 × 3\)/,
    );
    assertMatch(out, /agreement smallCNN templates A, the GEMM sweep's best tiles .* \(ok/);
  },
});

Deno.test({
  name: "bench/webgpu_bench.ts refuses unknown parts, variants and tiles, naming them",
  ignore: gpu === null,
  async fn() {
    const parts = await bench("--parts=smallCNN,resnet");
    assert(!parts.success);
    assertMatch(parts.out, /--parts: resnet, expected some of knn,smallCNN,largeCNN/);
    const variants = await bench("--parts=smallCNN", "--variants=plain,fast");
    assert(!variants.success);
    assertMatch(variants.out, /Unknown variant\(s\) fast: expected some of /);
    const m = await bench(
      "--parts=smallCNN",
      "--tiles=bench/gpu_logs/h100_next_tiles.json",
      "--swept-winograd=5",
    );
    assert(!m.success);
    assertMatch(m.out, /--swept-winograd=5: expected 2, 4 or 6/);
  },
});
