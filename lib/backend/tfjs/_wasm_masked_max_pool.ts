/**
 * The masked and transposed passes through a disjoint max-pool on tfjs's `wasm` backend,
 * one kernel each: per window and channel, the first maximum of the recorded input `x`
 * (row-major window order, strict `>`: the engine's convention) selects the value of `v`
 * (masked pass) or receives the value of `g` (transposed pass, every row of the example).
 * They read the tensors in place on the wasm heap — no copies to JS, no mask tensor —
 * where the generic path builds a 0/1 mask in JS and runs mul/avgPool/mul or
 * resize/pad/mul. When the channel count is a multiple of 4, generated WebAssembly SIMD
 * code does the work (`_wasm_max_pool_simd.ts`); otherwise a JS loop over the same heap.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import {
  activeWasmBackend,
  type KernelArgs,
  registerOnActiveWasm,
  type WasmBackendLike,
} from "../_wasm_ops.ts";
import { maxPoolSimdFor } from "./_wasm_max_pool_simd.ts";

/**
 * The masked pass's kernel: `{ x, v }` → `[n, oh, ow, c]`. Attributes: `poolSize`, and
 * `gate` (both kernels): also 0 where the window's maximum is not positive — the masked pass
 * of a ReLU whose output `x` is, folded in (a window of inactive units passes nothing).
 */
export const MASKED_MAX_POOL = "MasokitMaskedMaxPool";

/**
 * The transposed pass's kernel: `{ x, g }` with `g` `[n·per, oh, ow, c]` (`per` rows per
 * example) → `[n·per, h, w, c]`, each row's values at its example's first maxima, zeros
 * elsewhere.
 */
export const MASKED_MAX_POOL_TRANSPOSE = "MasokitMaskedMaxPoolTranspose";

/**
 * Switches for before/after benchmarks (`bench/affine_compare.ts --ab-pool`) and tests:
 * `enabled` the kernels at all, `simd` their WebAssembly SIMD bodies; both on by default.
 */
export const wasmMaxPoolKernels = { enabled: true, simd: true };

/** The SIMD kernels when they apply and are switched on. */
function simdFor(backend: WasmBackendLike, pool: readonly [number, number], C: number) {
  return wasmMaxPoolKernels.simd ? maxPoolSimdFor(backend, pool, C) : null;
}

let scratch = new Int32Array(0);

/**
 * The index into `xs` of the first maximum of every window and channel, in output order
 * (a scratch array reused between calls: read it before the next call).
 */
function firstMaxima(
  xs: Float32Array,
  [n, H, W, C]: readonly number[],
  [ph, pw]: readonly [number, number],
): Int32Array {
  const OH = Math.floor(H / ph), OW = Math.floor(W / pw), row = W * C;
  if (scratch.length < n * OH * OW * C) scratch = new Int32Array(n * OH * OW * C);
  const at = scratch;
  let o = 0;
  for (let e = 0; e < n; e++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const first = ((e * H + oy * ph) * W + ox * pw) * C;
        if (ph === 2 && pw === 2) {
          const c1 = first + C, c2 = first + row, c3 = c2 + C;
          for (let ch = 0; ch < C; ch++, o++) {
            let best = xs[first + ch], p = first + ch;
            if (xs[c1 + ch] > best) best = xs[p = c1 + ch];
            if (xs[c2 + ch] > best) best = xs[p = c2 + ch];
            if (xs[c3 + ch] > best) p = c3 + ch;
            at[o] = p;
          }
          continue;
        }
        for (let ch = 0; ch < C; ch++, o++) {
          let best = xs[first + ch], p = first + ch;
          for (let ky = 0; ky < ph; ky++) {
            for (let kx = 0; kx < pw; kx++) {
              const q = first + ky * row + kx * C + ch;
              if (xs[q] > best) {
                best = xs[q];
                p = q;
              }
            }
          }
          at[o] = p;
        }
      }
    }
  }
  return at;
}

