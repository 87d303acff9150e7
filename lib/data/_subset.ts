/**
 * Reproducible, class-balanced subsets (private).
 *
 * @module
 */

/** mulberry32: a small, fast 32-bit PRNG; returns floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Picks `size` indices from `labels`, as evenly over the classes present as their counts
 * allow (each class gets ⌊size/k⌋ or one more, a class with too few gives all it has and the
 * rest goes to the others), drawn with a seeded PRNG, returned in ascending order.
 */
export function balancedSubset(
  labels: Uint8Array,
  size: number,
  seed: number,
): Int32Array {
  const rng = mulberry32(seed);
  const groups = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    let g = groups.get(labels[i]);
    if (!g) groups.set(labels[i], g = []);
    g.push(i);
  }
  const classes = [...groups.keys()].sort((a, b) => a - b);
  // Random order of classes decides who gets the remainder.
  for (let i = classes.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [classes[i], classes[j]] = [classes[j], classes[i]];
  }
  const quota = new Map<number, number>(classes.map((c) => [c, 0]));
  let left = size;
  let open = classes.filter((c) => groups.get(c)!.length > 0);
  while (left > 0 && open.length > 0) {
    const share = Math.floor(left / open.length);
    const extra = left % open.length;
    const next: number[] = [];
    open.forEach((c, k) => {
      const want = share + (k < extra ? 1 : 0);
      const room = groups.get(c)!.length - quota.get(c)!;
      const take = Math.min(want, room);
      quota.set(c, quota.get(c)! + take);
      left -= take;
      if (room > take) next.push(c);
    });
    open = next;
  }
  const out: number[] = [];
  for (const c of [...classes].sort((a, b) => a - b)) {
    const g = groups.get(c)!;
    const q = quota.get(c)!;
    for (let i = 0; i < q; i++) {
      const j = i + Math.floor(rng() * (g.length - i));
      [g[i], g[j]] = [g[j], g[i]];
      out.push(g[i]);
    }
  }
  return Int32Array.from(out.sort((a, b) => a - b));
}
