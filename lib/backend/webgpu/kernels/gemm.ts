/**
 * The WGSL builder of a tiled matrix product `Y[M, N] = A[M, K] · B[K, N] (+ bias[N])`,
 * the engine's one kernel for dense and convolution layers and their transposes:
 * `A` is read through a gather (`loadA`: a plain matrix for dense layers, an implicit
 * im2col / col2im view of the activations for convolutions), `B` is a row-major weight
 * matrix. Each workgroup computes a `TM × TN` output tile, staging `TK`-deep slices of A
 * and B in workgroup memory; each thread accumulates `r × r` outputs in registers (`rm × rn`
 * where a benchmark asks), strided so that neighbouring threads write neighbouring outputs.
 *
 * `M = P.rows · M_PER_ROW` (rows known at dispatch time), `N` and `K` are constants.
 *
 * @module
 */
import type { ShaderSource } from "../_pipelines.ts";
import type { Binding } from "./_elementwise.ts";
import { WG } from "../_gpu.ts";
import { PARAMS, range } from "./_snippets.ts";

/** The tile shape of a product: chosen from `N` so that narrow outputs waste little. */
export interface GemmTile {
  /** Outputs per thread along rows and along columns (`rm × rn` accumulators). */
  readonly rm: number;
  readonly rn: number;
  /** Output rows and columns per workgroup. */
  readonly tm: number;
  readonly tn: number;
  /** Depth of one staged slice (a multiple of 4: A is staged 4 depths at a time). */
  readonly tk: number;
  /** Threads along rows and along columns. */
  readonly thm: number;
  readonly thn: number;
  /** Row stride of the staged A slice: `tm` plus a pad that spreads its writes over the banks. */
  readonly tmp: number;
}

/**
 * Choices that override a tile's derived shape (a benchmark's sweep: `bench/gemm_sweep.ts`):
 * outputs per thread along rows (`rm`) and columns (`rn`), threads along rows (`thm`), the
 * staged depth (`tk`), the columns of a workgroup (`tn`, a multiple of `rn`), and the most
 * workgroup memory the staged slices may take (default 16 KiB, WebGPU's guaranteed limit).
 */
export interface GemmTileShape {
  /** Outputs per thread along rows. */
  readonly rm?: number;
  /** Outputs per thread along columns. */
  readonly rn?: number;
  /** Threads along rows. */
  readonly thm?: number;
  /** Depth of a staged slice (a multiple of 4). */
  readonly tk?: number;
  /** Columns of a workgroup (a multiple of `rn`). */
  readonly tn?: number;
  /** The most bytes of workgroup memory the staged slices may take. */
  readonly maxBytes?: number;
}

/** A tile shape's part of a shader key (empty for the derived shape). */
function shapeKey(shape: GemmTileShape | undefined): string {
  if (shape === undefined) return "";
  const { rm, rn, thm, tk, tn } = shape;
  return `/t${rm ?? ""}x${rn ?? ""},${thm ?? ""},${tk ?? ""},${tn ?? ""}`;
}

/**
 * The tile for `N` output columns and `r × r` outputs per thread: `TN` the multiple of `4r`
 * up to `16r` that pads `N` least (the larger on a tie), or for `N < 4r` the power of two
 * from `max(4, r)` covering it; as many rows of threads as fit 256 threads and 256 rows
 * (a power of two); staged slices within 16 KiB. `shape` overrides any of these choices
 * (`rm × rn` outputs per thread in place of `r × r`).
 *
 * @param n Output columns.
 * @param r Outputs per thread along each axis (4 or 8).
 * @param blocked Whether each thread's outputs are blocked (see {@linkcode GemmSchedule}).
 * @param shape Choices overriding the derived ones.
 * @returns The tile.
 * @throws {RangeError} Where the choices do not make a tile: more than 256 threads, staged
 * slices over `maxBytes`, a depth that is not a multiple of 4 or that the threads cannot
 * load evenly, blocked outputs that are not multiples of 4.
 */
