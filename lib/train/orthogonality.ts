/**
 * The orthogonal-template penalty of the paper's eq. (13) and a serializable
 * tfjs regularizer that adds it to a Dense layer's loss.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { fusedPenalty } from "./_orthogonality_kernel.ts";

/** The tfjs `Regularizer` type (as accepted by `kernelRegularizer`). */
type Regularizer = Exclude<
  NonNullable<Parameters<typeof tf.layers.dense>[0]["kernelRegularizer"]>,
  string
>;

/**
 * tfjs's abstract `Regularizer` class. It is not exported by
 * `@tensorflow/tfjs`, but layers check `instanceof Regularizer`, so a custom
 * regularizer must extend the very class: take it from a built-in instance.
 * It is tagged `@internal` where `deno doc` reads a `const`'s tags (on its name),
 * so that `deno doc --lint` does not ask for tfjs's class to be exported.
 */
const /** @internal */ RegularizerBase = Object.getPrototypeOf(
  tf.regularizers.l1l2({ l1: 0, l2: 0 }).constructor,
) as abstract new () => Regularizer;

function checkKernel(kernel: tf.Tensor, what: string): void {
  if (!(kernel instanceof tf.Tensor)) {
    throw new TypeError(`Cannot compute ${what}: kernel is not a tf.Tensor`);
  }
  if (kernel.rank !== 2) {
    throw new RangeError(
      `Cannot compute ${what}: kernel has shape [${kernel.shape}], expected a Dense kernel ` +
        `[inputs, classes]`,
    );
  }
}

/**
 * The orthogonality penalty of eq. (13): Σ_{c1≠c2} ⟨W_c1, W_c2⟩², where the
 * class rows W_c of the final linear layer W^(L) are the **columns** of a tfjs
 * Dense kernel `[inputs, classes]`. Equivalently the squared Frobenius norm of
 * the off-diagonal part of the Gram matrix G = Wᵀ_kernel W_kernel (C × C).
 * Differentiable: its gradient is 4·W·(G ∘ (1 − I)).
 *
 * @param kernel A rank-2 tensor `[inputs, classes]`.
 * @returns A scalar tensor (float32), 0 exactly when the class rows are orthogonal.
 * @example Orthogonal rows give 0; two equal unit rows give 2·1²
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { orthogonalityPenalty } from "./orthogonality.ts";
 * import { equal } from "node:assert/strict";
 * equal(orthogonalityPenalty(tf.tensor2d([[1, 0], [0, 2]])).dataSync()[0], 0);
 * equal(orthogonalityPenalty(tf.tensor2d([[1, 1], [0, 0]])).dataSync()[0], 2);
 * ```
 */
export function orthogonalityPenalty(kernel: tf.Tensor): tf.Scalar {
  checkKernel(kernel, "the orthogonality penalty");
  const classes = kernel.shape[1] as number;
  const fused = fusedPenalty(kernel);
  if (fused !== null) return fused;
  return tf.tidy(() => {
    const gram = tf.matMul(kernel as tf.Tensor2D, kernel as tf.Tensor2D, true, false);
    const offDiagonal = tf.sub(tf.onesLike(gram), tf.eye(classes));
    return tf.sum(tf.square(tf.mul(gram, offDiagonal)));
  });
}

/** Options of {@linkcode orthogonalTemplates}. */
export interface OrthogonalTemplatesOptions {
  /** The penalty weight λ of eq. (13), finite and ≥ 0. */
  lambda: number;
}

function checkLambda(lambda: unknown): number {
  if (typeof lambda !== "number") {
    throw new TypeError(`Cannot create the orthogonal-template penalty: lambda is ${lambda}`);
  }
  if (!(lambda >= 0) || !Number.isFinite(lambda)) {
    throw new RangeError(
      `Cannot create the orthogonal-template penalty: lambda is ${lambda}, expected a finite ` +
        `number ≥ 0`,
    );
  }
  return lambda;
}

