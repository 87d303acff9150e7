/**
 * The common frame of the engine's one-thread-per-output kernels: the uniform `P`
 * ({@linkcode PARAMS}), named storage bindings, and a guard past the last output.
 *
 * @module
 */
import type { ShaderSource } from "../_pipelines.ts";
import { LINEAR_INDEX, PARAMS } from "./_snippets.ts";
import { WG } from "../_gpu.ts";

/** One storage binding: name and element type; the last one listed is the output. */
export interface Binding {
  readonly name: string;
  readonly type: "f32" | "u32";
  /** True for outputs. */
  readonly write?: boolean;
  /** Declared `array<vec4<type>>` (always in an elementwise kernel; in a product, by its
   * four-wide gather, `GemmVec4`). */
  readonly wide?: boolean;
}

/**
 * A kernel with one invocation per output element `i < P.rows · perRow`; binding 0 is
 * the uniform `P`, the storage bindings follow in order.
 *
 * @param key The shader key (everything the WGSL depends on).
 * @param options `bindings`, `perRow` (outputs per row), `consts` (WGSL module-scope
 *   declarations) and `body` (statements using `i`, `lid`, `P.rows`, `exampleOf(r)`),
 *   `wholeGroups`.
 * @returns The shader.
 */
export function elementwiseShader(
  key: string,
  options: {
    bindings: readonly Binding[];
    perRow: number;
    consts?: string;
    body: string;
    /** Whole workgroups run the body (no early return past the last output, so that it may
     * use barriers): the body guards its own writes. */
    wholeGroups?: boolean;
  },
): ShaderSource {
  return {
    key,
    label: key,
    build: () =>
      `// ${key}
${PARAMS}
${
        options.bindings.map((b, k) =>
          `@group(0) @binding(${k + 1}) var<storage, ${
            b.write ? "read_write" : "read"
          }> ${b.name}: array<${b.wide ? `vec4<${b.type}>` : b.type}>;`
        ).join("\n")
      }
const PER_ROW = ${options.perRow}u;
${options.consts ?? ""}
${LINEAR_INDEX(WG)}
${options.wholeGroups ? "" : "  if (i >= P.rows * PER_ROW) { return; }\n"}${
        options.bindings.map((b) => `  _ = &${b.name}; // keep the binding in the auto layout`)
          .join("\n")
      }
${options.body}
}
`,
  };
}
