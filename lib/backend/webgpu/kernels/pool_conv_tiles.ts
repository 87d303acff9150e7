/**
 * The transpose of a stride-1 conv followed by its sign layer and a disjoint max-pool
 * (conv → ReLU → pool), by window tiles instead of a product: through the pool each window
 * passes one gradient per channel, at its argmax, so that window's contribution to the conv's
 * input is `Σ_c coef_c · F[c, slot_c]`, where `F[c, s]` is the conv's filter `c` transposed
 * and shifted to slot `s` of a `(ph + kh − 1) × (pw + kw − 1)` tile of the input
 * (precomputed once). One invocation per window and group of input channels sums its part of
 * the tile in registers — `CO` coefficients, each computed once and applied to the whole
 * part — and a second kernel adds each input pixel's overlapping tiles. For a 3×3 conv and a
 * 2×2 pool that is 16/36 of the product on the unpooled gradient (whose values are 3/4
 * zeros), without its im2col gather, and the unpooled gradient is never written.
 *
 * @module
 */
import type { Conv2DLayer, MaxPool2DLayer } from "../../../network/spline_network.ts";
import { isDisjointPool } from "../../../network/disjoint_pool.ts";
import type { ShaderSource } from "../_pipelines.ts";
import { elementwiseShader } from "./_elementwise.ts";
import type { FusedSign } from "./max_pool.ts";
import { f, range, signOfFns } from "./_snippets.ts";

/** The most tile values one invocation holds (16 vec4 accumulators). */
const MAX_TILE = 64;

/**
 * Tile geometry of a conv → (sign) → pool block: the tile `TH × TW` pixels, its input
 * channels split into `G` groups of `CG` (the largest divisor of `CI` whose part of the tile
 * fits {@linkcode MAX_TILE} values; 0 if none does), `V` vec4s per group's part.
 */
function geometry(conv: Conv2DLayer, pool: MaxPool2DLayer) {
  const [H, W, CI] = conv.inputShape, [OH, OW, CO] = conv.outputShape;
  const [KH, KW] = conv.kernelSize, [PH, PW] = pool.poolSize;
  const [QOH, QOW] = pool.outputShape;
  const TH = PH + KH - 1, TW = PW + KW - 1;
  let CG = CI;
  while (CG > 0 && (CI % CG !== 0 || TH * TW * CG > MAX_TILE)) CG--;
  const G = CG > 0 ? CI / CG : 0;
  const V = Math.ceil((TH * TW * CG) / 4);
  return { H, W, CI, OH, OW, CO, KH, KW, PH, PW, QOH, QOW, TH, TW, CG, G, V };
}

/**
 * The multiply-adds of the window tiles over those of the conv's transpose on the unpooled
 * gradient (as a product does it): `poh·pow·th·tw / (oh·ow·kh·kw)` — 0.38 for smallCNN's
 * 3×3 convs before 2×2 pools, 1 for a 1×1 conv (whose tiles are its windows).
 *
 * @param conv The conv.
 * @param pool The max-pool.
 * @returns The ratio.
 */
export function poolConvTilesWork(conv: Conv2DLayer, pool: MaxPool2DLayer): number {
  const { OH, OW, KH, KW, QOH, QOW, TH, TW } = geometry(conv, pool);
  return (QOH * QOW * TH * TW) / (OH * OW * KH * KW);
}

/** A pass over channel groups `first … first + count − 1` of the tiles. */
export interface TileGroups {
  readonly first: number;
  readonly count: number;
}

/**
 * Values per row of the tiles of all windows in `groups` (the temporary between the kernels).
 *
 * @param conv The conv.
 * @param pool The max-pool.
 * @param groups The pass's channel groups (all by default).
 * @returns The count.
 */
export function poolConvTileValues(
  conv: Conv2DLayer,
  pool: MaxPool2DLayer,
  groups?: TileGroups,
): number {
  const g = geometry(conv, pool);
  return g.QOH * g.QOW * (groups?.count ?? g.G) * 4 * g.V;
}

/**
 * The passes of the window tiles within `rowFloats` values per row: as few as fit, over
 * (nearly) equal runs of channel groups; empty where the block does not qualify (a strided conv, overlapping or
 * padded pool windows, a tile of over 64 pixels, or one group's tiles over the budget).
 *
 * @param conv The conv.
 * @param pool The max-pool after it (and after its sign layer, if any).
 * @param rowFloats The most values per row a temporary may hold.
 * @returns The passes.
 */
