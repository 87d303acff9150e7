/**
 * Winograd's minimal filtering F(m × m, 3 × 3) for stride-1 3×3 convolutions and their
 * transposes (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016): an
 * output tile of `m × m` pixels is `Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A` for the `(m + 2)²` input
 * pixels `d` under it and each 3×3 filter `g`. Summed over input channels, the `(m + 2)²`
 * elementwise products become `(m + 2)²` independent matrix products
 * `[tiles, inC] · [inC, outC]`: `36/16` multiply-adds per output pixel and channel pair
 * instead of `9` for m = 4 (a quarter), `16/4` for m = 2 (4/9).
 *
 * Three kernels: the input transform `V[ξ, tile, i] = (Bᵀ d B)[ξ]` (one invocation per tile
 * and four input channels, reading through the correlation's `readIn4`, so a transpose
 * gathers its gradient through the codes of the layers after the conv), the batched product
 * `M[ξ] = V[ξ] · U[ξ]` with the filters transformed once on the CPU in float64
 * (`U[ξ] = (G g Gᵀ)[ξ]`), and the output transform `Aᵀ M A` (+ bias), written into the
 * layer's output. A computation whose transforms would exceed its budget runs them in row
 * slices (`P.rowBase`).
 *
 * @module
 */
import type { Conv2DLayer } from "../../../network/spline_network.ts";
import type { ShaderSource } from "../_pipelines.ts";
import { type Binding, elementwiseShader } from "./_elementwise.ts";
import { type ConvCorrelation, convCorrelation } from "./conv2d.ts";
import { type GemmSpec, productBindings } from "./gemm.ts";
import { f, range } from "./_snippets.ts";

/** Output tile sizes: F(2 × 2, 3 × 3) and F(4 × 4, 3 × 3). */
export type WinogradTile = 2 | 4;

