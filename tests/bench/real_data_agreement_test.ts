/**
 * bench/real_data_agreement.ts, on the software adapter with few images: the WebGPU and tfjs
 * engines' codes on real MNIST images equal the float64 reference's, and
 * the script catches the exact ties that Winograd in the recording pass broke (it exits 1);
 * images written to a file and read back from it, as the GPU run takes them.
 */
import { webgpuContext } from "../../lib/backend/webgpu/device.ts";
import { assert, assertMatch } from "../_assert.ts";
import { skipWithoutData } from "../experiments/_data.ts";
import { runScript } from "./_run_script.ts";

const gpu = await webgpuContext();
const tmp = await Deno.makeTempDir();

/** Runs the script on MNIST images (4 unless `extra` says); its exit status and output. */
function run(...extra: string[]): Promise<{ success: boolean; out: string }> {
  return runScript([
    "--allow-read",
    `--allow-write=data,${tmp}`,
    "--allow-net",
    "--allow-env",
    "--allow-sys",
    "bench/real_data_agreement.ts",
    ...extra, // first: the script takes an option's first value
    "--datasets=mnist",
    "--n=4",
  ]);
}

Deno.test({
  name:
    "bench/real_data_agreement.ts: the float32 engines' MNIST codes equal the reference; broken ties are caught",
  ignore: gpu === null || await skipWithoutData("real-data agreement", ["mnist"]),
  async fn() {
    const ok = await run();
    assert(ok.success, ok.out.slice(-3000));
    assertMatch(ok.out, /mnist, top-4 neighbours of 5 codes \(1 duplicated\) .*: 0 indices differ/);
    for (
      const engine of ["WebGPU, this adapter's kernels", "WebGPU, a GPU's kernels", "tfjs engine"]
    ) {
      assertMatch(
        ok.out,
        new RegExp(`mnist, 4 images, smallCNN, ${engine} .*: 0 of 160384 codes differ`),
      );
    }
    const broken = await run("--winograd-recording");
    assert(!broken.success, broken.out.slice(-3000));
    assertMatch(broken.out, /AN EXACT TIE, broken/);
    assertMatch(broken.out, /differing code\(s\) or neighbour\(s\) not explained by a near tie/);
    // the GPU run's way: images written here, read there (no datasets on the GPU machine)
    const file = `${tmp}/images.json`;
    try {
      const written = await run("--n=2", `--write-sample=${file}`);
      assert(written.success, written.out.slice(-3000));
      assertMatch(written.out, /wrote 2 mnist images/);
      const read = await run(`--sample=${file}`);
      assert(read.success, read.out.slice(-3000));
      assertMatch(
        read.out,
        /mnist, 2 images, smallCNN, WebGPU, a GPU's kernels .*: 0 of 80192 codes differ/,
      );
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
