/** The README's example runs as written (from the repository root). */
import { assert } from "./_assert.ts";

Deno.test("the README's example runs as written", async () => {
  const root = new URL("../", import.meta.url);
  const readme = await Deno.readTextFile(new URL("README.md", root));
  const block = readme.match(/```ts\n([\s\S]*?)```/)?.[1];
  assert(block, "README has a ```ts example");
  const file = new URL(`_readme_example_${crypto.randomUUID()}.ts`, root);
  await Deno.writeTextFile(file, block);
  try {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-env", "--allow-sys", file.pathname],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
    assert(r.success, out.slice(-3000));
    assert(out.includes("[ 5, 3, 64 ]"), out.slice(-3000));
  } finally {
    await Deno.remove(file);
  }
});
