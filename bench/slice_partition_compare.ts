/**
 * The exact partition of a 2D slice (lib/geometry/slice_partition.ts) against brute force, the
 * way to see a slice's regions without the geometry: the engine's partition codes at a G × G
 * grid of the slice, counting distinct codes. Models trained here on MNIST (2,000 images):
 * an MLP 784-64-64-10 on the plane through a 1, a 3 and a 7 (the triangle grown by a quarter),
 * and smallCNN (batch-norm) on a square of side 0.006 at the triangle's centre (notebook 06) and
 * on a square of side 2·10⁻⁴ about the 1 itself.
 *
 *   deno run --allow-read=data,node_modules --allow-write=data --allow-env --allow-sys --allow-net \
 *     bench/slice_partition_compare.ts
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  partitionCodes,
  slicePartition,
  slicePoints,
  sliceThrough,
  type SplineNetwork,
} from "../mod.ts";
import type { InputSlice } from "../mod.ts";
import { polygonContains } from "../lib/geometry/_polygon.ts";
import { codeKeys } from "./_code_keys.ts";
import { mnistBenchModels } from "./_mnist_models.ts";

const { mnist, labels, mlpNet, cnnNet } = await mnistBenchModels();
const three = tf.gather(mnist.test.x, [1, 3, 7].map((d) => labels.indexOf(d)));

function bruteForce(net: SplineNetwork, slice: InputSlice & { domain: number[] }, G: number) {
  const us = slice.domain.filter((_, i) => i % 2 === 0),
    vs = slice.domain.filter((_, i) => i % 2 === 1);
  const [u0, u1, v0, v1] = [Math.min(...us), Math.max(...us), Math.min(...vs), Math.max(...vs)];
  const domain = Float64Array.from(slice.domain); // counter-clockwise, as the cases give it
  const t0 = performance.now(), keys = new Set<string>();
  for (let i = 0; i < G; i++) { // one grid column per call
    const uv: number[] = [];
    for (let j = 0; j < G; j++) {
      const u = u0 + (u1 - u0) * (i + 0.5) / G, v = v0 + (v1 - v0) * (j + 0.5) / G;
      if (polygonContains(domain, u, v)) uv.push(u, v);
    }
    if (uv.length === 0) continue;
    const codes = partitionCodes(net, slicePoints(net, slice, uv), { backend: "cpu" });
    for (const k of codeKeys(codes, uv.length / 2)) keys.add(k);
  }
  return { seconds: (performance.now() - t0) / 1000, regions: keys.size };
}

const rows: Record<string, string | number>[] = [];
function measure(
  name: string,
  net: SplineNetwork,
  slice: InputSlice & { domain: number[] },
  grids: number[],
) {
  const t0 = performance.now();
  const p = slicePartition(net, slice);
  const exact = (performance.now() - t0) / 1000;
  rows.push({
    case: name,
    method: "slicePartition (exact)",
    seconds: +exact.toFixed(2),
    regions: p.regions.length,
    "found": "all",
  });
  for (const G of grids) {
    const b = bruteForce(net, slice, G);
    rows.push({
      case: name,
      method: `grid ${G}×${G}, partitionCodes`,
      seconds: +b.seconds.toFixed(2),
      regions: b.regions,
      found: `${(100 * b.regions / p.regions.length).toFixed(0)}% (${
        (b.seconds / exact).toFixed(1)
      }× the time)`,
    });
  }
}

const plane = sliceThrough(mlpNet, three) as InputSlice & { domain: number[] };
measure("MLP 784-64-64-10, plane through 3 digits", mlpNet, {
  ...plane,
  domain: Array.from(plane.domain),
}, [100, 300]);

const c = 1 / 3, s = 0.003;
const square = [c - s, c - s, c + s, c - s, c + s, c + s, c - s, c + s];
measure("smallCNN (BN), square at the triangle's centre", cnnNet, {
  ...sliceThrough(cnnNet, three, { margin: 0 }),
  domain: square,
}, [50, 100]);
// a square about the digit 1 itself, where max-pool ties put a fan of boundaries (notebook 06)
const f = 1e-4;
measure("smallCNN (BN), square about the digit 1", cnnNet, {
  ...sliceThrough(cnnNet, three, { margin: 0 }),
  domain: [-f, -f, f, -f, f, f, -f, f],
}, [50]);
console.table(rows);
