/**
 * What masokit's WGSL kernels for tfjs-backend-webgpu share (lib/train/webgpu_kernels.ts,
 * lib/train/_webgpu_adam.ts): the parts of its backend they use, their kernel arguments, and
 * elementwise programs over a flat output.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/** The parts of tfjs-backend-webgpu's `WebGPUBackend` used here. */
export interface WebGpuBackendLike {
  runWebGPUProgram(
    program: unknown,
    inputs: tf.TensorInfo[],
    outputDtype: tf.DataType,
    uniforms?: { type: string; data: number[] }[],
  ): tf.TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

/** A kernel function's arguments on the webgpu backend. */
export type KernelArgs = {
  inputs: Record<string, tf.TensorInfo>;
  backend: WebGpuBackendLike;
  attrs: Record<string, unknown>;
};

/** An elementwise program over a flat output of `total` values (`main(index)`). */
export abstract class FlatProgram {
  abstract variableNames: string[];
  abstract uniforms: string;
  abstract shaderKey: string;
  outputShape: number[];
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [128, 1, 1];
  size = true;

  constructor(total: number) {
    this.outputShape = [total];
    this.dispatch = [Math.ceil(total / 128), 1, 1];
  }

  /** The value at flat `index` (a WGSL expression). */
  abstract value(): string;

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          setOutputAtIndex(index, ${this.value()});
        }
      }
    `;
  }
}

/** Runs a flat program and gives its output `shape`. */
export function runFlat(
  backend: WebGpuBackendLike,
  program: FlatProgram,
  inputs: tf.TensorInfo[],
  uniforms: { type: string; data: number[] }[],
  shape: number[],
): tf.TensorInfo {
  const out = backend.runWebGPUProgram(program, inputs, "float32", uniforms);
  return { dataId: out.dataId, shape, dtype: "float32" };
}
