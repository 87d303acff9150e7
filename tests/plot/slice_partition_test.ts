import { assert, assertEquals, assertStrictEquals, assertThrows } from "../_assert.ts";
import { SplineNetwork } from "../../lib/network/spline_network.ts";
import { slicePartition } from "../../lib/geometry/slice_partition.ts";
import { slicePartitionFigure } from "../../lib/plot/slice_partition.ts";

// outputs relu(0.6 − u) and relu(u − 0.3) on [0, 1]²: class 1 where u − 0.3 > 0.6 − u,
// i.e. u > 0.45; the ReLUs cut at u = 0.3 and u = 0.6: three regions, one boundary at u = 0.45
const net = new SplineNetwork([2], [
  {
    kind: "dense",
    name: "d",
    inputShape: [2],
    outputShape: [2],
    units: 2,
    kernel: Float64Array.of(-1, 1, 0, 0),
    bias: Float64Array.of(0.6, -0.3),
  },
  { kind: "relu", name: "r", inputShape: [2], outputShape: [2] },
]);
const p = slicePartition(net, { origin: [0, 0], directions: [[1, 0], [0, 1]] });

Deno.test("slicePartitionFigure() fills each class, outlines the regions and draws the boundary", () => {
  assertStrictEquals(p.regions.length, 3);
  const fig = slicePartitionFigure(p, {
    name: "slice",
    title: "t",
    classNames: ["left", "right"],
    points: [{ u: 0.1, v: 0.2, text: "a" }],
  });
  assertEquals(fig.data.map((t) => t.name), [
    "left",
    "right",
    "regions (r)",
    "decision boundary",
    "points",
  ]);
  // each polygon is closed and followed by a gap: regions' outline has 3 gaps
  const gaps = (t: { x?: unknown }) => (t.x as (number | null)[]).filter((v) => v === null).length;
  assertStrictEquals(gaps(fig.data[2]), 3);
  // the boundary is the segment u = 0.45 from v = 0 to 1
  const b = fig.data[3] as { x: (number | null)[]; y: (number | null)[] };
  const xs = b.x.filter((v): v is number => v !== null),
    ys = b.y.filter((v): v is number => v !== null);
  assert(xs.length >= 2 && xs.every((v) => Math.abs(v - 0.45) < 1e-12), `boundary at u = ${xs}`);
  assertEquals([Math.min(...ys), Math.max(...ys)], [0, 1]);
  // the class areas: left 0.45, right 0.55
  const area = (t: { x?: unknown; y?: unknown }) => {
    const x = t.x as (number | null)[], y = t.y as (number | null)[];
    let a = 0;
    for (let i = 0; i + 1 < x.length; i++) {
      if (x[i] === null || x[i + 1] === null) continue;
      a += x[i]! * y[i + 1]! - x[i + 1]! * y[i]!;
    }
    return a / 2;
  };
  assert(Math.abs(area(fig.data[0]) - 0.45) < 1e-12 && Math.abs(area(fig.data[1]) - 0.55) < 1e-12);
  assertStrictEquals(fig.layout.yaxis.scaleanchor, "x");
});

Deno.test("slicePartitionFigure() refuses a bad level, too few class names, a bad name", () => {
  assertThrows(
    () => slicePartitionFigure(p, { name: "a", title: "t", level: 1 }),
    RangeError,
    "level is 1",
  );
  assertThrows(
    () => slicePartitionFigure(p, { name: "a", title: "t", classNames: ["x"] }),
    RangeError,
    "1 class names for 2 outputs",
  );
  assertThrows(() => slicePartitionFigure(p, { name: "a b", title: "t" }), Error, "a b");
  assertThrows(
    () =>
      slicePartitionFigure(p, {
        name: "a",
        title: "t",
        points: [{ u: 0, v: Infinity, text: "x" }],
      }),
    RangeError,
    "points[0].v is Infinity",
  );
});
