/**
 * Validation shared by `partitionDistance`, `partitionDistanceMatrix` and
 * `nearestNeighbors`: pick the code layer out of {@linkcode PartitionCodes}, check
 * that a code layer is well formed and that two are comparable, and view it as
 * engine rows.
 *
 * @module
 */
import type { CodeLayer, PartitionCodes } from "./code_layer.ts";
import type { CodeRows, EngineOptions } from "./_hamming_engine.ts";

const SIGN_KINDS = new Set(["relu", "leaky-relu", "abs"]);

/**
 * The code layer to use for one operand.
 *
 * @param codes All code layers of a network, or one code layer.
 * @param layer `options.layer` (index among the code layers, from 0).
 * @param what The failing computation, for messages (`Cannot compute …`).
 * @param side Which operand, for messages.
 * @returns The code layer, validated.
 */
export function resolveLayer(
  codes: PartitionCodes | CodeLayer,
  layer: number | undefined,
  what: string,
  side: string,
): CodeLayer {
  if (layer !== undefined && !(Number.isInteger(layer) && layer >= 0)) {
    throw new RangeError(`${what}: options.layer is ${layer}, expected an integer ≥ 0`);
  }
  let code: CodeLayer;
  if (Array.isArray(codes)) {
    const all = codes as PartitionCodes;
    if (all.length === 0) throw new RangeError(`${what}: ${side} has no code layers`);
    if (layer === undefined) {
      if (all.length > 1) {
        throw new RangeError(
          `${what}: options.layer is required, ${side} has ${all.length} code layers`,
        );
      }
      code = all[0];
    } else {
      if (layer >= all.length) {
        throw new RangeError(
          `${what}: options.layer is ${layer}, but ${side} has ${all.length} code layers (0…${
            all.length - 1
          })`,
        );
      }
      code = all[layer];
    }
  } else {
    code = codes as CodeLayer;
  }
  if (code === null || typeof code !== "object" || typeof code.kind !== "string") {
    const got = code === null || typeof code !== "object"
      ? String(code)
      : `a ${code.constructor?.name ?? "object"} without a code layer's fields`;
    const name = Array.isArray(codes) ? `${side}[${layer ?? 0}]` : side;
    throw new TypeError(
      `${what}: ${name} is ${got}, expected a CodeLayer or PartitionCodes (from partitionCodes)`,
    );
  }
  if (!Array.isArray(codes) && layer !== undefined && code.layer !== layer) {
    throw new RangeError(
      `${what}: options.layer is ${layer}, but ${side} holds the codes of layer ${code.layer}`,
    );
  }
  checkCodeLayer(code, what, side);
  return code;
}

function checkCodeLayer(code: CodeLayer, what: string, side: string): void {
  const label = `${side} (layer ${code.layer} '${code.name}')`;
  const { count, units } = code;
  if (!(Number.isInteger(count) && count >= 0)) {
    throw new RangeError(`${what}: ${label} has count ${count}, expected an integer ≥ 0`);
  }
  if (!(Number.isInteger(units) && units >= 1)) {
    throw new RangeError(`${what}: ${label} has ${units} units, expected an integer ≥ 1`);
  }
  if (SIGN_KINDS.has(code.kind)) {
    const words = Math.ceil(units / 32);
    if (code.words !== words) {
      throw new RangeError(
        `${what}: ${label} has ${code.words} words per example, expected ${words} for ${units} units`,
      );
    }
    if (!(code.bits instanceof Uint32Array) || code.bits.length !== count * words) {
      throw new RangeError(
        `${what}: ${label} has ${code.bits?.length} bit words, expected ${count} × ${words}`,
      );
    }
    const spare = units & 31;
    if (spare !== 0) {
      const mask = ~((1 << spare) - 1);
      for (let n = 0; n < count; n++) {
        if ((code.bits[n * words + words - 1] & mask) !== 0) {
          throw new RangeError(
            `${what}: ${label} example ${n} has bits set past unit ${units - 1}, expected 0`,
          );
        }
      }
    }
  } else if (code.kind === "max-pool") {
    if (!(code.argmax instanceof Uint16Array) || code.argmax.length !== count * units) {
      throw new RangeError(
        `${what}: ${label} has ${code.argmax?.length} argmax entries, expected ${count} × ${units}`,
      );
    }
  } else {
    throw new RangeError(
      `${what}: ${label} has kind '${code.kind}', expected relu, leaky-relu, abs or max-pool`,
    );
  }
}

/**
 * Checks that two code layers can be compared unit by unit.
 *
 * @param a First operand.
 * @param b Second operand.
 * @param what The failing computation, for messages.
 * @param names The operands' names, for messages.
 */
export function checkComparable(
  a: CodeLayer,
  b: CodeLayer,
  what: string,
  names: readonly [string, string],
): void {
  const describe = (c: CodeLayer) =>
    `layer ${c.layer} '${c.name}' (${c.kind}, ${c.units} units, ${c.words} words)`;
  if (a.kind !== b.kind || a.units !== b.units || a.words !== b.words) {
    throw new RangeError(
      `${what}: ${names[0]} is ${describe(a)} but ${names[1]} is ${describe(b)}`,
    );
  }
  if (a.layer !== b.layer) {
    throw new RangeError(
      `${what}: codes of different layers: ${names[0]} is ${describe(a)} but ${names[1]} is ${
        describe(b)
      }`,
    );
  }
  // as many units laid out differently: the same layer of two different networks
  const sa = a.shape, sb = b.shape;
  if (
    Array.isArray(sa) && Array.isArray(sb) &&
    (sa.length !== sb.length || sa.some((d, i) => d !== sb[i]))
  ) {
    throw new RangeError(
      `${what}: codes of different networks: ${names[0]} is ${describe(a)} of shape [${sa}] but ${
        names[1]
      } is ${describe(b)} of shape [${sb}]`,
    );
  }
}

/**
 * A code layer viewed as engine rows.
 *
 * @param code A validated code layer.
 * @returns Its rows.
 */
export function toRows(code: CodeLayer): CodeRows {
  return code.kind === "max-pool"
    ? { kind: "argmax", count: code.count, rowLength: code.units, data: code.argmax }
    : { kind: "sign", count: code.count, rowLength: code.words, data: code.bits };
}

/**
 * Validates `options.threads` (a positive integer, or undefined).
 *
 * @param threads The option.
 * @param what The failing computation, for messages.
 * @returns Engine options.
 */
export function engineOptions(threads: number | undefined, what: string): EngineOptions {
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) {
    throw new RangeError(`${what}: options.threads is ${threads}, expected an integer ≥ 1`);
  }
  return threads === undefined ? {} : { threads };
}
