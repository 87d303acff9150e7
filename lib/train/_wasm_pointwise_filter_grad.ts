/**
 * The filter gradient of a 1×1, stride-1, unpadded convolution (smallCNN's third layer) as one
 * matrix product on tfjs-wasm's heap: with x `[n, h, w, c]` and dy `[n, h, w, co]` read in place
 * as `[P, c]` and `[P, co]` (P = n·h·w positions), dW `[1, 1, c, co]` = `xᵀ · dy`, by the
 * register-blocked products of Winograd's filter gradient (`gradProductsFunction` in
 * lib/backend/tfjs/_wasm_winograd.ts: blocks of 4 input × 8 output channels, relaxed SIMD's
 * multiply-add where the engine has it). The positions are split into a fixed number of parts
 * (from the shape alone, so the bits do not depend on the threads), each summed into its own
 * dW on the calling thread or a helper thread, the parts added in order at the end.
 *
 * Why: the general direct kernel (lib/train/_wasm_filter_grad.ts) broadcasts one input at a
 * time and sweeps an example's positions per block of dW; for a 1×1 conv of 64 → 128 channels
 * over 6×6 at batch 10 it ran at 2.8 G multiply-adds/s (1.04 ms; XNNPACK's product with its
 * packing 0.58 ms; scratch timings).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { relaxedSimd } from "../util/_wasm_emitter.ts";
import { heapMemory, heapRun, splitEvenly, type WasmBackendLike } from "../backend/_wasm_ops.ts";
import { gradProductsFunction, wasmWinograd } from "../backend/tfjs/_wasm_winograd.ts";

/**
 * Switch for benchmarks and tests (`enabled`), and how many times the kernel has run (`runs`:
 * tests check that it did).
 */
export const wasmPointwiseFilterGrad = { enabled: true, runs: 0 };

/** Multiply-adds a part takes at least: fewer parts below it (a hand-off costs tens of µs). */
const MACS_PER_PART = 1 << 20;
/** The most parts. */
const MAX_PARTS = 8;

/**
 * Whether the kernel takes a filter gradient: switched on, a 1×1 filter, stride 1, no padding,
 * input and output channels multiples of 4.
 *
 * @param s The conv: filter size, strides, whether padded, channels.
 * @returns Whether to call {@linkcode pointwiseFilterGrad}.
 */
export function pointwiseFilterGradApplies(
  s: { kh: number; kw: number; sh: number; sw: number; padded: boolean; c: number; co: number },
): boolean {
  return wasmPointwiseFilterGrad.enabled && s.kh === 1 && s.kw === 1 && s.sh === 1 &&
    s.sw === 1 && !s.padded && s.c % 4 === 0 && s.co % 4 === 0 && s.c > 0 && s.co > 0;
}

/**
 * dW `[1, 1, c, co]` = `xᵀ · dy` over the `positions` rows of x `[.., c]` and dy `[.., co]`
 * (float32 on the wasm heap), or null when the backend's memory is not found.
 *
 * @param backend The tfjs-wasm backend holding both tensors.
 * @param x The conv's input.
 * @param dy Its output's gradient.
 * @param positions n·h·w (at least 1).
 * @param c Input channels (a multiple of 4).
 * @param co Output channels (a multiple of 4).
 * @returns dW, or null.
 */
export function pointwiseFilterGrad(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  positions: number,
  c: number,
  co: number,
): tf.TensorInfo | null {
  if (heapMemory(backend) === null) return null;
  const size = c * co;
  const parts = Math.max(
    1,
    Math.min(MAX_PARTS, positions, Math.floor((positions * size) / MACS_PER_PART)),
  );
  const fma = wasmWinograd.fma && relaxedSimd();
  const out = backend.makeOutput([1, 1, c, co], "float32");
  // the parts' sums after the first's (which is dW), then the tables of V and W addresses
  const sums = parts > 1 ? backend.makeOutput([(parts - 1) * size], "float32") : null;
  const tables = backend.makeOutput([2 * parts], "int32");
  try {
    // views after the allocations (an allocation may move the heap)
    const o = backend.typedArrayFromHeap(out) as Float32Array;
    const more = sums === null ? null : backend.typedArrayFromHeap(sums) as Float32Array;
    o.fill(0);
    more?.fill(0);
    const t = backend.typedArrayFromHeap(tables) as Int32Array;
    const xAt = backend.typedArrayFromHeap(x).byteOffset;
    const dyAt = backend.typedArrayFromHeap(dy).byteOffset;
    const ranges = splitEvenly(positions, parts);
    ranges.forEach(([start], p) => {
      t[p] = xAt + start * c * 4;
      t[parts + p] = dyAt + start * co * 4;
    });
    // each part one product (ξ = 0 of its own tables' entries) into its own sums: dW for the first
    const key = `pointwise filter grad ${c}x${co} ${fma}`;
    const build = () => ({ products: gradProductsFunction(c, co, fma) });
    const oAt = o.byteOffset, mAt = more?.byteOffset ?? 0, tAt = t.byteOffset;
    const args = ranges.map(([, count], p) =>
      p === 0
        ? [tAt, tAt + 4 * parts, oAt, 0, 1, count]
        : [tAt + 4 * p, tAt + 4 * (parts + p), mAt + (p - 1) * size * 4, 0, 1, count]
    );
    if (!heapRun(backend, key, build, "products", args)) {
      backend.disposeData(out.dataId);
      return null;
    }
    if (more !== null) {
      const dw = backend.typedArrayFromHeap(out) as Float32Array;
      const m = backend.typedArrayFromHeap(sums!) as Float32Array;
      for (let i = 0; i < m.length; i++) dw[i % size] += m[i];
    }
    wasmPointwiseFilterGrad.runs++;
    return out;
  } catch (e) {
    backend.disposeData(out.dataId);
    throw e;
  } finally {
    if (sums !== null) backend.disposeData(sums.dataId);
    backend.disposeData(tables.dataId);
  }
}
