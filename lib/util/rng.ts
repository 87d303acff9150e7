/**
 * A small seeded pseudo-random number generator (xoshiro128**, seeded through
 * splitmix32) with a serializable state, a Fisher–Yates shuffle, and the
 * class-balanced batch sampler used to train the paper's networks.
 *
 * @module
 */

/** splitmix32 step: returns the next state and a well-mixed 32-bit output. */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) >>> 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return [next, (z ^ (z >>> 16)) >>> 0];
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * A seeded xoshiro128** generator. Same seed, same sequence, on every platform;
 * its whole state is four 32-bit words ({@linkcode Rng.state}), so a run can be
 * checkpointed and resumed exactly.
 *
 * @example Reproducible draws and a saved state
 * ```ts
 * import { Rng } from "./rng.ts";
 * import { deepEqual, ok } from "node:assert/strict";
 * const a = new Rng(42), b = new Rng(42);
 * deepEqual([a.next(), a.next()], [b.next(), b.next()]);
 * const saved = a.state;
 * const x = a.int(10);
 * ok(x >= 0 && x < 10);
 * deepEqual(Rng.fromState(saved).int(10), x);
 * ```
 */
export class Rng {
  #s: Uint32Array;

  /**
   * Creates a generator from an integer seed.
   *
   * @param seed Any safe integer (negative values and values ≥ 2³² are folded in).
   */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) {
      throw new RangeError(`Cannot seed Rng: seed ${seed} is not a safe integer`);
    }
    // Fold the high word in, mixed, so that seeds differing only above bit 31 differ. A plain
    // xor of the two words made -k the same stream as k − 1 (-1 as 0: a sweep's runs with
    // base seed -3 repeated three batch orders) and 2^32 + k the same as 0 ^ k; seeds in
    // [0, 2^32) (high word 0) keep their streams.
    const high = Math.floor(seed / 4294967296) >>> 0;
    let st = ((seed >>> 0) ^ (high === 0 ? 0 : splitmix32(high)[1])) >>> 0;
    this.#s = new Uint32Array(4);
    for (let i = 0; i < 4; i++) {
      const [next, out] = splitmix32(st);
      st = next;
      this.#s[i] = out;
    }
    if (this.#s.every((v) => v === 0)) this.#s[0] = 1;
  }

  /**
   * Rebuilds a generator from a state returned by {@linkcode Rng.state}.
   *
   * @param state Four unsigned 32-bit integers, not all zero.
   * @returns A generator that continues exactly where the saved one was.
   * @example
   * ```ts
   * import { Rng } from "./rng.ts";
   * import { equal } from "node:assert/strict";
   * const r = new Rng(1);
   * const copy = Rng.fromState(r.state);
   * equal(copy.next(), r.next());
   * ```
   */
  static fromState(state: readonly number[]): Rng {
    if (
      state.length !== 4 ||
      !state.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff) ||
      state.every((v) => v === 0)
    ) {
      throw new RangeError(
        `Cannot restore Rng: state ${JSON.stringify(state)} is not four uint32 words, not all 0`,
      );
    }
    const r = new Rng(0);
    r.#s.set(state);
    return r;
  }

  /**
   * The generator's state, as four unsigned 32-bit integers (JSON-serializable).
   *
   * @returns A copy of the state.
   * @example
   * ```ts
   * import { Rng } from "./rng.ts";
   * import { equal } from "node:assert/strict";
   * equal(new Rng(3).state.length, 4);
   * ```
   */
  get state(): number[] {
    return Array.from(this.#s);
  }

  /**
   * Next unsigned 32-bit integer (xoshiro128**).
   *
   * @returns An integer in [0, 2³²).
   * @example
   * ```ts
   * import { Rng } from "./rng.ts";
   * import { ok } from "node:assert/strict";
   * const u = new Rng(5).nextUint32();
   * ok(Number.isInteger(u) && u >= 0 && u < 2 ** 32);
   * ```
   */
  nextUint32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /**
   * Next float, uniform in [0, 1) with 32 random bits.
   *
   * @returns A number in [0, 1).
   * @example
   * ```ts
   * import { Rng } from "./rng.ts";
   * import { ok } from "node:assert/strict";
   * const u = new Rng(5).next();
   * ok(u >= 0 && u < 1);
   * ```
   */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /**
   * Uniform integer in [0, n), without modulo bias (rejection sampling).
   *
   * @param n Upper bound, an integer in [1, 2³²].
   * @returns An integer in [0, n).
   * @example
   * ```ts
   * import { Rng } from "./rng.ts";
   * import { ok } from "node:assert/strict";
   * const k = new Rng(9).int(6);
   * ok(Number.isInteger(k) && k >= 0 && k < 6);
   * ```
   */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 4294967296) {
      throw new RangeError(`Cannot draw an integer in [0, n): n is ${n}, expected 1 ≤ n ≤ 2^32`);
    }
    const limit = 4294967296 - (4294967296 % n);
    let u = this.nextUint32();
    while (u >= limit) u = this.nextUint32();
    return u % n;
  }

  /**
   * Shuffles an array in place (Fisher–Yates) and returns it.
   *
   * @param array The array (or typed array) to permute.
   * @returns The same array, permuted uniformly at random.
   * @example
   * ```ts
   * import { Rng } from "./rng.ts";
   * import { deepEqual } from "node:assert/strict";
   * const a = new Rng(7).shuffle([0, 1, 2, 3, 4]);
   * deepEqual([...a].sort(), [0, 1, 2, 3, 4]);
   * ```
   */
  shuffle<T extends { length: number; [i: number]: unknown }>(array: T): T {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }
}

