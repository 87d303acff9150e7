/**
 * The pooled-transpose benchmark (bench/pooled_transpose_bench.ts) on tiny shapes: it runs, its
 * table reports the engine's choice for each shape (not its timings, which vary), its network mode
 * prints blocks and a kernel profile, and bad options are refused by name.
 */
import { assert, assertEquals } from "../_assert.ts";
import { runScript } from "./_run_script.ts";

const SCRIPT = "bench/pooled_transpose_bench.ts";

Deno.test("bench/pooled_transpose_bench.ts times both ways and reports the engine's choice", async () => {
  const { success, out } = await runScript([
    "-A",
    SCRIPT,
    "--runs=2",
    "--shapes=7,16,16,3,valid;8,16,16,3,same",
  ]);
  assert(success, out.slice(-2000));
  const rows = out.split("\n").filter((l) => l.startsWith("| ["));
  assertEquals(rows.length, 2, out);
  // | conv input → Cout, k, padding | batch | scatter | other way | ratio | engine scatters | right |
  const cells = rows.map((r) => r.split("|").map((c) => c.trim()));
  assert(cells[0][1].startsWith("[7,7,16] → 16, 3×3, valid"), rows[0]);
  assertEquals(cells[0][6], "true", rows[0]); // 784 floats a row
  assert(cells[1][1].startsWith("[8,8,16] → 16, 3×3, same"), rows[1]);
  assertEquals(cells[1][6], "false", rows[1]); // 1,024 floats: rows 4 KiB apart
  for (const c of cells) {
    assert([c[3], c[4], c[5]].every((v) => Number(v) > 0), c.join(" | "));
  }
});

Deno.test("bench/pooled_transpose_bench.ts --net prints its blocks and a kernel profile", async () => {
  const { success, out } = await runScript([
    "-A",
    SCRIPT,
    "--runs=2",
    "--net=smallCNN",
    "--profile",
  ]);
  assert(success, out.slice(-2000));
  assertEquals(
    out.match(/^- (by the rule|always scattered): .*\(median [\d.]+\)$/gm)?.length,
    4,
    out,
  );
  assertEquals(out.match(/^- kernels, (by the rule|always scattered): \d+ ms; /gm)?.length, 2, out);
});

Deno.test("bench/pooled_transpose_bench.ts refuses bad options, naming them", async () => {
  const cases: [string[], RegExp][] = [
    [["--runs=1"], /--runs=1: expected an integer ≥ 2/],
    [["--shapes=7,16,16,3,bogus"], /"7,16,16,3,bogus": expected H,Cin,Cout,k,padding/],
    [["--net=bigCNN"], /--net=bigCNN: expected smallCNN or largeCNN/],
    [["--profile"], /--profile: .*needs --net=/],
  ];
  for (const [args, message] of cases) {
    const { success, out } = await runScript(["-A", SCRIPT, ...args]);
    assert(!success, out);
    assert(message.test(out), out);
  }
});
