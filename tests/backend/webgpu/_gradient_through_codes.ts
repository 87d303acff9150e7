/**
 * Brute force for the kernels that read a conv's output gradient through the layers after
 * the conv (a sign layer's packed bits, a disjoint max-pool's argmax slots): seeded codes, the
 * gradient at the conv's output by definition, and the conv's transpose by scattering every
 * tap. Shared by the matrix-product and window-tile tests.
 */
import type { Conv2DLayer, MaxPool2DLayer } from "../../../lib/network/spline_network.ts";

/** `n` seeded values in [−1, 1). */
export function seeded(n: number, seed: number): Float64Array {
  let s = seed >>> 0;
  return Float64Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/**
 * The disjoint `ph × pw` max-pool over a conv's output; where the output's size is not a
 * multiple of the window, the last rows or columns are in no window.
 */
export function poolOver(conv: Conv2DLayer, [PH, PW]: [number, number]): MaxPool2DLayer {
  const [OH, OW, CO] = conv.outputShape;
  return {
    kind: "max-pool",
    name: "pool",
    inputShape: [OH, OW, CO],
    outputShape: [Math.floor(OH / PH), Math.floor(OW / PW), CO],
    poolSize: [PH, PW],
    strides: [PH, PW],
    padding: [0, 0, 0, 0],
  };
}

/** Codes of examples: the pool's argmax slots and the sign layer's packed bits. */
export interface SeededCodes {
  readonly slots: Uint32Array;
  readonly bits: Uint32Array;
}

/**
 * Seeded codes of `examples` examples at a conv's output: the sign bits of every unit (about
 * half set) and, for `pool`, one argmax slot per window and channel.
 */
export function seededCodes(
  conv: Conv2DLayer,
  pool: MaxPool2DLayer | undefined,
  examples: number,
  seed: number,
): SeededCodes {
  const units = conv.outputShape.reduce((a, b) => a * b);
  const pooled = pool === undefined ? 0 : pool.outputShape.reduce((a, b) => a * b);
  const S = pool === undefined ? 1 : pool.poolSize[0] * pool.poolSize[1];
  const r = seeded(examples * (pooled + units), seed);
  const slots = Uint32Array.from(
    { length: examples * pooled },
    (_, i) => Math.floor((r[i] + 1) / 2 * S) % S,
  );
  const words = Math.ceil(units / 32);
  const bits = new Uint32Array(examples * words);
  for (let e = 0; e < examples; e++) {
    for (let u = 0; u < units; u++) {
      if (r[examples * pooled + e * units + u] > 0) bits[e * words + (u >> 5)] |= 1 << (u & 31);
    }
  }
  return { slots, bits };
}

/**
 * The gradient at the conv's output, by definition, of `rows` rows of `g` (the pooled
 * gradient with `pool`, else the gradient after the sign layer), `perCode` rows per example's
 * codes: through the pool, a window's gradient goes to its argmax slot only; through the sign
 * layer (with `slope`), inactive units are scaled by `slope`.
 */
export function gradientAtConv(
  conv: Conv2DLayer,
  options: {
    g: Float64Array;
    rows: number;
    perCode: number;
    codes: SeededCodes;
    pool?: MaxPool2DLayer;
    slope?: number;
  },
): Float64Array {
  const { g, rows, perCode, pool, slope } = options;
  const { slots, bits } = options.codes;
  const [OH, OW, CO] = conv.outputShape;
  const units = OH * OW * CO, words = Math.ceil(units / 32);
  const [PH, PW] = pool?.poolSize ?? [1, 1];
  const [QH, QW] = pool?.outputShape ?? [OH, OW];
  const gSize = pool ? QH * QW * CO : units;
  const at = new Float64Array(rows * units);
  for (let row = 0; row < rows; row++) {
    const e = Math.floor(row / perCode);
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        for (let co = 0; co < CO; co++) {
          const u = (oy * OW + ox) * CO + co;
          let v: number;
          if (pool) {
            const wy = Math.floor(oy / PH), wx = Math.floor(ox / PW);
            const o = (wy * QW + wx) * CO + co;
            const slot = (oy % PH) * PW + ox % PW;
            v = wy < QH && wx < QW && slots[e * QH * QW * CO + o] === slot ? g[row * gSize + o] : 0;
          } else v = g[row * gSize + u];
          if (slope !== undefined && ((bits[e * words + (u >> 5)] >>> (u & 31)) & 1) === 0) {
            v *= slope;
          }
          at[row * units + u] = v;
        }
      }
    }
  }
  return at;
}

/** The conv's transpose of `rows` rows of `at` (at its output), every tap scattered. */
export function scatterTranspose(conv: Conv2DLayer, at: Float64Array, rows: number): Float64Array {
  const [H, W, CI] = conv.inputShape, [OH, OW, CO] = conv.outputShape;
  const [KH, KW] = conv.kernelSize, [SH, SW] = conv.strides;
  const PT = conv.padding[0], PL = conv.padding[2];
  const want = new Float64Array(rows * H * W * CI);
  for (let row = 0; row < rows; row++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        for (let ky = 0; ky < KH; ky++) {
          for (let kx = 0; kx < KW; kx++) {
            const iy = oy * SH + ky - PT, ix = ox * SW + kx - PL;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            for (let ci = 0; ci < CI; ci++) {
              for (let co = 0; co < CO; co++) {
                want[((row * H + iy) * W + ix) * CI + ci] +=
                  at[((row * OH + oy) * OW + ox) * CO + co] *
                  conv.kernel[((ky * KW + kx) * CI + ci) * CO + co];
              }
            }
          }
        }
      }
    }
  }
  return want;
}
