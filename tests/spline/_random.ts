/** A small seeded random source for the spline tests (mulberry32 + Box–Muller). */
export function random(seed: number): {
  uniform: () => number;
  normal: () => number;
  vector: (n: number) => number[];
  matrix: (rows: number, cols: number) => number[][];
  int: (n: number) => number;
} {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => {
    const u = 1 - uniform(), v = uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const vector = (n: number) => Array.from({ length: n }, normal);
  const matrix = (rows: number, cols: number) => Array.from({ length: rows }, () => vector(cols));
  const int = (n: number) => Math.floor(uniform() * n);
  return { uniform, normal, vector, matrix, int };
}