export function gemmTile(
  n: number,
  r: 4 | 8,
  blocked = false,
  shape: GemmTileShape = {},
): GemmTile {
  const rm = shape.rm ?? r, rn = shape.rn ?? r;
  const what = `a product of ${n} columns with ${rm} × ${rn} outputs per thread`;
  let tn = Math.max(4, rn);
  if (shape.tn !== undefined) tn = shape.tn;
  else if (n >= 4 * rn) {
    let padded = Infinity;
    for (let c = 4 * rn; c <= 16 * rn; c += 4 * rn) {
      const p = Math.ceil(n / c) * c;
      if (p <= padded) [tn, padded] = [c, p];
    }
  } else {
    while (tn < n) tn *= 2;
  }
  const whole = (v: number) => Number.isInteger(v) && v > 0;
  if (![rm, rn, tn].every(whole) || tn % rn !== 0) {
    throw new RangeError(`Cannot tile ${what}: ${tn} columns a workgroup (a multiple of ${rn})`);
  }
  if (blocked && (rm % 4 !== 0 || rn % 4 !== 0)) {
    throw new RangeError(`Cannot block ${what}: blocked outputs come in fours`);
  }
  const thn = tn / rn;
  let thm = 1;
  while (thm * 2 <= Math.min(64, 256 / thn, 256 / rm)) thm *= 2;
  if (shape.thm !== undefined) thm = shape.thm;
  if (!whole(thm) || thm * thn > 256) {
    throw new RangeError(`Cannot tile ${what}: ${thm} × ${thn} threads (at most 256)`);
  }
  const tm = thm * rm;
  // a loader thread writes 4 depths of one row: with 4·tmp ≡ 8 (mod 32) the 32 threads of a
  // wave (8 rows × 4 depth quads) hit 32 different banks; blocked tiles read rows as vec4s,
  // so their stride stays a multiple of 4 (4·tmp ≡ 16: two-way conflicts on the writes)
  const tmp = blocked ? tm + 4 : tm % 8 === 0 ? tm + 2 : tm + 1;
  const maxBytes = shape.maxBytes ?? 16384;
  const tk = shape.tk ?? ((tmp + tn) * 16 * 4 <= maxBytes ? 16 : 8);
  if (!whole(tk) || tk % 4 !== 0 || (thm * thn) % (tk / 4) !== 0) {
    throw new RangeError(
      `Cannot tile ${what}: a depth of ${tk} (a multiple of 4 that ${
        thm * thn
      } threads load evenly)`,
    );
  }
  if ((tmp + tn) * tk * 4 > maxBytes) {
    throw new RangeError(
      `Cannot tile ${what}: staged slices of ${(tmp + tn) * tk * 4} bytes (at most ${maxBytes})`,
    );
  }
  return { rm, rn, tm, tn, tk, thm, thn, tmp };
}

/**
 * A gather of A four depths at a time, for products whose contiguous inner dimension (input
 * channels, output channels of a transpose, a dense row) is a multiple of 4: the row's
 * address arithmetic is done once per thread ({@linkcode GemmSpec.vec4} `rowInfo`), and each
 * staged quad is one 16-byte load.
 */
export interface GemmVec4 {
  /** Module-scope functions used by `rowInfo` and `load4` only. */
  readonly fns?: string;
  /** Body of `fn rowInfo(m: u32) -> vec4<i32>`, called once per loaded row with `m < M`. */
  readonly rowInfo: string;
  /** Body of `fn loadA4(ri: vec4<i32>, k: u32) -> vec4<f32>` (A[m, k..k+3]; `k % 4 == 0`,
   * `k < K`), reading the activations binding as `array<vec4<f32>>`. */
  readonly load4: string;
}

