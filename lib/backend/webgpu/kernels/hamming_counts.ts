/**
 * WGSL builder: mismatch counts of a block of query rows × a chunk of base rows on
 * packed codes (XOR + `countOneBits`), tiled through workgroup memory with
 * `vec4<u32>` loads. 16×16 threads per workgroup and R×R pairs per thread (R = 8 on
 * hardware adapters: 128×128 pairs per workgroup); thread (tx, ty) owns query rows
 * `ty + 16·i` and base rows `tx + 16·j`, so neighbouring threads read neighbouring rows.
 *
 * @module
 */
import type { ShaderSource } from "../_pipelines.ts";
import { ARGMAX_MISMATCH, range, SIGN_MISMATCH } from "./_snippets.ts";

/** Row length granularity, in `vec4<u32>`: rows are zero-padded to a multiple of it. */
export const HAMMING_VEC_STEP = 4;

/**
 * The counts kernel. Bindings: 0 query rows, 1 base rows (both `array<vec4<u32>>`,
 * rows of `vec4s` vectors, padded to multiples of the tile, `16·perThread` rows),
 * 2 counts `[queryRows, baseRows]`, 3 uniform `(vec4s per row (a multiple of 4),
 * baseRows (the chunk's padded row count))`.
 *
 * @param options `kind` (`sign` bits or u16 `argmax` pairs), `perThread` R (1, 2, 4 or 8).
 * @returns The shader.
 */
export function hammingCountsShader(
  options: { kind: "sign" | "argmax"; perThread: number },
): ShaderSource {
  const { kind, perThread: R } = options;
  const tile = 16 * R;
  const key = `hamming-counts/${kind}/r${R}`;
  return {
    key,
    label: key,
    build: () =>
      `// mismatch counts, ${kind} codes: ${tile}x${tile} pairs per workgroup, ${R}x${R} per thread
@group(0) @binding(0) var<storage, read> q: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> counts: array<u32>;
struct Params { vec4s: u32, baseRows: u32, pad0: u32, pad1: u32 }
@group(0) @binding(3) var<uniform> p: Params;
const TILE = ${tile}u;
var<workgroup> qs: array<vec4<u32>, ${4 * tile}>; // [4 vec4][TILE rows]
var<workgroup> bs: array<vec4<u32>, ${4 * tile}>;
${kind === "sign" ? SIGN_MISMATCH : ARGMAX_MISMATCH}
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  let V = p.vec4s;     // vec4s per row
  let M = p.baseRows;  // base rows in the chunk (row stride of counts)
  let q0 = wid.x * TILE;
  let b0 = wid.y * TILE;
${range(R * R).map((p) => `  var acc${p} = 0u;`).join("\n")}
  for (var v0 = 0u; v0 < V; v0 += 4u) {
    for (var e = t; e < 4u * TILE; e += 256u) {
      let row = e >> 2u;
      let v = e & 3u;
      qs[v * TILE + row] = q[(q0 + row) * V + v0 + v];
      bs[v * TILE + row] = b[(b0 + row) * V + v0 + v];
    }
    workgroupBarrier();
    for (var v = 0u; v < 4u; v++) {
${range(R).map((i) => `      let a${i} = qs[v * TILE + l.y + ${16 * i}u];`).join("\n")}
${
        range(R).map((j) =>
          `      let b${j} = bs[v * TILE + l.x + ${16 * j}u];\n` +
          range(R).map((i) => `      acc${i * R + j} += mismatches(a${i} ^ b${j});`).join("\n")
        ).join("\n")
      }
    }
    workgroupBarrier();
  }
${
        range(R * R).map((p) =>
          `  counts[(q0 + l.y + ${16 * Math.floor(p / R)}u) * M + b0 + l.x + ${
            16 * (p % R)
          }u] = acc${p};`
        ).join("\n")
      }
}
`,
  };
}
