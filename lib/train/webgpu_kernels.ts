/**
 * Faster training on tfjs's `webgpu` backend: batch-norm's reductions and gradients, Adam's
 * update, uploads.
 *
 * tfjs-backend-webgpu 4.22 reduces [N, H, W, C] over N, H, W by transposing to [C, N·H·W] and
 * giving each of the C outputs one workgroup: for smallCNN's first layer that is 32 workgroups
 * each summing 57,600 values (`tf.moments` took 44 ms on an H100, shared/PEERS.md). Here `Sum`
 * and `Mean` over leading axes run as a two-stage reduction on the [R, C] view (R = N·H·W):
 * stage 1 splits the rows into G ≈ R / (32·lanes) groups, each workgroup summing one group of
 * rows for a tile of columns (threads along the columns read neighbouring addresses); stage 2
 * sums the G partial rows and divides by R for `Mean`. No transpose, G·⌈C/tile⌉ workgroups.
 *
 * Adam's update runs in three dispatches a variable (lib/train/_webgpu_adam.ts). Batch-norm's
 * gradients (lib/train/_fused_gradients.ts) run as `MasokitBatchNormGrad` (two
 * column sums S₁ = Σdy and S₂ = Σdy·(x − μ), the input gradient in one pass, three per-channel
 * passes: 8 dispatches where tfjs records ≈30 elementwise ops, reductions and a `Tile`) and
 * `MasokitBroadcastLeading` (the gradient of `Mean`/`Sum` over leading axes: dy ÷ n broadcast on
 * the GPU, where tfjs multiplies by `ones(x.shape)`, a tensor made on the CPU and uploaded at
 * every step: 22.6 MB a smallCNN step at batch 64).
 *
 * Uploads: tfjs-webgpu 4.22 copies a tensor's CPU values to the GPU through a staging buffer
 * created mapped (`mappedAtCreation`) and destroyed at every upload, and ends the compute pass to
 * record the copy. Here the webgpu backend writes them with `GPUQueue.writeBuffer` into a buffer
 * from its pool instead (the implementation stages it; the pass goes on): see
 * {@link registerWebGpuTrainingKernels}.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { leadingReduction } from "./_leading_reduction.ts";
import { BATCH_NORM_GRAD, BROADCAST_LEADING, setFusedGradients } from "./_fused_gradients.ts";
import { ADAM_UPDATE, installFusedAdam } from "./_fused_adam.ts";
import { adamUpdate } from "./_webgpu_adam.ts";
import {
  FlatProgram,
  type KernelArgs,
  runFlat,
  type WebGpuBackendLike,
} from "./_webgpu_programs.ts";

/** A tensor's entry in tfjs-backend-webgpu's tensor map (the fields used here). */
interface WebGpuTensorData {
  values: ArrayLike<number> | null;
  dtype: tf.DataType;
  shape: number[];
  resource: unknown;
}

/** The parts of tfjs-backend-webgpu's `WebGPUBackend` that its uploads use. */
interface UploadingBackend {
  tensorMap: { get(dataId: object): WebGpuTensorData | undefined };
  bufferManager: { acquireBuffer(size: number, usage: number): GPUBuffer };
  queue: GPUQueue;
  uploadToGPU(dataId: object): void;
}

/** Options for {@link registerWebGpuTrainingKernels}. */
export interface WebGpuTrainingKernelsOptions {
  /**
   * Also compute batch-norm's training gradients with the fused kernels `MasokitBatchNormGrad`
   * and `MasokitBroadcastLeading` (default true; the gradients of `FusedBatchNorm` and of
   * `Mean`/`Sum` over leading axes are replaced globally, in tfjs's gradient registry, falling
   * back to tfjs's own on other backends, shapes and dtypes).
   */
  fuseBatchNorm?: boolean;
  /**
   * Also run Adam's update (tfjs's `AdamOptimizer`, every instance) as `MasokitAdamUpdate`:
   * three dispatches a variable instead of ≈12 (default true; tfjs's own update on other
   * backends and dtypes).
   */
  fuseAdam?: boolean;
  /**
   * Upload tensors' CPU values with `GPUQueue.writeBuffer` (default true) instead of
   * tfjs-webgpu's staging buffer created mapped for each upload.
   */
  writeUploads?: boolean;
}

