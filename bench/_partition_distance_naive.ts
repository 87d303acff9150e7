/**
 * The naive baseline of the partition-distance benchmarks: what plain JavaScript
 * does without masokit — one pair at a time, a SWAR popcount per 32-bit word, one
 * thread, and a sorted insertion top-k — and the random ReLU codes they all time.
 *
 * @module
 */
import type { CodeLayer } from "../lib/partition/code_layer.ts";

/** Top-k (by mismatch count, then index) of each query, one pair at a time. */
export function naiveTopK(
  q: Uint32Array,
  b: Uint32Array,
  words: number,
  k: number,
): { indices: Int32Array; counts: Int32Array } {
  const nq = q.length / words, m = b.length / words;
  const indices = new Int32Array(nq * k), counts = new Int32Array(nq * k);
  for (let i = 0; i < nq; i++) {
    let filled = 0;
    const o = i * k;
    for (let j = 0; j < m; j++) {
      let c = 0;
      for (let w = 0; w < words; w++) {
        let x = q[i * words + w] ^ b[j * words + w];
        x -= (x >>> 1) & 0x55555555;
        x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
        c += Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
      }
      if (filled < k || c < counts[o + k - 1]) {
        let p = filled < k ? filled++ : k - 1;
        while (p > 0 && counts[o + p - 1] > c) {
          counts[o + p] = counts[o + p - 1];
          indices[o + p] = indices[o + p - 1];
          p--;
        }
        counts[o + p] = c;
        indices[o + p] = j;
      }
    }
  }
  return { indices, counts };
}

/** Uniformly random 32-bit words from a seeded xorshift generator. */
export function randomWords(n: number, seed: number): Uint32Array {
  const out = new Uint32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s >>> 0;
  }
  return out;
}

/** A ReLU code layer of `units` bits an example holding `bits` (`count` rows of whole words). */
export function reluCodes(bits: Uint32Array, units: number): CodeLayer {
  const words = Math.ceil(units / 32);
  return {
    kind: "relu",
    layer: 0,
    name: "relu",
    count: bits.length / words,
    units,
    shape: [units],
    words,
    bits,
    argmax: new Uint16Array(0),
  };
}
