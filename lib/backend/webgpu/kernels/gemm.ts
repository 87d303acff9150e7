/**
 * The WGSL builder of a tiled matrix product `Y[M, N] = A[M, K] · B[K, N] (+ bias[N])`,
 * the engine's one kernel for dense and convolution layers and their transposes:
 * `A` is read through a gather (`loadA`: a plain matrix for dense layers, an implicit
 * im2col / col2im view of the activations for convolutions), `B` is a row-major weight
 * matrix. Each workgroup computes a `TM × TN` output tile, staging `TK`-deep slices of A
 * and B in workgroup memory; each thread accumulates `r × r` outputs in registers,
 * strided so that neighbouring threads write neighbouring outputs.
 *
 * `M = P.rows · M_PER_ROW` (rows known at dispatch time), `N` and `K` are constants.
 *
 * @module
 */
import type { ShaderSource } from "../_pipelines.ts";
import type { Binding } from "./_elementwise.ts";
import { WG } from "../_gpu.ts";

/** The tile shape of a product: chosen from `N` so that narrow outputs waste little. */
export interface GemmTile {
  /** Outputs per thread along each axis (`r × r` accumulators). */
  readonly r: number;
  /** Output rows and columns per workgroup. */
  readonly tm: number;
  readonly tn: number;
  /** Depth of one staged slice. */
  readonly tk: number;
  /** Threads along rows and along columns. */
  readonly thm: number;
  readonly thn: number;
}

/**
 * The tile for `N` output columns: `TN` the power of two in [4, 64] covering `N`,
 * `r × r` outputs per thread, up to 256 threads, staged slices within 16 KiB.
 *
 * @param n Output columns.
 * @param r Outputs per thread along each axis (1, 2 or 4).
 * @returns The tile.
 */
export function gemmTile(n: number, r: 1 | 2 | 4): GemmTile {
  let tn = 4;
  while (tn < n && tn < 64) tn *= 2;
  const thn = tn / r;
  const thm = Math.min(64, 256 / thn);
  const tm = thm * r;
  const tk = (tm + tn) * 16 * 4 <= 16384 ? 16 : 8;
  return { r, tm, tn, tk, thm, thn };
}

/** What a product reads and how. */
export interface GemmSpec {
  /** Shader key prefix: everything `loadA` and `consts` depend on. */
  readonly key: string;
  /** Storage bindings after the uniform: the activations read by `loadA`, `w` the `[K, N]`
   * weights, `b` the bias (read only when `bias`), and the output `y` last. */
  readonly bindings: readonly Binding[];
  /** Output rows per input row (1 for dense layers, output pixels for convolutions). */
  readonly mPerRow: number;
  readonly n: number;
  readonly k: number;
  /** WGSL `const` declarations used by `loadA`. */
  readonly consts?: string;
  /** Body of `fn loadA(m: u32, k: u32) -> f32`, called with `m < M`, `k < K`. */
  readonly loadA: string;
  /** Whether to add `b[n]`. */
  readonly bias: boolean;
}

/**
 * The bindings of a layer's product: the activations `input` read by `loadA`, the
 * weights `w`, the bias `b` and the output `y`.
 *
 * @param input The activations' binding name (`x` forward, `g` transposed).
 * @returns The bindings, in order.
 */
export function productBindings(input: string): readonly Binding[] {
  return [
    { name: input, type: "f32" },
    { name: "w", type: "f32" },
    { name: "b", type: "f32" },
    { name: "y", type: "f32", write: true },
  ];
}

/**
 * How a product is scheduled: `"direct"`, one invocation per output looping over `K`
 * (compiles in milliseconds everywhere: software adapters get it, because Mesa llvmpipe
 * takes 20–50 s to compile the tiled kernel with 16 accumulators), or tiled with
 * `r × r` outputs per thread (GPUs get `4`).
 */
export type GemmSchedule = "direct" | 1 | 2 | 4;

/** The schedule for an adapter. */
export function gemmScheduleFor(isFallback: boolean): GemmSchedule {
  return isFallback ? "direct" : 4;
}

function header(spec: GemmSpec, key: string, consts: string): string {
  return `// ${key}
struct Params { rows: u32, rowsPerCode: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<uniform> P: Params;
${
    spec.bindings.map((b, k) =>
      `@group(0) @binding(${k + 1}) var<storage, ${
        b.write ? "read_write" : "read"
      }> ${b.name}: array<${b.type}>;`
    ).join("\n")
  }
const M_PER_ROW = ${spec.mPerRow}u;
const N = ${spec.n}u;
const K = ${spec.k}u;
${consts}
${spec.consts ?? ""}

fn loadA(m: u32, k: u32) -> f32 {
${spec.loadA}
}

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let M = P.rows * M_PER_ROW;
  let group = wid.y * nwg.x + wid.x;
${spec.bindings.map((b) => `  _ = &${b.name};`).join("\n")}
`;
}

