/**
 * Splitting a convex polygon by which of several affine functions of `(u, v)` is largest,
 * ties to the first: the one operation behind every code of a slice's partition (a sign
 * unit is the argmax of `0` and its pre-activation; a max-pool window, of its entries;
 * the decision, of the classes).
 *
 * @module
 */
import {
  affineRange,
  clipPolygon,
  polygonArea,
  polygonCentroid,
  vertexValues,
} from "./_polygon.ts";

/**
 * Candidates `[a₀, b₀, c₀, a₁, b₁, c₁, …]` (`h_i = a_i·u + b_i·v + c_i`): the indices of
 * those that are largest somewhere inside the polygon, in order. Candidate `i` drops out
 * when some `h_j` is at least as large everywhere: identical with `j < i` (ties go to the
 * first), or not identical and `h_i − h_j ≤ 0` at every vertex.
 */
export function liveCandidates(poly: Float64Array, cand: Float64Array): number[] {
  const k = cand.length / 3, live: number[] = [], range = new Float64Array(2);
  for (let i = 0; i < k; i++) {
    let out = false;
    for (let j = 0; j < k && !out; j++) {
      if (j === i) continue;
      const da = cand[3 * i] - cand[3 * j], db = cand[3 * i + 1] - cand[3 * j + 1];
      const dc = cand[3 * i + 2] - cand[3 * j + 2];
      if (da === 0 && db === 0 && dc === 0) {
        out = j < i;
        continue;
      }
      affineRange(poly, da, db, dc, range);
      out = range[1] <= 0;
    }
    if (!out) live.push(i);
  }
  if (live.length > 0) return live;
  // rounding can make two equal functions each "below" the other: take the first largest
  // at the centroid
  const [u, v] = polygonCentroid(poly);
  let best = 0;
  for (let i = 1; i < k; i++) {
    const hi = cand[3 * i] * u + cand[3 * i + 1] * v + cand[3 * i + 2];
    if (hi > cand[3 * best] * u + cand[3 * best + 1] * v + cand[3 * best + 2]) best = i;
  }
  return [best];
}

/** A piece of a polygon where one candidate is the largest. */
export interface ArgmaxPiece {
  /** The piece, counter-clockwise. */
  readonly polygon: Float64Array;
  /** Index of the largest candidate there. */
  readonly winner: number;
}

/**
 * The pieces of a convex polygon on which each live candidate is the largest (ties to the
 * first): candidate `i`'s piece is the polygon clipped by `h_i − h_j ≥ 0` for every other
 * live `j`. Pieces smaller than `minArea` are dropped (slivers that rounding makes where a
 * line passes through a vertex), but the largest piece is always kept.
 *
 * @param poly The polygon.
 * @param cand The candidates, 3 coefficients each.
 * @param minArea The smallest area kept.
 * @returns One piece, or several that tile the polygon.
 */
export function argmaxPieces(
  poly: Float64Array,
  cand: Float64Array,
  minArea: number,
): ArgmaxPiece[] {
  const live = liveCandidates(poly, cand);
  if (live.length === 1) return [{ polygon: poly, winner: live[0] }];
  const pieces: ArgmaxPiece[] = [];
  let largest: ArgmaxPiece | null = null, largestArea = 0;
  for (const i of live) {
    let p: Float64Array | null = poly;
    for (const j of live) {
      if (j === i || p === null) continue;
      const h = vertexValues(
        p,
        cand[3 * i] - cand[3 * j],
        cand[3 * i + 1] - cand[3 * j + 1],
        cand[3 * i + 2] - cand[3 * j + 2],
      );
      p = clipPolygon(p, h);
    }
    if (p === null) continue;
    const area = polygonArea(p), piece = { polygon: p, winner: i };
    if (area >= minArea) pieces.push(piece);
    if (area > largestArea) (largest = piece), (largestArea = area);
  }
  if (pieces.length === 0) pieces.push(largest ?? { polygon: poly, winner: live[0] });
  return pieces;
}
