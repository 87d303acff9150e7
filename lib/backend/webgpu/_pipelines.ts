/**
 * Compute pipelines cached by shader key, labelled shader modules, and the
 * `MASOKIT_PRINT_WGSL=1` flag that prints each generated shader once, with its label.
 *
 * @module
 */
import type { WebGpuContext } from "./device.ts";

/** A generated compute shader: its cache key, its label and its WGSL. */
export interface ShaderSource {
  /** Everything the WGSL depends on; equal keys mean equal WGSL. */
  readonly key: string;
  /** The module's label (shown by the print flag and in WebGPU error messages). */
  readonly label: string;
  /** Builds the WGSL (called on a cache miss only). */
  readonly build: () => string;
}

function printFlag(): boolean {
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  if (deno === undefined) return false;
  try {
    const q = deno.permissions.querySync({ name: "env", variable: "MASOKIT_PRINT_WGSL" });
    return q.state === "granted" && deno.env.get("MASOKIT_PRINT_WGSL") === "1";
  } catch {
    return false;
  }
}

/**
 * The compute pipeline of a shader, built on first use and cached on the context by
 * the shader's key.
 *
 * @param ctx The WebGPU context.
 * @param shader The shader.
 * @returns The pipeline (entry point `main`, layout `auto`).
 */
export function pipelineFor(ctx: WebGpuContext, shader: ShaderSource): GPUComputePipeline {
  const hit = ctx.pipelines.get(shader.key);
  if (hit !== undefined) return hit;
  const code = shader.build();
  if (printFlag()) console.log(`// ---- WGSL '${shader.label}' (key ${shader.key}) ----\n${code}`);
  const module = ctx.device.createShaderModule({ label: shader.label, code });
  const pipeline = ctx.device.createComputePipeline({
    label: shader.label,
    layout: "auto",
    compute: { module, entryPoint: "main" },
  });
  ctx.pipelines.set(shader.key, pipeline);
  return pipeline;
}