function maskedMaxPool(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x, v } = args.inputs as { x: tf.TensorInfo; v: tf.TensorInfo };
  const pool = args.attrs!.poolSize as [number, number];
  const gate = args.attrs!.gate === true;
  const [n, H, W, C] = x.shape;
  if (v.shape.length !== 4 || v.shape.some((d, i) => d !== x.shape[i])) {
    throw new RangeError(
      `${MASKED_MAX_POOL}: v has shape [${v.shape}], expected the recorded input's [${x.shape}]`,
    );
  }
  const out = backend.makeOutput(
    [n, Math.floor(H / pool[0]), Math.floor(W / pool[1]), C],
    "float32",
  );
  // views after the allocation (an allocation may move the heap)
  const xs = backend.typedArrayFromHeap(x) as Float32Array;
  const vs = backend.typedArrayFromHeap(v) as Float32Array;
  const os = backend.typedArrayFromHeap(out) as Float32Array;
  const simd = simdFor(backend, pool, C);
  if (simd !== null) {
    simd.masked(xs, vs, os, x.shape, gate);
    return out;
  }
  const at = firstMaxima(xs, x.shape, pool);
  for (let o = 0; o < os.length; o++) os[o] = !gate || xs[at[o]] > 0 ? vs[at[o]] : 0;
  return out;
}

function maskedMaxPoolTranspose(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x, g } = args.inputs as { x: tf.TensorInfo; g: tf.TensorInfo };
  const pool = args.attrs!.poolSize as [number, number];
  const gate = args.attrs!.gate === true;
  const [n, H, W, C] = x.shape, OH = Math.floor(H / pool[0]), OW = Math.floor(W / pool[1]);
  const per = g.shape[0] / n;
  if (
    g.shape.length !== 4 || !Number.isInteger(per) || g.shape[1] !== OH || g.shape[2] !== OW ||
    g.shape[3] !== C
  ) {
    throw new RangeError(
      `${MASKED_MAX_POOL_TRANSPOSE}: g has shape [${g.shape}], expected [k·${n}, ${OH}, ${OW}, ${C}]`,
    );
  }
  const out = backend.makeOutput([n * per, H, W, C], "float32");
  const xs = backend.typedArrayFromHeap(x) as Float32Array;
  const gs = backend.typedArrayFromHeap(g) as Float32Array;
  const os = backend.typedArrayFromHeap(out) as Float32Array;
  const simd = simdFor(backend, pool, C);
  if (simd !== null) {
    simd.transpose(xs, gs, os, x.shape, per, gate);
    return out;
  }
  os.fill(0);
  const inSize = H * W * C, outSize = OH * OW * C;
  const at = firstMaxima(xs, x.shape, pool);
  for (let e = 0, o = 0; e < n; e++) {
    for (let oo = 0; oo < outSize; oo++, o++) {
      if (gate && !(xs[at[o]] > 0)) continue;
      const po = at[o] - e * inSize;
      for (let r = e * per; r < (e + 1) * per; r++) os[r * inSize + po] = gs[r * outSize + oo];
    }
  }
  return out;
}

/**
 * Registers the kernels on the active backend once (idempotent) when that backend is a
 * tfjs-wasm one (`wasm`, or a threaded copy under another name); true when they can run now.
 *
 * @returns Whether {@linkcode MASKED_MAX_POOL} is usable on the active backend.
 */
export function maskedMaxPoolReady(): boolean {
  return wasmMaxPoolKernels.enabled && registerOnActiveWasm([
    [MASKED_MAX_POOL, maskedMaxPool],
    [MASKED_MAX_POOL_TRANSPOSE, maskedMaxPoolTranspose],
  ]);
}

/**
 * The window slot of each first maximum (row-major slot index, strict `>`) of a disjoint
 * max-pool's recorded input, computed in place on tfjs-wasm's heap by the SIMD kernels: the
 * partition code of the layer, `[n, ⌊H/ph⌋, ⌊W/pw⌋, C]` flattened.
 *
 * @param input The recorded input `[n, H, W, C]`, on the active tfjs-wasm backend.
 * @param pool `[ph, pw]`.
 * @returns The slots, or `null` when the kernels do not apply (not wasm, `C % 4 ≠ 0`, off).
 */
export function wasmWindowSlots(
  input: tf.Tensor4D,
  pool: readonly [number, number],
): Uint16Array | null {
  if (!wasmMaxPoolKernels.enabled || !wasmMaxPoolKernels.simd) return null;
  const b = activeWasmBackend();
  if (b === null) return null;
  const [n, H, W, C] = input.shape;
  const simd = maxPoolSimdFor(b, pool, C);
  if (simd === null) return null;
  const out = b.makeOutput([n, Math.floor(H / pool[0]), Math.floor(W / pool[1]), C], "int32");
  try {
    // views after the allocation (an allocation may move the heap)
    const xs = b.typedArrayFromHeap(input) as Float32Array;
    const os = b.typedArrayFromHeap(out) as Int32Array;
    simd.slots(xs, os, input.shape);
    return Uint16Array.from(os);
  } finally {
    b.disposeData(out.dataId);
  }
}
