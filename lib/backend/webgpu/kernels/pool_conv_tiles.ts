/**
 * The transpose of a stride-1 conv followed by its sign layer and a disjoint max-pool
 * (conv → ReLU → pool, a first layer's block), by window tiles instead of a product: through
 * the pool each window passes one gradient per channel, at its argmax, so that window's
 * contribution to the conv's input is `Σ_c coef_c · F[c, slot_c]`, where `F[c, s]` is the
 * conv's filter `c` transposed and shifted to slot `s` of a `(ph + kh − 1) × (pw + kw − 1)`
 * tile of the input (precomputed once). One invocation per window sums its tile in registers
 * (`CO` terms of `tile` values, against `H·W` positions × `kh·kw·CO` depths for the product
 * on the unpooled gradient); a second kernel adds each input pixel's overlapping tiles.
 * Neither the unpooled gradient nor an im2col view of it is ever read.
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

/** Tile geometry of a conv → (sign) → pool block. */
function geometry(conv: Conv2DLayer, pool: MaxPool2DLayer) {
  const [H, W, CI] = conv.inputShape, [OH, OW, CO] = conv.outputShape;
  const [KH, KW] = conv.kernelSize, [PH, PW] = pool.poolSize;
  const [QOH, QOW] = pool.outputShape;
  const TH = PH + KH - 1, TW = PW + KW - 1;
  const TV = Math.ceil((TH * TW * CI) / 4);
  return { H, W, CI, OH, OW, CO, KH, KW, PH, PW, QOH, QOW, TH, TW, TV };
}

/**
 * Whether the block's transpose can run as window tiles: a stride-1 conv, a disjoint pool
 * over its output, tiles of at most 64 values, and tiles of all windows no larger than the
 * conv's output (they share its buffers' size limit).
 *
 * @param conv The conv.
 * @param pool The max-pool after it (and after its sign layer, if any).
 * @returns Whether {@linkcode poolConvTilesShader} applies.
 */
export function poolConvTilesApply(conv: Conv2DLayer, pool: MaxPool2DLayer): boolean {
  if (conv.strides[0] !== 1 || conv.strides[1] !== 1 || !isDisjointPool(pool)) return false;
  const g = geometry(conv, pool);
  return 4 * g.TV <= MAX_TILE && g.QOH * g.QOW * 4 * g.TV <= g.OH * g.OW * g.CO;
}

/** Values of the window tiles of all rows' windows, per row (the temporary's size). */
export function poolConvTileValues(conv: Conv2DLayer, pool: MaxPool2DLayer): number {
  const g = geometry(conv, pool);
  return g.QOH * g.QOW * 4 * g.TV;
}

const tileCache = new WeakMap<Conv2DLayer, { pool: string; tiles: Float64Array }>();

/**
 * The shifted filters `F[c, s]` `[CO, ph·pw, 4·TV]`: filter `c` transposed (`[kh, kw, cin]`)
 * placed at slot `s = sy·pw + sx` of the tile (`F[c, s][(sy + ky, sx + kx), ci] = k[ky, kx,
 * ci, c]`), zero elsewhere. Made once per conv.
 *
 * @param conv The conv.
 * @param pool The max-pool.
 * @returns The tiles.
 */
