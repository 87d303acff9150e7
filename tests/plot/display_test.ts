import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "../_assert.ts";
import {
  display,
  type FigureBundle,
  figureBundle,
  inJupyterKernel,
} from "../../lib/plot/display.ts";
import type { Figure } from "../../lib/plot/figure.ts";
import { plotlySourceText } from "../../lib/plot/_plotly_source.ts";

const fig: Figure = {
  name: "demo_fig",
  title: "Demo </script> & <b>title</b>",
  data: [
    { type: "scatter", x: new Float32Array([0, 1, 2]), y: [1, NaN, 3], name: "a</script>" },
    { type: "histogram", x: [1, 2, 2] },
    { type: "histogram", x: [3] },
  ],
  layout: { height: 321, title: { text: "Demo" } },
};

/** The text of every inline `<script>` of an HTML string. */
function scripts(html: string): string[] {
  return [...html.matchAll(/<script[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
}

Deno.test("figureBundle() holds the plotly JSON, HTML and a one-line text", async (t) => {
  const bundle = figureBundle(fig, { divId: "div-1" });
  await t.step("plotly JSON is plain data/layout, typed arrays as arrays, NaN as null", () => {
    const json = bundle["application/vnd.plotly.v1+json"];
    assertEquals(json.data[0], {
      type: "scatter",
      x: [0, 1, 2],
      y: [1, null, 3],
      name: "a</script>",
    });
    assertEquals(json.layout, fig.layout);
    assertStrictEquals(json.data.length, 3);
  });
  await t.step("text/plain: title and a trace summary on one line", () => {
    const text = bundle["text/plain"];
    assert(!text.includes("\n"), text);
    assert(text.startsWith(fig.title), text);
    assertMatch(text, /"demo_fig": 3 traces \(scatter, histogram ×2\)/);
  });
  await t.step("text/html: a sized div, a script that draws it, no library by default", () => {
    const html = bundle["text/html"];
    assert(html.includes(`<div id="div-1" style="width:100%;height:321px" aria-label=`), html);
    const s = scripts(html);
    assertStrictEquals(s.length, 1);
    assert(s[0].includes("Plotly.newPlot"));
    assert(s[0].includes('"div-1"'));
    // The closing tag inside the data is escaped, so the script is not cut short.
    assert(!s[0].includes("</script"));
    assert(s[0].includes("a\\u003c/script>"));
    assert(html.includes("Demo &#60;/script&#62; &#38; &#60;b&#62;title&#60;/b&#62;"));
    assert(!/https?:\/\//.test(html), "no URL at all without the library");
    assert(html.length < 5000, `${html.length} chars`);
  });
  await t.step("the script's embedded figure parses back to the plotly JSON", () => {
    const m = /var fig = (.*);\n/.exec(scripts(bundle["text/html"])[0]);
    assert(m);
    assertEquals(JSON.parse(m[1]), bundle["application/vnd.plotly.v1+json"]);
  });
  await t.step("includeLibrary inlines plotly.js, escaped, before the figure", () => {
    const withLib = figureBundle(fig, { includeLibrary: true, divId: "div-2" })["text/html"];
    const s = scripts(withLib);
    assertStrictEquals(s.length, 2);
    const source = plotlySourceText();
    assert(s[0].length > source.length && s[0].length < source.length + 1000);
    assert(s[0].includes(source.slice(0, 2000)));
    assert(s[0].includes(source.slice(-2000)));
    assert(!/<\/script/i.test(s[0]) && !s[0].includes("<!--"));
    assert(s[1].includes("Plotly.newPlot"));
    assert(!/<script[^>]+src=/i.test(withLib), "no external script");
  });
  await t.step("random div ids differ; bad ids and names are rejected", () => {
    const a = figureBundle(fig)["text/html"], b = figureBundle(fig)["text/html"];
    const id = (h: string) => /<div id="([^"]+)"/.exec(h)![1];
    assertMatch(id(a), /^masokit-demo_fig-[0-9a-f]{12}$/);
    assert(id(a) !== id(b));
    assertThrows(() => figureBundle(fig, { divId: 'x" onload="' }), RangeError);
    assertThrows(() => figureBundle({ ...fig, name: "a b" }), /figure name "a b"/);
    assertThrows(
      () => figureBundle({ ...fig, data: undefined as unknown as [] }),
      /has no data array/,
    );
  });
});

Deno.test("display() does nothing outside the Jupyter kernel", async () => {
  let threw = false;
  try {
    (Deno as unknown as { jupyter: unknown }).jupyter;
  } catch {
    threw = true;
  }
  assert(threw, "this test runs outside `deno jupyter`, where Deno.jupyter throws");
  assertStrictEquals(inJupyterKernel(), false);
  assertStrictEquals(await display(fig), undefined);
  assertStrictEquals(await display([fig, fig]), undefined);
});

Deno.test("display() sends one raw bundle per figure, plotly.js in the first only", async () => {
  // A fresh module instance: its session state says the library was never sent.
  const fresh = await import(`../../lib/plot/display.ts?fresh=${Date.now()}`) as {
    display: typeof display;
  };
  const sent: { bundle: FigureBundle; opts: unknown }[] = [];
  const send = (bundle: unknown, opts?: unknown) => {
    sent.push({ bundle: bundle as FigureBundle, opts });
    return Promise.resolve();
  };
  const hasLibrary = (i: number) => scripts(sent[i].bundle["text/html"]).length === 2;
  assertStrictEquals(await fresh.display([fig, { ...fig, name: "second" }], { send }), undefined);
  assertStrictEquals(await fresh.display(fig, { send }), undefined);
  assertStrictEquals(sent.length, 3);
  assertEquals(sent.map((_, i) => hasLibrary(i)), [true, false, false]);
  assertEquals(sent[0].opts, { raw: true });
  assertEquals(Object.keys(sent[1].bundle).sort(), [
    "application/vnd.plotly.v1+json",
    "text/html",
    "text/plain",
  ]);
  assert(sent[1].bundle["text/plain"].includes('"second"'));
  // Asked explicitly (e.g. after clearing the first output): inlined again, once per call.
  await fresh.display([fig, fig], { send, includeLibrary: true });
  assertEquals(sent.slice(3).map((_, i) => hasLibrary(3 + i)), [true, false]);
  // A bad figure is rejected before anything is sent.
  await assertRejects(
    () => fresh.display([fig, { ...fig, name: "bad name" }], { send }),
    /figure name "bad name"/,
  );
  assertStrictEquals(sent.length, 5);
});
