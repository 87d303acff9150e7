import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertStrictEquals, assertThrows } from "../_assert.ts";
import { fromLayersModel } from "../../lib/network/from_layers_model.ts";
import { forward } from "../../lib/network/forward.ts";
import { SplineNetwork } from "../../lib/network/spline_network.ts";
import { partitionCodes } from "../../lib/partition/codes.ts";
import { type InputSlice, sliceThrough } from "../../lib/geometry/input_slice.ts";
import { type SlicePartition, slicePartition } from "../../lib/geometry/slice_partition.ts";
import { polygonArea, polygonCentroid, polygonContains } from "../../lib/geometry/_polygon.ts";
import { cases } from "../_cases.ts";
import { normals, rng } from "../_random_models.ts";

await tf.setBackend("cpu");

/** A slice through a random input along two random directions of length ≈ `scale`·√D. */
function randomSlice(net: SplineNetwork, seed: number, scale: number): InputSlice {
  const D = net.inputSize, r = rng(seed);
  const v = () => Float64Array.from(normals(D, r), (t) => t * scale);
  return { origin: Float64Array.from(normals(D, r)), directions: [v(), v()] };
}

/** The region of `p` holding `(u, v)` at least `margin` inside, or −1; throws if two do. */
function locate(p: SlicePartition, u: number, v: number, margin: number): number {
  let hit = -1;
  p.regions.forEach((r, i) => {
    if (!polygonContains(r.polygon, u, v, margin)) return;
    if (hit >= 0) throw new Error(`(${u}, ${v}) lies inside regions ${hit} and ${i}`);
    hit = i;
  });
  return hit;
}

/**
 * The brute-force check of a slice's partition: on a grid over the domain, the engine's own
 * codes (float64 forward pass at `x(u, v)`) are the same at every point of a region and differ
 * between regions, and each region's map gives the network's output there.
 */
function checkOnGrid(net: SplineNetwork, p: SlicePartition, grid: number): { regionsHit: number } {
  const { origin, directions: [d1, d2], domain } = p.slice;
  const us: number[] = [], vs: number[] = [], where: number[] = [];
  const lo = [Infinity, Infinity], hi = [-Infinity, -Infinity];
  for (let i = 0; i < domain.length; i++) {
    lo[i % 2] = Math.min(lo[i % 2], domain[i]);
    hi[i % 2] = Math.max(hi[i % 2], domain[i]);
  }
  const margin = 1e-9 * Math.max(hi[0] - lo[0], hi[1] - lo[1]);
  for (let i = 0; i < grid; i++) {
    for (let j = 0; j < grid; j++) {
      const u = lo[0] + (hi[0] - lo[0]) * (i + 0.5) / grid;
      const v = lo[1] + (hi[1] - lo[1]) * (j + 0.5) / grid;
      if (!polygonContains(domain, u, v, margin)) continue;
      const r = locate(p, u, v, margin);
      if (r < 0) continue; // on a boundary
      us.push(u), vs.push(v), where.push(r);
    }
  }
  const N = us.length, D = net.inputSize, C = p.outputs;
  assert(N > grid * grid / 4, `only ${N} grid points located`);
  const x = new Float64Array(N * D);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < D; k++) x[n * D + k] = origin[k] + us[n] * d1[k] + vs[n] * d2[k];
  }
  const batch = { data: x, shape: [N, ...net.inputShape] };
  const codes = partitionCodes(net, batch, { backend: "cpu" });
  const z = forward(net, batch).data;
  const key = (n: number) =>
    codes.map((l) =>
      l.kind === "max-pool"
        ? l.argmax.subarray(n * l.units, (n + 1) * l.units).join(",")
        : l.bits.subarray(n * l.words, (n + 1) * l.words).join(",")
    ).join("|");
  const regionKey = new Map<number, string>();
  let worst = 0, scale = 1;
  for (let n = 0; n < N; n++) {
    const r = where[n], k = key(n);
    const seen = regionKey.get(r);
    assert(
      seen === undefined || seen === k,
      `codes differ inside region ${r} at (${us[n]}, ${vs[n]})`,
    );
    regionKey.set(r, k);
    for (let c = 0; c < C; c++) {
      const m = p.maps.subarray(r * 3 * C, (r + 1) * 3 * C);
      const zc = us[n] * m[c] + vs[n] * m[C + c] + m[2 * C + c];
      worst = Math.max(worst, Math.abs(zc - z[n * C + c]));
      scale = Math.max(scale, Math.abs(z[n * C + c]));
    }
  }
  assert(worst <= 1e-12 * scale, `a region's map is off the network's output by ${worst}`);
  const keys = new Set(regionKey.values());
  assertStrictEquals(keys.size, regionKey.size, "two regions share their codes");
  return { regionsHit: regionKey.size };
}