export function poolConvTiles(conv: Conv2DLayer, pool: MaxPool2DLayer): Float64Array {
  const key = `${pool.poolSize}`;
  const hit = tileCache.get(conv);
  if (hit?.pool === key) return hit.tiles;
  const { CI, CO, KH, KW, PH, PW, TW, TV } = geometry(conv, pool);
  const tiles = new Float64Array(CO * PH * PW * 4 * TV);
  for (let c = 0; c < CO; c++) {
    for (let sy = 0; sy < PH; sy++) {
      for (let sx = 0; sx < PW; sx++) {
        const base = (c * PH * PW + sy * PW + sx) * 4 * TV;
        for (let ky = 0; ky < KH; ky++) {
          for (let kx = 0; kx < KW; kx++) {
            for (let ci = 0; ci < CI; ci++) {
              tiles[base + ((sy + ky) * TW + sx + kx) * CI + ci] =
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
 * ({@linkcode poolConvTiles}), `t` `[rows, poh·pow, 4·TV]`; one invocation per row and window.
 *
 * @param conv The conv.
 * @param pool The max-pool.
 * @param sign The sign layer between them.
 * @returns The shader.
 */
export function poolConvTilesShader(
  conv: Conv2DLayer,
  pool: MaxPool2DLayer,
  sign?: FusedSign,
): ShaderSource {
  const { OW, CO, PH, PW, QOH, QOW, TV } = geometry(conv, pool);
  const acc = range(TV);
  const signKey = sign === undefined ? "" : `/sign${f(sign.slope)}`;
  return elementwiseShader(
    `pool-conv-tiles/${conv.inputShape}/${conv.outputShape}/${conv.kernelSize}/${conv.padding}/${pool.poolSize}${signKey}`,
    {
      bindings: [
        { name: "g", type: "f32" },
        { name: "codes", type: "u32" },
        ...(sign === undefined ? [] : [{ name: "scodes", type: "u32" as const }]),
        { name: "tiles", type: "f32", wide: true },
        { name: "t", type: "f32", wide: true, write: true },
      ],
      perRow: QOH * QOW,
      consts: `const CO = ${CO}u; const OW = ${OW}u; const PH = ${PH}u; const PW = ${PW}u;
const QOW = ${QOW}u; const QOUT = ${QOH * QOW * CO}u; const S = ${PH * PW}u; const TV = ${TV}u;${
        sign === undefined ? "" : signOfFns(conv.outputShape.reduce((a, b) => a * b), sign.slope)
      }`,
      body: `  let r = i / PER_ROW;
  let w = i % PER_ROW;
  let e = r / P.rowsPerCode;
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
      let base = (c * S + slot) * TV;
      let k = vec4<f32>(coef);
${acc.map((v) => `      a${v} = fma(k, tiles[base + ${v}u], a${v});`).join("\n")}
    }
  }
${acc.map((v) => `  t[i * TV + ${v}u] = a${v};`).join("\n")}`,
    },
  );
}

/**
 * The overlapping tiles added into the conv's input gradient: bindings `t` (the window
 * tiles), `y` `[rows, H, W, CI]`; one invocation per output value, summing the tiles of
 * the (at most `⌈th / ph⌉ · ⌈tw / pw⌉`) windows that cover its pixel.
 *
 * @param conv The conv.
 * @param pool The max-pool.
 * @returns The shader.
 */
export function poolConvOverlapShader(conv: Conv2DLayer, pool: MaxPool2DLayer): ShaderSource {
  const { H, W, CI, PH, PW, QOH, QOW, TH, TW, TV } = geometry(conv, pool);
  const PT = conv.padding[0], PL = conv.padding[2];
  return elementwiseShader(
    `pool-conv-overlap/${conv.inputShape}/${conv.outputShape}/${conv.kernelSize}/${conv.padding}/${pool.poolSize}`,
    {
      bindings: [{ name: "t", type: "f32" }, { name: "y", type: "f32", write: true }],
      perRow: H * W * CI,
      consts: `const W = ${W}u; const CI = ${CI}u; const PH = ${PH}; const PW = ${PW};
const PT = ${PT}; const PL = ${PL}; const QOH = ${QOH}; const QOW = ${QOW}; const TH = ${TH};
const TW = ${TW}; const WIN = ${QOH * QOW}u; const TILE = ${4 * TV}u;`,
      body: `  let r = i / PER_ROW;
  let q = i % PER_ROW;
  let ci = q % CI;
  let iy = i32((q / CI) / W) + PT;
  let ix = i32((q / CI) % W) + PL;
  var s = 0.0;
  // windows wy with 0 ≤ iy + PT − wy·PH < TH, from the last one down
  for (var wy = iy / PH; wy >= 0 && iy - wy * PH < TH; wy--) {
    if (wy >= QOH) { continue; }
    for (var wx = ix / PW; wx >= 0 && ix - wx * PW < TW; wx--) {
      if (wx >= QOW) { continue; }
      let tile = (r * WIN + u32(wy * QOW + wx)) * TILE;
      s += t[tile + u32((iy - wy * PH) * TW + ix - wx * PW) * CI + ci];
    }
  }
  y[i] = s;`,
    },
  );
}
