import { decode } from "fast-png";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStrictEquals,
} from "../_assert.ts";
import {
  ChromiumNotFoundError,
  exportFigure,
  exportFigures,
  figureHtml,
} from "../../lib/plot/export.ts";
import { figureBundle } from "../../lib/plot/display.ts";
import { imageGridFigure } from "../../lib/plot/image_grid.ts";
import { lineFigure } from "../../lib/plot/lines.ts";
import type { Figure } from "../../lib/plot/figure.ts";
import { launchChromium } from "../../lib/plot/_chromium.ts";
import { plotlySourceText } from "../../lib/plot/_plotly_source.ts";

const lines: Figure = lineFigure({
  name: "curve",
  title: "Curve title",
  x: [0, 1, 2, 3],
  series: [{ label: "loss", y: [3, 1, 2, 0.5] }],
  xTitle: "epoch",
  yTitle: "loss",
});

/** A 2×2 signed heatmap: blue (negative) and red (positive) must both show up. */
const signs: Figure = imageGridFigure({
  name: "signs",
  title: "Signs",
  images: [{ title: "t", height: 2, width: 2, channels: 1, data: [-1, 1, 1, -1] }],
  columns: 1,
});

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

/** Everything in the HTML except the inlined plotly.js. */
function withoutLibrary(html: string): string {
  const source = plotlySourceText();
  const at = html.indexOf(source.slice(0, 200));
  const end = html.indexOf(source.slice(-200)) + 200;
  assert(at > 0 && end > at, "the plotly.js source is inlined");
  return html.slice(0, at) + html.slice(end);
}