/** What {@link registerWebGpuTrainingKernels} did. */
export interface WebGpuTrainingKernelsReport {
  /** Built-in `webgpu` kernels replaced (the originals remain as fallbacks). */
  replaced: string[];
  /** Kernels added for `webgpu` (`MasokitBatchNormGrad`, `MasokitBroadcastLeading`). */
  added: string[];
  /** Gradients and updates replaced by fused versions (`FusedBatchNorm`, `Mean`, `Sum`, `Adam`). */
  gradients: string[];
  /**
   * Whether uploads go through `writeBuffer`: on the running webgpu backend now, or on the next
   * one that starts.
   */
  writeUploads: boolean;
  /**
   * True when an earlier call had already registered everything (false, with nothing replaced,
   * when `@tensorflow/tfjs-backend-webgpu` has not been imported).
   */
  alreadyRegistered: boolean;
}

/**
 * What stage 1 of a leading-axes reduction sums per element: `x` itself, or `dy·(x − μ)` (inputs
 * x, dy, μ: batch-norm's S₂).
 */
type Term = "x" | "centred";

/**
 * Stage of the leading-axes reduction: out[g, j] = (Σ_{r in group g} term[r, j]) / divisor,
 * groups of `rowsPerGroup` rows; a workgroup is `tile` columns × `lanes` row lanes.
 */
class LeadingSumProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [1], y: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  uniforms = "rows : i32, cols : i32, rowsPerGroup : i32, divisor : f32,";
  size = false;
  #tile: number;
  #lanes: number;
  #term: Term;

  constructor(groups: number, cols: number, term: Term = "x") {
    this.#tile = Math.min(64, Math.max(8, 2 ** Math.ceil(Math.log2(cols))));
    this.#lanes = 256 / this.#tile;
    this.#term = term;
    this.variableNames = term === "x" ? ["x"] : ["x", "dy", "mean"];
    this.outputShape = [groups, cols];
    this.workgroupSize = [this.#tile, this.#lanes, 1];
    this.dispatch = [Math.ceil(cols / this.#tile), groups, 1];
    this.shaderKey = `masokit_leading_sum_${term}_${this.#tile}x${this.#lanes}`;
  }

  getUserCode(): string {
    const t = this.#tile, l = this.#lanes;
    const term = this.#term === "x"
      ? "f32(x[r * uniforms.cols + col])"
      : "f32(dy[r * uniforms.cols + col]) * (f32(x[r * uniforms.cols + col]) - mu)";
    return `
      var<workgroup> masokitPartial : array<f32, ${t * l}>;
      fn main() {
        let col = i32(workgroupId.x) * ${t} + i32(localId.x);
        let g = i32(workgroupId.y);
        let r0 = g * uniforms.rowsPerGroup;
        let r1 = min(r0 + uniforms.rowsPerGroup, uniforms.rows);
        var acc = 0.0;
        if (col < uniforms.cols) {
          ${this.#term === "x" ? "" : "let mu = f32(mean[col]);"}
          for (var r = r0 + i32(localId.y); r < r1; r = r + ${l}) {
            acc = acc + ${term};
          }
        }
        let slot = localId.y * ${t}u + localId.x;
        masokitPartial[slot] = acc;
        workgroupBarrier();
        for (var s = ${l / 2}u; s > 0u; s = s >> 1u) {
          if (localId.y < s) {
            masokitPartial[slot] = masokitPartial[slot] + masokitPartial[slot + s * ${t}u];
          }
          workgroupBarrier();
        }
        if (localId.y == 0u && col < uniforms.cols) {
          setOutputAtIndex(g * uniforms.cols + col, masokitPartial[slot] / uniforms.divisor);
        }
      }
    `;
  }
}

/** Rows one thread sums in stage 1 (per row lane); sets how many groups stage 1 makes. */
const ROWS_PER_THREAD = 32;
/** At most this many partial rows go to stage 2. */
const MAX_GROUPS = 1024;

/**
 * Sum (divisor 1) or mean (divisor R) over the rows of the [R, C] view of `x` — or, for term
 * `"centred"`, of dy·(x − μ) (`inputs` x, dy, μ).
 */
function reduceRows(
  backend: WebGpuBackendLike,
  inputs: tf.TensorInfo[],
  rows: number,
  cols: number,
  divisor: number,
  term: Term = "x",
): tf.TensorInfo {
  const views = inputs.map((t, i): tf.TensorInfo =>
    i < 2 ? { dataId: t.dataId, shape: [rows, cols], dtype: t.dtype } : t
  );
  const probe = new LeadingSumProgram(1, cols);
  const lanes = probe.workgroupSize[1];
  const groups = Math.min(MAX_GROUPS, Math.max(1, Math.ceil(rows / (lanes * ROWS_PER_THREAD))));
  const rowsPerGroup = Math.ceil(rows / groups);
  const uniforms = (r: number, perGroup: number, div: number) => [
    { type: "int32", data: [r] },
    { type: "int32", data: [cols] },
    { type: "int32", data: [perGroup] },
    { type: "float32", data: [div] },
  ];
  if (groups === 1) {
    return backend.runWebGPUProgram(
      new LeadingSumProgram(1, cols, term),
      views,
      "float32",
      uniforms(rows, rows, divisor),
    );
  }
  const partial = backend.runWebGPUProgram(
    new LeadingSumProgram(groups, cols, term),
    views,
    "float32",
    uniforms(rows, rowsPerGroup, 1),
  );
  const out = backend.runWebGPUProgram(
    probe,
    [partial],
    "float32",
    uniforms(groups, groups, divisor),
  );
  backend.disposeData(partial.dataId);
  return out;
}

/** out[i] = x[i mod unit] / divisor: the gradient of Mean (or Sum) over leading axes. */
class BroadcastLeadingProgram extends FlatProgram {
  variableNames = ["x"];
  uniforms = "unit : i32, divisor : f32,";
  shaderKey = "masokit_broadcast_leading";
  value(): string {
    return "f32(x[index % uniforms.unit]) / uniforms.divisor";
  }
}

/** γ_j / √(σ²_j + ε) in WGSL, for channel `j` (γ = 1 without a scale). */
const channelFactor = (j: string, scaled: boolean) =>
  `inverseSqrt(f32(variance[${j}]) + uniforms.eps)${scaled ? ` * f32(scale[${j}])` : ""}`;

/** Batch-norm's input gradient: dx[i] = dy[i]·γ_j / √(σ²_j + ε), j = i mod C. */
class BatchNormDxProgram extends FlatProgram {
  variableNames: string[];
  uniforms = "cols : i32, eps : f32,";
  shaderKey: string;
  #scaled: boolean;
  constructor(total: number, scaled: boolean) {
    super(total);
    this.#scaled = scaled;
    this.variableNames = scaled ? ["dy", "variance", "scale"] : ["dy", "variance"];
    this.shaderKey = `masokit_batch_norm_dx_${scaled}`;
  }
  value(): string {
    return `f32(dy[index]) * ${channelFactor("index % uniforms.cols", this.#scaled)}`;
  }
}

/**
 * A per-channel batch-norm gradient from a column sum s (S₁ or S₂), r = 1/√(σ² + ε):
 * dμ = −γ·r·S₁, dσ² = −½·γ·r³·S₂, dγ = r·S₂.
 */
class BatchNormChannelProgram extends FlatProgram {
  variableNames: string[];
  uniforms = "eps : f32,";
  shaderKey: string;
  #what: "mean" | "variance" | "scale";
  #scaled: boolean;
  constructor(c: number, what: "mean" | "variance" | "scale", scaled: boolean) {
    super(c);
    this.#what = what;
    this.#scaled = scaled && what !== "scale";
    this.variableNames = this.#scaled ? ["s", "variance", "scale"] : ["s", "variance"];
    this.shaderKey = `masokit_batch_norm_${what}_${this.#scaled}`;
  }
  value(): string {
    const s = "f32(s[index])";
    if (this.#what === "scale") return `${channelFactor("index", false)} * ${s}`;
    const k = channelFactor("index", this.#scaled);
    if (this.#what === "mean") return `-(${k}) * ${s}`;
    const r = channelFactor("index", false);
    return `-0.5 * (${k}) * (${r}) * (${r}) * ${s}`;
  }
}

/** `MasokitBroadcastLeading` on webgpu: out of attrs.shape, out[r, j] = x[j] / divisor. */
function broadcastLeading(args: KernelArgs): tf.TensorInfo {
  const { inputs: { x }, backend, attrs } = args;
  const shape = attrs.shape as number[];
  const unit = tf.util.sizeFromShape(x.shape);
  return runFlat(backend, new BroadcastLeadingProgram(tf.util.sizeFromShape(shape)), [x], [
    { type: "int32", data: [Math.max(unit, 1)] },
    { type: "float32", data: [attrs.divisor as number] },
  ], shape);
}

/**
 * `MasokitBatchNormGrad` on webgpu: dx, dμ, dσ², dγ, dβ of y = (x − μ)·γ/√(σ² + ε) + β over
 * [.., C] (see lib/train/_fused_gradients.ts): S₁ = Σdy and S₂ = Σdy·(x − μ) over the leading
 * positions, dx in one pass, dμ, dσ², dγ from the sums, dβ = S₁.
 */
function batchNormGrad(args: KernelArgs): tf.TensorInfo[] {
  const { inputs, backend, attrs } = args;
  const { x, mean, variance, scale, dy } = inputs;
  const c = mean.shape[0];
  const total = tf.util.sizeFromShape(x.shape);
  const rows = c === 0 ? 0 : total / c;
  const eps = [{ type: "float32", data: [attrs.varianceEpsilon as number] }];
  const scaled = scale !== undefined;
  const withScale = (first: tf.TensorInfo) => scaled ? [first, variance, scale] : [first, variance];
  const s1 = reduceRows(backend, [dy], rows, c, 1);
  const s2 = reduceRows(backend, [x, dy, mean], rows, c, 1, "centred");
  const dx = runFlat(backend, new BatchNormDxProgram(total, scaled), withScale(dy), [
    { type: "int32", data: [Math.max(c, 1)] },
    ...eps,
  ], x.shape);
  const channel = (what: "mean" | "variance" | "scale", s: tf.TensorInfo) => {
    const program = new BatchNormChannelProgram(c, what, scaled);
    const ins = program.variableNames.length === 3 ? [s, variance, scale] : [s, variance];
    return runFlat(backend, program, ins, eps, [c]);
  };
  const dMean = channel("mean", s1);
  const dVariance = channel("variance", s2);
  const dScale = channel("scale", s2);
  backend.disposeData(s2.dataId);
  return [dx, dMean, dVariance, dScale, { dataId: s1.dataId, shape: [c], dtype: "float32" }];
}

const originals = new Map<string, tf.KernelConfig>();
const ours = new Map<string, tf.KernelConfig>();

function callOriginal(name: string, args: KernelArgs): tf.TensorInfo {
  const k = originals.get(name);
  if (k === undefined) throw new Error(`Cannot fall back to webgpu kernel '${name}': not saved`);
  return k.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
}

function makeReduce(name: "Sum" | "Mean"): (args: KernelArgs) => tf.TensorInfo {
  return (args) => {
    const { inputs: { x }, backend, attrs } = args;
    const r = leadingReduction(x, attrs);
    if (r === null) return callOriginal(name, args);
    const out = reduceRows(backend, [x], r.rows, r.cols, name === "Mean" ? r.rows : 1);
    const shape = r.shape;
    return { dataId: out.dataId, shape, dtype: "float32" };
  };
}

const replacements: Record<string, (args: KernelArgs) => tf.TensorInfo> = {
  Sum: makeReduce("Sum"),
  Mean: makeReduce("Mean"),
};

/** Kernels added for `webgpu`, each with the option that turns it on. */
const added: Record<
  string,
  {
    fn: (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];
    option: "fuseBatchNorm" | "fuseAdam";
  }
> = {
  [BATCH_NORM_GRAD]: { fn: batchNormGrad, option: "fuseBatchNorm" },
  [BROADCAST_LEADING]: { fn: broadcastLeading, option: "fuseBatchNorm" },
  [ADAM_UPDATE]: { fn: adamUpdate, option: "fuseAdam" },
};

/** Whether webgpu backends started from now on upload with `writeBuffer`. */
let writeUploads = false;
/**
 * Backends whose `uploadToGPU` is {@link uploadByWriteBuffer} (an own property), held weakly: a
 * backend tfjs removes is not kept alive here.
 */
let patched: WeakRef<UploadingBackend>[] = [];

function isUploadingBackend(b: unknown): b is UploadingBackend {
  const o = b as Partial<UploadingBackend> | null;
  return typeof o?.uploadToGPU === "function" && typeof o.tensorMap?.get === "function" &&
    typeof o.bufferManager?.acquireBuffer === "function" &&
    typeof o.queue?.writeBuffer === "function";
}

/**
 * tfjs-webgpu's `uploadToGPU`, with CPU values written by `queue.writeBuffer` into a pooled
 * storage buffer. Ordered like the original's copy: the pool holds no buffer that commands
 * recorded but not yet submitted still use (tfjs defers their release to the submit), and a
 * queue write lands before the command buffers submitted after it.
 */
function uploadByWriteBuffer(this: UploadingBackend, dataId: object): void {
  const data = this.tensorMap.get(dataId);
  const values = data?.values;
  const n = data === undefined ? 0 : tf.util.sizeFromShape(data.shape);
  const kind = data?.dtype === "float32"
    ? Float32Array
    : data?.dtype === "int32" || data?.dtype === "bool"
    ? Int32Array
    : null;
  if (
    data === undefined || data.resource != null || values == null || kind === null || n === 0 ||
    values.length !== n
  ) {
    Object.getPrototypeOf(this).uploadToGPU.call(this, dataId);
    return;
  }
  const typed = values instanceof kind ? values : kind.from(values);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const buffer = this.bufferManager.acquireBuffer(typed.byteLength, usage);
  this.queue.writeBuffer(buffer, 0, typed as Float32Array<ArrayBuffer>);
  data.values = null; // as tfjs: once uploaded, the values live on the GPU only
  data.resource = buffer;
}

/** Gives backend `b` {@link uploadByWriteBuffer} when {@link writeUploads} is on. */
function setUploads(b: unknown): void {
  if (!writeUploads || !isUploadingBackend(b) || Object.hasOwn(b, "uploadToGPU")) return;
  b.uploadToGPU = uploadByWriteBuffer;
  patched = patched.filter((r) => r.deref() !== undefined);
  patched.push(new WeakRef(b));
}

/** Gives every patched backend its own `uploadToGPU` back. */
function restoreUploads(): void {
  for (const r of patched) {
    const b = r.deref();
    if (b?.uploadToGPU === uploadByWriteBuffer) delete (b as Partial<UploadingBackend>).uploadToGPU;
  }
  patched = [];
}

function install(name: string, fn: (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]): void {
  const config: tf.KernelConfig = {
    kernelName: name,
    backendName: "webgpu",
    kernelFunc: fn as unknown as tf.KernelFunc,
    // tfjs calls this for every webgpu backend that starts (tf.setBackend("webgpu"))
    setupFunc: setUploads,
  };
  tf.registerKernel(config);
  ours.set(name, config);
}

/**
 * Speeds up training on tfjs's `webgpu` backend. Replaces tfjs-webgpu's `Sum` and `Mean`
 * kernels, for float32 reductions over leading axes (batch-norm's moments and gradient sums over
 * N, H, W of NHWC activations), by a two-stage WGSL reduction with ≈R/256 workgroups instead of
 * one per channel (other reductions go to the original kernels); unless `fuseBatchNorm` is false,
 * adds `MasokitBatchNormGrad` and `MasokitBroadcastLeading` for `webgpu` and makes the gradients
 * of `FusedBatchNorm` and of `Mean`/`Sum` over leading axes use them (globally, in tfjs's gradient
 * registry; tfjs's own gradients elsewhere); unless `fuseAdam` is false, runs every tfjs Adam
 * optimizer's update on `webgpu` as `MasokitAdamUpdate`, three dispatches a variable instead of
 * ≈12 (lib/train/_fused_adam.ts; tfjs's own update where the backend lacks the kernel); unless `writeUploads` is false,
 * makes the webgpu backend (the running one, and any that starts later) upload tensors' CPU
 * values with `GPUQueue.writeBuffer`. Idempotent; nothing is registered at import time; call it before or
 * after `tf.setBackend("webgpu")`, after importing `@tensorflow/tfjs-backend-webgpu` (this module
 * does not import it: importing it registers the `webgpu` backend at a priority above `wasm` and
 * `cpu`, which would change tfjs's default backend). Results equal tfjs's up to float32
 * summation order.
 *
 * @param options `fuseBatchNorm`, `fuseAdam`, `writeUploads` (each default true).
 * @returns Which kernels were replaced and added, which gradients changed, whether uploads go
 *   through `writeBuffer`, and whether an earlier call already had done everything.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-webgpu";
 * import { registerWebGpuTrainingKernels } from "./webgpu_kernels.ts";
 * import { deepEqual, ok } from "node:assert/strict";
 *
 * const report = registerWebGpuTrainingKernels();
 * ok(report.alreadyRegistered || report.replaced.includes("Mean"));
 * await tf.ready();
 * const previous = tf.getBackend();
 * if (await tf.setBackend("webgpu").catch(() => false)) {
 *   const mean = tf.ones([4, 3, 3, 2]).mul(tf.tensor1d([1, 3])).mean([0, 1, 2]);
 *   deepEqual(Array.from(await mean.data()), [1, 3]);
 * }
 * await tf.setBackend(previous);
 * ```
 */
export function registerWebGpuTrainingKernels(
  options: WebGpuTrainingKernelsOptions = {},
): WebGpuTrainingKernelsReport {
  const fuse = options.fuseBatchNorm ?? true;
  const adam = options.fuseAdam ?? true;
  const uploads = options.writeUploads ?? true;
  const chosen = { fuseBatchNorm: fuse, fuseAdam: adam, writeUploads: uploads };
  for (const [key, value] of Object.entries(chosen)) {
    if (typeof value !== "boolean") {
      throw new TypeError(
        `Cannot register webgpu training kernels: ${key} is ${
          JSON.stringify(value)
        }, expected a boolean`,
      );
    }
  }
  const report: WebGpuTrainingKernelsReport = {
    replaced: [],
    added: [],
    gradients: [],
    writeUploads: false,
    alreadyRegistered: false,
  };
  if (tf.getKernel("Sum", "webgpu") === undefined && !ours.has("Sum")) {
    return report; // backend not imported: nothing to replace
  }
  const uploadsBefore = writeUploads;
  writeUploads = uploads;
  if (!uploads) restoreUploads();
  for (const [name, fn] of Object.entries(replacements)) {
    const current = tf.getKernel(name, "webgpu");
    if (current !== undefined && current === ours.get(name)) continue;
    if (current === undefined) continue;
    originals.set(name, current);
    tf.unregisterKernel(name, "webgpu");
    install(name, fn);
    report.replaced.push(name);
  }
  for (const [name, { fn, option }] of Object.entries(added)) {
    const current = tf.getKernel(name, "webgpu");
    const mine = current !== undefined && current === ours.get(name);
    if (chosen[option] && !mine) {
      install(name, fn);
      report.added.push(name);
    } else if (!chosen[option] && mine) {
      tf.unregisterKernel(name, "webgpu");
      ours.delete(name);
    }
  }
  if (fuse) report.gradients = setFusedGradients(true);
  // (without fuseAdam the kernel is gone, so the update falls back to tfjs's on webgpu)
  if (adam && installFusedAdam()) report.gradients.push("Adam");
  // the running backend now; later ones through the kernels' setupFunc
  if (tf.getBackend() === "webgpu") setUploads(tf.backend());
  report.writeUploads = writeUploads;
  report.alreadyRegistered = report.replaced.length === 0 && report.added.length === 0 &&
    report.gradients.length === 0 && uploadsBefore === uploads;
  return report;
}

/**
 * Undoes {@link registerWebGpuTrainingKernels} (for A/B comparisons in one process): restores
 * tfjs-webgpu's own `Sum` and `Mean` and uploads, and removes the fused gradient and Adam kernels
 * for `webgpu` (the gradients and Adam's update then fall back to tfjs's own there).
 *
 * @returns The names of the kernels restored or removed.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-webgpu";
 * import {
 *   registerWebGpuTrainingKernels,
 *   unregisterWebGpuTrainingKernels,
 * } from "./webgpu_kernels.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * registerWebGpuTrainingKernels();
 * deepEqual(unregisterWebGpuTrainingKernels().sort(), [
 *   "MasokitAdamUpdate",
 *   "MasokitBatchNormGrad",
 *   "MasokitBroadcastLeading",
 *   "Mean",
 *   "Sum",
 * ]);
 * deepEqual(unregisterWebGpuTrainingKernels(), []);
 * ```
 */
export function unregisterWebGpuTrainingKernels(): string[] {
  const restored: string[] = [];
  for (const name of Object.keys(replacements)) {
    const current = tf.getKernel(name, "webgpu");
    const original = originals.get(name);
    if (current === undefined || current !== ours.get(name) || original === undefined) continue;
    tf.unregisterKernel(name, "webgpu");
    tf.registerKernel(original);
    ours.delete(name);
    restored.push(name);
  }
  for (const name of Object.keys(added)) {
    const current = tf.getKernel(name, "webgpu");
    if (current === undefined || current !== ours.get(name)) continue;
    tf.unregisterKernel(name, "webgpu");
    ours.delete(name);
    restored.push(name);
  }
  writeUploads = false;
  restoreUploads();
  return restored;
}
