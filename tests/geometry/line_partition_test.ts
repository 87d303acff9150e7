import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertStrictEquals, assertThrows } from "../_assert.ts";
import { fromLayersModel } from "../../lib/network/from_layers_model.ts";
import { forward } from "../../lib/network/forward.ts";
import { SplineNetwork } from "../../lib/network/spline_network.ts";
import { partitionCodes } from "../../lib/partition/codes.ts";
import { type InputLine, linePoints, lineThrough } from "../../lib/geometry/input_line.ts";
import { type LinePartition, linePartition } from "../../lib/geometry/line_partition.ts";
import { slicePartition } from "../../lib/geometry/slice_partition.ts";
import { cases } from "../_cases.ts";
import { normals, rng } from "../_random_models.ts";

await tf.setBackend("cpu");

/** A line through a random input along a random direction of length ≈ `scale`·√D. */
function randomLine(net: SplineNetwork, seed: number, scale: number): InputLine {
  const D = net.inputSize, r = rng(seed);
  const origin = Float64Array.from(normals(D, r));
  return { origin, direction: Float64Array.from(normals(D, r), (t) => t * scale) };
}

/** The engine's codes (float64 forward pass) at points `t` of the line, one key per point and code layer. */
function codesAt(net: SplineNetwork, line: InputLine, t: number[]): string[][] {
  const codes = partitionCodes(net, linePoints(net, line, t), { backend: "cpu" });
  return t.map((_, n) =>
    codes.map((l) =>
      l.kind === "max-pool"
        ? l.argmax.subarray(n * l.units, (n + 1) * l.units).join(",")
        : l.bits.subarray(n * l.words, (n + 1) * l.words).join(",")
    )
  );
}

/** The interval of `breaks` holding `t` at least `margin` inside, or −1. */
function locate(breaks: Float64Array, t: number, margin: number): number {
  let a = 0, b = breaks.length - 1;
  while (b - a > 1) {
    const m = (a + b) >> 1;
    if (breaks[m] <= t) a = m;
    else b = m;
  }
  return t - breaks[a] > margin && breaks[b] - t > margin ? a : -1;
}

/**
 * The brute-force check of a line's partition, at every level: on a fine grid and at three
 * points inside every interval, the engine's own codes up to the level are the same at every
 * point of an interval and differ between neighbouring intervals; each final region's map
 * gives the network's output; the decision's labels are the outputs' argmax.
 */
function checkOnLine(net: SplineNetwork, p: LinePartition, grid: number): void {
  const { line } = p, [lo, hi] = line.range, margin = 1e-9 * (hi - lo);
  const t: number[] = [];
  for (let i = 0; i < grid; i++) t.push(lo + (hi - lo) * (i + 0.5) / grid);
  for (let r = 0; r + 1 < p.breaks.length; r++) {
    for (const f of [0.25, 0.5, 0.75]) t.push(p.breaks[r] + f * (p.breaks[r + 1] - p.breaks[r]));
  }
  const keys = codesAt(net, line, t);
  assertStrictEquals(p.levels.length, net.codeLayers.length);
  p.levels.forEach((level, l) => {
    assert(level.breaks[0] === lo && level.breaks.at(-1) === hi, `level ${l}: the ends`);
    const seen = new Map<number, string>();
    t.forEach((ti, n) => {
      const r = locate(level.breaks, ti, margin);
      if (r < 0) return;
      const k = keys[n].slice(0, l + 1).join("|");
      const was = seen.get(r);
      assert(
        was === undefined || was === k,
        `level ${l}: codes differ inside interval ${r} at t = ${ti}`,
      );
      seen.set(r, k);
    });
    assertStrictEquals(
      seen.size,
      level.breaks.length - 1,
      `level ${l}: an interval without points`,
    );
    for (let r = 0; r + 1 < seen.size; r++) {
      assert(
        seen.get(r) !== seen.get(r + 1),
        `level ${l}: intervals ${r} and ${r + 1} share their codes`,
      );
    }
    if (l > 0) {
      const up = new Set(p.levels[l - 1].breaks);
      assert(
        [...up].every((b) => level.breaks.includes(b)),
        `level ${l} drops a break of level ${l - 1}`,
      );
    }
  });
  if (p.levels.length > 0) assertEquals(p.breaks, p.levels.at(-1)!.breaks);
  assertStrictEquals(p.changed.length, p.breaks.length - 2);
  const C = p.outputs, z = forward(net, linePoints(net, line, t)).data;
  let worst = 0, scale = 1;
  t.forEach((ti, n) => {
    const r = locate(p.breaks, ti, margin);
    if (r < 0) return;
    for (let c = 0; c < C; c++) {
      const zc = ti * p.maps[r * 2 * C + c] + p.maps[r * 2 * C + C + c];
      worst = Math.max(worst, Math.abs(zc - z[n * C + c]));
      scale = Math.max(scale, Math.abs(z[n * C + c]));
    }
    const d = locate(p.decision.breaks, ti, margin);
    if (d < 0) return;
    let best = 0;
    for (let c = 1; c < C; c++) if (z[n * C + c] > z[n * C + best]) best = c;
    // a point within rounding of a tie may go either way
    const gap = z[n * C + best] - z[n * C + p.decision.labels[d]];
    assert(gap <= 1e-9 * scale, `t = ${ti}: label ${p.decision.labels[d]}, argmax ${best}`);
  });
  assert(worst <= 1e-12 * scale, `a region's map is off the network's output by ${worst}`);
  const { breaks, labels } = p.decision;
  assertStrictEquals(breaks.length, labels.length + 1);
  for (let i = 0; i + 1 < labels.length; i++) assert(labels[i] !== labels[i + 1]);
  for (let i = 0; i + 1 < breaks.length; i++) assert(breaks[i] < breaks[i + 1]);
}

