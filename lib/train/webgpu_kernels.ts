/**
 * Faster batch-norm training reductions for tfjs's `webgpu` backend.
 *
 * tfjs-backend-webgpu 4.22 reduces [N, H, W, C] over N, H, W by transposing to [C, N·H·W] and
 * giving each of the C outputs one workgroup: for smallCNN's first layer that is 32 workgroups
 * each summing 57,600 values (`tf.moments` took 44 ms on an H100, shared/PEERS.md). Here `Sum`
 * and `Mean` over leading axes run as a two-stage reduction on the [R, C] view (R = N·H·W):
 * stage 1 splits the rows into G ≈ R / (32·lanes) groups, each workgroup summing one group of
 * rows for a tile of columns (threads along the columns read neighbouring addresses); stage 2
 * sums the G partial rows and divides by R for `Mean`. No transpose, G·⌈C/tile⌉ workgroups.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { leadingReduction } from "./_leading_reduction.ts";

/** The parts of tfjs-backend-webgpu's `WebGPUBackend` used here. */
interface WebGpuBackendLike {
  runWebGPUProgram(
    program: unknown,
    inputs: tf.TensorInfo[],
    outputDtype: tf.DataType,
    uniforms?: { type: string; data: number[] }[],
  ): tf.TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

type KernelArgs = {
  inputs: Record<string, tf.TensorInfo>;
  backend: WebGpuBackendLike;
  attrs: Record<string, unknown>;
};

/** What {@link registerWebGpuTrainingKernels} did. */
export interface WebGpuTrainingKernelsReport {
  /** Built-in `webgpu` kernels replaced (the originals remain as fallbacks). */
  replaced: string[];
  /**
   * True when an earlier call had already registered everything (false, with nothing replaced,
   * when `@tensorflow/tfjs-backend-webgpu` has not been imported).
   */
  alreadyRegistered: boolean;
}

/**
 * Stage of the leading-axes reduction: out[g, j] = (Σ_{r in group g} x[r, j]) / divisor,
 * groups of `rowsPerGroup` rows; a workgroup is `tile` columns × `lanes` row lanes.
 */
class LeadingSumProgram {
  variableNames = ["x"];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [1], y: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  uniforms = "rows : i32, cols : i32, rowsPerGroup : i32, divisor : f32,";
  size = false;
  #tile: number;
  #lanes: number;

  constructor(groups: number, cols: number) {
    this.#tile = Math.min(64, Math.max(8, 2 ** Math.ceil(Math.log2(cols))));
    this.#lanes = 256 / this.#tile;
    this.outputShape = [groups, cols];
    this.workgroupSize = [this.#tile, this.#lanes, 1];
    this.dispatch = [Math.ceil(cols / this.#tile), groups, 1];
    this.shaderKey = `masokit_leading_sum_${this.#tile}x${this.#lanes}`;
  }

  getUserCode(): string {
    const t = this.#tile, l = this.#lanes;
    return `
      var<workgroup> masokitPartial : array<f32, ${t * l}>;
      fn main() {
        let col = i32(workgroupId.x) * ${t} + i32(localId.x);
        let g = i32(workgroupId.y);
        let r0 = g * uniforms.rowsPerGroup;
        let r1 = min(r0 + uniforms.rowsPerGroup, uniforms.rows);
        var acc = 0.0;
        if (col < uniforms.cols) {
          for (var r = r0 + i32(localId.y); r < r1; r = r + ${l}) {
            acc = acc + f32(x[r * uniforms.cols + col]);
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

/** Sum (divisor 1) or mean (divisor R) over the rows of the [R, C] view of `x`. */
function reduceRows(
  backend: WebGpuBackendLike,
  x: tf.TensorInfo,
  rows: number,
  cols: number,
  divisor: number,
): tf.TensorInfo {
  const view: tf.TensorInfo = { dataId: x.dataId, shape: [rows, cols], dtype: x.dtype };
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
    return backend.runWebGPUProgram(probe, [view], "float32", uniforms(rows, rows, divisor));
  }
  const partial = backend.runWebGPUProgram(
    new LeadingSumProgram(groups, cols),
    [view],
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
    const out = reduceRows(backend, x, r.rows, r.cols, name === "Mean" ? r.rows : 1);
    const shape = r.shape;
    return { dataId: out.dataId, shape, dtype: "float32" };
  };
}

const replacements: Record<string, (args: KernelArgs) => tf.TensorInfo> = {
  Sum: makeReduce("Sum"),
  Mean: makeReduce("Mean"),
};

/**
 * Replaces tfjs-webgpu's `Sum` and `Mean` kernels, for float32 reductions over leading axes
 * (batch-norm's moments and gradient sums over N, H, W of NHWC activations), by a two-stage
 * WGSL reduction with ≈R/256 workgroups instead of one per channel; other reductions go to the
 * original kernels. Idempotent; nothing is registered at import time; call it before or after
 * `tf.setBackend("webgpu")`, after importing `@tensorflow/tfjs-backend-webgpu` (this module does
 * not import it: importing it registers the `webgpu` backend at a priority above `wasm` and
 * `cpu`, which would change tfjs's default backend). Results equal tfjs's up to float32
 * summation order.
 *
 * @returns Which kernels were replaced, and whether an earlier call already had.
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
export function registerWebGpuTrainingKernels(): WebGpuTrainingKernelsReport {
  const report: WebGpuTrainingKernelsReport = { replaced: [], alreadyRegistered: false };
  for (const [name, fn] of Object.entries(replacements)) {
    const current = tf.getKernel(name, "webgpu");
    if (current !== undefined && current === ours.get(name)) continue;
    if (current === undefined) continue; // backend not imported: nothing to replace
    originals.set(name, current);
    tf.unregisterKernel(name, "webgpu");
    const config: tf.KernelConfig = {
      kernelName: name,
      backendName: "webgpu",
      kernelFunc: fn as unknown as tf.KernelFunc,
    };
    tf.registerKernel(config);
    ours.set(name, config);
    report.replaced.push(name);
  }
  report.alreadyRegistered = report.replaced.length === 0 &&
    Object.keys(replacements).every((n) => {
      const k = tf.getKernel(n, "webgpu");
      return k !== undefined && k === ours.get(n);
    });
  return report;
}

/**
 * Restores tfjs-webgpu's own kernels replaced by {@link registerWebGpuTrainingKernels} (for
 * A/B comparisons in one process).
 *
 * @returns The names of the kernels restored.
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
 * deepEqual(unregisterWebGpuTrainingKernels().sort(), ["Mean", "Sum"]);
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
  return restored;
}