/** Options of {@linkcode classBalancedBatches}. */
export interface ClassBalancedBatchesOptions {
  /** Samples per batch; must be a multiple of `classes` (batch/C of every class). */
  batchSize: number;
  /** Number of classes C; labels are integers in [0, C). */
  classes: number;
  /** Number of batches to draw; default ⌊N / batchSize⌋ (one epoch). */
  steps?: number;
}

/**
 * Draws one epoch of class-balanced batches: every batch holds exactly
 * `batchSize / classes` examples of every class (the paper's training setup).
 * Each class's examples are visited in a fresh random order, without
 * replacement until that class is exhausted, then reshuffled (so small classes
 * are oversampled rather than skipped). Within a batch, classes appear in
 * order 0…C−1. The result depends only on `labels`, the options and the
 * generator's state, which it advances.
 *
 * @param labels The integer label of every training example.
 * @param rng The generator (advanced in place).
 * @param options Batch size, number of classes, number of steps.
 * @returns `steps` arrays of `batchSize` example indices.
 * @example Two classes, batches of 4: two of each class per batch
 * ```ts
 * import { classBalancedBatches, Rng } from "./rng.ts";
 * import { deepEqual, equal } from "node:assert/strict";
 * const labels = [0, 0, 0, 1, 1, 1, 1, 1];
 * const batches = classBalancedBatches(labels, new Rng(1), { batchSize: 4, classes: 2 });
 * equal(batches.length, 2);
 * for (const b of batches) deepEqual(Array.from(b, (i) => labels[i]), [0, 0, 1, 1]);
 * ```
 */
export function classBalancedBatches(
  labels: ArrayLike<number>,
  rng: Rng,
  options: ClassBalancedBatchesOptions,
): Int32Array[] {
  const { batchSize, classes } = options;
  if (!Number.isInteger(classes) || classes < 1) {
    throw new RangeError(`Cannot draw class-balanced batches: classes is ${classes}, expected ≥ 1`);
  }
  if (!Number.isInteger(batchSize) || batchSize < classes || batchSize % classes !== 0) {
    throw new RangeError(
      `Cannot draw class-balanced batches: batchSize ${batchSize} is not a positive multiple ` +
        `of the ${classes} classes`,
    );
  }
  const steps = options.steps ?? Math.floor(labels.length / batchSize);
  if (!Number.isInteger(steps) || steps < 0) {
    throw new RangeError(`Cannot draw class-balanced batches: steps is ${steps}, expected ≥ 0`);
  }
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i];
    if (!Number.isInteger(c) || c < 0 || c >= classes) {
      throw new RangeError(
        `Cannot draw class-balanced batches: label ${c} at index ${i} is not in [0, ${classes})`,
      );
    }
    byClass[c].push(i);
  }
  const empty = byClass.findIndex((ix) => ix.length === 0);
  if (empty >= 0 && steps > 0) {
    throw new RangeError(`Cannot draw class-balanced batches: class ${empty} has no examples`);
  }
  const perClass = batchSize / classes;
  const pools = byClass.map((ix) => rng.shuffle(Int32Array.from(ix)));
  const cursors = new Array<number>(classes).fill(0);
  const batches: Int32Array[] = [];
  for (let s = 0; s < steps; s++) {
    const batch = new Int32Array(batchSize);
    let k = 0;
    for (let c = 0; c < classes; c++) {
      const pool = pools[c];
      for (let j = 0; j < perClass; j++) {
        if (cursors[c] === pool.length) {
          rng.shuffle(pool);
          cursors[c] = 0;
        }
        batch[k++] = pool[cursors[c]++];
      }
    }
    batches.push(batch);
  }
  return batches;
}

/**
 * Draws one epoch of plainly shuffled batches (a random permutation cut into
 * ⌊N / batchSize⌋ batches; the remainder is dropped).
 *
 * @param n Number of examples.
 * @param rng The generator (advanced in place).
 * @param batchSize Samples per batch.
 * @returns ⌊n / batchSize⌋ arrays of `batchSize` distinct indices.
 * @example
 * ```ts
 * import { Rng, shuffledBatches } from "./rng.ts";
 * import { equal } from "node:assert/strict";
 * const b = shuffledBatches(10, new Rng(0), 3);
 * equal(b.length, 3);
 * equal(new Set(b.flatMap((x) => [...x])).size, 9);
 * ```
 */
export function shuffledBatches(n: number, rng: Rng, batchSize: number): Int32Array[] {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`Cannot draw shuffled batches: batchSize is ${batchSize}, expected ≥ 1`);
  }
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`Cannot draw shuffled batches: n is ${n}, expected an integer ≥ 0`);
  }
  const perm = rng.shuffle(Int32Array.from({ length: n }, (_, i) => i));
  const out: Int32Array[] = [];
  for (let s = 0; s + batchSize <= n; s += batchSize) out.push(perm.slice(s, s + batchSize));
  return out;
}