/** What a product reads and how. */
export interface GemmSpec {
  /** Shader key prefix: everything `loadA` and `consts` depend on. */
  readonly key: string;
  /** Storage bindings after the uniform: the activations read by `loadA` (then any codes
   * that the gather applies), `w` the `[K, N]` weights, `b` the bias (read only when
   * `bias`), and the output `y` last. */
  readonly bindings: readonly Binding[];
  /** Output rows per input row (1 for dense layers, output pixels for convolutions). */
  readonly mPerRow: number;
  readonly n: number;
  readonly k: number;
  /** WGSL module-scope declarations (constants, helper functions) used by the gathers. */
  readonly consts?: string;
  /** Module-scope functions used by `loadA` only (declared with it: in the four-wide
   * gather the activations are typed as vectors). */
  readonly fns?: string;
  /** Body of `fn loadA(m: u32, k: u32) -> f32`, called with `m < M`, `k < K`. */
  readonly loadA: string;
  /** The four-wide gather, where the layout allows it (tiled schedules use it). */
  readonly vec4?: GemmVec4;
  /** Whether to add `b[n]`. */
  readonly bias: boolean;
  /**
   * Independent products of the same shape in one dispatch (default 1): product `BATCH`
   * (a module-scope `var<private>` that the gathers read) uses weights `w[BATCH·K·N …]` and
   * writes `y[BATCH·M·N …]`. Tiled and direct schedules only.
   */
  readonly batches?: number;
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
    { name: input, type: "f32", wide: true },
    { name: "w", type: "f32" },
    { name: "b", type: "f32" },
    { name: "y", type: "f32", write: true },
  ];
}

/**
 * How a product is scheduled: `"direct"`, one invocation per output looping over `K`
 * (compiles in milliseconds everywhere: software adapters get it, because Mesa llvmpipe
 * through GL takes 20–50 s to compile a tiled kernel with 16 accumulators — through Vulkan,
 * lavapipe, about a second), or tiled with
 * `r × r` outputs per thread (GPUs get 4 or 8: {@linkcode gemmScheduleFor}) — strided, so
 * that neighbouring threads hold neighbouring outputs, or blocked (`"4b"`, `"8b"`): each
 * thread's outputs are `r` consecutive rows and columns, and the staged slices are read four
 * values at a time (a quarter of the workgroup-memory reads, and of the index clamps that
 * WebGPU adds to each); `"4q"`, `"8q"`: staged and read four values at a time too, but a
 * thread's outputs are groups of four consecutive rows and columns strided like the single
 * values of the strided tiles (neighbouring threads read neighbouring vec4s of B: no bank
 * conflicts, where blocked tiles' neighbours are `r / 4` vec4s apart; an alternative the GEMM
 * sweep compares). `"4p"`, `"8p"`: strided tiles whose next slice of A and B is
 * loaded into registers while the current one is multiplied (register prefetch: the global
 * loads' latency hidden behind the products, for more registers a thread; an alternative the
 * GPU benchmark compares); `"4bp"`, `"8bp"`, `"4qp"`, `"8qp"`: blocked or strided-quad tiles
 * that prefetch so. `"reduce"`: one workgroup per output row, its threads splitting `K`
 * and reduced in workgroup memory, for few columns and a long `K` (a final dense layer to 10
 * classes: a tile of 256 rows would leave all but one workgroup idle).
 */
export type GemmSchedule =
  | "direct"
  | 4
  | 8
  | `${4 | 8}${"b" | "q" | ""}p`
  | `${4 | 8}${"b" | "q"}`
  | "reduce";

/** The most columns, the least depth and the most rows of a product that `"reduce"` takes. */
const REDUCE = { n: 16, k: 128, m: 65536 };

