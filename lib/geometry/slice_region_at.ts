/**
 * Which region of a slice's partition holds given points of the plane.
 *
 * @module
 */
import { checkOptionKeys } from "../util/options.ts";
import { levelIndex } from "./_level_index.ts";
import { polygonContains } from "./_polygon.ts";
import type { SlicePartition } from "./slice_partition.ts";

/** Options of {@linkcode sliceRegionAt}. */
export interface SliceRegionAtOptions {
  /** The level (code layer) whose regions to return (default the last). */
  level?: number;
}

/**
 * The region of a {@linkcode SlicePartition} at one level that holds each point `(u, v)`,
 * found down the levels (each region is searched among its parent's pieces). A point on the
 * boundary of two regions gets one of them; a point outside the domain, or in a sliver that
 * `minArea` left out, gets −1.
 *
 * @param partition The partition of the slice.
 * @param uv The points, `[u0, v0, u1, v1, …]`.
 * @param options `level`.
 * @returns One region index per point, into `partition.levels[level].regions`.
 *
 * @example
 * ```ts
 * import { SplineNetwork } from "../network/spline_network.ts";
 * import { slicePartition } from "./slice_partition.ts";
 * import { sliceRegionAt } from "./slice_region_at.ts";
 * import { equal, notEqual } from "node:assert/strict";
 * const net = new SplineNetwork([2], [{ kind: "relu", name: "r", inputShape: [2], outputShape: [2] }]);
 * const p = slicePartition(net, { origin: [-0.5, -0.5], directions: [[1, 0], [0, 1]] });
 * const [a, b, outside] = sliceRegionAt(p, [0.2, 0.2, 0.8, 0.8, 2, 2]);
 * notEqual(a, b);
 * equal(outside, -1);
 * ```
 */
export function sliceRegionAt(
  partition: SlicePartition,
  uv: ArrayLike<number>,
  options: SliceRegionAtOptions = {},
): Int32Array {
  const what = "Cannot locate points in the slice";
  checkOptionKeys(options, { level: true }, what);
  const levels = partition.levels;
  const level = levelIndex(options.level, levels.length, what);
  if (uv.length % 2 !== 0) {
    throw new RangeError(
      `${what}: got ${uv.length} coordinates, expected pairs [u0, v0, u1, v1, …]`,
    );
  }
  for (let i = 0; i < uv.length; i++) {
    if (!Number.isFinite(uv[i])) {
      throw new RangeError(`${what}: coordinate ${i} is ${uv[i]}, expected a finite number`);
    }
  }
  const n = uv.length / 2, out = new Int32Array(n).fill(-1);
  const domain = partition.slice.domain;
  if (levels.length === 0) {
    for (let i = 0; i < n; i++) if (polygonContains(domain, uv[2 * i], uv[2 * i + 1])) out[i] = 0;
    return out;
  }
  // children[l][r]: the regions of level l + 1 inside region r of level l
  const children = levels.slice(0, level).map((_, l) => {
    const lists: number[][] = levels[l].regions.map(() => []);
    levels[l + 1].regions.forEach((r, i) => lists[r.parent].push(i));
    return lists;
  });
  const first = levels[0].regions.map((_, i) => i);
  for (let i = 0; i < n; i++) {
    const u = uv[2 * i], v = uv[2 * i + 1];
    if (!polygonContains(domain, u, v)) continue;
    let among = first, hit = -1;
    for (let l = 0; l <= level; l++) {
      const regions = levels[l].regions,
        inside = (r: number) => polygonContains(regions[r].polygon, u, v);
      hit = among.find(inside) ?? -1;
      // rounding can leave a point on an edge outside its parent's pieces: search the level
      if (hit < 0 && among !== first) hit = regions.findIndex((_, r) => inside(r));
      if (hit < 0 || l === level) break;
      among = children[l][hit];
    }
    out[i] = hit;
  }
  return out;
}
