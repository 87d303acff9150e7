/**
 * Capture and restore a tfjs optimizer's complete state, including what
 * `getWeights`/`setWeights` lose: Adam's running powers β1ᵗ and β2ᵗ, which
 * `setWeights` recomputes as `pow(β, t+1)` — a float32 value that can differ in
 * the last bit from the product accumulated step by step, and would make a
 * resumed run diverge from an uninterrupted one.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** A serializable snapshot of an optimizer. */
export interface OptimizerSnapshot {
  /** The optimizer's class name, e.g. `"Adam"`. */
  className: string;
  /** `optimizer.getConfig()`. */
  config: tf.serialization.ConfigDict;
  /** `optimizer.getWeights()`: the iteration count first, then the slots. */
  weights: { name: string; tensor: tf.Tensor }[];
  /** Extra scalar state by field name (Adam: `accBeta1`, `accBeta2`). */
  extra: Record<string, number>;
}

const EXTRA_FIELDS = ["accBeta1", "accBeta2"] as const;

/**
 * Reads an optimizer's complete state (tensors are copies owned by the caller).
 *
 * @param optimizer A tfjs optimizer.
 * @returns Its snapshot.
 */
export async function captureOptimizer(optimizer: tf.Optimizer): Promise<OptimizerSnapshot> {
  const live = await optimizer.getWeights();
  const weights = live.map((w, i) => ({
    name: w.name,
    // The first entry (iterations) is a fresh scalar; the others are live variables.
    tensor: i === 0 ? w.tensor : tf.clone(w.tensor),
  }));
  const extra: Record<string, number> = {};
  const fields = optimizer as unknown as Record<string, unknown>;
  for (const f of EXTRA_FIELDS) {
    const v = fields[f];
    if (v instanceof tf.Variable && v.size === 1) extra[f] = (await v.data())[0];
  }
  return {
    className: optimizer.getClassName(),
    config: optimizer.getConfig(),
    weights,
    extra,
  };
}

/**
 * Restores a snapshot into an optimizer of the same class, for the same
 * variables in the same order.
 *
 * @param optimizer The optimizer to restore into.
 * @param snapshot A snapshot from {@linkcode captureOptimizer}.
 * @returns A promise that resolves once the state is in place.
 */
export async function restoreOptimizer(
  optimizer: tf.Optimizer,
  snapshot: OptimizerSnapshot,
): Promise<void> {
  if (optimizer.getClassName() !== snapshot.className) {
    throw new TypeError(
      `Cannot restore optimizer state: the checkpoint holds a ${snapshot.className} optimizer, ` +
        `got ${optimizer.getClassName()}`,
    );
  }
  await optimizer.setWeights(snapshot.weights);
  const fields = optimizer as unknown as Record<string, unknown>;
  for (const [f, value] of Object.entries(snapshot.extra)) {
    const v = fields[f];
    if (v instanceof tf.Variable && v.size === 1) {
      tf.tidy(() => v.assign(tf.scalar(value, v.dtype)));
    }
  }
}