/**
 * The schedule for an adapter and a product `m × n` (depth `k`): direct on software
 * adapters; on GPUs `"reduce"` for at most 16 columns, a depth of at least 128 and at most
 * 65,536 rows (fewer rows than 256 tiles of 256); else 8 × 8 outputs per thread from 64
 * columns on (16 staged values feed 64 fused multiply-adds: twice the 4 × 4 tile's ratio,
 * whose shared-memory reads capped it at ≈ 15 TFLOP/s on the H200), else 4 × 4 (a narrow
 * product would waste most of a wide tile); both in strided quads with register prefetch
 * (`"8qp"`, `"4qp"`: on the H100, largeCNN's templates 1.245× and its ⟨A_c, x⟩ 1.34× faster
 * than the plain tiles end to end, smallCNN's unchanged; bench/RESULTS.md, eighteenth session).
 *
 * @param isFallback Whether the adapter is a software one.
 * @param shape `m` rows, `n` columns, `k` depth (unknown dimensions never pick "reduce").
 * @param maxPerThread The largest r to use (8 unless a benchmark asks for 4).
 * @param blocked The strided-quad tiles (`"quads"`, default), the blocked ones (`true`) or the
 * plain ones (`false`: benchmarks compare them).
 * @param prefetch Whether to use the register-prefetching tiles (default; benchmarks compare).
 * @returns The schedule.
 */
export function gemmScheduleFor(
  isFallback: boolean,
  shape: { m?: number; n?: number; k?: number } = {},
  maxPerThread: 4 | 8 = 8,
  blocked: boolean | "quads" = "quads",
  prefetch = true,
): GemmSchedule {
  if (isFallback) return "direct";
  const { m = Infinity, n = 0, k = 0 } = shape;
  if (n <= REDUCE.n && k >= REDUCE.k && m <= REDUCE.m) return "reduce";
  const r = maxPerThread === 8 && n >= 64 ? 8 : 4;
  const kind = blocked === "quads" ? "q" : blocked ? "b" : "";
  if (prefetch) return `${r}${kind}p`;
  return kind === "" ? r : `${r}${kind}`;
}

/**
 * Outputs per thread along each axis, whether they are staged as vec4s (blocked), whether
 * the vec4s are strided (`"4q"`, `"8q"`), whether they prefetch (`"…p"`).
 */
function perThread(
  schedule: Exclude<GemmSchedule, "direct" | "reduce">,
): { r: 4 | 8; blocked: boolean; quads: boolean; prefetch: boolean } {
  if (typeof schedule === "number") {
    return { r: schedule, blocked: false, quads: false, prefetch: false };
  }
  return {
    r: schedule[0] === "8" ? 8 : 4,
    blocked: schedule[1] === "b" || schedule[1] === "q",
    quads: schedule[1] === "q",
    prefetch: schedule.endsWith("p"),
  };
}

function header(
  spec: GemmSpec,
  key: string,
  consts: string,
  vec4: boolean,
  perBatch: string,
): string {
  const batched = (spec.batches ?? 1) > 1;
  const gather = vec4
    ? `${spec.vec4!.fns ?? ""}
fn rowInfo(m: u32) -> vec4<i32> {
${spec.vec4!.rowInfo}
}

fn loadA4(ri: vec4<i32>, k: u32) -> vec4<f32> {
${spec.vec4!.load4}
}`
    : `${spec.fns ?? ""}
fn loadA(m: u32, k: u32) -> f32 {
${spec.loadA}
}`;
  return `// ${key}
${PARAMS}
${
    spec.bindings.map((b, k) =>
      `@group(0) @binding(${k + 1}) var<storage, ${
        b.write ? "read_write" : "read"
      }> ${b.name}: array<${vec4 && b.wide ? `vec4<${b.type}>` : b.type}>;`
    ).join("\n")
  }
const M_PER_ROW = ${spec.mPerRow}u;
const N = ${spec.n}u;
const K = ${spec.k}u;
${batched ? "var<private> BATCH: u32;" : ""}
${consts}
${spec.consts ?? ""}

${gather}

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let M = P.rows * M_PER_ROW;
${
    batched
      ? `  let perBatch = ${perBatch};
  BATCH = (wid.y * nwg.x + wid.x) / perBatch;
  let group = (wid.y * nwg.x + wid.x) % perBatch;
  let WB = BATCH * K * N;
  let YB = BATCH * M * N;`
      : `  let group = wid.y * nwg.x + wid.x;
  let WB = 0u;
  let YB = 0u;`
  }
${spec.bindings.map((b) => `  _ = &${b.name};`).join("\n")}
`;
}