/** `Bᵀ` (n × n), `G` (n × 3), `Aᵀ` (m × n) of F(m, 3), n = m + 2. */
interface Transforms {
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
 * for `{0, ±1, ±2}`, 1.1e-6 (1.1e-7) for the product and 4.8e-7 (7.6e-8) for F(2).
 */
export const WINOGRAD_POINTS: Readonly<Record<WinogradTile, readonly number[]>> = {
  2: [0, 1, -1],
  4: [0, 1, -1, 0.5, -2],
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
function toomCook(m: number, p: readonly number[]): Transforms {
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

const TRANSFORMS: Record<WinogradTile, Transforms> = {
  2: toomCook(2, WINOGRAD_POINTS[2]),
  4: toomCook(4, WINOGRAD_POINTS[4]),
};

/**
 * The 1-D F(m, 3) transforms (`Bᵀ`, `G`, `Aᵀ`): `Aᵀ [(G g) ⊙ (Bᵀ d)]` is the correlation
 * `y[i] = Σ_k d[i + k] g[k]`, i < m, of `m + 2` inputs `d` with a 3-tap filter `g`.
 *
 * @param m The tile size.
 * @param points Finite points (default {@linkcode WINOGRAD_POINTS}).
 * @returns The matrices.
 */
export function winogradTransforms(
  m: WinogradTile,
  points: readonly number[] = WINOGRAD_POINTS[m],
): Transforms {
  return toomCook(m, points);
}

/**
 * Whether a conv and its transpose can run by Winograd: a 3×3 kernel, stride 1, and input
 * and output channels that are multiples of 4 (the transforms read and write four channels at
 * a time; the transpose swaps the two).
 *
 * @param layer The conv.
 * @returns Whether it qualifies.
 */
export function winogradApplies(layer: Conv2DLayer): boolean {
  return layer.kernelSize[0] === 3 && layer.kernelSize[1] === 3 && layer.strides[0] === 1 &&
    layer.strides[1] === 1 && layer.inputShape[2] % 4 === 0 && layer.outputShape[2] % 4 === 0;
}

/** Tiles per row: `⌈outH / m⌉ · ⌈outW / m⌉`. */
function tiles(c: ConvCorrelation, m: WinogradTile): { ty: number; tx: number; n: number } {
  const ty = Math.ceil(c.outH / m), tx = Math.ceil(c.outW / m);
  return { ty, tx, n: ty * tx };
}

/**
 * Values per row of the two temporaries (`V` and `M`): `(m + 2)² · tiles · channels`.
 *
 * @param c The correlation.
 * @param m The tile size.
 * @returns The input transform's and the product's values per row.
 */
export function winogradRowFloats(
  c: ConvCorrelation,
  m: WinogradTile,
): { input: number; product: number } {
  const per = (m + 2) ** 2 * tiles(c, m).n;
  return { input: per * c.inC, product: per * c.outC };
}

const filters = new WeakMap<Conv2DLayer, Map<string, Float64Array>>();

/**
 * The transformed filters `U[ξ, i, o] = (G g_io Gᵀ)[ξ]`, `[(m + 2)², inC, outC]`, computed
 * in float64 once per layer, direction and tile size.
 *
 * @param layer The conv.
 * @param transposed Whether for its transpose.
 * @param m The tile size.
 * @returns The filters.
 */
export function winogradFilters(
  layer: Conv2DLayer,
  transposed: boolean,
  m: WinogradTile,
): Float64Array {
  let byKind = filters.get(layer);
  if (byKind === undefined) filters.set(layer, byKind = new Map());
  const key = `${transposed}/${m}`;
  let u = byKind.get(key);
  if (u === undefined) {
    const c = convCorrelation(layer, transposed);
    const k = c.kernel(), per = c.inC * c.outC, n = m + 2, { g } = TRANSFORMS[m];
    u = new Float64Array(n * n * per);
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) {
        const out = u.subarray((a * n + b) * per, (a * n + b + 1) * per);
        for (let p = 0; p < 3; p++) {
          for (let q = 0; q < 3; q++) {
            const s = g[a][p] * g[b][q];
            if (s === 0) continue;
            const tap = k.subarray((p * 3 + q) * per, (p * 3 + q + 1) * per);
            for (let e = 0; e < per; e++) out[e] += s * tap[e];
          }
        }
      }
    }
    byKind.set(key, u);
  }
  return u;
}

/** `Σ_k coef[k] · terms[k]` as WGSL, skipping zero coefficients. */
function combination(coef: readonly number[], terms: readonly string[]): string {
  const parts = coef.flatMap((c, k) => {
    if (c === 0) return [];
    if (c === 1) return [`+ ${terms[k]}`];
    if (c === -1) return [`- ${terms[k]}`];
    return [`${c < 0 ? "-" : "+"} ${f(Math.abs(c))} * ${terms[k]}`];
  });
  const s = parts.join(" ");
  return s.startsWith("+ ") ? s.slice(2) : s.startsWith("- ") ? `-${s.slice(2)}` : s;
}

/**
 * `X = L · D · Lᵀ` unrolled: `D` the `cols × cols` named values `d(i, j)`, `L` a `rows × cols`
 * matrix; declares `out_i_j` (first `t_i_j = (L D)[i, j]`).
 */
function sandwich(
  l: readonly number[][],
  d: (i: number, j: number) => string,
  out: string,
): string {
  const rows = l.length, cols = l[0].length;
  const first = range(rows).flatMap((i) =>
    range(cols).map((j) =>
      `  let ${out}t_${i}_${j} = ${combination(l[i], range(cols).map((k) => d(k, j)))};`
    )
  );
  const second = range(rows).flatMap((i) =>
    range(rows).map((j) =>
      `  let ${out}_${i}_${j} = ${combination(l[j], range(cols).map((k) => `${out}t_${i}_${k}`))};`
    )
  );
  return [...first, ...second].join("\n");
}

const keyOf = (c: ConvCorrelation, m: WinogradTile) => `winograd${m}/${c.key}`;

/**
 * The transforms' shaders by their key: their WGSL, unrolled, took longer to generate than the
 * rest of a recording's dispatches, so it is generated once, not at every recording.
 */
const transforms = new Map<string, { shader: ShaderSource; perRow: number }>();

function once(
  key: string,
  make: () => { shader: ShaderSource; perRow: number },
): { shader: ShaderSource; perRow: number } {
  let hit = transforms.get(key);
  if (hit === undefined) {
    if (transforms.size >= 1024) transforms.clear(); // bounded, for programs of many networks
    transforms.set(key, hit = make());
  }
  return hit;
}

/**
 * The input transform: bindings the correlation's `inputs`, then `v` (written: `[(m + 2)²,
 * rows, tiles, inC]` for the dispatch's `P.rows` rows, reading rows from `P.rowBase` on).
 * `perRow`: tiles · inC / 4.
 *
 * @param c The correlation.
 * @param m The tile size.
 * @returns The shader and its invocations per row.
 */
export function winogradInputShader(
  c: ConvCorrelation,
  m: WinogradTile,
): { shader: ShaderSource; perRow: number } {
  const key = `${keyOf(c, m)}/input`;
  return once(key, () => inputShader(key, c, m));
}

function inputShader(
  key: string,
  c: ConvCorrelation,
  m: WinogradTile,
): { shader: ShaderSource; perRow: number } {
  const t = tiles(c, m), n = m + 2, IC4 = c.inC / 4;
  const bindings: Binding[] = [...c.inputs, { name: "v", type: "f32", write: true, wide: true }];
  const loads = range(n).flatMap((a) =>
    range(n).map((b) => `  let d_${a}_${b} = readIn4(r, y0 + ${a}, x0 + ${b}, c4 * 4u);`)
  ).join("\n");
  const writes = range(n).flatMap((a) =>
    range(n).map((b) => `  v[(${a * n + b}u * P.rows * TILES + rt) * IC4 + c4] = o_${a}_${b};`)
  ).join("\n");
  return {
    perRow: t.n * IC4,
    shader: elementwiseShader(key, {
      bindings,
      perRow: t.n * IC4,
      consts: `${c.consts}
const TILES = ${t.n}u;
const TX = ${t.tx}u;
const IC4 = ${IC4}u;`,
      body: `  let rt = i / IC4;
  let c4 = i % IC4;
  let r = P.rowBase + rt / TILES;
  let tile = rt % TILES;
  let y0 = i32(tile / TX) * ${m} - ${c.padY};
  let x0 = i32(tile % TX) * ${m} - ${c.padX};
${loads}
${sandwich(TRANSFORMS[m].bt, (a, b) => `d_${a}_${b}`, "o")}
${writes}`,
    }),
  };
}

/**
 * The batched product `M[ξ] = V[ξ] · U[ξ]`: bindings `v` (the input transform), `w` the
 * filters ({@linkcode winogradFilters}), `b` (unused), `y` = `M` `[(m + 2)², rows, tiles,
 * outC]`.
 *
 * @param c The correlation.
 * @param m The tile size.
 * @returns The product.
 */
export function winogradProduct(c: ConvCorrelation, m: WinogradTile): GemmSpec {
  return {
    // the shapes (in the product's key) are all it depends on
    key: `winograd${m}`,
    bindings: productBindings("v"),
    mPerRow: tiles(c, m).n,
    n: c.outC,
    k: c.inC,
    batches: (m + 2) ** 2,
    loadA: "  return v[(BATCH * P.rows * M_PER_ROW + m) * K + k];",
    vec4: {
      rowInfo: "  return vec4<i32>(i32((BATCH * P.rows * M_PER_ROW + m) * (K / 4u)), 0, 0, 0);",
      load4: "  return v[u32(ri.x) + k / 4u];",
    },
    bias: false,
  };
}

/**
 * The output transform: bindings `mt` (the product), `b` the bias (read only with `bias`), `y`
 * `[rows, outH, outW, outC]` (rows from `P.rowBase` on). `perRow`: tiles · outC / 4.
 *
 * @param c The correlation.
 * @param m The tile size.
 * @param bias Whether to add the bias.
 * @returns The shader and its invocations per row.
 */
export function winogradOutputShader(
  c: ConvCorrelation,
  m: WinogradTile,
  bias: boolean,
): { shader: ShaderSource; perRow: number } {
  const key = `${keyOf(c, m)}/output${bias ? "/bias" : ""}`;
  return once(key, () => outputShader(key, c, m, bias));
}

function outputShader(
  key: string,
  c: ConvCorrelation,
  m: WinogradTile,
  bias: boolean,
): { shader: ShaderSource; perRow: number } {
  const t = tiles(c, m), n = m + 2, OC4 = c.outC / 4;
  const loads = range(n).flatMap((a) =>
    range(n).map((b) => `  let s_${a}_${b} = mt[(${a * n + b}u * P.rows * TILES + rt) * OC4 + c4];`)
  ).join("\n");
  const writes = range(m).flatMap((a) =>
    range(m).map((b) => {
      const full = (t.ty * m === c.outH || a === 0) && (t.tx * m === c.outW || b === 0);
      const store = `y[((r * OH_ + oy + ${a}u) * OW_ + ox + ${b}u) * OC4 + c4] = o_${a}_${b}${
        bias ? " + bias" : ""
      };`;
      return full ? `  ${store}` : `  if (oy + ${a}u < OH_ && ox + ${b}u < OW_) { ${store} }`;
    })
  ).join("\n");
  return {
    perRow: t.n * OC4,
    shader: elementwiseShader(key, {
      bindings: [
        { name: "mt", type: "f32", wide: true },
        { name: "b", type: "f32", wide: true },
        { name: "y", type: "f32", write: true, wide: true },
      ],
      perRow: t.n * OC4,
      consts: `const TILES = ${t.n}u;
const TX = ${t.tx}u;
const OC4 = ${OC4}u;
const OH_ = ${c.outH}u;
const OW_ = ${c.outW}u;`,
      body: `  let rt = i / OC4;
  let c4 = i % OC4;
  let r = P.rowBase + rt / TILES;
  let tile = rt % TILES;
  let oy = (tile / TX) * ${m}u;
  let ox = (tile % TX) * ${m}u;
${bias ? "  let bias = b[c4];\n" : ""}${loads}
${sandwich(TRANSFORMS[m].at, (a, b) => `s_${a}_${b}`, "o")}
${writes}`,
    }),
  };
}
