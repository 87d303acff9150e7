import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { sweepMain } from "../../lib/train/_sweep_cli.ts";
import { toyRegistry } from "../../lib/train/_toy_registry.ts";
import { readSweepResults } from "../../lib/train/sweep.ts";

/** `sweep.ts run` of one toy run into a fresh file: its exit code, output lines and results. */
async function run(extra: string[]) {
  const dir = await Deno.makeTempDir({ prefix: "masokit_sweep_cli_" });
  const lines: string[] = [];
  try {
    const args = ["run", "--archs", "mlp", "--datasets", "blobs", "--lambdas", "0", "--runs", "1"];
    const code = await sweepMain(
      [...args, "--epochs", "1", "--batch-size", "30", ...extra, "--out", `${dir}/r.jsonl`],
      { registry: toyRegistry, env: {}, print: (s) => lines.push(s), error: (s) => lines.push(s) },
    );
    const { results } = await readSweepResults([`${dir}/r.jsonl`], { allowMissing: true });
    return { code, lines, results };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// the CLI trained on whatever tfjs had started (tfjs-cpu, ≈40× slower than wasm): it now picks
Deno.test("sweep.ts run trains on the backend asked for, wasm by default", async () => {
  const cpu = await run(["--backend", "cpu"]);
  assertEquals(cpu.code, 0, cpu.lines.join("\n"));
  assertEquals(tf.getBackend(), "cpu");
  assert(cpu.lines.some((l) => /^sweep: tfjs backend cpu /.test(l)), cpu.lines.join("\n"));
  assertEquals(cpu.results.length, 1);

  const auto = await run(["--threads", "2"]);
  assertEquals(auto.code, 0, auto.lines.join("\n"));
  assertEquals(tf.getBackend(), "wasm");
  assert(
    auto.lines.some((l) => /^sweep: tfjs backend wasm \(auto: wasm \(XNNPACK/.test(l)),
    auto.lines.join("\n"),
  );
  assertEquals(auto.results.length, 1);
});

Deno.test("sweep.ts refuses a bad --backend or --threads, naming it", async () => {
  for (
    const [flags, message] of [
      [["--backend", "gpu"], /Unknown --backend 'gpu': expected auto, wasm, cpu or webgpu/],
      [["--threads", "0"], /Cannot use --threads 0: expected an integer in \[1, 8\]/],
      [["--threads", "two"], /Cannot parse --threads 'two': not a number/],
    ] as const
  ) {
    const r = await run([...flags]);
    assertEquals(r.code, 2);
    assertMatch(r.lines.join("\n"), message);
    assertEquals(r.results.length, 0);
  }
  // `plan` checks them too
  const lines: string[] = [];
  const code = await sweepMain(
    ["plan", "--archs", "mlp", "--datasets", "blobs", "--threads", "9"],
    { registry: toyRegistry, env: {}, print: (s) => lines.push(s), error: (s) => lines.push(s) },
  );
  assertEquals(code, 2);
  assertMatch(lines.join("\n"), /--threads 9/);
});