/**
 * The tiled kernel's body, generated unrolled: the `rm × rn` accumulators, the staged values
 * and the loaders' row information are named scalars (`c_i_j`, `a_i`, `b_j`, `ri_q`), so
 * that nothing is indexed dynamically and every one stays in a register. Blocked tiles
 * stage vec4s: `a_q`, `b_q` hold four rows or columns each.
 */
function tiledBody(
  t: GemmTile,
  vec4: boolean,
  bias: string,
  blocked: boolean,
  stridedQuads: boolean,
  prefetch: boolean,
): string {
  const { rm, rn } = t;
  const quads = (t.tm * t.tk) / 4, threads = t.thm * t.thn;
  const perThread = Math.ceil(quads / threads);
  const comps = ["x", "y", "z", "w"];
  const loaders = range(perThread).map((q) => {
    const staged = (q + 1) * threads > quads ? `q${q} < ${quads}u` : "true";
    const load = (k: string) =>
      vec4 ? `if (ok${q} && ${k} + ak < K) { v = loadA4(ri${q}, ${k} + ak); }` : `if (ok${q}) {
${
        comps.map((c, j) =>
          `        if (${k} + ak + ${j}u < K) { v.${c} = loadA(m${q}, ${k} + ak + ${j}u); }`
        ).join("\n")
      }
      }`;
    const store = blocked
      ? comps.map((c, j) => `As[(ak + ${j}u) * TMP4 + sv${q}][sc${q}] = v.${c};`).join(" ")
      : `let o = ak * TMP + am${q};
      As[o] = v.x; As[o + TMP] = v.y; As[o + 2u * TMP] = v.z; As[o + 3u * TMP] = v.w;`;
    return {
      setup: `  let q${q} = lid + ${q * threads}u;
  let am${q} = q${q} / QPR;
  let m${q} = mBase + am${q};
  let st${q} = ${staged};
  let ok${q} = st${q} && m${q} < M;
${vec4 ? `  var ri${q} = vec4<i32>(0);\n  if (ok${q}) { ri${q} = rowInfo(m${q}); }\n` : ""}${
        blocked ? `  let sv${q} = am${q} / 4u;\n  let sc${q} = am${q} % 4u;\n` : ""
      }${prefetch ? `  var pa${q} = vec4<f32>(0.0);\n` : ""}`,
      // stage the slice at k0 (loading it first, or from the registers prefetched into)
      body: prefetch
        ? `    if (st${q}) {
      let v = pa${q};
      ${store}
    }`
        : `    if (st${q}) {
      var v = vec4<f32>(0.0);
      ${load("k0")}
      ${store}
    }`,
      // load the slice at k into the registers (prefetch)
      fetch: (k: string) =>
        `    if (st${q}) {
      var v = vec4<f32>(0.0);
      ${load(k)}
      pa${q} = v;
    }`,
    };
  });
  const acc = range(rm).flatMap((i) => range(rn).map((j) => [i, j]));
  const cName = ([i, j]: number[]) => `c${i}_${j}`;
  // thread (tx, ty)'s i-th row and j-th column of the tile
  // (strided quads: a thread's g-th group of four is its index plus g times the threads
  // along that axis)
  const row = (i: number) =>
    stridedQuads
      ? `(ty + ${Math.floor(i / 4) * t.thm}u) * 4u + ${i % 4}u`
      : blocked
      ? `ty * ${rm}u + ${i}u`
      : `ty + ${i * t.thm}u`;
  const col = (j: number) =>
    stridedQuads
      ? `(tx + ${Math.floor(j / 4) * t.thn}u) * 4u + ${j % 4}u`
      : blocked
      ? `tx * ${rn}u + ${j}u`
      : `tx + ${j * t.thn}u`;
  // B's slice, strided: value (blocked: vec4) e of the slice is thread (e % THREADS)'s
  // (e / THREADS)-th
  const bCount = blocked ? (t.tk * t.tn) / 4 : t.tk * t.tn,
    bCountName = blocked ? "TK * TN4" : "TK * TN";
  const perB = Math.ceil(bCount / threads);
  const bValues = range(perB).map((i) => ({
    e: `lid + ${i * threads}u`,
    all: (i + 1) * threads <= bCount, // every thread has one
  }));
  const fetchB = (k: string) =>
    bValues.map(({ e, all }, i) =>
      blocked
        ? `    {
      let e = ${e};
      pb${i} = vec4<f32>(0.0);
      ${all ? "" : `if (e < ${bCountName}) `}{
        let kk = e / TN4;
        let n4 = nBase + (e % TN4) * 4u;
        if (${k} + kk < K) {
          let base = WB + (${k} + kk) * N + n4;
${
          comps.map((c, j) => `          if (n4 + ${j}u < N) { pb${i}.${c} = w[base + ${j}u]; }`)
            .join("\n")
        }
        }
      }
    }`
        : `    {
      let e = ${e};
      pb${i} = 0.0;
      ${all ? "" : `if (e < ${bCountName}) `}{
        let kk = e / TN;
        let nn = e % TN;
        if (${k} + kk < K && nBase + nn < N) { pb${i} = w[WB + (${k} + kk) * N + nBase + nn]; }
      }
    }`
    ).join("\n");
  const stageB = prefetch
    ? bValues.map(({ e, all }, i) =>
      `    { let e = ${e}; ${all ? "" : `if (e < ${bCountName}) `}{ Bs[e] = pb${i}; } }`
    ).join("\n")
    : blocked
    ? `    for (var e = lid; e < TK * TN4; e += THREADS) {
      let kk = e / TN4;
      let n4 = nBase + (e % TN4) * 4u;
      var v = vec4<f32>(0.0);
      if (k0 + kk < K) {
        let base = WB + (k0 + kk) * N + n4;
${comps.map((c, j) => `        if (n4 + ${j}u < N) { v.${c} = w[base + ${j}u]; }`).join("\n")}
      }
      Bs[e] = v;
    }`
    : `    for (var e = lid; e < TK * TN; e += THREADS) {
      let kk = e / TN;
      let nn = e % TN;
      var v = 0.0;
      if (k0 + kk < K && nBase + nn < N) { v = w[WB + (k0 + kk) * N + nBase + nn]; }
      Bs[kk * TN + nn] = v;
    }`;
  const reads = blocked
    ? `${
      range(rm / 4).map((q) =>
        `      let a${q} = As[kk * TMP4 + ${
          stridedQuads ? `ty + ${q * t.thm}u` : `ty * ${rm / 4}u + ${q}u`
        }];`
      ).join("\n")
    }
${
      range(rn / 4).map((q) =>
        `      let b${q} = Bs[kk * TN4 + ${
          stridedQuads ? `tx + ${q * t.thn}u` : `tx * ${rn / 4}u + ${q}u`
        }];`
      ).join("\n")
    }`
    : `${range(rm).map((i) => `      let a${i} = As[kk * TMP + ${row(i)}];`).join("\n")}
${range(rn).map((j) => `      let b${j} = Bs[kk * TN + ${col(j)}];`).join("\n")}`;
  const term = (x: string, i: number) =>
    blocked ? `${x}${Math.floor(i / 4)}.${comps[i % 4]}` : `${x}${i}`;
  return `  let tilesN = (N + TN - 1u) / TN;
  let mBase = (group / tilesN) * TM;
  let nBase = (group % tilesN) * TN;
  if (mBase >= M) { return; }
  let tx = lid % THN;
  let ty = lid / THN;
  let ak = (lid % QPR) * 4u;
${loaders.map((l) => l.setup).join("")}  ${acc.map((c) => `var ${cName(c)} = 0.0;`).join(" ")}
${
    prefetch
      ? `  ${
        range(perB).map((i) => `var pb${i} = ${blocked ? "vec4<f32>(0.0)" : "0.0"};`).join(" ")
      }
  {
    let kn = 0u;
${loaders.map((l) => l.fetch("kn")).join("\n")}
${fetchB("kn")}
  }
`
      : ""
  }  for (var k0 = 0u; k0 < K; k0 += TK) {
${loaders.map((l) => l.body).join("\n")}
${stageB}
    workgroupBarrier();
${
    prefetch
      ? `    if (k0 + TK < K) { // the next slice's loads, in flight while this one is multiplied
      let kn = k0 + TK;
${loaders.map((l) => l.fetch("kn")).join("\n")}
${fetchB("kn")}
    }
`
      : ""
  }    for (var kk = 0u; kk < TK; kk++) {
${reads}
${
    acc.map(([i, j]) => `      c${i}_${j} = fma(${term("a", i)}, ${term("b", j)}, c${i}_${j});`)
      .join("\n")
  }
    }
    workgroupBarrier();
  }
${
    range(rn).map((j) =>
      `  {
    let n = nBase + ${col(j)};
    if (n < N) {
      let bias = ${bias};
${
        range(rm).map((i) =>
          `      { let m = mBase + ${
            row(i)
          }; if (m < M) { y[YB + m * N + n] = c${i}_${j} + bias; } }`
        ).join("\n")
      }
    }
  }`
    ).join("\n")
  }
}
`;
}