/**
 * The intervals that the regions of a slice's level cut from the slice's line `v = 0`: an
 * independent computation of the same partition (polygons clipped in 2D, not a walk).
 */
function sliceCuts(regions: readonly { polygon: Float64Array }[], lo: number, hi: number) {
  const ends: number[] = [];
  for (const { polygon: q } of regions) {
    let a = Infinity, b = -Infinity;
    const n = q.length / 2;
    for (let i = 0; i < n; i++) {
      const j = (i + 1) % n, v0 = q[2 * i + 1], v1 = q[2 * j + 1];
      if ((v0 <= 0 && v1 >= 0) || (v0 >= 0 && v1 <= 0)) {
        const u = v0 === v1
          ? [q[2 * i], q[2 * j]]
          : [q[2 * i] + (q[2 * j] - q[2 * i]) * v0 / (v0 - v1)];
        for (const x of u) (a = Math.min(a, x)), (b = Math.max(b, x));
      }
    }
    if (b - a > 1e-9 * (hi - lo)) ends.push(a, b);
  }
  return [...new Set(ends.map((e) => Math.round(e * 1e7) / 1e7))].sort((x, y) => x - y);
}

Deno.test("linePartition() of a max-pool of t and 1 − t changes its argmax at ½ (ties to the first)", () => {
  const net = new SplineNetwork([1, 2, 1], [
    {
      kind: "max-pool",
      name: "m",
      inputShape: [1, 2, 1],
      outputShape: [1, 1, 1],
      poolSize: [1, 2],
      strides: [1, 2],
      padding: [0, 0, 0, 0],
    },
  ] as never);
  const p = linePartition(net, { origin: [0, 1], direction: [1, -1] });
  assertEquals(Array.from(p.breaks), [0, 0.5, 1]);
  assertEquals(Array.from(p.maps), [-1, 1, 1, 0]);
  assertEquals(Array.from(p.changed), [0]);
  checkOnLine(net, p, 64);
});

