import { assert, assertEquals } from "../_assert.ts";

const ROOT = new URL("../../", import.meta.url);

/**
 * Runs `reproduce.ts` with no permissions at all: a bad command line must be refused (exit 2,
 * a message naming the value) before anything runs; a script that goes on fails on its first
 * file or environment access instead (exit 1), so a wrongly accepted flag never starts the
 * experiments here.
 */
async function reproduce(...args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "reproduce.ts", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("reproduce.ts refuses bad flags with exit 2 and a message naming them", async (t) => {
  const cases: [string[], string][] = [
    [["--bogus"], "Unknown option '--bogus'"],
    [["stray"], "Unexpected argument 'stray'"],
    // Number("") is 0: an empty seed ran the whole reproduction with seed 0
    [["--seed="], "--seed an integer, got '2' and ''"],
    [["--seed", "0x10"], "got '2' and '0x10'"],
    [["--threads", " "], "got ' ' and '1'"],
    // an empty --only ran every experiment
    [["--only="], "Unknown experiment ''"],
    // "" wrote out/figures and report.md into the file system's root
    [["--out="], "--out is empty, expected a folder"],
    // --full silently won over --scale tiny
    [["--full", "--scale", "tiny"], "--full and --scale tiny disagree"],
  ];
  for (const [args, message] of cases) {
    await t.step(args.join(" "), async () => {
      const { code, stderr } = await reproduce(...args);
      assertEquals(code, 2, stderr);
      assert(stderr.includes(message), stderr);
      assert(!stderr.includes("Uncaught"), stderr);
    });
  }
  await t.step("--help wins over other flags' values", async () => {
    const { code } = await reproduce("--help", "--shard", "x");
    assertEquals(code, 0);
  });
});