Deno.test("exportFigures() writes self-contained offline HTML without a browser", async () => {
  const dir = await Deno.makeTempDir({ prefix: "masokit-export-test-" });
  try {
    const paths = await exportFigures([lines, signs], {
      dir: `${dir}/sub`,
      formats: ["html", "html"],
    });
    assertEquals(paths, [`${dir}/sub/curve.html`, `${dir}/sub/signs.html`]);
    assertEquals(await listDir(`${dir}/sub`), ["curve.html", "signs.html"], "no temp files left");
    const html = await Deno.readTextFile(paths[0]);
    assert(html.startsWith("<!DOCTYPE html>"));
    assert(html.includes("<title>Curve title</title>"));
    assert(html.includes(plotlySourceText().slice(1000, 3000)), "plotly.js inlined");
    assert(html.length > plotlySourceText().length);
    // The figure JSON is embedded as data.
    assert(html.includes(JSON.stringify(lines.data[0].y)));
    assert(html.includes('"title":{"text":"epoch"}'));
    // No script or stylesheet is fetched: no external src/href and no URL outside plotly.js.
    assert(!/<script[^>]*\ssrc=|<link[^>]*\shref=/i.test(html));
    assert(!/https?:\/\//.test(withoutLibrary(html)), "a URL outside the library");
    assert(!/cdn\.plot\.ly\/plotly|cdn\.jsdelivr\.net\/npm\/plotly/.test(html));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exportFigures() validates its options before writing anything", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "masokit-export-test-" });
  try {
    await t.step("formats", async () => {
      await assertRejects(
        () => exportFigure(lines, { dir, formats: ["jpg" as "png"] }),
        /format "jpg" is not "html", "png" or "svg"/,
      );
      await assertRejects(() => exportFigure(lines, { dir, formats: [] }), /non-empty list/);
    });
    await t.step("sizes, names and duplicates", async () => {
      await assertRejects(
        () => exportFigure(lines, { dir, formats: ["html"], width: 0 }),
        /width 0 is not an integer in \[1, 20000\]/,
      );
      await assertRejects(
        () => exportFigure({ ...lines, name: "../x" }, { dir, formats: ["html"] }),
        /figure name "..\/x" is not letters/,
      );
      await assertRejects(
        () => exportFigures([lines, lines], { dir, formats: ["html"] }),
        /two figures are named "curve"/,
      );
    });
    assertEquals(await listDir(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exportFigures() without Chromium says where it looked and how to install it", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "masokit-export-test-" });
  try {
    await t.step("missing executable: nothing is written, HTML-only still works", async () => {
      const err = await exportFigures([lines], {
        dir,
        formats: ["html", "png"],
        executablePath: "/nonexistent/chromium",
      }).then(() => null, (e) => e);
      assert(err instanceof ChromiumNotFoundError, String(err));
      assertStrictEquals(err.executablePath, "/nonexistent/chromium");
      assertMatch(err.message, /Chromium was not found at "\/nonexistent\/chromium"/);
      assertMatch(err.message, /apt-get install chromium/);
      assertMatch(err.message, /MASOKIT_CHROMIUM/);
      assertMatch(err.message, /formats: \["html"\]/);
      assertEquals(await listDir(dir), []);
      assertEquals(await exportFigures([lines], { dir, formats: ["html"] }), [
        `${dir}/curve.html`,
      ]);
    });
    await t.step("an executable that is not a browser fails to start", async () => {
      const err = await exportFigure(signs, {
        dir,
        formats: ["svg"],
        executablePath: "/bin/false",
      }).then(() => null, (e) => e);
      assert(err instanceof ChromiumNotFoundError, String(err));
      assertMatch(err.message, /Chromium failed to start .* at "\/bin\/false"/);
      assertEquals(await listDir(dir), ["curve.html"], "no image, no leftover profile");
      // a folder the call made is removed again when nothing could be written
      const fresh = `${dir}/new/figures`;
      await assertRejects(
        () => exportFigure(signs, { dir: fresh, formats: ["svg"], executablePath: "/bin/false" }),
        ChromiumNotFoundError,
      );
      assertEquals(await listDir(`${dir}/new`), [], "the new folder is gone");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exportFigures() without run permission names the flags it needs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "masokit-export-test-" });
  try {
    const script = `
      import { exportFigure } from "${new URL("../../lib/plot/export.ts", import.meta.url)}";
      const fig = { name: "p", title: "P", data: [], layout: {} };
      try {
        await exportFigure(fig, { dir: ${JSON.stringify(dir)}, formats: ["png"] });
      } catch (e) {
        console.log(String(e));
      }`;
    // `deno run -` reads the program from stdin (`deno eval` would grant every permission).
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-check", "--allow-read", `--allow-write=${dir}`, "--allow-env", "-"],
      cwd: new URL("../..", import.meta.url).pathname,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(script));
    await writer.close();
    const out = await child.output();
    const text = new TextDecoder().decode(out.stdout);
    assertStrictEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    assertMatch(text, /Cannot export PNG\/SVG: no run permission/);
    assertMatch(text, /--allow-run=\/usr\/bin\/chromium --allow-env/);
    assertEquals(await listDir(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "exportFigures() renders PNG and SVG in Chromium, and the HTML draws offline",
  // One Chromium for the whole file (its pipe outlives single steps).
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "masokit-export-test-" });
    const session = await launchChromium({ profileParent: dir });
    try {
      const browser = session.browser;
      const paths = await exportFigures([lines, signs], {
        dir,
        formats: ["png", "svg", "html"],
        width: 400,
        height: 300,
        browser,
      });
      assertEquals(
        paths.map((p) => p.slice(dir.length + 1)),
        ["curve.png", "curve.svg", "curve.html", "signs.png", "signs.svg", "signs.html"],
      );
      const profiles = (await listDir(dir)).filter((n) => n.startsWith("."));
      assertEquals(profiles, [], "no temp files");

      await t.step("PNG has the requested size and real content", async () => {
        const png = decode(await Deno.readFile(`${dir}/curve.png`));
        assertEquals([png.width, png.height], [400, 300]);
        const colours = new Set<number>();
        const step = png.channels;
        for (let i = 0; i < png.data.length; i += step) {
          colours.add((png.data[i] << 16) | (png.data[i + 1] << 8) | png.data[i + 2]);
        }
        assert(colours.size > 10, `${colours.size} distinct colours`);
      });
      await t.step("a signed heatmap shows both blue and red pixels", async () => {
        const png = decode(await Deno.readFile(`${dir}/signs.png`));
        assertEquals([png.width, png.height], [400, 300]);
        let red = 0, blue = 0;
        for (let i = 0; i < png.data.length; i += png.channels) {
          const r = png.data[i], b = png.data[i + 2];
          if (r > b + 100) red++;
          if (b > r + 100) blue++;
        }
        assert(red > 1000 && blue > 1000, `red ${red}, blue ${blue}`);
      });
      await t.step("scale multiplies the PNG's pixels", async () => {
        const [path] = await exportFigure({ ...lines, name: "curve2x" }, {
          dir,
          formats: ["png"],
          width: 200,
          height: 100,
          scale: 2,
          browser,
        });
        const png = decode(await Deno.readFile(path));
        assertEquals([png.width, png.height], [400, 200]);
      });
      await t.step(
        "SVG is an <svg> document of the requested size with the figure's text",
        async () => {
          const svg = await Deno.readTextFile(`${dir}/curve.svg`);
          assertMatch(svg, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
          assertMatch(svg, /<\/svg>\s*$/);
          assertMatch(svg, /^<svg[^>]* width="400" height="300"/);
          assert(svg.includes(">Curve title<") && svg.includes(">epoch<"));
        },
      );
      await t.step(
        "the exported HTML and a later notebook output draw without network",
        async () => {
          const page = await browser.newPage();
          const requests: string[] = [];
          await page.setRequestInterception(true);
          page.on("request", (r) => {
            if (/^(https?|wss?):/.test(r.url())) {
              requests.push(r.url());
              void r.abort();
            } else void r.continue();
          });
          await page.setContent(await Deno.readTextFile(`${dir}/curve.html`), {
            waitUntil: "load",
          });
          await page.waitForFunction(
            `document.querySelectorAll("div[id^=masokit-curve-] .main-svg .scatterlayer .trace")` +
              `.length === 1`,
            { timeout: 20_000 },
          );
          // A later Jupyter output (no library) whose script runs before plotly.js is back:
          // it waits for window.Plotly, then draws. Scripts run the way JupyterLab runs them.
          const bundle = figureBundle(signs, { divId: "later" });
          await page.evaluate(`(() => {
          window.__plotly = window.Plotly; delete window.Plotly;
          const wrapper = document.createElement("div");
          wrapper.innerHTML = ${JSON.stringify(bundle["text/html"])};
          document.body.append(wrapper);
          for (const old of wrapper.querySelectorAll("script")) {
            const s = document.createElement("script");
            s.text = old.text;
            old.replaceWith(s);
          }
          setTimeout(() => { window.Plotly = window.__plotly; }, 200);
        })()`);
          assertStrictEquals(
            await page.evaluate(`!!document.querySelector("#later .main-svg")`),
            false,
          );
          await page.waitForFunction(`!!document.querySelector("#later .main-svg .hm")`, {
            timeout: 20_000,
          });
          assertEquals(requests, []);
          await page.close();
        },
      );
      await t.step("figureHtml() fixes the div size when asked", () => {
        const html = figureHtml(lines, { width: 640, height: 480 });
        assertMatch(html, /<div id="masokit-curve-[0-9a-f]+" style="width:640px;height:480px">/);
      });
    } finally {
      await session.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
