/**
 * Named WGSL snippets shared by the kernel builders.
 *
 * @module
 */

/**
 * The uniform `P` of the engine's kernels: `rows` of the batch, `rowsPerCode` consecutive
 * rows per example, and `codeBase`, the example of row 0 in the code buffers (a slice of a
 * batch whose codes were recorded for the whole batch); `exampleOf(r)` is row `r`'s example.
 * `rowBase`: the first row of a kernel that runs on rows `rowBase … rowBase + rows − 1` of
 * its input and output (a computation done in row slices; 0 elsewhere).
 */
export const PARAMS = `struct Params { rows: u32, rowsPerCode: u32, codeBase: u32, rowBase: u32 }
@group(0) @binding(0) var<uniform> P: Params;
fn exampleOf(r: u32) -> u32 { return P.codeBase + r / P.rowsPerCode; }`;

/** `u32` WGSL literal. */
export const u = (n: number): string => `${n >>> 0}u`;

/** `f32` WGSL literal (exact for the float32 rounding of `n`). */
export function f(n: number): string {
  const v = Math.fround(n);
  if (Object.is(v, -0) || v === 0) return "0.0";
  return Number.isInteger(v) && Math.abs(v) < 1e15 ? `${v}.0` : `${v}`;
}

/** The linear invocation index of a 1-D kernel over a 2-D workgroup grid. */
export const LINEAR_INDEX = (wg: number) =>
  `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${wg}u + lid;`;

/** Mismatching units in a `vec4<u32>` XOR of two packed sign-bit rows. */
export const SIGN_MISMATCH = `fn mismatches(x: vec4<u32>) -> u32 {
  let c = countOneBits(x);
  return c.x + c.y + c.z + c.w;
}`;

/** Mismatching units in a `vec4<u32>` XOR of two rows of u16 argmax codes (2 per word). */
export const ARGMAX_MISMATCH = `fn mismatches(x: vec4<u32>) -> u32 {
  let z = vec4<u32>(0u);
  let o = vec4<u32>(1u);
  let c = select(z, o, (x & vec4<u32>(0xffffu)) != z) + select(z, o, (x >> vec4<u32>(16u)) != z);
  return c.x + c.y + c.z + c.w;
}`;

/** `[0, 1, …, n − 1]`, for unrolling in builders. */
export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/**
 * `fn signOf(e, u) -> f32` and `fn signOf4(e, u) -> vec4<f32>` (units `u … u + 3`, `u % 4 == 0`):
 * 1 where unit `u` of example `e` is active in a sign layer's packed codes (binding
 * `scodes`, `ceil(units / 32)` words per example), else `slope` (0 for ReLU, α for leaky
 * ReLU, −1 for abs).
 *
 * @param units Units of the sign layer.
 * @param slope Its slope where inactive.
 * @returns WGSL declarations.
 */
export function signOfFns(units: number, slope: number): string {
  return `
const SWORDS = ${Math.ceil(units / 32)}u;
const S0 = ${f(slope)};
fn signOf(e: u32, u: u32) -> f32 {
  return select(S0, 1.0, ((scodes[e * SWORDS + (u >> 5u)] >> (u & 31u)) & 1u) == 1u);
}
fn signOf4(e: u32, u: u32) -> vec4<f32> {
  let bits = vec4<u32>(scodes[e * SWORDS + (u >> 5u)] >> (u & 31u)) >> vec4<u32>(0u, 1u, 2u, 3u);
  return select(vec4<f32>(S0), vec4<f32>(1.0), (bits & vec4<u32>(1u)) == vec4<u32>(1u));
}`;
}
