/**
 * WGSL builder: merges one base chunk's mismatch counts into each query's running
 * top-k list, ascending by (count, base index). One workgroup per query: each of T
 * threads keeps a private sorted top-k of its strided share of the chunk, the lists
 * go through workgroup memory, and one thread merges them with the running list
 * (whose indices, from earlier chunks, are all smaller).
 *
 * @module
 */
import type { ShaderSource } from "../_pipelines.ts";

/** Largest k the WebGPU top-k supports. */
export const MAX_GPU_K = 128;

/** Threads per workgroup of the merge for a given k (workgroup memory holds T·k pairs). */
export function mergeThreads(k: number, fallback: boolean): number {
  if (fallback) return 8; // software adapters compile large private-array loops slowly
  return Math.max(8, Math.min(64, 2 ** Math.floor(Math.log2(2048 / k))));
}

/**
 * The merge kernel. Bindings: 0 counts `[queries, baseRows]`, 1 running indices
 * `[queries, k]`, 2 running counts `[queries, k]` (both u32, sentinel `0xffffffff`),
 * 3 uniform `(queryOffset, chunkBase, validRows, baseRows (the counts' row stride),
 * exclude (1: skip base index = global query index))`. Workgroup `w` handles query row
 * `w` of the block (global query index `queryOffset + w`).
 *
 * @param options `k` (1…128), `threads` per workgroup (from {@linkcode mergeThreads}).
 * @returns The shader.
 */
export function topKMergeShader(
  options: { k: number; threads: number },
): ShaderSource {
  const { k, threads: T } = options;
  const key = `top-k-merge/k${k}/t${T}`;
  return {
    key,
    label: key,
    build: () =>
      `// running top-${k} merge of a base chunk's counts; ${T} threads per query
struct Params { queryOffset: u32, chunkBase: u32, valid: u32, baseRows: u32, exclude: u32 }
@group(0) @binding(0) var<storage, read> counts: array<u32>;
@group(0) @binding(1) var<storage, read_write> bestIdx: array<u32>;
@group(0) @binding(2) var<storage, read_write> bestCnt: array<u32>;
@group(0) @binding(3) var<uniform> p: Params;
const K = ${k}u;
const T = ${T}u;
const NONE = 0xffffffffu;
var<workgroup> ci: array<u32, ${T * k}>;
var<workgroup> cc: array<u32, ${T * k}>;
fn before(c1: u32, i1: u32, c2: u32, i2: u32) -> bool {
  return c1 < c2 || (c1 == c2 && i1 < i2);
}
@compute @workgroup_size(${T})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  let row = wid.y * nwg.x + wid.x;
  let qi = p.queryOffset + row;
  let M = p.baseRows;
  var li: array<u32, K>;
  var lc: array<u32, K>;
  for (var s = 0u; s < K; s++) { li[s] = NONE; lc[s] = NONE; }
  for (var j = t; j < p.valid; j += T) {
    let c = counts[row * M + j];
    let gj = p.chunkBase + j;
    if (p.exclude != 0u && gj == qi) { continue; }
    if (c < lc[K - 1u]) {
      var s = K - 1u;
      while (s > 0u && lc[s - 1u] > c) {
        lc[s] = lc[s - 1u];
        li[s] = li[s - 1u];
        s -= 1u;
      }
      lc[s] = c;
      li[s] = gj;
    }
  }
  for (var s = 0u; s < K; s++) { ci[t * K + s] = li[s]; cc[t * K + s] = lc[s]; }
  workgroupBarrier();
  if (t != 0u) { return; }
  var head: array<u32, ${T + 1}>;
  for (var h = 0u; h <= T; h++) { head[h] = 0u; }
  var oi: array<u32, K>;
  var oc: array<u32, K>;
  for (var s = 0u; s < K; s++) {
    // list T is the running list
    var bestH = T;
    var bc = NONE;
    var bi = NONE;
    if (head[T] < K) { bc = bestCnt[row * K + head[T]]; bi = bestIdx[row * K + head[T]]; }
    for (var h = 0u; h < T; h++) {
      if (head[h] < K) {
        let c = cc[h * K + head[h]];
        let i = ci[h * K + head[h]];
        if (before(c, i, bc, bi)) { bc = c; bi = i; bestH = h; }
      }
    }
    oc[s] = bc;
    oi[s] = bi;
    head[bestH] += 1u;
  }
  for (var s = 0u; s < K; s++) { bestCnt[row * K + s] = oc[s]; bestIdx[row * K + s] = oi[s]; }
}
`,
  };
}
