/**
 * bench/real_data_agreement.ts, on the software adapter with few images: the WebGPU engine's
 * codes on real MNIST images equal the float64 reference's (or differ only at near ties), and
 * the script catches the exact ties that Winograd in the recording pass broke (it exits 1).
 */
import { webgpuContext } from "../../lib/backend/webgpu/device.ts";
import { assert, assertMatch } from "../_assert.ts";
import { skipWithoutData } from "../experiments/_data.ts";

const gpu = await webgpuContext();

/** Runs the script on 4 MNIST images; its exit status and output. */
async function run(...extra: string[]): Promise<{ success: boolean; out: string }> {
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read=data",
      "--allow-write=data",
      "--allow-net",
      "bench/real_data_agreement.ts",
      "--datasets=mnist",
      "--n=4",
      ...extra,
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return { success, out: new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr) };
}

Deno.test({
  name:
    "bench/real_data_agreement.ts: MNIST codes on WebGPU equal the reference; broken ties are caught",
  ignore: gpu === null || await skipWithoutData("real-data agreement", ["mnist"]),
  async fn() {
    const ok = await run();
    assert(ok.success, ok.out.slice(-3000));
    for (const kernels of ["this adapter's", "a GPU's"]) {
      assertMatch(
        ok.out,
        new RegExp(`mnist, 4 images, smallCNN, ${kernels} kernels .*: 0 of 160384 codes differ`),
      );
    }
    const broken = await run("--winograd-recording");
    assert(!broken.success, broken.out.slice(-3000));
    assertMatch(broken.out, /AN EXACT TIE, broken/);
    assertMatch(broken.out, /differing code\(s\) not explained by a near tie/);
  },
});
