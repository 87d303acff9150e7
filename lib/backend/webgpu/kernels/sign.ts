/**
 * WGSL builders for the sign-coded nonlinearities (ReLU, leaky ReLU, abs): the forward
 * pass that also emits the bit-packed codes (one invocation per 32-unit code word), and
 * the masked map with recorded codes (forward and transpose alike: a diagonal).
 *
 * @module
 */
import { inactiveSlope, type SignLayer } from "../../cpu/activation.ts";
import { shapeSize } from "../../../network/spline_network.ts";
import type { ShaderSource } from "../_pipelines.ts";
import { elementwiseShader } from "./_elementwise.ts";
import { f } from "./_snippets.ts";
import { WG } from "../_gpu.ts";

/**
 * Forward with codes: bindings `x`, `y`, `codes` `[rows, ceil(units/32)]`; bit `u & 31`
 * of word `u >> 5` is 1 where the pre-activation is `> 0` (0 is inactive).
 *
 * One invocation per code word, but a workgroup's words cover one contiguous run of `x`
 * (rows follow each other), which its threads read and write side by side (coalesced),
 * setting the bits in workgroup memory.
 *
 * @param layer The layer.
 * @returns The shader.
 */
export function signForwardShader(layer: SignLayer): ShaderSource {
  const U = shapeSize(layer.outputShape), words = Math.ceil(U / 32);
  const s0 = inactiveSlope(layer);
  return elementwiseShader(`sign-forward/${U}/${f(s0)}`, {
    bindings: [{ name: "x", type: "f32" }, { name: "y", type: "f32", write: true }, {
      name: "codes",
      type: "u32",
      write: true,
    }],
    perRow: words,
    consts: `const U = ${U}u; const S0 = ${f(s0)}; const WG = ${WG}u;
var<workgroup> bits: array<atomic<u32>, ${WG}>;`,
    wholeGroups: true,
    body: `  let w0 = i - lid; // the workgroup's first word
  let total = P.rows * PER_ROW;
  atomicStore(&bits[lid], 0u);
  workgroupBarrier();
  if (w0 < total) {
    let last = min(w0 + WG, total) - 1u;
    let e0 = (w0 / PER_ROW) * U + (w0 % PER_ROW) * 32u;
    let e1 = (last / PER_ROW) * U + min((last % PER_ROW) * 32u + 32u, U);
    for (var e = e0 + lid; e < e1; e += WG) {
      let u = e % U;
      let v = x[e];
      if (v > 0.0) {
        y[e] = v;
        atomicOr(&bits[(e / U) * PER_ROW + (u >> 5u) - w0], 1u << (u & 31u));
      } else {
        y[e] = S0 * v;
      }
    }
  }
  workgroupBarrier();
  if (i < total) { codes[i] = atomicLoad(&bits[lid]); }`,
  });
}

/**
 * Masked map: bindings `x`, `codes`, `y`; row `r` uses the codes of example `exampleOf(r)`.
 *
 * @param layer The layer.
 * @returns The shader.
 */
export function signMaskedShader(layer: SignLayer): ShaderSource {
  const U = shapeSize(layer.outputShape), words = Math.ceil(U / 32);
  const s0 = inactiveSlope(layer);
  return elementwiseShader(`sign-masked/${U}/${f(s0)}`, {
    bindings: [{ name: "x", type: "f32" }, { name: "codes", type: "u32" }, {
      name: "y",
      type: "f32",
      write: true,
    }],
    perRow: U,
    consts: `const WORDS = ${words}u; const S0 = ${f(s0)};`,
    body: `  let e = exampleOf(i / PER_ROW);
  let u = i % PER_ROW;
  let on = (codes[e * WORDS + (u >> 5u)] >> (u & 31u)) & 1u;
  y[i] = select(S0 * x[i], x[i], on == 1u);`,
  });
}