/** Levels nest: each region lies in its parent, areas add up to the domain's at every level. */
function checkLevels(p: SlicePartition): void {
  const total = polygonArea(p.slice.domain);
  p.levels.forEach((level, l) => {
    const area = level.regions.reduce((s, r) => s + polygonArea(r.polygon), 0);
    assert(Math.abs(area - total) <= 1e-9 * total, `level ${l}: area ${area} of ${total}`);
    if (l === 0) {
      assert(level.regions.every((r) => r.parent === -1), "level 0 has no parents");
      return;
    }
    const up = p.levels[l - 1].regions;
    assert(level.regions.length >= up.length, `level ${l} has fewer regions than level ${l - 1}`);
    for (const r of level.regions) {
      const [u, v] = polygonCentroid(r.polygon);
      assert(
        polygonContains(up[r.parent].polygon, u, v, -1e-12),
        `level ${l}: a region outside its parent`,
      );
    }
  });
  assertStrictEquals(p.regions, p.levels.at(-1)?.regions ?? p.regions);
  const decided = p.decision.reduce((s, d) => s + polygonArea(d.polygon), 0);
  assert(Math.abs(decided - total) <= 1e-9 * total, `decision pieces cover ${decided} of ${total}`);
}

Deno.test("slicePartition() cuts a 2D input plane along exactly the known lines", () => {
  // relu(u − 0.3), relu(v − 0.6), relu(u + v − 1) on the unit square: three lines meeting
  // pairwise inside it, 7 regions; the first layer alone: 2 regions per line
  const net = new SplineNetwork([2], [
    {
      kind: "dense",
      name: "d",
      inputShape: [2],
      outputShape: [3],
      units: 3,
      kernel: Float64Array.of(1, 0, 1, 0, 1, 1),
      bias: Float64Array.of(-0.3, -0.6, -1),
    },
    { kind: "relu", name: "r", inputShape: [3], outputShape: [3] },
    {
      kind: "dense",
      name: "out",
      inputShape: [3],
      outputShape: [2],
      units: 2,
      kernel: Float64Array.of(1, 0, 0, 1, 1, -1),
      bias: null,
    },
  ]);
  const p = slicePartition(net, { origin: [0, 0], directions: [[1, 0], [0, 1]] });
  assertStrictEquals(p.levels.length, 1);
  assertStrictEquals(p.regions.length, 7);
  const areas = p.regions.map((r) => polygonArea(r.polygon)).sort((a, b) => a - b);
  // the triangle between the three lines: (0.3, 0.6), (0.3, 0.7), (0.4, 0.6)
  assert(Math.abs(areas[0] - 0.005) < 1e-15, `smallest region ${areas[0]}`);
  checkLevels(p);
  checkOnGrid(net, p, 40);
});

Deno.test("slicePartition() of |u − ½| + |v − ½| has a region per quadrant, one map each", () => {
  const net = new SplineNetwork([2], [
    { kind: "abs", name: "a", inputShape: [2], outputShape: [2] },
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
  const p = slicePartition(net, { origin: [-0.5, -0.5], directions: [[1, 0], [0, 1]] });
  assertStrictEquals(p.regions.length, 4);
  for (const [r, region] of p.regions.entries()) {
    assert(Math.abs(polygonArea(region.polygon) - 0.25) < 1e-15);
    const [u, v] = polygonCentroid(region.polygon);
    const m = p.maps.subarray(3 * r, 3 * r + 3);
    assertEquals([m[0], m[1]], [u > 0.5 ? 1 : -1, v > 0.5 ? 1 : -1]);
  }
  assertStrictEquals(p.decision.length, 4);
});

for (const c of cases(2)) {
  Deno.test(`slicePartition() agrees with the engine's codes and outputs on a grid: ${c.name}`, () => {
    const net = fromLayersModel(c.model);
    const scale = { 7: 1, 270: 0.02 }[net.inputSize] ?? 0.08;
    const p = slicePartition(net, randomSlice(net, 11, scale));
    checkLevels(p);
    const { regionsHit } = checkOnGrid(net, p, 48);
    assert(p.regions.length >= 4, `${p.regions.length} regions`);
    assert(
      regionsHit >= Math.min(p.regions.length, 48) / 4,
      `grid hit ${regionsHit} of ${p.regions.length}`,
    );
  });
}

Deno.test("slicePartition() handles max-pool windows whose entries are all equal (dead ReLUs)", () => {
  // conv → relu → max-pool: where a window's four ReLUs are dead its entries are all 0, and
  // any entry gives the same map; the engine records the first slot
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 1, activation: "relu" }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 2 }),
    ],
  });
  model.layers[0].setWeights([tf.tensor4d([1, -1], [1, 1, 1, 2]), tf.tensor1d([-0.5, -0.5])]);
  const net = fromLayersModel(model);
  const p = slicePartition(net, randomSlice(net, 5, 1));
  checkLevels(p);
  checkOnGrid(net, p, 60);
  const pool = partitionCodes(net, { data: new Float64Array(16).fill(-3), shape: [1, 4, 4, 1] }, {
    backend: "cpu",
  })[1];
  assertEquals(Array.from(pool.argmax), new Array(8).fill(0));
});

