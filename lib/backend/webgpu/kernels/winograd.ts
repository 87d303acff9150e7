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
import { WG } from "../_gpu.ts";
import { type WinogradTile, winogradTransforms } from "../../winograd_math.ts";

export { WINOGRAD_POINTS, type WinogradTile, winogradTransforms } from "../../winograd_math.ts";

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
    const k = c.kernel(), per = c.inC * c.outC, n = m + 2, { g } = winogradTransforms(m);
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
const transforms = new Map<string, WinogradTransform>();

/**
 * A transform's shader and its dispatch: `perRow` items (a tile's four channels) per row of
 * the computation, `perGroup` items per workgroup (`Recorder.run`'s dims).
 */
export interface WinogradTransform {
  readonly shader: ShaderSource;
  readonly perRow: number;
  readonly perGroup: number;
}

function once(key: string, make: () => WinogradTransform): WinogradTransform {
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
 * Items: tiles · inC / 4 a row. One invocation an item computes its whole tile (`(m + 2)²`
 * vec4s live at once), or, `staged`, `m + 2` invocations an item share it through workgroup
 * memory: each transforms one row of the tile, then one column of the rows' results (`2(m + 2)`
 * vec4s live: more invocations resident on a GPU, for a pass that is mostly memory traffic).
 *
 * @param c The correlation.
 * @param m The tile size.
 * @param staged Whether to stage the tile in workgroup memory.
 * @returns The shader and its dispatch.
 */
export function winogradInputShader(
  c: ConvCorrelation,
  m: WinogradTile,
  staged = false,
): WinogradTransform {
  const key = `${keyOf(c, m)}/input${staged ? "/staged" : ""}`;
  return once(key, () => inputShader(key, c, m, staged));
}

/** Items of a staged transform of `n × n` tiles a workgroup (`n` invocations each). */
const stagedItems = (n: number) => Math.floor(WG / n);

/**
 * WGSL: the item (`g` of the workgroup's `G`) and the tile row or column (`a`) of invocation
 * `lid` of a staged transform, `item` its index among the dispatch's, `live` whether it has
 * one (`lid` past `G · n`, or an item past the last, has none).
 */
function stagedIndex(n: number, items: string): string {
  return `  let g = lid % G;
  let a = lid / G;
  let item = (i / ${WG}u) * G + g;
  let live = a < ${n}u && item < ${items};`;
}

/**
 * A staged transform `L · D · Lᵀ` of `n × n` tiles `D` (`l`: `L`, `rows × n`), the rows' results
 * kept in `S[(row · rows + column) · G + g]`: after `place` (statements placing the item),
 * invocation `a` loads row `a` of its `D` (`load(k)`: its `k`-th value) and keeps `L` times it;
 * after the barrier, for `a < rows`, it reads column `a` of those rows and stores `L` times it
 * (`store(i, value)`: row `i` of the output's column `a`), after `before` (statements).
 */
function stagedShader(
  key: string,
  options: {
    bindings: readonly Binding[];
    perRow: number;
    consts: string;
    place: string;
    n: number;
    l: readonly number[][];
    load: (k: number) => string;
    store: (i: number, value: string) => string;
    before?: string;
  },
): WinogradTransform {
  const { n, l, load, store, before = "", perRow } = options;
  const rows = l.length, G = stagedItems(n);
  const slot = (row: string, col: string) => `(${row} * ${rows}u + ${col}) * G + g`;
  const terms = (name: string) => range(n).map((k) => `${name}_${k}`);
  return {
    perRow,
    perGroup: G,
    shader: elementwiseShader(key, {
      bindings: options.bindings,
      perRow,
      wholeGroups: true,
      consts: `${options.consts}
const G = ${G}u;
var<workgroup> S: array<vec4<f32>, ${n * rows * G}>;`,
      body: `${stagedIndex(n, `P.rows * ${perRow}u`)}
${options.place}
  if (live) { // row a of the tile, times Lᵀ
${range(n).map((k) => `    let d_${k} = ${load(k)};`).join("\n")}
${
        range(rows).map((j) => `    S[${slot("a", `${j}u`)}] = ${combination(l[j], terms("d"))};`)
          .join("\n")
      }
  }
  workgroupBarrier();
  if (live && a < ${rows}u) { // column a of those rows, L times it
${before}${range(n).map((k) => `    let s_${k} = S[${slot(`${k}u`, "a")}];`).join("\n")}
${range(rows).map((i) => store(i, combination(l[i], terms("s")))).join("\n")}
  }`,
    }),
  };
}

