/**
 * The products of masokit's fused Winograd kernel on tfjs-wasm (`gemmFunction`,
 * lib/backend/tfjs/_wasm_winograd.ts) on their own, one thread, in G multiply-adds/s: the
 * register block's shape, A's values splatted by shuffles of one load or by a load-splat each,
 * relaxed SIMD's multiply-add or a multiply and an add; and XNNPACK's 1×1 conv (tfjs-wasm, one
 * thread) on the same depth and width in the same run, the products' other way. Each variant
 * multiplies `--shapes` `rows,cin,cout` with `--mats` different A and B matrices in turn (as
 * the fused kernel's `(m + 2)²` products of a block of tiles: 36 for F(4)); rounds alternate the
 * variants' order, and each reports its median; every variant's result is checked against
 * float64 products first.
 *
 * Run: `deno run -A bench/wasm_gemm_bench.ts [--shapes="64,96,96;8,192,192"] [--mats=36]
 * [--rounds=7]`
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { gemmFunction, type WasmGemmOptions } from "../lib/backend/tfjs/_wasm_winograd.ts";
import { assembleModule, type FunctionBuilder, relaxedSimd } from "../lib/util/_wasm_emitter.ts";

const value = (name: string) => Deno.args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const SHAPES = (value("shapes") ?? "64,96,96;8,96,96;64,192,192;8,192,192").split(";")
  .map((s) => s.split(",").map(Number));
const MATS = Number(value("mats") ?? 36), ROUNDS = Number(value("rounds") ?? 7);
for (const [name, v] of [["mats", MATS], ["rounds", ROUNDS]] as const) {
  if (!Number.isInteger(v) || v < 1) {
    throw new RangeError(`--${name}=${value(name)}: expected a positive integer`);
  }
}
for (const [rows, cin, cout] of SHAPES) {
  if (![rows, cin, cout].every((v) => Number.isInteger(v) && v > 0) || cin % 4 || cout % 4) {
    throw new RangeError(
      `--shapes: [${rows}, ${cin}, ${cout}]: expected positive rows, cin and cout multiples of 4`,
    );
  }
}
if (!relaxedSimd()) console.log("(relaxed SIMD not validated here: its variants are left out)");

const variants: [string, WasmGemmOptions][] = [];
for (const fma of relaxedSimd() ? [true, false] : [false]) {
  for (const shuffle of [true, false]) {
    for (const [rows, quads] of [[2, 4], [4, 2], [4, 3], [1, 8]]) {
      const label = `${rows}×${4 * quads}, ${shuffle ? "shuffle" : "load-splat"}, ${
        fma ? "multiply-add" : "multiply + add"
      }`;
      variants.push([label, { fma, shuffle, rows, quads }]);
    }
  }
}
await tf.setBackend("wasm");
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
console.log(
  `one thread, ${MATS} matrix pairs a call, median of ${ROUNDS} rounds (G multiply-adds/s):`,
);
console.log(
  `| variant | ${SHAPES.map((s) => `[${s[0]}, ${s[1]}] · [${s[1]}, ${s[2]}]`).join(" | ")} |`,
);
console.log(`| --- | ${SHAPES.map(() => "---").join(" | ")} |`);
const table = new Map<string, string[]>();
for (const [rows, cin, cout] of SHAPES) {
  const fns: Record<string, FunctionBuilder> = {};
  variants.forEach(([, o], i) => (fns[`v${i}`] = gemmFunction(cin, cout, o)));
  const bytes = assembleModule(fns, { shared: false, maxPages: null });
  const padded = Math.ceil(rows / 4) * 4; // room for the rows rounded up to a register block
  const aBytes = padded * cin * 4, bBytes = cin * cout * 4, cBytes = padded * cout * 4;
  const memory = new WebAssembly.Memory({
    initial: Math.ceil((MATS * (aBytes + bBytes + cBytes) + 64) / 65536),
  });
  const ex = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), {
    env: { memory },
  }).exports as Record<string, (...a: number[]) => void>;
  const f32 = new Float32Array(memory.buffer);
  for (let i = 0; i < f32.length; i++) f32[i] = Math.sin(i * 0.7);
  const A = (x: number) => 64 + x * aBytes;
  const B = (x: number) => 64 + MATS * aBytes + x * bBytes;
  const C = (x: number) => 64 + MATS * (aBytes + bBytes) + x * cBytes;
  const call = (i: number) => {
    for (let x = 0; x < MATS; x++) ex[`v${i}`](A(x), B(x), C(x), rows);
  };
  // each variant against float64 products of the last pair
  variants.forEach(([label], i) => {
    call(i);
    const x = MATS - 1;
    let worst = 0, big = 0;
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < cout; o++) {
        let v = 0;
        for (let k = 0; k < cin; k++) {
          v += f32[A(x) / 4 + r * cin + k] * f32[B(x) / 4 + k * cout + o];
        }
        worst = Math.max(worst, Math.abs(v - f32[C(x) / 4 + r * cout + o]));
        big = Math.max(big, Math.abs(v));
      }
    }
    if (!(worst <= 1e-5 * big)) throw new Error(`${label}: error ${worst} of ${big}`);
  });
  const macs = MATS * rows * cin * cout, reps = Math.max(1, Math.ceil(2e8 / macs));
  // XNNPACK's 1×1 conv: [1, 1, P, cin] · [1, 1, cin, cout], P rows for as many multiply-adds
  const xr = Math.ceil(macs / (cin * cout));
  const xa = tf.randomNormal([1, 1, xr, cin]) as tf.Tensor4D;
  const xb = tf.randomNormal([1, 1, cin, cout]) as tf.Tensor4D;
  const xnn = () => tf.conv2d(xa, xb, 1, "valid");
  tf.dispose([xnn(), xnn()]);
  const runs = new Map<string, number[]>([...variants.map(([l]) => [l, []] as [string, number[]]), [
    "XNNPACK 1×1 conv",
    [],
  ]]);
  for (let round = 0; round < ROUNDS; round++) {
    const order = [...variants.keys(), -1];
    for (const i of round % 2 ? order.reverse() : order) {
      const t0 = performance.now();
      for (let r = 0; r < reps; r++) {
        if (i >= 0) call(i);
        else xnn().dispose();
      }
      const ms = performance.now() - t0;
      runs.get(i >= 0 ? variants[i][0] : "XNNPACK 1×1 conv")!.push(reps * macs / ms / 1e6);
    }
  }
  tf.dispose([xa, xb]);
  for (const [label, rates] of runs) {
    table.set(label, [...(table.get(label) ?? []), median(rates).toFixed(2)]);
  }
}
for (const [label, cells] of table) console.log(`| ${label} | ${cells.join(" | ")} |`);
