/**
 * Project hygiene as tests: formatting, lint, and type checks of everything the library
 * ships, run through the same Deno that runs the tests.
 */
import { assert } from "./_assert.ts";

async function deno(args: string[]): Promise<{ ok: boolean; out: string }> {
  const cmd = new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "piped" });
  const { success, stdout, stderr } = await cmd.output();
  const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  return { ok: success, out: text.slice(-3000) };
}

Deno.test("deno fmt --check is clean", async () => {
  const r = await deno(["fmt", "--check"]);
  assert(r.ok, r.out);
});

Deno.test("deno lint is clean", async () => {
  const r = await deno(["lint"]);
  assert(r.ok, r.out);
});

Deno.test("deno check passes for the library, benchmarks and scripts", async () => {
  const targets = ["mod.ts", "lib/", "bench/", "tests/"];
  const r = await deno(["check", ...targets]);
  assert(r.ok, r.out);
});

Deno.test("every exported symbol and field of the public API has a doc comment", async () => {
  // deno doc --lint also flags references to tfjs' own types (an npm dependency whose types
  // are not ours to document); any other finding, or a failure to run, is ours
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["doc", "--lint", "mod.ts"],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
  const { stdout, stderr } = await cmd.output();
  const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  const ours = text.split("\n").filter((l) =>
    /^error/.test(l) && !l.startsWith("error[private-type-ref]") &&
    !/^error: Found \d+ documentation lint errors?\.$/.test(l)
  );
  assert(ours.length === 0, ours.join("\n") + "\n" + text.slice(0, 3000));
});