function inputShader(
  key: string,
  c: ConvCorrelation,
  m: WinogradTile,
  staged: boolean,
): WinogradTransform {
  const t = tiles(c, m), n = m + 2, IC4 = c.inC / 4;
  const bindings: Binding[] = [...c.inputs, { name: "v", type: "f32", write: true, wide: true }];
  const consts = `${c.consts}
const TILES = ${t.n}u;
const TX = ${t.tx}u;
const IC4 = ${IC4}u;`;
  const place = `  let rt = item / IC4;
  let c4 = item % IC4;
  let r = P.rowBase + rt / TILES;
  let tile = rt % TILES;
  let y0 = i32(tile / TX) * ${m} - ${c.padY};
  let x0 = i32(tile % TX) * ${m} - ${c.padX};`;
  if (staged) {
    return stagedShader(key, {
      bindings,
      perRow: t.n * IC4,
      consts,
      place,
      n,
      l: winogradTransforms(m).bt,
      load: (k) => `readIn4(r, y0 + i32(a), x0 + ${k}, c4 * 4u)`,
      store: (i, value) => `    v[((${i * n}u + a) * P.rows * TILES + rt) * IC4 + c4] = ${value};`,
    });
  }
  const loads = range(n).flatMap((a) =>
    range(n).map((b) => `  let d_${a}_${b} = readIn4(r, y0 + ${a}, x0 + ${b}, c4 * 4u);`)
  ).join("\n");
  const writes = range(n).flatMap((a) =>
    range(n).map((b) => `  v[(${a * n + b}u * P.rows * TILES + rt) * IC4 + c4] = o_${a}_${b};`)
  ).join("\n");
  return {
    perRow: t.n * IC4,
    perGroup: WG,
    shader: elementwiseShader(key, {
      bindings,
      perRow: t.n * IC4,
      consts,
      body: `  let item = i;
${place}
${loads}
${sandwich(winogradTransforms(m).bt, (a, b) => `d_${a}_${b}`, "o")}
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
 * `[rows, outH, outW, outC]` (rows from `P.rowBase` on). Items: tiles · outC / 4 a row, one
 * invocation each, or `m + 2` (`staged`, as {@linkcode winogradInputShader}).
 *
 * @param c The correlation.
 * @param m The tile size.
 * @param bias Whether to add the bias.
 * @param staged Whether to stage the tile in workgroup memory.
 * @returns The shader and its dispatch.
 */
export function winogradOutputShader(
  c: ConvCorrelation,
  m: WinogradTile,
  bias: boolean,
  staged = false,
): WinogradTransform {
  const key = `${keyOf(c, m)}/output${bias ? "/bias" : ""}${staged ? "/staged" : ""}`;
  return once(key, () => outputShader(key, c, m, bias, staged));
}

function outputShader(
  key: string,
  c: ConvCorrelation,
  m: WinogradTile,
  bias: boolean,
  staged: boolean,
): WinogradTransform {
  const t = tiles(c, m), n = m + 2, OC4 = c.outC / 4;
  const consts = `const TILES = ${t.n}u;
const TX = ${t.tx}u;
const OC4 = ${OC4}u;
const OH_ = ${c.outH}u;
const OW_ = ${c.outW}u;`;
  const bindings: Binding[] = [
    { name: "mt", type: "f32", wide: true },
    { name: "b", type: "f32", wide: true },
    { name: "y", type: "f32", write: true, wide: true },
  ];
  const place = `  let rt = item / OC4;
  let c4 = item % OC4;
  let r = P.rowBase + rt / TILES;
  let tile = rt % TILES;
  let oy = (tile / TX) * ${m}u;
  let ox = (tile % TX) * ${m}u;`;
  const biasValue = bias ? "  let bias = b[c4];\n" : "";
  if (staged) {
    return stagedShader(key, {
      bindings,
      perRow: t.n * OC4,
      consts,
      place,
      n,
      l: winogradTransforms(m).at,
      load: (k) => `mt[((a * ${n}u + ${k}u) * P.rows * TILES + rt) * OC4 + c4]`,
      store: (i, value) =>
        `    if (oy + ${i}u < OH_ && ox + a < OW_) { y[((r * OH_ + oy + ${i}u) * OW_ + ox + a) * OC4 + c4] = ${value}${
          bias ? " + bias" : ""
        }; }`,
      before: bias ? `  ${biasValue}` : "",
    });
  }
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
    perGroup: WG,
    shader: elementwiseShader(key, {
      bindings,
      perRow: t.n * OC4,
      consts,
      body: `  let item = i;
${place}
${biasValue}${loads}
${sandwich(winogradTransforms(m).at, (a, b) => `s_${a}_${b}`, "o")}
${writes}`,
    }),
  };
}
