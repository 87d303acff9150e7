/**
 * The brute-force view of the partition: one string per example holding all its codes, so
 * that two examples share a region exactly when their keys are equal.
 *
 * @module
 */
import type { CodeLayer } from "../mod.ts";

/** Each example's codes of every code layer, joined into one string. */
export function codeKeys(codes: readonly CodeLayer[], n: number): string[] {
  const keys: string[] = [];
  for (let e = 0; e < n; e++) {
    keys.push(
      codes.map((l) =>
        l.kind === "max-pool"
          ? l.argmax.subarray(e * l.units, (e + 1) * l.units).join(",")
          : l.bits.subarray(e * l.words, (e + 1) * l.words).join(",")
      ).join("|"),
    );
  }
  return keys;
}
