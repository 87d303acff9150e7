/**
 * Winograd's minimal filtering F(m × m, 3 × 3) (Lavin & Gray, 2016): the Toom–Cook transforms
 * `Bᵀ`, `G`, `Aᵀ` and their interpolation points, shared by the WebGPU kernels
 * (lib/backend/webgpu/kernels/winograd.ts) and the tfjs-wasm ones
 * (lib/backend/tfjs/_wasm_winograd.ts).
 *
 * @module
 */

/** Output tile sizes: F(2 × 2, 3 × 3), F(4 × 4, 3 × 3) and F(6 × 6, 3 × 3) (only where asked
 * for: a WebGPU plan's `"winograd6"`, `webgpuHooks.winograd`, `wasmWinograd.tile`; its
 * rounding error is 3–4× F(4)'s). */
export type WinogradTile = 2 | 4 | 6;

/** `Bᵀ` (n × n), `G` (n × 3), `Aᵀ` (m × n) of F(m, 3), n = m + 2. */
export interface WinogradTransforms {
  readonly bt: readonly number[][];
  readonly g: readonly number[][];
  readonly at: readonly number[][];
}

/**
 * The finite interpolation points of each tile size (with ∞ the `m + 2` points). Dyadic,
 * so that `Bᵀ` and `Aᵀ` are exact in float32. For F(4) `{0, ±1, 1/2, −2}` rather than
 * Lavin & Gray's `{0, ±1, ±2}` (Barabasz et al., 2020), which halves the error:
 * `bench/winograd_bench.ts` (a 3×3 conv of 192 channels on 18×18, against float64) measures
 * the largest error at 3.1e-6 of the largest output (RMS 2.9e-7) against 6.4e-6 (4.3e-7)
 * for `{0, ±1, ±2}`, 1.1e-6 (1.1e-7) for the product and 4.8e-7 (7.6e-8) for F(2); F(6) on
 * `{0, ±1, ±1/2, ±2}` 1.5e-5 (9.0e-7).
 */
export const WINOGRAD_POINTS: Readonly<Record<WinogradTile, readonly number[]>> = {
  2: [0, 1, -1],
  4: [0, 1, -1, 0.5, -2],
  6: [0, 1, -1, 0.5, -0.5, 2, -2],
};

/** Coefficients (ascending powers) of `Π (x − r)` over `roots`. */
function polynomial(roots: readonly number[]): number[] {
  let c = [1];
  for (const r of roots) {
    const next = new Array(c.length + 1).fill(0);
    c.forEach((v, i) => {
      next[i + 1] += v;
      next[i] -= r * v;
    });
    c = next;
  }
  return c;
}

/**
 * Toom–Cook transforms of F(m, 3) on the finite points `p` and ∞ (Lavin & Gray's
 * construction): the correlation `y = Cᵀ d` is the transpose of the linear convolution
 * `c = u ∗ g`, evaluated at the points and interpolated, so `Aᵀ[i, j] = p_j^i` (∞: the last
 * row's 1), `Bᵀ` row `j` the coefficients of `Π_{l≠j} (x − p_l)` (∞: `Π_l (x − p_l)`), and
 * `G` row `j` is `(1, p_j, p_j²) / Π_{l≠j} (p_j − p_l)` (∞: `(0, 0, 1)`). The divisions are
 * in `G` only, which is applied in float64 on the CPU.
 */
function toomCook(m: number, p: readonly number[]): WinogradTransforms {
  const n = m + 2;
  if (p.length !== n - 1 || new Set(p).size !== p.length) {
    throw new RangeError(`F(${m}, 3) needs ${n - 1} distinct finite points, got ${p}`);
  }
  const others = (j: number) => p.filter((_, l) => l !== j);
  const bt = [...p.map((_, j) => [...polynomial(others(j)), 0]), polynomial(p)];
  const g = [
    ...p.map((pj, j) => {
      const den = others(j).reduce((s, pl) => s * (pj - pl), 1);
      return [1, pj, pj * pj].map((v) => v / den);
    }),
    [0, 0, 1],
  ];
  const at = Array.from(
    { length: m },
    (_, i) => [...p.map((pj) => pj ** i), i === m - 1 ? 1 : 0],
  );
  return { bt, g, at };
}

/**
 * The 1-D F(m, 3) transforms (`Bᵀ`, `G`, `Aᵀ`): `Aᵀ [(G g) ⊙ (Bᵀ d)]` is the correlation
 * `y[i] = Σ_k d[i + k] g[k]`, i < m, of `m + 2` inputs `d` with a 3-tap filter `g`.
 *
 * @param m The tile size.
 * @param points Finite points (default {@linkcode WINOGRAD_POINTS}: the matrices are made once).
 * @returns The matrices.
 */
export function winogradTransforms(
  m: WinogradTile,
  points?: readonly number[],
): WinogradTransforms {
  return points === undefined ? DEFAULT[m] : toomCook(m, points);
}

const DEFAULT: Record<WinogradTile, WinogradTransforms> = {
  2: toomCook(2, WINOGRAD_POINTS[2]),
  4: toomCook(4, WINOGRAD_POINTS[4]),
  6: toomCook(6, WINOGRAD_POINTS[6]),
};
