/**
 * Convex polygons in the plane of a slice, as flat `[u0, v0, u1, v1, …]` arrays with
 * counter-clockwise vertices: area, clipping by a half-plane, containment.
 *
 * @module
 */

/** Signed area (shoelace): positive for counter-clockwise vertices. */
export function polygonArea(p: Float64Array): number {
  const n = p.length / 2;
  let s = 0;
  for (let i = 0, j = n - 1; i < n; j = i++) s += p[2 * j] * p[2 * i + 1] - p[2 * i] * p[2 * j + 1];
  return s / 2;
}

/** The mean of the vertices: a point inside a convex polygon. */
export function polygonCentroid(p: Float64Array): [number, number] {
  const n = p.length / 2;
  let u = 0, v = 0;
  for (let i = 0; i < n; i++) {
    u += p[2 * i];
    v += p[2 * i + 1];
  }
  return [u / n, v / n];
}

/**
 * The smallest and largest value of `a·u + b·v + c` on the polygon (at its vertices), into
 * `range[0]` and `range[1]` (a caller's scratch array: no allocation in hot loops).
 */
export function affineRange(
  p: Float64Array,
  a: number,
  b: number,
  c: number,
  range: Float64Array,
): void {
  let min = Infinity, max = -Infinity;
  for (let i = 0, n = p.length / 2; i < n; i++) {
    const h = a * p[2 * i] + b * p[2 * i + 1] + c;
    if (h < min) min = h;
    if (h > max) max = h;
  }
  range[0] = min;
  range[1] = max;
}

/** `a·u + b·v + c` at every vertex. */
export function vertexValues(p: Float64Array, a: number, b: number, c: number): Float64Array {
  const n = p.length / 2, h = new Float64Array(n);
  for (let i = 0; i < n; i++) h[i] = a * p[2 * i] + b * p[2 * i + 1] + c;
  return h;
}

/**
 * The part of a convex polygon where an affine function is `≥ 0`, from its values `h` at the
 * vertices (Sutherland–Hodgman for one line): where an edge changes sign, the new vertex is
 * where the function interpolates to 0. Returns `null` when nothing of positive area is left.
 */
export function clipPolygon(p: Float64Array, h: Float64Array): Float64Array | null {
  const n = h.length, out: number[] = [];
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n;
    const hi = h[i], hj = h[j];
    if (hi >= 0) out.push(p[2 * i], p[2 * i + 1]);
    if ((hi > 0 && hj < 0) || (hi < 0 && hj > 0)) {
      const t = hi / (hi - hj);
      out.push(
        p[2 * i] + t * (p[2 * j] - p[2 * i]),
        p[2 * i + 1] + t * (p[2 * j + 1] - p[2 * i + 1]),
      );
    }
  }
  if (out.length < 6) return null;
  const q = Float64Array.from(out);
  return polygonArea(q) > 0 ? q : null;
}

/** True when `(u, v)` is inside the convex counter-clockwise polygon, at least `margin` from every edge. */
export function polygonContains(p: Float64Array, u: number, v: number, margin = 0): boolean {
  const n = p.length / 2;
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n;
    const eu = p[2 * j] - p[2 * i], ev = p[2 * j + 1] - p[2 * i + 1];
    const cross = eu * (v - p[2 * i + 1]) - ev * (u - p[2 * i]);
    if (cross < margin * Math.hypot(eu, ev)) return false;
  }
  return true;
}
