/**
 * Training steps that do not compute the gradient with respect to the input batch.
 *
 * tf.layers' Conv2D runs `tf.fused.conv2d`, whose custom gradient computes the input
 * gradient eagerly together with the filter gradient; for the first layer that input is
 * the data batch, so the gradient (a full transposed convolution: ≈15 ms of a ≈115 ms
 * smallCNN step on tfjs-wasm) is computed and thrown away. Inside
 * {@linkcode withoutInputGradients}, a linear `fused.conv2d` whose input is one of the
 * given tensors runs as `conv2d` + bias instead: the same forward values, and tfjs's
 * tape then computes only the gradients that lead to the variables.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

type FusedConv2D = typeof tf.fused.conv2d;
type FusedArgs = Parameters<FusedConv2D>[0];

const fused = tf.fused as { conv2d: FusedConv2D };
const stock: FusedConv2D = fused.conv2d;
let inputs: ReadonlySet<number> | null = null;

function unfusedFor(args: FusedArgs): boolean {
  if (inputs === null || !(args.x instanceof tf.Tensor) || !inputs.has(args.x.id)) return false;
  return (args.activation ?? "linear") === "linear" && (args.dataFormat ?? "NHWC") === "NHWC";
}

const patched: FusedConv2D = (args) => {
  if (!unfusedFor(args)) return stock(args);
  const y = tf.conv2d(
    args.x,
    args.filter,
    args.strides,
    args.pad,
    "NHWC",
    args.dilations,
    args.dimRoundingMode,
  );
  return args.bias == null ? y : tf.add(y, args.bias);
};

let patchable: boolean | null = null;

/**
 * Whether `tf.fused.conv2d` can be replaced here: not where tfjs is bundled as ES modules
 * (`deno bundle`), whose namespace objects are read-only; there tfjs's own gradients run.
 */
function canPatch(): boolean {
  if (patchable === null) {
    try {
      fused.conv2d = stock;
      patchable = fused.conv2d === stock;
    } catch {
      patchable = false;
    }
  }
  return patchable;
}

/**
 * Runs `fn` (a training step) with the input gradients of the given tensors skipped in
 * tf.layers' convolutions (see the module note); restores tfjs afterwards, also when
 * `fn` throws. Nested calls are allowed. Where tfjs's namespace cannot be patched (a bundle of
 * ES modules), `fn` runs as it is: the same gradients, the input's computed too.
 *
 * @param data Tensors fed to the model that need no gradient (the batch).
 * @param fn The step.
 * @returns What `fn` returns.
 */
export function withoutInputGradients<T>(data: readonly tf.Tensor[], fn: () => T): T {
  if (!canPatch()) return fn();
  const previous = inputs;
  inputs = new Set([...(previous ?? []), ...data.map((t) => t.id)]);
  fused.conv2d = patched;
  try {
    return fn();
  } finally {
    inputs = previous;
    if (previous === null) fused.conv2d = stock;
  }
}
