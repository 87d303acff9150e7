/**
 * Executes every notebook top to bottom through the real Jupyter with the Deno kernel
 * (`jupyter nbconvert --execute`); a throwing cell — including the assertions inside
 * the notebooks — fails the test. Without Jupyter the notebooks are skipped with a
 * visible notice, unless `MASOKIT_REQUIRE_NOTEBOOKS=1` (CI), which makes that a failure.
 */
import { assert } from "./_assert.ts";

const dir = new URL("../notebooks/", import.meta.url);
const notebooks = [...Deno.readDirSync(dir)]
  .filter((e) => e.isFile && e.name.endsWith(".ipynb"))
  .map((e) => e.name)
  .sort();

async function jupyterReady(): Promise<string | null> {
  try {
    const out = await new Deno.Command("jupyter", {
      args: ["kernelspec", "list", "--json"],
      stdout: "piped",
      stderr: "null",
    })
      .output();
    if (!out.success) return "`jupyter kernelspec list` failed";
    const specs = JSON.parse(new TextDecoder().decode(out.stdout)).kernelspecs ?? {};
    if (!("deno" in specs)) {
      return "the Deno kernel is not installed (run `deno jupyter --install`)";
    }
    const nb = await new Deno.Command("jupyter", {
      args: ["nbconvert", "--version"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    return nb.success ? null : "jupyter nbconvert is not installed";
  } catch {
    return "jupyter is not installed (apt-get install jupyter-nbconvert python3-nbclient jupyter-client python3-ipykernel)";
  }
}

const missing = await jupyterReady();
const required = Deno.env.get("MASOKIT_REQUIRE_NOTEBOOKS") === "1";
if (missing && !required) {
  console.warn(`NOTICE: skipping the ${notebooks.length} notebooks: ${missing}`);
}

Deno.test("there are notebooks to run", () => {
  assert(notebooks.length >= 5, `found ${notebooks.length} notebooks in ${dir.pathname}`);
});

for (const name of notebooks) {
  Deno.test({
    name: `notebook ${name} executes top to bottom in Jupyter with the Deno kernel`,
    ignore: missing !== null && !required,
    async fn() {
      assert(
        missing === null,
        `notebooks are required (MASOKIT_REQUIRE_NOTEBOOKS=1) but ${missing}`,
      );
      const out = await Deno.makeTempDir({ prefix: "masokit-nb-" });
      try {
        const run = () =>
          new Deno.Command("jupyter", {
            args: [
              "nbconvert",
              "--to",
              "notebook",
              "--execute",
              "--ExecutePreprocessor.timeout=900",
              "--output-dir",
              out,
              name,
            ],
            cwd: dir,
            env: {
              NO_COLOR: "1",
              MASOKIT_NOTEBOOK_SCALE: Deno.env.get("MASOKIT_NOTEBOOK_SCALE") ?? "tiny",
            },
            stdout: "piped",
            stderr: "piped",
          }).output();
        let r = await run();
        let log = new TextDecoder().decode(r.stderr).slice(-4000);
        // jupyter_client now and then rejects a Deno-kernel message's HMAC ("Invalid
        // Signature": a transport failure, no cell ran wrong; once twice in a row in CI):
        // run the notebook again, at most twice
        for (
          let retry = 1;
          retry <= 2 && !r.success && log.includes("Invalid Signature");
          retry++
        ) {
          console.warn(
            `NOTICE: ${name}: Jupyter rejected a kernel message signature; rerun ${retry} of 2`,
          );
          r = await run();
          log = new TextDecoder().decode(r.stderr).slice(-4000);
        }
        assert(r.success, `${name} failed:\n${log}`);
      } finally {
        await Deno.remove(out, { recursive: true });
      }
    },
  });
}
