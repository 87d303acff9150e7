import { assert, assertEquals, assertStrictEquals, assertThrows } from "../_assert.ts";
import { lineFigure } from "../../lib/plot/lines.ts";

Deno.test("lineFigure() draws each series over x, with its band as a closed polygon", async (t) => {
  const x = [0.001, 0.01, 0.1, 1];
  const mean = new Float64Array([0.9, 0.92, 0.95, 0.8]);
  const std = [0.01, 0.02, 0.01, 0.05];
  const lower = Array.from(mean, (m, i) => m - std[i]);
  const upper = Array.from(mean, (m, i) => m + std[i]);
  const fig = lineFigure({
    name: "acc",
    title: "Accuracy vs λ",
    x,
    series: [
      { label: "smallCNN", y: mean, band: { lower, upper } },
      { label: "mlp", y: [0.5, NaN, 0.6, 0.7], color: "#000000" },
    ],
    xTitle: "λ",
    yTitle: "test accuracy",
    xType: "log",
  });
  await t.step("one band trace then its line, then the band-less series", () => {
    assertStrictEquals(fig.data.length, 3);
    const [band, line, plain] = fig.data;
    assertStrictEquals(band.fill, "toself");
    assertStrictEquals(band.showlegend, false);
    assertEquals([line.name, plain.name], ["smallCNN", "mlp"]);
    assertEquals(line.x, x);
    assertEquals(line.y, Array.from(mean));
    assertStrictEquals(band.legendgroup, line.legendgroup);
    assertStrictEquals(line.line.color, band.line.color);
    assertStrictEquals(band.fillcolor, "rgba(31,119,180,0.2)");
    assertStrictEquals(plain.line.color, "#000000");
    assert(Number.isNaN(plain.y[1]), "NaN kept as a gap");
  });
  await t.step("the band polygon goes along upper and back along lower", () => {
    const band = fig.data[0];
    assertStrictEquals(band.x.length, 2 * x.length);
    assertStrictEquals(band.y.length, 2 * x.length);
    for (let i = 0; i < x.length; i++) {
      const back = 2 * x.length - 1 - i;
      assertStrictEquals(band.x[i], x[i]);
      assertStrictEquals(band.x[back], x[i]);
      assertStrictEquals(band.y[i], mean[i] + std[i]);
      assertStrictEquals(band.y[back], mean[i] - std[i]);
      assert(band.y[back] <= fig.data[1].y[i] && fig.data[1].y[i] <= band.y[i]);
    }
  });
  await t.step("axes carry titles and types", () => {
    assertEquals(fig.layout.xaxis, { title: { text: "λ" }, type: "log" });
    assertEquals(fig.layout.yaxis, { title: { text: "test accuracy" } });
  });
});

Deno.test("lineFigure() edge cases", async (t) => {
  const base = { name: "l", title: "l", xTitle: "x", yTitle: "y" };
  await t.step("categorical x and markers off", () => {
    const fig = lineFigure({
      ...base,
      x: ["a", "b"],
      series: [{ label: "s", y: [1, 2] }],
      markers: false,
    });
    assertEquals(fig.data[0].x, ["a", "b"]);
    assertStrictEquals(fig.data[0].mode, "lines");
  });
  await t.step("a name that is no file name is refused when the figure is built", () => {
    for (const name of ["../evil", "a b", ""]) {
      assertThrows(
        () => lineFigure({ ...base, name, x: [1], series: [{ label: "s", y: [1] }] }),
        (e) =>
          e instanceof RangeError &&
          e.message.includes(`figure name ${JSON.stringify(name)} is not letters, digits`),
      );
    }
  });
  await t.step("a value that is not a number is refused, named (NaN is a gap)", () => {
    assertThrows(
      () => lineFigure({ ...base, x: [1, 2], series: [{ label: "s", y: [1, "a"] as never }] }),
      (e) =>
        e instanceof TypeError &&
        e.message.includes('series "s" y[1] is "a", expected a number (NaN for a gap)'),
    );
    const gap = lineFigure({ ...base, x: [1, 2], series: [{ label: "s", y: [1, NaN] }] });
    assertEquals(gap.data[0].y, [1, NaN]);
  });
  await t.step("length mismatches name the series and the lengths", () => {
    assertThrows(
      () => lineFigure({ ...base, x: [1, 2, 3], series: [{ label: "s", y: [1, 2] }] }),
      (e) =>
        e instanceof RangeError &&
        e.message.includes('series "s" y has 2 values, expected 3 (one per x)'),
    );
    assertThrows(
      () =>
        lineFigure({
          ...base,
          x: [1, 2],
          series: [{ label: "s", y: [1, 2], band: { lower: [0], upper: [2, 3] } }],
        }),
      /series "s" band.lower has 1 values, expected 2/,
    );
    assertThrows(() => lineFigure({ ...base, x: [1], series: [] }), /series is empty/);
  });
  await t.step("colours cycle through plotly's palette", () => {
    const fig = lineFigure({
      ...base,
      x: [0],
      series: Array.from({ length: 11 }, (_, i) => ({ label: `s${i}`, y: [i] })),
    });
    assertStrictEquals(fig.data[10].line.color, fig.data[0].line.color);
    assertStrictEquals(new Set(fig.data.slice(0, 10).map((d) => d.line.color)).size, 10);
  });
});