/** Threads of a `"reduce"` workgroup. */
const REDUCE_THREADS = 64;

/**
 * The `"reduce"` schedule: workgroup `m` computes row `m`, thread `t` summing depths `t`,
 * `t + 64`, … (quads with the four-wide gather) for every column, then a tree reduction.
 */
function reduceShader(spec: GemmSpec, key: string, vec4: boolean): ShaderSource {
  if (spec.n > REDUCE.n) {
    throw new RangeError(`Cannot reduce a product of ${spec.n} columns (at most ${REDUCE.n})`);
  }
  const cols = range(spec.n);
  const terms = (a: string, k: string) =>
    cols.map((j) => `      s${j} = fma(${a}, w[(${k}) * N + ${j}u], s${j});`).join("\n");
  const loop = vec4
    ? `  let ri = rowInfo(m);
  for (var k = lid * 4u; k < K; k += THREADS * 4u) {
    let a = loadA4(ri, k);
${["x", "y", "z", "w"].map((c, i) => terms(`a.${c}`, `k + ${i}u`)).join("\n")}
  }`
    : `  for (var k = lid; k < K; k += THREADS) {
    let a = loadA(m, k);
${terms("a", "k")}
  }`;
  if ((spec.batches ?? 1) > 1) {
    throw new RangeError(`Cannot reduce ${spec.batches} batched products (tiled or direct only)`);
  }
  const declarations = `const THREADS = ${REDUCE_THREADS}u;
var<workgroup> red: array<f32, ${spec.n * REDUCE_THREADS}>;`;
  return productShader(spec, key, vec4, declarations, "", () =>
    `  let m = group;
  if (m >= M) { return; }
  ${cols.map((j) => `var s${j} = 0.0;`).join(" ")}
${loop}
${cols.map((j) => `  red[${j}u * THREADS + lid] = s${j};`).join("\n")}
  workgroupBarrier();
  for (var half = THREADS / 2u; half > 0u; half = half / 2u) {
    if (lid < half) {
${
      cols.map((j) => `      red[${j}u * THREADS + lid] += red[${j}u * THREADS + lid + half];`)
        .join("\n")
    }
    }
    workgroupBarrier();
  }
  if (lid < N) {
    let n = lid;
    y[m * N + n] = red[n * THREADS] + ${spec.bias ? "b[n]" : "0.0"};
  }
}
`);
}

