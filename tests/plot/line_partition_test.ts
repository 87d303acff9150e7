import { assert, assertEquals, assertStrictEquals, assertThrows } from "../_assert.ts";
import { SplineNetwork } from "../../lib/network/spline_network.ts";
import { linePartition } from "../../lib/geometry/line_partition.ts";
import { linePartitionFigure } from "../../lib/plot/line_partition.ts";

// outputs relu(t − 0.3) and relu(0.6 − t) on [0, 1]: breaks at 0.3 and 0.6; class 1 while
// 0.6 − t > relu(t − 0.3), i.e. t < 0.45, then class 0
const net = new SplineNetwork([1], [
  {
    kind: "dense",
    name: "d",
    inputShape: [1],
    outputShape: [2],
    units: 2,
    kernel: Float64Array.of(1, -1),
    bias: Float64Array.of(-0.3, 0.6),
  },
  { kind: "relu", name: "r", inputShape: [2], outputShape: [2] },
]);
const p = linePartition(net, { origin: [0], direction: [1] });

Deno.test("linePartitionFigure() draws the outputs through the breaks, the breaks, and the classes as bands", () => {
  const fig = linePartitionFigure(p, {
    name: "line",
    title: "t",
    classNames: ["up", "down"],
    points: [{ t: 0, text: "a" }],
  });
  assertEquals(fig.data.map((t) => t.name), ["up", "down", "3 regions (r)", "points"]);
  const close = (a: number[], b: number[]) =>
    a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) < 1e-15);
  assert(close(fig.data[0].x, [0, 0.3, 0.6, 1]), `${fig.data[0].x}`);
  assert(close(fig.data[0].y, [0, 0, 0.3, 0.7]), `up: ${fig.data[0].y}`);
  assert(close(fig.data[1].y, [0.6, 0.3, 0, 0]), `down: ${fig.data[1].y}`);
  // two ticks below the outputs (which span [0, 0.7]), at the breaks
  assert(close(fig.data[2].x.filter((v: number | null) => v !== null), [0.3, 0.3, 0.6, 0.6]));
  assert(close(fig.data[2].y.slice(0, 2), [-0.056, -0.014]), `${fig.data[2].y}`);
  const bands = fig.layout.shapes as { x0: number; x1: number; fillcolor: string }[];
  assertStrictEquals(bands.length, 2);
  assert(close(bands.map((b) => b.x0), [0, 0.45]) && close(bands.map((b) => b.x1), [0.45, 1]));
  // the band of class 1 has the colour of class 1's line
  assert(bands[0].fillcolor.startsWith("rgba(255,127,14"), bands[0].fillcolor);
  assertStrictEquals(fig.data[1].line.color, "#ff7f0e");
});

Deno.test("linePartitionFigure() refuses a bad level, too few class names, a bad name", () => {
  assertThrows(
    () => linePartitionFigure(p, { name: "a", title: "t", level: 1 }),
    RangeError,
    "level is 1",
  );
  assertThrows(
    () => linePartitionFigure(p, { name: "a", title: "t", classNames: ["x"] }),
    RangeError,
    "1 class names for 2 outputs",
  );
  assertThrows(() => linePartitionFigure(p, { name: "a b", title: "t" }), Error, "a b");
  assertThrows(
    () => linePartitionFigure(p, { name: "a", title: "t", points: [{ t: NaN, text: "x" }] }),
    RangeError,
    "points[0].t is NaN",
  );
});