Deno.test("linePartition() levels: a first-layer break is every level's, a second-layer one only the last's", () => {
  // relu(t − 0.3) then relu(relu(t − 0.3) − 0.2): breaks at 0.3 (layer 0) and 0.5 (layer 1)
  const dense = (name: string, b: number) => ({
    kind: "dense",
    name,
    inputShape: [1],
    outputShape: [1],
    units: 1,
    kernel: Float64Array.of(1),
    bias: Float64Array.of(b),
  });
  const net = new SplineNetwork([1], [
    dense("d0", -0.3),
    { kind: "relu", name: "r0", inputShape: [1], outputShape: [1] },
    dense("d1", -0.2),
    { kind: "relu", name: "r1", inputShape: [1], outputShape: [1] },
  ] as never);
  const p = linePartition(net, { origin: [0], direction: [1] });
  assertEquals(Array.from(p.levels[0].breaks), [0, 0.3, 1]);
  assert(Math.abs(p.breaks[2] - 0.5) < 1e-15 && p.breaks.length === 4, `breaks ${p.breaks}`);
  assertEquals(Array.from(p.changed), [0, 1]);
  checkOnLine(net, p, 64);
});

Deno.test("linePartition() finds where the largest output changes: known lines, and far out on a random MLP", () => {
  // outputs t, 1 − t, 0.6 and no code layer: class 1, then 2 on [0.4, 0.6], then 0
  const net = new SplineNetwork([1], [{
    kind: "dense",
    name: "d",
    inputShape: [1],
    outputShape: [3],
    units: 3,
    kernel: Float64Array.of(1, -1, 0),
    bias: Float64Array.of(0, 1, 0.6),
  }] as never);
  const p = linePartition(net, { origin: [0], direction: [1] });
  assertEquals(Array.from(p.breaks), [0, 1]);
  assertStrictEquals(p.levels.length, 0);
  assertEquals(Array.from(p.decision.labels), [1, 2, 0]);
  const b = p.decision.breaks;
  assert(b.length === 4 && Math.abs(b[1] - 0.4) < 1e-15 && Math.abs(b[2] - 0.6) < 1e-15, `${b}`);
  checkOnLine(net, p, 64);
  // a random 1-24-6 ReLU network on [−3, 3]: its class changes many times, inside regions too
  const r = rng(2), n = (k: number) => Float64Array.from(normals(k, r));
  const mlp = new SplineNetwork([1], [
    {
      kind: "dense",
      name: "h",
      inputShape: [1],
      outputShape: [24],
      units: 24,
      kernel: n(24),
      bias: n(24),
    },
    { kind: "relu", name: "r", inputShape: [24], outputShape: [24] },
    {
      kind: "dense",
      name: "o",
      inputShape: [24],
      outputShape: [6],
      units: 6,
      kernel: n(144),
      bias: n(6),
    },
  ] as never);
  const q = linePartition(mlp, { origin: [0], direction: [1], range: [-3, 3] });
  const inside = Array.from(q.decision.breaks.subarray(1, -1)).filter((t) => !q.breaks.includes(t));
  assert(
    inside.length >= 4,
    `${q.decision.labels.length} decision intervals, ${inside.length} changes inside regions`,
  );
  checkOnLine(mlp, q, 4000);
});

for (const c of cases(2)) {
  Deno.test(`linePartition() agrees with the engine's codes and outputs, and with slicePartition(): ${c.name}`, () => {
    const net = fromLayersModel(c.model);
    const scale = { 7: 1, 270: 0.05 }[net.inputSize] ?? 0.2;
    const line = { ...randomLine(net, 7, scale), range: [-1, 1] as const };
    const p = linePartition(net, line);
    assert(p.breaks.length >= 6, `${p.breaks.length - 1} regions`);
    checkOnLine(net, p, 2000);
    // the same line as v = 0 of a slice: the slice's regions cut it at the same points
    const r = rng(3), other = Float64Array.from(normals(net.inputSize, r), (t) => t * scale);
    const sp = slicePartition(net, {
      origin: line.origin,
      directions: [line.direction, other],
      domain: [-1, -0.01, 1, -0.01, 1, 0.01, -1, 0.01],
    });
    const round = (b: Float64Array) => Array.from(b, (e) => Math.round(e * 1e7) / 1e7);
    sp.levels.forEach((level, l) => {
      assertEquals(sliceCuts(level.regions, -1, 1), round(p.levels[l].breaks), `level ${l}`);
    });
  });
}