export function poolConvTilePasses(
  conv: Conv2DLayer,
  pool: MaxPool2DLayer,
  rowFloats: number,
): TileGroups[] {
  if (conv.strides[0] !== 1 || conv.strides[1] !== 1 || !isDisjointPool(pool)) return [];
  const { G } = geometry(conv, pool);
  const one = poolConvTileValues(conv, pool, { first: 0, count: 1 });
  if (G === 0 || one > rowFloats) return [];
  // as few passes as fit, of (nearly) equal size
  const count = Math.ceil(G / Math.min(G, Math.floor(rowFloats / one)));
  const per = Math.ceil(G / count);
  return Array.from(
    { length: Math.ceil(G / per) },
    (_, i) => ({ first: i * per, count: Math.min(per, G - i * per) }),
  );
}

/**
 * Invocations per row of {@linkcode poolConvTilesShader}: windows × channel groups.
 *
 * @param conv The conv.
 * @param pool The max-pool.
 * @param groups The pass's channel groups.
 * @returns The count.
 */
export function poolConvTilesPerRow(
  conv: Conv2DLayer,
  pool: MaxPool2DLayer,
  groups: TileGroups,
): number {
  const g = geometry(conv, pool);
  return g.QOH * g.QOW * groups.count;
}

/**
 * Invocations per row of {@linkcode poolConvOverlapShader}: pixels × the pass's channels.
 *
 * @param conv The conv.
 * @param pool The max-pool.
 * @param groups The pass's channel groups.
 * @returns The count.
 */
export function poolConvOverlapPerRow(
  conv: Conv2DLayer,
  pool: MaxPool2DLayer,
  groups: TileGroups,
): number {
  const g = geometry(conv, pool);
  return g.H * g.W * groups.count * g.CG;
}

const tileCache = new WeakMap<Conv2DLayer, { pool: string; tiles: Float64Array }>();

/**
 * The shifted filters `F[c, s]`, laid out `[CO, ph·pw, V, G, 4]`: group `g`'s part of filter
 * `c` transposed and placed at slot `s = sy·pw + sx` of the tile (value `(ty·TW + tx)·CG + cl`
 * of the part is `k[ty − sy, tx − sx, g·CG + cl, c]`, zero outside the filter), the groups of
 * one vec4 side by side (neighbouring invocations read neighbouring vec4s). Made once per conv.
 *
 * @param conv The conv.
 * @param pool The max-pool.
 * @returns The tiles.
 */
export function poolConvTiles(conv: Conv2DLayer, pool: MaxPool2DLayer): Float64Array {
  const key = `${pool.poolSize}`;
  const hit = tileCache.get(conv);
  if (hit?.pool === key) return hit.tiles;
  const { CI, CO, KH, KW, PH, PW, TW, CG, G, V } = geometry(conv, pool);
  const tiles = new Float64Array(CO * PH * PW * V * G * 4);
  for (let c = 0; c < CO; c++) {
    for (let sy = 0; sy < PH; sy++) {
      for (let sx = 0; sx < PW; sx++) {
        const base = (c * PH * PW + sy * PW + sx) * V;
        for (let ky = 0; ky < KH; ky++) {
          for (let kx = 0; kx < KW; kx++) {
            for (let ci = 0; ci < CI; ci++) {
              const g = Math.floor(ci / CG);
              const j = ((sy + ky) * TW + sx + kx) * CG + ci % CG;
              tiles[((base + (j >> 2)) * G + g) * 4 + (j & 3)] =
                conv.kernel[((ky * KW + kx) * CI + ci) * CO + c];
            }
          }
        }
      }
    }
  }
  tileCache.set(conv, { pool: key, tiles });
  return tiles;
}

/**
 * The window tiles: bindings `g` the pooled gradient `[rows, poh, pow, CO]`, `codes` the
 * pool's argmax slots, (`scodes` the sign layer's codes, with `sign`), `tiles`
 * ({@linkcode poolConvTiles}), `t` `[rows, poh·pow, V, groups.count, 4]`; one invocation
 * per row, window and channel group of the pass ({@linkcode poolConvTilesPerRow}).
 *
 * @param conv The conv.
 * @param pool The max-pool.
 * @param options `sign` the sign layer between them, `groups` the pass's channel groups.
 * @returns The shader.
 */
