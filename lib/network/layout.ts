/**
 * Image layouts: masokit's images are channels-last (`[…, H, W, C]`, tfjs's layout), PyTorch's
 * and ONNX's channels-first (`[…, C, H, W]`).
 *
 * @module
 */
import type { Batch } from "./batch.ts";

function transpose(
  x: { readonly data: ArrayLike<number>; readonly shape: readonly number[] },
  toLast: boolean,
  what: string,
): Batch {
  const shape = x?.shape;
  if (
    !Array.isArray(shape) || shape.length < 3 || !shape.every((d) => Number.isInteger(d) && d >= 0)
  ) {
    throw new RangeError(
      `Cannot convert to ${what}: shape is ${
        Array.isArray(shape) ? `[${shape}]` : shape
      }, expected at least 3 dimensions (…, ${toLast ? "C, H, W" : "H, W, C"})`,
    );
  }
  const size = shape.reduce((a, b) => a * b, 1);
  if (x.data?.length !== size) {
    throw new RangeError(
      `Cannot convert to ${what}: ${x.data?.length} values, expected ${size} for shape [${shape}]`,
    );
  }
  const r = shape.length;
  const [a, b, c] = shape.slice(r - 3); // (C, H, W) going last, (H, W, C) going first
  const [H, W, C] = toLast ? [b, c, a] : [a, b, c];
  const image = H * W * C, outer = size / Math.max(image, 1);
  const data = new Float64Array(size);
  for (let n = 0; n < outer; n++) {
    const base = n * image;
    for (let ch = 0; ch < C; ch++) {
      for (let p = 0; p < H * W; p++) {
        const first = base + ch * H * W + p, last = base + p * C + ch;
        if (toLast) data[last] = x.data[first];
        else data[first] = x.data[last];
      }
    }
  }
  const lead = shape.slice(0, r - 3);
  return { data, shape: toLast ? [...lead, H, W, C] : [...lead, C, H, W] };
}

/**
 * Channels-first images (`[…, C, H, W]`, e.g. PyTorch's) in masokit's channels-last layout
 * (`[…, H, W, C]`), as a float64 batch: the input of a network made by `fromOnnx`.
 *
 * @param x Values and shape; any number of leading axes.
 * @returns The same values, transposed.
 *
 * @example
 * ```ts
 * import { channelsLast } from "./layout.ts";
 * import { deepEqual } from "node:assert/strict";
 * // one image, 2 channels of 1 × 2 pixels: channel 0 = [1, 2], channel 1 = [3, 4]
 * const x = channelsLast({ data: [1, 2, 3, 4], shape: [1, 2, 1, 2] });
 * deepEqual(x.shape, [1, 1, 2, 2]);
 * deepEqual([...x.data], [1, 3, 2, 4]);
 * ```
 */
export function channelsLast(
  x: { readonly data: ArrayLike<number>; readonly shape: readonly number[] },
): Batch {
  return transpose(x, true, "channels-last");
}

/**
 * Channels-last images or templates (`[…, H, W, C]`, masokit's) in the channels-first layout
 * (`[…, C, H, W]`) of PyTorch and ONNX: e.g. `A[x]` of a network made by `fromOnnx`, reshaped
 * to `[N, classes, H, W, C]`, as PyTorch's input gradients.
 *
 * @param x Values and shape; any number of leading axes.
 * @returns The same values, transposed.
 *
 * @example
 * ```ts
 * import { channelsFirst, channelsLast } from "./layout.ts";
 * import { deepEqual } from "node:assert/strict";
 * const x = { data: [1, 2, 3, 4, 5, 6], shape: [3, 1, 2] };
 * deepEqual([...channelsFirst(channelsLast(x)).data], x.data);
 * ```
 */
export function channelsFirst(
  x: { readonly data: ArrayLike<number>; readonly shape: readonly number[] },
): Batch {
  return transpose(x, false, "channels-first");
}