Deno.test("linePartition() over hundreds of regions: the moves between full passes, a residual net and a pooled CNN", () => {
  // more regions than moves between two full passes (256): both ways of moving are checked
  for (const k of [2, 4]) {
    const net = fromLayersModel(cases(2)[k].model);
    const p = linePartition(net, { ...randomLine(net, 7, 0.2), range: [-5, 5] });
    assert(p.breaks.length > 300, `${p.breaks.length - 1} regions`);
    checkOnLine(net, p, 3000);
  }
});

Deno.test("linePartition() merges a region shorter than minLength into the next", () => {
  // relu(t − 0.5) and relu(t − 0.5 − 10⁻⁷): a region of length 10⁻⁷ between them
  const net = new SplineNetwork([1], [
    {
      kind: "dense",
      name: "d",
      inputShape: [1],
      outputShape: [2],
      units: 2,
      kernel: Float64Array.of(1, 1),
      bias: Float64Array.of(-0.5, -0.5 - 1e-7),
    },
    { kind: "relu", name: "r", inputShape: [2], outputShape: [2] },
  ] as never);
  const line = { origin: [0], direction: [1] };
  const fine = linePartition(net, line);
  assertStrictEquals(fine.breaks.length, 4);
  assert(Math.abs(fine.breaks[2] - fine.breaks[1] - 1e-7) < 1e-15, `${fine.breaks}`);
  const coarse = linePartition(net, line, { minLength: 1e-6 });
  assertEquals(Array.from(coarse.breaks), [0, 0.5, 1]);
  // the merged region takes the codes read past the short one: both units active
  assertEquals(Array.from(coarse.maps.subarray(4, 8)), [1, 1, -0.5, -0.5 - 1e-7]);
});

Deno.test("lineThrough() puts the two inputs at t = 0 and t = 1", () => {
  const c = cases(3)[1];
  const net = fromLayersModel(c.model);
  const x = tf.slice(c.x, 0, 2);
  const line = lineThrough(net, x, { range: [-0.5, 1.5] });
  const p = linePartition(net, line);
  assertEquals(p.line.range, [-0.5, 1.5]);
  const z = forward(net, { data: Float64Array.from(x.dataSync()), shape: x.shape }).data;
  const C = p.outputs;
  for (const i of [0, 1]) {
    const r = locate(p.breaks, i, 0);
    assert(r >= 0, `input ${i} is on a break`);
    for (let k = 0; k < C; k++) {
      const zk = i * p.maps[r * 2 * C + k] + p.maps[r * 2 * C + C + k];
      assert(
        Math.abs(zk - z[i * C + k]) < 1e-5,
        `input ${i}, output ${k}: ${zk} vs ${z[i * C + k]}`,
      );
    }
  }
  x.dispose();
});

Deno.test("linePartition(), lineThrough() and linePoints() refuse bad input, naming it", () => {
  const net = fromLayersModel(cases(1)[0].model);
  const good = randomLine(net, 1, 1);
  const bad = (line: unknown, re: RegExp, options?: unknown) =>
    assertThrows(() => linePartition(net, line as InputLine, options as never), re);
  bad({ ...good, origin: [1, 2] }, /origin has 2 values, expected 7/);
  bad({ ...good, direction: [0, 0, 0, 0, 0, 0, NaN] }, /direction\[6\] is NaN/);
  bad({ ...good, direction: new Float64Array(7) }, /direction is zero/);
  bad({ ...good, range: [1, 1] }, /range is \[1,1\], expected \[lo, hi\]/);
  bad({ ...good, range: [0, Infinity] }, /range is \[0,Infinity\]/);
  bad(null, /line is null/);
  bad({ ...good, directions: [] }, /unknown option 'directions'/);
  bad(good, /maxRegions = 2 regions/, { maxRegions: 2 });
  bad(good, /maxRegions is 0/, { maxRegions: 0 });
  bad(good, /minLength is 0.5/, { minLength: 0.5 });
  bad(good, /unknown option 'minlength'/, { minlength: 1 });
  const x = tf.zeros([3, 7]);
  assertThrows(() => lineThrough(net, x), /got 3 inputs, expected 2/);
  x.dispose();
  assertThrows(() => lineThrough(net, tf.zeros([2, 7]), { range: [2, 1] }), /range is \[2,1\]/);
  assertThrows(() => linePoints(net, good, [0, NaN]), /point 1 is t = NaN/);
});
