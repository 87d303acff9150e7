/**
 * The partition code of a batch at one nonlinear layer, packed for fast comparison.
 *
 * @module
 */
import type { CodeKind, Shape } from "../network/spline_network.ts";

/**
 * The partition codes t^(ℓ)(x) of N examples at one code layer ℓ (Section 7).
 *
 * - `relu`, `leaky-relu`, `abs`: one bit per unit, 1 where the pre-activation is
 *   `> 0` (a pre-activation of exactly 0 is inactive: bit 0). Bits are packed
 *   little-endian into `bits`, `words = ceil(units / 32)` 32-bit words per example:
 *   unit `u` of example `n` is bit `u & 31` of `bits[n * words + (u >>> 5)]`; unused
 *   high bits of the last word are 0.
 * - `max-pool`: one argmax per output unit, its index in row-major window order
 *   (`ky · poolWidth + kx`), ties to the first; stored in `argmax[n * units + u]`.
 */
export interface CodeLayer {
  /** The nonlinearity: a sign layer (`relu`, `leaky-relu`, `abs`: bits) or `max-pool` (argmaxes). */
  readonly kind: CodeKind;
  /** Index of this layer among the network's code layers, from 0. */
  readonly layer: number;
  /** The network layer's name. */
  readonly name: string;
  /** N: number of examples. */
  readonly count: number;
  /** D^(ℓ): number of units per example. */
  readonly units: number;
  /** Per-example shape of the layer's output. */
  readonly shape: Shape;
  /** 32-bit words per example in `bits` (0 for max-pool). */
  readonly words: number;
  /** Packed sign bits `[count, words]` (sign layers), else an empty array. */
  readonly bits: Uint32Array;
  /** Argmax indices `[count, units]` (max-pool), else an empty array. */
  readonly argmax: Uint16Array;
}

/** The codes of every code layer of a network, in the network's code-layer order. */
export type PartitionCodes = readonly CodeLayer[];