Deno.test("sliceThrough() puts the three inputs at (0, 0), (1, 0), (0, 1)", () => {
  const c = cases(3)[0];
  const net = fromLayersModel(c.model);
  const x = tf.slice(c.x, 0, 3);
  const s = sliceThrough(net, x);
  const p = slicePartition(net, s);
  const xs = x.dataSync();
  const D = net.inputSize;
  for (const [i, [u, v]] of [[0, 0], [1, 0], [0, 1]].entries()) {
    const r = p.regions.findIndex((r) => polygonContains(r.polygon, u, v, 0));
    assert(r >= 0, `input ${i} is in no region`);
    const z =
      forward(net, { data: Float64Array.from(xs.subarray(i * D, (i + 1) * D)), shape: [1, D] })
        .data;
    const C = p.outputs, m = p.maps.subarray(3 * C * r);
    for (let k = 0; k < C; k++) {
      assert(
        Math.abs(u * m[k] + v * m[C + k] + m[2 * C + k] - z[k]) < 1e-9,
        `input ${i}, output ${k}`,
      );
    }
  }
  x.dispose();
});

Deno.test("slicePartition() and sliceThrough() refuse bad input, naming it", async (t) => {
  const net = fromLayersModel(cases(1)[0].model);
  const good = randomSlice(net, 1, 0.1);
  const bad = (slice: unknown, re: RegExp, options?: unknown) =>
    assertThrows(() => slicePartition(net, slice as InputSlice, options as never), re);
  await t.step("sizes and values", () => {
    bad({ ...good, origin: [1, 2] }, /origin has 2 values, expected 7/);
    bad(
      { ...good, directions: [good.directions[0], [0, 0, 0, 0, 0, 0, NaN]] },
      /directions\[1\]\[6\] is NaN/,
    );
    bad({ ...good, directions: [good.directions[0]] }, /directions must be a list of two vectors/);
    bad(null, /slice is null/);
    bad({ ...good, extra: 1 }, /unknown option 'extra'/);
  });
  await t.step("parallel or zero directions", () => {
    const d = good.directions[0];
    bad(
      { ...good, directions: [d, Float64Array.from(d as Float64Array, (t) => -2 * t)] },
      /directions are parallel/,
    );
    bad({ ...good, directions: [d, new Float64Array(7)] }, /directions are zero/);
  });
  await t.step("a domain that is not a convex polygon", () => {
    bad({ ...good, domain: [0, 0, 1, 0] }, /at least 3/);
    bad({ ...good, domain: [0, 0, 2, 0, 1, 0.1, 2, 2, 0, 2] }, /not a convex polygon/);
    bad({ ...good, domain: [0, 0, 1, 0, 1, 0, 0, 1] }, /not a convex polygon/);
    // clockwise is accepted, and turned counter-clockwise
    const p = slicePartition(net, { ...good, domain: [0, 0, 0, 1, 1, 1, 1, 0] });
    assert(polygonArea(p.slice.domain) === 1);
  });
  await t.step("options", () => {
    bad(randomSlice(net, 1, 1), /maxRegions = 2 regions/, { maxRegions: 2 });
    bad(good, /maxRegions is 0/, { maxRegions: 0 });
    bad(good, /minArea is 1/, { minArea: 1 });
    bad(good, /unknown option 'maxregions'/, { maxregions: 5 });
  });
  await t.step("sliceThrough", () => {
    const x = tf.zeros([2, 7]);
    assertThrows(() => sliceThrough(net, x), /got 2 inputs, expected 3/);
    x.dispose();
    const y = tf.zeros([3, 7]);
    assertThrows(() => sliceThrough(net, y, { margin: -1 }), /margin is -1/);
    assertThrows(() => slicePartition(net, sliceThrough(net, y)), /directions are zero/);
    y.dispose();
  });
});
