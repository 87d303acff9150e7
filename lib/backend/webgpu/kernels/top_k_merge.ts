/**
 * WGSL builder: merges one base chunk's mismatch counts into each query's running
 * top-k list, ascending by (count, base index). One workgroup per query: each of T
 * threads keeps a private sorted top-k of its strided share of the chunk, admitting only
 * counts below the running list's last (its indices, from earlier chunks, are all
 * smaller, so a tie loses); the candidates are gathered in workgroup memory and one thread
 * inserts them into the running list — after the first chunks there are few, or none.
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
var<workgroup> found: atomic<u32>;
fn before(c1: u32, i1: u32, c2: u32, i2: u32) -> bool {
  return c1 < c2 || (c1 == c2 && i1 < i2);
}
@compute @workgroup_size(${T})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  let row = wid.y * nwg.x + wid.x;
  let qi = p.queryOffset + row;
  let M = p.baseRows;
  if (t == 0u) { atomicStore(&found, 0u); }
  // a count must beat the running list's last one: this chunk's indices are all larger, so
  // a tie loses (NONE while the list is not full)
  let bound = bestCnt[row * K + K - 1u];
  var li: array<u32, K>;
  var lc: array<u32, K>;
  for (var s = 0u; s < K; s++) { li[s] = NONE; lc[s] = NONE; }
  var kept = 0u;
  for (var j = t; j < p.valid; j += T) {
    let c = counts[row * M + j];
    let gj = p.chunkBase + j;
    if (p.exclude != 0u && gj == qi) { continue; }
    if (c < lc[K - 1u] && c < bound) {
      var s = K - 1u;
      while (s > 0u && lc[s - 1u] > c) {
        lc[s] = lc[s - 1u];
        li[s] = li[s - 1u];
        s -= 1u;
      }
      lc[s] = c;
      li[s] = gj;
      kept = min(kept + 1u, K);
    }
  }
  workgroupBarrier();
  // the threads' candidates side by side, then one thread inserts them into the running list
  let at = atomicAdd(&found, kept);
  for (var s = 0u; s < kept; s++) { ci[at + s] = li[s]; cc[at + s] = lc[s]; }
  workgroupBarrier();
  let n = atomicLoad(&found);
  if (t != 0u || n == 0u) { return; }
  var oi: array<u32, K>;
  var oc: array<u32, K>;
  for (var s = 0u; s < K; s++) { oc[s] = bestCnt[row * K + s]; oi[s] = bestIdx[row * K + s]; }
  for (var e = 0u; e < n; e++) {
    let c = cc[e];
    let i = ci[e];
    if (!before(c, i, oc[K - 1u], oi[K - 1u])) { continue; }
    var s = K - 1u;
    while (s > 0u && before(c, i, oc[s - 1u], oi[s - 1u])) {
      oc[s] = oc[s - 1u];
      oi[s] = oi[s - 1u];
      s -= 1u;
    }
    oc[s] = c;
    oi[s] = i;
  }
  for (var s = 0u; s < K; s++) { bestCnt[row * K + s] = oc[s]; bestIdx[row * K + s] = oi[s]; }
}
`,
  };
}
