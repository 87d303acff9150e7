/**
 * Adam's update (`MasokitAdamUpdate`, lib/train/_fused_adam.ts) as generated WebAssembly SIMD on
 * tfjs-wasm's heap, four weights a vector, split between the calling thread and the heap's helper
 * threads:
 *
 *   m′ = m·β₁ + g·(1 − β₁),  v′ = v·β₂ + (g·g)·(1 − β₂),
 *   w′ = ((m′ / d₁) / (√(v′ / d₂) + ε))·(−lr) + w   (d₁ = 1 − β₁ᵗ, d₂ = 1 − β₂ᵗ),
 *
 * each operation float32 and correctly rounded (no fused multiply-add), in tfjs's order, so the
 * update equals tfjs's ops bit for bit, as the JS loop it replaces did (8 ms a call for largeCNN's
 * 331,776-weight filters, at every step, three of them).
 *
 * @module
 */
import { FunctionBuilder, I32, Op, SimdOp, V128 } from "../util/_wasm_emitter.ts";
import { heapRunVectors, type WasmBackendLike } from "../backend/_wasm_ops.ts";

/**
 * Switches for benchmarks and tests: the SIMD pass at all (the JS loop otherwise), and the fewest
 * weights a call splits between threads (a helper's hand-off costs ≈40 µs).
 */
export const wasmAdamSimd = { enabled: true, minSplitValues: 1 << 15 };

/** Floats of the parameter block: β₁, 1 − β₁, β₂, 1 − β₂, ε, −lr, d₁, d₂. */
export const ADAM_PARAMS = 8;

/**
 * `adam(w, m, v, g, m1, v1, w1, p, from, to)`: the update of the weights at byte offsets
 * `from ≤ o < to` (multiples of 16) of each array, the parameters at `p`.
 */
function adamFunction(): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [w, m, v, g, m1, v1, w1, p, from, to] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [o] = [f.local(I32)];
  const [b1, c1, b2, c2, eps, negLr, d1, d2] = Array.from(
    { length: ADAM_PARAMS },
    () => f.local(V128),
  );
  const [gv, mv, vv] = [f.local(V128), f.local(V128), f.local(V128)];
  [b1, c1, b2, c2, eps, negLr, d1, d2].forEach((r, k) => f.get(p).v128Load32Splat(4 * k).set(r));
  const at = (base: number) => f.get(base).get(o).op(Op.i32Add);
  f.get(from).set(o);
  f.forLoop(o, to, 16, () => {
    at(g).v128Load(0).set(gv);
    // m′ = m·β₁ + g·(1 − β₁)
    at(m).v128Load(0).get(b1).simd(SimdOp.f32x4Mul);
    f.get(gv).get(c1).simd(SimdOp.f32x4Mul).simd(SimdOp.f32x4Add).set(mv);
    // v′ = v·β₂ + (g·g)·(1 − β₂)
    at(v).v128Load(0).get(b2).simd(SimdOp.f32x4Mul);
    f.get(gv).get(gv).simd(SimdOp.f32x4Mul).get(c2).simd(SimdOp.f32x4Mul);
    f.simd(SimdOp.f32x4Add).set(vv);
    at(m1).get(mv).v128Store(0);
    at(v1).get(vv).v128Store(0);
    // w′ = ((m′ / d₁) / (√(v′ / d₂) + ε))·(−lr) + w
    at(w1);
    f.get(mv).get(d1).simd(SimdOp.f32x4Div);
    f.get(vv).get(d2).simd(SimdOp.f32x4Div).simd(SimdOp.f32x4Sqrt).get(eps).simd(SimdOp.f32x4Add);
    f.simd(SimdOp.f32x4Div).get(negLr).simd(SimdOp.f32x4Mul);
    at(w).v128Load(0).simd(SimdOp.f32x4Add);
    f.v128Store(0);
  });
  return f;
}

/**
 * Runs the update of the first `vectors`·4 weights (the caller does the rest), or returns false
 * where switched off or the heap is not found.
 *
 * @param backend The tfjs-wasm backend.
 * @param addresses Byte addresses of w, m, v, g, m′, v′, w′ and of the parameter block.
 * @param vectors How many groups of four weights.
 * @returns Whether it ran.
 */
export function adamSimd(
  backend: WasmBackendLike,
  addresses: readonly number[],
  vectors: number,
): boolean {
  return wasmAdamSimd.enabled && heapRunVectors(
    backend,
    "adam",
    () => ({ adam: adamFunction() }),
    "adam",
    addresses,
    vectors,
    4 * vectors >= wasmAdamSimd.minSplitValues,
  );
}