/**
 * The product's shader; dispatch {@linkcode gemmGroups} workgroups.
 *
 * @param spec The product.
 * @param schedule The schedule (see {@linkcode GemmSchedule}).
 * @param shape Tile choices overriding the derived ones (tiled schedules; benchmarks).
 * @returns The shader.
 */
export function gemmShader(
  spec: GemmSpec,
  schedule: GemmSchedule,
  shape?: GemmTileShape,
): ShaderSource {
  const vec4 = schedule !== "direct" && spec.vec4 !== undefined;
  const batches = (spec.batches ?? 1) > 1 ? `${spec.batches}×` : "";
  const key = `gemm-${schedule}${
    vec4 ? "v4" : ""
  }/${spec.key}/${batches}${spec.mPerRow}x${spec.n}x${spec.k}${spec.bias ? "/bias" : ""}${
    shapeKey(shape)
  }`;
  const bias = spec.bias ? "b[n]" : "0.0";
  if (schedule === "reduce") return reduceShader(spec, key, vec4);
  if (schedule === "direct") {
    return productShader(
      spec,
      key,
      false,
      `const THREADS = ${WG}u;`,
      "(M * N + THREADS - 1u) / THREADS",
      () =>
        `  let i = group * THREADS + lid;
  if (i >= M * N) { return; }
  let m = i / N;
  let n = i % N;
  var s = ${bias};
  for (var k = 0u; k < K; k++) { s = fma(loadA(m, k), w[WB + k * N + n], s); }
  y[YB + i] = s;
}
`,
    );
  }
  const { r, blocked, quads, prefetch } = perThread(schedule);
  const t = gemmTile(spec.n, r, blocked, shape);
  const staged = blocked
    ? `const TMP4 = ${t.tmp / 4}u;
const TN4 = ${t.tn / 4}u;
var<workgroup> As: array<vec4<f32>, ${t.tk * t.tmp / 4}>;
var<workgroup> Bs: array<vec4<f32>, ${t.tk * t.tn / 4}>;`
    : `var<workgroup> As: array<f32, ${t.tk * t.tmp}>;
var<workgroup> Bs: array<f32, ${t.tk * t.tn}>;`;
  const declarations = `const TM = ${t.tm}u;
const TN = ${t.tn}u;
const TK = ${t.tk}u;
const TMP = ${t.tmp}u;
const QPR = ${t.tk / 4}u;
const THM = ${t.thm}u;
const THN = ${t.thn}u;
const THREADS = ${t.thm * t.thn}u;
${staged}`;
  return productShader(
    spec,
    key,
    vec4,
    declarations,
    "((M + TM - 1u) / TM) * ((N + TN - 1u) / TN)",
    () => tiledBody(t, vec4, bias, blocked, quads, prefetch),
  );
}

