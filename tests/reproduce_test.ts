/**
 * Runs `deno task reproduce` at the tiny scale, as a user would (same task, same
 * permissions), and checks that every figure and the report exist and hold numbers.
 */
import { assert, assertMatch } from "./_assert.ts";

Deno.test({
  name: "deno task reproduce --scale tiny writes every figure and a report with numbers",
  sanitizeResources: false,
  async fn() {
    const root = new URL("../", import.meta.url).pathname;
    const out = "out/test-reproduce-tiny";
    await Deno.remove(`${root}${out}`, { recursive: true }).catch(() => {});
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["task", "reproduce", "--scale", "tiny", "--out", out],
      cwd: root,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const log = new TextDecoder().decode(r.stderr).slice(-6000);
    assert(r.success, `reproduce failed:\n${log}`);
    const report = await Deno.readTextFile(`${root}${out}/report.md`);
    for (
      const title of [
        "affine mapping formula",
        "templates",
        "memorization",
        "orthogonal",
        "partition",
      ]
    ) {
      assertMatch(report.toLowerCase(), new RegExp(`## .*${title}`), `section '${title}'`);
    }
    assertMatch(report, /Claims that held: \*\*\d+ of \d+\*\*/);
    // every claim row carries a measured number
    const rows = report.split("\n").filter((l) => /^\| (?!paper claim|---)/.test(l));
    assert(rows.length >= 5, `only ${rows.length} claim rows`);
    for (const row of rows) assertMatch(row, /\d/, `claim row without a number: ${row}`);
    // every figure listed in the report exists, with its HTML holding plotly data
    const links = [...report.matchAll(/\]\((figures\/[^)]+)\)/g)].map((m) => m[1]);
    assert(links.length >= 5, `only ${links.length} figure files linked`);
    for (const link of links) {
      const stat = await Deno.stat(`${root}${out}/${link}`);
      assert(stat.size > 100, `${link} is ${stat.size} bytes`);
      if (link.endsWith(".html")) {
        assertMatch(await Deno.readTextFile(`${root}${out}/${link}`), /"data":\s*\[/);
      }
    }
    if (Deno.env.get("MASOKIT_REQUIRE_NOTEBOOKS") === "1") {
      assert(links.some((l) => l.endsWith(".png")), "CI has Chromium: PNG figures expected");
      assert(links.some((l) => l.endsWith(".svg")), "CI has Chromium: SVG figures expected");
    }
    await Deno.remove(`${root}${out}`, { recursive: true });
  },
});