/**
 * The tfjs regularizer λ · {@linkcode orthogonalityPenalty}: pass it as
 * `kernelRegularizer` of the final Dense layer. Registered with
 * `tf.serialization.registerClass` (serialized as class `OrthogonalTemplates`), so
 * models that use it survive `toJSON` / `tf.models.modelFromJSON` / `model.save`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { OrthogonalTemplates } from "./orthogonality.ts";
 * import { equal } from "node:assert/strict";
 * const reg = new OrthogonalTemplates({ lambda: 0.5 });
 * equal(reg.apply(tf.tensor2d([[1, 1], [0, 0]])).dataSync()[0], 1);
 * equal(reg.getConfig().lambda, 0.5);
 * ```
 */
export class OrthogonalTemplates extends RegularizerBase {
  /** The class name used in serialized models. */
  static className = "OrthogonalTemplates";
  /** The penalty weight λ. */
  readonly lambda: number;

  /**
   * Creates the regularizer.
   *
   * @param options `{ lambda }`, λ finite and ≥ 0 (RangeError otherwise).
   */
  constructor(options: OrthogonalTemplatesOptions) {
    super();
    this.lambda = checkLambda(options?.lambda);
  }

  /**
   * Computes λ · Σ_{c1≠c2} ⟨W_c1, W_c2⟩² for a Dense kernel.
   *
   * @param x The kernel `[inputs, classes]`.
   * @returns The weighted penalty, a scalar.
   * @example
   * ```ts
   * import * as tf from "@tensorflow/tfjs";
   * import { OrthogonalTemplates } from "./orthogonality.ts";
   * import { equal } from "node:assert/strict";
   * const p = new OrthogonalTemplates({ lambda: 2 }).apply(tf.tensor2d([[1, 1]]));
   * equal(p.dataSync()[0], 4);
   * ```
   */
  apply(x: tf.Tensor): tf.Scalar {
    checkKernel(x, "the orthogonal-template regularizer");
    return tf.tidy(() => tf.mul(this.lambda, orthogonalityPenalty(x)));
  }

  /**
   * The serializable configuration.
   *
   * @returns `{ lambda }`.
   * @example
   * ```ts
   * import { OrthogonalTemplates } from "./orthogonality.ts";
   * import { deepEqual } from "node:assert/strict";
   * deepEqual(new OrthogonalTemplates({ lambda: 1 }).getConfig(), { lambda: 1 });
   * ```
   */
  getConfig(): tf.serialization.ConfigDict {
    return { lambda: this.lambda };
  }

  /**
   * Rebuilds the regularizer from {@linkcode OrthogonalTemplates.getConfig}'s output.
   *
   * @param cls The class to build (tfjs passes it).
   * @param config `{ lambda }`.
   * @returns A new regularizer.
   * @example
   * ```ts
   * import { OrthogonalTemplates } from "./orthogonality.ts";
   * import { equal } from "node:assert/strict";
   * const r = OrthogonalTemplates.fromConfig(OrthogonalTemplates, { lambda: 3 }) as OrthogonalTemplates;
   * equal(r.lambda, 3);
   * ```
   */
  static fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new (cls as unknown as new (o: OrthogonalTemplatesOptions) => T)({
      lambda: config.lambda as number,
    });
  }
}

tf.serialization.registerClass(
  OrthogonalTemplates as unknown as tf.serialization.SerializableConstructor<
    tf.serialization.Serializable
  >,
  "masokit",
);

/**
 * Creates the orthogonal-template regularizer λ · Σ_{c1≠c2} ⟨W_c1, W_c2⟩² (eq. 13)
 * for `kernelRegularizer` of a Dense layer.
 *
 * @param options `{ lambda }`, λ finite and ≥ 0 (RangeError for λ < 0 or NaN).
 * @returns An {@linkcode OrthogonalTemplates} regularizer.
 * @example A final layer with orthogonal templates
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { orthogonalTemplates } from "./orthogonality.ts";
 * import { equal, throws } from "node:assert/strict";
 * const head = tf.layers.dense({
 *   units: 10, useBias: false, kernelRegularizer: orthogonalTemplates({ lambda: 0.2 }),
 * });
 * equal(typeof head.apply, "function");
 * throws(() => orthogonalTemplates({ lambda: -1 }), RangeError);
 * ```
 */
export function orthogonalTemplates(options: OrthogonalTemplatesOptions): OrthogonalTemplates {
  return new OrthogonalTemplates(options);
}
