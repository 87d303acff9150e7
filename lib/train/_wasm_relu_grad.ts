/**
 * ReLU's gradient, `dx = dy · step(x)` (step: 1 where x > 0, 0 where not, NaN where x is NaN, as
 * tfjs's `Step`), as one generated WebAssembly SIMD pass on tfjs-wasm's heap split between the
 * calling thread and the heap's helper threads, for the kernel `MasokitReluGrad`
 * (lib/train/_fused_gradients.ts): tfjs's gradient runs `Step`, then `Multiply`, through a
 * temporary (3.7 ms for largeCNN's [16, 36, 36, 96] activations). The same product of the same
 * values, so the same bits.
 *
 * @module
 */
import { FunctionBuilder, I32, Op, SimdOp, V128 } from "../util/_wasm_emitter.ts";
import { heapRunVectors, type WasmBackendLike } from "../backend/_wasm_ops.ts";

/**
 * Switches for benchmarks and tests: the SIMD pass at all (the JS loop otherwise), and the fewest
 * values a call splits between threads (a helper's hand-off costs ≈40 µs, and the pass is bound
 * by memory: [16, 36, 36, 96] 1.7 ms split, 2.0 on one thread; [10, 30, 30, 32] 0.18 ms on one
 * thread, 0.21 split; `Step` + `Multiply` 3.7 and 0.34 ms: bench/wasm_relu_grad_bench.ts).
 */
export const wasmReluGrad = { enabled: true, minSplitValues: 1 << 20 };

/** 1.0f in each lane. */
const ONES = Array.from({ length: 4 }, () => [0, 0, 0x80, 0x3f]).flat();

/** `reluGrad(x, dy, out, from, to)`: byte offsets `from ≤ o < to` (multiples of 16). */
function reluGradFunction(): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32]);
  const [x, dy, out, from, to] = [0, 1, 2, 3, 4];
  const o = f.local(I32), xv = f.local(V128), ones = f.local(V128);
  f.simd(SimdOp.v128Const, ...ONES).set(ones);
  f.get(from).set(o);
  f.forLoop(o, to, 16, () => {
    f.get(x).get(o).op(Op.i32Add).v128Load(0).set(xv);
    f.get(out).get(o).op(Op.i32Add);
    f.get(dy).get(o).op(Op.i32Add).v128Load(0);
    // step(x): NaN where x is NaN, else 1 where x > 0, else 0
    f.get(xv);
    f.get(ones).v128Zero().get(xv).v128Zero().simd(SimdOp.f32x4Gt).simd(SimdOp.v128Bitselect);
    f.get(xv).get(xv).simd(SimdOp.f32x4Ne).simd(SimdOp.v128Bitselect);
    f.simd(SimdOp.f32x4Mul).v128Store(0);
  });
  return f;
}

/**
 * `out[i] = dy[i] · step(x[i])` for the first `vectors`·4 values (the caller does the rest), or
 * false where switched off or the heap is not found.
 *
 * @param backend The tfjs-wasm backend.
 * @param addresses Byte addresses of x, dy and out.
 * @param vectors How many groups of four values.
 * @returns Whether it ran.
 */
export function reluGradSimd(
  backend: WasmBackendLike,
  addresses: readonly number[],
  vectors: number,
): boolean {
  return wasmReluGrad.enabled && heapRunVectors(
    backend,
    "relu grad",
    () => ({ reluGrad: reluGradFunction() }),
    "reluGrad",
    addresses,
    vectors,
    4 * vectors >= wasmReluGrad.minSplitValues,
  );
}
