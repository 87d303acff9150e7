import { assert, assertEquals, assertStrictEquals, assertThrows } from "../_assert.ts";
import { histogramFigure } from "../../lib/plot/histogram.ts";
import { mulberry32 } from "./_random.ts";

/** Bin index of v for plotly's half-open bins [start + k·size, start + (k+1)·size). */
function binOf(v: number, start: number, size: number): number {
  return Math.floor((v - start) / size);
}

Deno.test("histogramFigure() puts every value of every series in one of `bins` shared bins", async (t) => {
  const rand = mulberry32(7);
  const a = Array.from({ length: 500 }, () => rand() * 3 - 1);
  const b = new Float64Array(300).map(() => rand() * 2 + 1.5);
  const fig = histogramFigure({
    name: "h",
    title: "Two",
    series: [{ label: "a", values: a }, { label: "b", values: b, color: "#123456" }],
    xTitle: "value",
    bins: 25,
  });
  assertStrictEquals(fig.data.length, 2);
  const [ta, tb] = fig.data;
  await t.step("traces are histograms of the values, overlaid, colour kept", () => {
    assertEquals([ta.type, tb.type], ["histogram", "histogram"]);
    assertEquals(ta.x, a);
    assertEquals(tb.x, Array.from(b));
    assertEquals([ta.name, tb.name], ["a", "b"]);
    assertEquals(tb.marker, { color: "#123456" });
    assertStrictEquals(ta.marker, undefined);
    assertStrictEquals(fig.layout.barmode, "overlay");
    assertStrictEquals(fig.layout.xaxis.title.text, "value");
    assertStrictEquals(fig.layout.yaxis.title.text, "count");
  });
  await t.step("bins are shared and span min..max in exactly 25 bins", () => {
    assertEquals(ta.xbins, tb.xbins);
    const { start, end, size } = ta.xbins;
    const all = [...a, ...b];
    const min = Math.min(...all), max = Math.max(...all);
    assertStrictEquals(start, min);
    assertStrictEquals(Math.round((end - start) / size), 25);
    assert(Math.abs(size - (max - min) / 25) <= 1e-8 * ((max - min) / 25), `size ${size}`);
    const counts = new Array(25).fill(0);
    for (const v of all) {
      const k = binOf(v, start, size);
      assert(k >= 0 && k < 25, `value ${v} falls in bin ${k}`);
      counts[k]++;
    }
    assertStrictEquals(binOf(max, start, size), 24, "the maximum is in the last bin");
    assertStrictEquals(counts.reduce((s, c) => s + c, 0), 800);
  });
});

Deno.test("histogramFigure() edge cases", async (t) => {
  await t.step("a constant series gets bins around its value", () => {
    const fig = histogramFigure({
      name: "c",
      title: "c",
      series: [{ label: "c", values: [2, 2, 2] }],
      xTitle: "x",
      bins: 3,
    });
    const { start, end, size } = fig.data[0].xbins;
    assert(size > 0 && start < 2 && 2 < end);
    assertStrictEquals(binOf(2, start, size), 0);
    assertStrictEquals(Math.round((end - start) / size), 3);
  });
  await t.step("an empty series next to a full one is kept; all empty is an error", () => {
    const fig = histogramFigure({
      name: "e",
      title: "e",
      series: [{ label: "empty", values: [] }, { label: "one", values: [1, 3] }],
      xTitle: "x",
    });
    assertEquals(fig.data[0].x, []);
    assertStrictEquals(Math.round((fig.data[0].xbins.end - 1) / fig.data[0].xbins.size), 40);
    assertThrows(
      () =>
        histogramFigure({
          name: "e",
          title: "e",
          series: [{ label: "a", values: [] }],
          xTitle: "",
        }),
      /all series are empty/,
    );
  });
  await t.step("NaN, Infinity, bad bins and no series are rejected with the value", () => {
    const base = { name: "h", title: "h", xTitle: "x" };
    assertThrows(
      () => histogramFigure({ ...base, series: [{ label: "a", values: [1, NaN] }] }),
      (e) => e instanceof RangeError && /series "a" has value NaN at index 1/.test(e.message),
    );
    assertThrows(
      () => histogramFigure({ ...base, series: [{ label: "a", values: [Infinity] }] }),
      /value Infinity/,
    );
    assertThrows(
      () => histogramFigure({ ...base, series: [{ label: "a", values: [1] }], bins: 0 }),
      /bins 0 is not in \[1, 10000\]/,
    );
    assertThrows(() => histogramFigure({ ...base, series: [] }), /series is empty/);
  });
  await t.step("histnorm sets the y title", () => {
    const fig = histogramFigure({
      name: "n",
      title: "n",
      series: [{ label: "a", values: [1, 2] }],
      xTitle: "x",
      histnorm: "probability density",
    });
    assertStrictEquals(fig.data[0].histnorm, "probability density");
    assertStrictEquals(fig.layout.yaxis.title.text, "probability density");
  });
});