/**
 * A product's shader: the common header (bindings, constants, the gathers, `main`'s first
 * lines) with `declarations`, then `body`, the rest of `main` (built on first use);
 * `perBatch` is the WGSL count of one batch's workgroups (batched products).
 */
function productShader(
  spec: GemmSpec,
  key: string,
  vec4: boolean,
  declarations: string,
  perBatch: string,
  body: () => string,
): ShaderSource {
  return {
    key,
    label: key,
    build: () => `${header(spec, key, declarations, vec4, perBatch)}${body()}`,
  };
}

/**
 * Workgroups of a product over `rows` input rows.
 *
 * @param spec The product.
 * @param rows Input rows.
 * @param schedule The schedule.
 * @param shape Tile choices overriding the derived ones (as given to {@linkcode gemmShader}).
 * @returns The workgroup count.
 */
export function gemmGroups(
  spec: Pick<GemmSpec, "mPerRow" | "n" | "batches">,
  rows: number,
  schedule: GemmSchedule,
  shape?: GemmTileShape,
): number {
  const batches = spec.batches ?? 1;
  if (schedule === "direct") return batches * Math.ceil((rows * spec.mPerRow * spec.n) / WG);
  if (schedule === "reduce") return rows * spec.mPerRow;
  const { r, blocked } = perThread(schedule);
  const t = gemmTile(spec.n, r, blocked, shape);
  return batches * Math.ceil((rows * spec.mPerRow) / t.tm) * Math.ceil(spec.n / t.tn);
}
