import { assert, assertEquals, assertStrictEquals, assertThrows } from "../_assert.ts";
import { fromLayersModel } from "../../lib/network/from_layers_model.ts";
import { SplineNetwork } from "../../lib/network/spline_network.ts";
import { slicePoints } from "../../lib/geometry/input_slice.ts";
import { slicePartition } from "../../lib/geometry/slice_partition.ts";
import { sliceRegionAt } from "../../lib/geometry/slice_region_at.ts";
import { polygonContains } from "../../lib/geometry/_polygon.ts";
import { cases } from "../_cases.ts";
import { normals, rng } from "../_random_models.ts";

Deno.test("sliceRegionAt() finds at every level the region a linear scan finds", () => {
  const c = cases(4).find((k) => k.name.startsWith("CNN"))!;
  const net = fromLayersModel(c.model), D = net.inputSize, r = rng(11);
  const dir = () => Float64Array.from(normals(D, r), (t) => 0.08 * t);
  const p = slicePartition(net, {
    origin: Float64Array.from(normals(D, r)),
    directions: [dir(), dir()],
  });
  assert(p.regions.length > 20, `only ${p.regions.length} regions`);
  const uv: number[] = [];
  for (let i = 0; i < 400; i++) uv.push(1.2 * r() - 0.1, 1.2 * r() - 0.1); // some outside [0, 1]²
  let outside = 0, checked = 0;
  p.levels.forEach((level, l) => {
    const found = sliceRegionAt(p, uv, { level: l });
    for (let i = 0; i < 200; i++) {
      const u = uv[2 * i], v = uv[2 * i + 1];
      const all = level.regions.flatMap((reg, k) => polygonContains(reg.polygon, u, v) ? [k] : []);
      if (all.length === 0) {
        assertStrictEquals(found[i], -1, `(${u}, ${v}) lies in no region of level ${l}`);
        if (l === 0) outside++;
      } else {
        assert(all.includes(found[i]), `level ${l}: (${u}, ${v}) is in ${all}, got ${found[i]}`);
        checked++;
      }
    }
  });
  assert(outside > 10 && checked > 100, `${outside} outside, ${checked} inside`);
  // the default level is the last
  assertEquals(
    Array.from(sliceRegionAt(p, uv)),
    Array.from(sliceRegionAt(p, uv, { level: p.levels.length - 1 })),
  );
});

Deno.test("sliceRegionAt() without code layers: 0 inside the domain, −1 outside", () => {
  const net = new SplineNetwork([2], [
    {
      kind: "dense",
      name: "d",
      inputShape: [2],
      outputShape: [1],
      units: 1,
      kernel: Float64Array.of(1, 1),
      bias: null,
    },
  ]);
  const p = slicePartition(net, {
    origin: [0, 0],
    directions: [[1, 0], [0, 1]],
    domain: [0, 0, 1, 0, 0, 1],
  });
  assertEquals(Array.from(sliceRegionAt(p, [0.2, 0.2, 0.9, 0.9])), [0, -1]);
});

Deno.test("slicePoints() gives origin + u·d₁ + v·d₂ with the network's input shape", () => {
  const net = fromLayersModel(cases(1)[0].model), D = net.inputSize, r = rng(5);
  const s = { origin: normals(D, r), directions: [normals(D, r), normals(D, r)] as const };
  const x = slicePoints(net, s, [0, 0, 0.25, -2]);
  assertEquals(x.shape, [2, ...net.inputShape]);
  for (let k = 0; k < D; k++) {
    assertStrictEquals(x.data[k], s.origin[k]);
    const want = s.origin[k] + 0.25 * s.directions[0][k] - 2 * s.directions[1][k];
    assert(Math.abs(x.data[D + k] - want) <= 1e-15 * (1 + Math.abs(want)), `entry ${k}`);
  }
});

Deno.test("sliceRegionAt() and slicePoints() refuse bad input, naming it", () => {
  const net = new SplineNetwork([2], [{
    kind: "relu",
    name: "r",
    inputShape: [2],
    outputShape: [2],
  }]);
  const slice = { origin: [-0.5, -0.5], directions: [[1, 0], [0, 1]] as [number[], number[]] };
  const p = slicePartition(net, slice);
  assertThrows(
    () => sliceRegionAt(p, [0.1, 0.2, 0.3]),
    RangeError,
    "got 3 coordinates, expected pairs",
  );
  assertThrows(() => sliceRegionAt(p, [0.1, NaN]), RangeError, "coordinate 1 is NaN");
  assertThrows(
    () => sliceRegionAt(p, [0.1, 0.1], { level: 1 }),
    RangeError,
    "level is 1, expected an integer in [0, 0]",
  );
  assertThrows(() => sliceRegionAt(p, [0.1, 0.1], { levle: 0 } as never), Error, "levle");
  assertThrows(() => slicePoints(net, slice, [0.1]), RangeError, "got 1 coordinates");
  assertThrows(
    () => slicePoints(net, slice, [0.1, Infinity]),
    RangeError,
    "point 0 is (0.1, Infinity)",
  );
  assertThrows(
    () => slicePoints(net, { ...slice, origin: [1] }, [0, 0]),
    RangeError,
    "origin has 1 values, expected 2",
  );
});