/**
 * The product's shader; dispatch {@linkcode gemmGroups} workgroups.
 *
 * @param spec The product.
 * @param schedule The schedule (see {@linkcode GemmSchedule}).
 * @returns The shader.
 */
export function gemmShader(spec: GemmSpec, schedule: GemmSchedule): ShaderSource {
  const key = `gemm-${schedule}/${spec.key}/${spec.mPerRow}x${spec.n}x${spec.k}${
    spec.bias ? "/bias" : ""
  }`;
  const bias = spec.bias ? "b[n]" : "0.0";
  if (schedule === "direct") {
    return {
      key,
      label: key,
      build: () =>
        `${header(spec, key, `const THREADS = ${WG}u;`)}  let i = group * THREADS + lid;
  if (i >= M * N) { return; }
  let m = i / N;
  let n = i % N;
  var s = ${bias};
  for (var k = 0u; k < K; k++) { s = fma(loadA(m, k), w[k * N + n], s); }
  y[i] = s;
}
`,
    };
  }
  const r = schedule;
  const t = gemmTile(spec.n, r);
  return {
    key,
    label: key,
    build: () =>
      `${
        header(
          spec,
          key,
          `const TM = ${t.tm}u;
const TN = ${t.tn}u;
const TK = ${t.tk}u;
const THM = ${t.thm}u;
const THN = ${t.thn}u;
const THREADS = ${t.thm * t.thn}u;
const R = ${r}u;
var<workgroup> As: array<f32, ${t.tk * t.tm}>;
var<workgroup> Bs: array<f32, ${t.tk * t.tn}>;`,
        )
      }  let tilesN = (N + TN - 1u) / TN;
  let mBase = (group / tilesN) * TM;
  let nBase = (group % tilesN) * TN;
  if (mBase >= M) { return; }
  let tx = lid % THN;
  let ty = lid / THN;
  var acc: array<f32, ${r * r}>;
  for (var k0 = 0u; k0 < K; k0 += TK) {
    for (var e = lid; e < TM * TK; e += THREADS) {
      let mm = e / TK;
      let kk = e % TK;
      var v = 0.0;
      if (mBase + mm < M && k0 + kk < K) { v = loadA(mBase + mm, k0 + kk); }
      As[kk * TM + mm] = v;
    }
    for (var e = lid; e < TK * TN; e += THREADS) {
      let kk = e / TN;
      let nn = e % TN;
      var v = 0.0;
      if (k0 + kk < K && nBase + nn < N) { v = w[(k0 + kk) * N + nBase + nn]; }
      Bs[kk * TN + nn] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      var a: array<f32, R>;
      var bv: array<f32, R>;
      for (var i = 0u; i < R; i++) { a[i] = As[kk * TM + ty + i * THM]; }
      for (var j = 0u; j < R; j++) { bv[j] = Bs[kk * TN + tx + j * THN]; }
      for (var i = 0u; i < R; i++) {
        for (var j = 0u; j < R; j++) { acc[i * R + j] = fma(a[i], bv[j], acc[i * R + j]); }
      }
    }
    workgroupBarrier();
  }
  for (var j = 0u; j < R; j++) {
    let n = nBase + tx + j * THN;
    if (n >= N) { continue; }
    let bias = ${bias};
    for (var i = 0u; i < R; i++) {
      let m = mBase + ty + i * THM;
      if (m < M) { y[m * N + n] = acc[i * R + j] + bias; }
    }
  }
}
`,
  };
}

/**
 * Workgroups of a product over `rows` input rows.
 *
 * @param spec The product.
 * @param rows Input rows.
 * @param schedule The schedule.
 * @returns The workgroup count.
 */
export function gemmGroups(
  spec: Pick<GemmSpec, "mPerRow" | "n">,
  rows: number,
  schedule: GemmSchedule,
): number {
  if (schedule === "direct") return Math.ceil((rows * spec.mPerRow * spec.n) / WG);
  const t = gemmTile(spec.n, schedule);
  return Math.ceil((rows * spec.mPerRow) / t.tm) * Math.ceil(spec.n / t.tn);
}
