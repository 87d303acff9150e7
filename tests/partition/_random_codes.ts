/**
 * Random partition codes for the distance and nearest-neighbour tests, and a
 * brute-force per-unit reference that shares no code with the library.
 *
 * @module
 */
import type { CodeLayer } from "../../lib/partition/code_layer.ts";
import type { CodeKind } from "../../lib/network/spline_network.ts";

/** A seeded uniform [0, 1) generator (mulberry32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Options of {@linkcode randomCodes}. */
export interface RandomCodesOptions {
  /** Layer kind (default `relu`). */
  kind?: CodeKind;
  /** Code-layer index (default 0). */
  layer?: number;
  /** Seed (default 1). */
  seed?: number;
  /** Probability of a 1 bit (sign layers, default 0.5). */
  p?: number;
  /** Argmax values are drawn from `[0, window)` (max-pool, default 4). */
  window?: number;
}

/** Random codes of `count` examples with `units` units. */
export function randomCodes(
  count: number,
  units: number,
  options: RandomCodesOptions = {},
): CodeLayer {
  const { kind = "relu", layer = 0, seed = 1, p = 0.5, window = 4 } = options;
  const next = rng(seed);
  if (kind === "max-pool") {
    const argmax = new Uint16Array(count * units);
    for (let i = 0; i < argmax.length; i++) argmax[i] = Math.floor(next() * window);
    return {
      kind,
      layer,
      name: `pool${layer}`,
      count,
      units,
      shape: [units],
      words: 0,
      bits: new Uint32Array(0),
      argmax,
    };
  }
  const words = Math.ceil(units / 32);
  const bits = new Uint32Array(count * words);
  for (let n = 0; n < count; n++) {
    for (let u = 0; u < units; u++) {
      if (next() < p) bits[n * words + (u >>> 5)] |= 1 << (u & 31);
    }
  }
  return {
    kind,
    layer,
    name: `${kind}${layer}`,
    count,
    units,
    shape: [units],
    words,
    bits,
    argmax: new Uint16Array(0),
  };
}

/** Rows `rows` of a code layer, as a new code layer (duplicates allowed). */
export function pickRows(code: CodeLayer, rows: readonly number[]): CodeLayer {
  const w = code.words, u = code.units;
  const bits = new Uint32Array(rows.length * w);
  const argmax = new Uint16Array(code.kind === "max-pool" ? rows.length * u : 0);
  rows.forEach((r, i) => {
    bits.set(code.bits.subarray(r * w, (r + 1) * w), i * w);
    if (code.kind === "max-pool") argmax.set(code.argmax.subarray(r * u, (r + 1) * u), i * u);
  });
  return { ...code, count: rows.length, bits, argmax };
}

/** The code of unit `u` of example `n`, read one unit at a time. */
export function unitCode(code: CodeLayer, n: number, u: number): number {
  if (code.kind === "max-pool") return code.argmax[n * code.units + u];
  const word = code.bits[n * code.words + Math.floor(u / 32)];
  return Math.floor(word / 2 ** (u % 32)) % 2;
}

/** Brute-force eq. (15): `1 − #{k : equal} / D` for every pair, float64 row-major. */
export function bruteForceDistances(a: CodeLayer, b: CodeLayer): Float64Array {
  const out = new Float64Array(a.count * b.count);
  const D = a.units;
  for (let i = 0; i < a.count; i++) {
    for (let j = 0; j < b.count; j++) {
      let equal = 0;
      for (let u = 0; u < D; u++) if (unitCode(a, i, u) === unitCode(b, j, u)) equal++;
      out[i * b.count + j] = (D - equal) / D;
    }
  }
  return out;
}

/** Brute-force k nearest neighbours: full sort by (distance, index). */
export function bruteForceNeighbors(
  a: CodeLayer,
  b: CodeLayer,
  k: number,
  exclude = false,
): { indices: number[][]; distances: number[][] } {
  const d = bruteForceDistances(a, b);
  const indices: number[][] = [], distances: number[][] = [];
  for (let i = 0; i < a.count; i++) {
    const order = [...Array(b.count).keys()]
      .filter((j) => !(exclude && j === i))
      .sort((x, y) => d[i * b.count + x] - d[i * b.count + y] || x - y)
      .slice(0, k);
    indices.push(order);
    distances.push(order.map((j) => Math.fround(d[i * b.count + j])));
  }
  return { indices, distances };
}