export function poolConvTilesShader(
  conv: Conv2DLayer,
  pool: MaxPool2DLayer,
  options: { sign?: FusedSign; groups: TileGroups },
): ShaderSource {
  const { OW, CO, PH, PW, QOH, QOW, G, V } = geometry(conv, pool);
  const { sign, groups } = options;
  const acc = range(V);
  const signKey = sign === undefined ? "" : `/sign${f(sign.slope)}`;
  return elementwiseShader(
    `pool-conv-tiles/${conv.inputShape}/${conv.outputShape}/${conv.kernelSize}/${conv.padding}/${pool.poolSize}/groups${groups.first},${groups.count}${signKey}`,
    {
      bindings: [
        { name: "g", type: "f32" },
        { name: "codes", type: "u32" },
        ...(sign === undefined ? [] : [{ name: "scodes", type: "u32" as const }]),
        { name: "tiles", type: "f32", wide: true },
        { name: "t", type: "f32", wide: true, write: true },
      ],
      perRow: QOH * QOW * groups.count,
      consts: `const CO = ${CO}u; const OW = ${OW}u; const PH = ${PH}u; const PW = ${PW}u;
const QOW = ${QOW}u; const QOUT = ${QOH * QOW * CO}u; const S = ${PH * PW}u;
const G = ${G}u; const V = ${V}u; const G0 = ${groups.first}u; const GB = ${groups.count}u;${
        sign === undefined ? "" : signOfFns(conv.outputShape.reduce((a, b) => a * b), sign.slope)
      }`,
      body: `  let r = i / PER_ROW;
  let gi = i % GB;
  let w = (i % PER_ROW) / GB;
  let e = exampleOf(r);
  let wy = w / QOW;
  let wx = w % QOW;
${acc.map((v) => `  var a${v} = vec4<f32>(0.0);`).join("\n")}
  for (var c = 0u; c < CO; c++) {
    let o = w * CO + c;
    let slot = codes[e * QOUT + o];
    let coef = g[r * QOUT + o]${
        sign === undefined
          ? ""
          : " * signOf(e, ((wy * PH + slot / PW) * OW + wx * PW + slot % PW) * CO + c)"
      };
    if (coef != 0.0) {
      let base = (c * S + slot) * V * G + G0 + gi;
      let k = vec4<f32>(coef);
${acc.map((v) => `      a${v} = fma(k, tiles[base + ${v}u * G], a${v});`).join("\n")}
    }
  }
  let out = (i - gi) * V + gi;
${acc.map((v) => `  t[out + ${v}u * GB] = a${v};`).join("\n")}`,
    },
  );
}

/**
 * The overlapping tiles added into the conv's input gradient: bindings `t` (the pass's
 * window tiles), `y` `[rows, H, W, CI]`, of which the pass writes its groups' channels; one
 * invocation per value written ({@linkcode poolConvOverlapPerRow}), summing the tiles of the
 * (at most `⌈th / ph⌉ · ⌈tw / pw⌉`) windows that cover its pixel.
 *
 * @param conv The conv.
 * @param pool The max-pool.
 * @param groups The pass's channel groups.
 * @returns The shader.
 */
export function poolConvOverlapShader(
  conv: Conv2DLayer,
  pool: MaxPool2DLayer,
  groups: TileGroups,
): ShaderSource {
  const { H, W, CI, PH, PW, QOH, QOW, TH, TW, CG, V } = geometry(conv, pool);
  const PT = conv.padding[0], PL = conv.padding[2];
  return elementwiseShader(
    `pool-conv-overlap/${conv.inputShape}/${conv.outputShape}/${conv.kernelSize}/${conv.padding}/${pool.poolSize}/groups${groups.first},${groups.count}`,
    {
      bindings: [{ name: "t", type: "f32" }, { name: "y", type: "f32", write: true }],
      perRow: H * W * groups.count * CG,
      consts: `const W = ${W}u; const CI = ${CI}u; const PH = ${PH}; const PW = ${PW};
const PT = ${PT}; const PL = ${PL}; const QOH = ${QOH}; const QOW = ${QOW}; const TH = ${TH};
const TW = ${TW}; const WIN = ${QOH * QOW}u; const CG = ${CG}u; const G = ${groups.count}u;
const V = ${V}u; const C0 = ${groups.first * CG}u; const CP = ${groups.count * CG}u;`,
      body: `  let r = i / PER_ROW;
  let q = i % PER_ROW;
  let cp = q % CP;
  let gi = cp / CG;
  let pixel = q / CP;
  let iy = i32(pixel / W) + PT;
  let ix = i32(pixel % W) + PL;
  var s = 0.0;
  // windows wy with 0 ≤ iy − wy·PH < TH (iy counted from the padded top), from the last down
  for (var wy = iy / PH; wy >= 0 && iy - wy * PH < TH; wy--) {
    if (wy >= QOH) { continue; }
    for (var wx = ix / PW; wx >= 0 && ix - wx * PW < TW; wx--) {
      if (wx >= QOW) { continue; }
      let j = u32((iy - wy * PH) * TW + ix - wx * PW) * CG + cp % CG;
      let v = ((r * WIN + u32(wy * QOW + wx)) * V + j / 4u) * G + gi;
      s += t[v * 4u + j % 4u];
    }
  }
  y[(r * ${H * W}u + pixel) * CI + C0 + cp] = s;`,
    },
  );
}
