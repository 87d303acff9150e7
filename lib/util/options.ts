/**
 * Unknown option keys refused: a misspelt option (`{ excluded: "same-index" }`,
 * `{ orthogonalty: 5 }`) would otherwise be ignored and its default used, silently — plain
 * JavaScript and notebooks get no type check. Each function lists its keys as a
 * `Record<keyof Options, true>`, so that the compiler keeps the list complete and exact.
 *
 * @module
 */

/** Edit distance between two short strings (insertions, deletions, substitutions). */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length];
}

/**
 * Throws a `TypeError` for an options object that is not one, or holds a key not among
 * `known`, naming the key, the closest known one and all of them. `undefined` passes.
 *
 * @param options The options given.
 * @param known The keys the function reads.
 * @param what What failed, e.g. `"Cannot find nearest neighbours"`.
 *
 * @example
 * ```ts
 * import { checkOptionKeys } from "./options.ts";
 * import { throws } from "node:assert/strict";
 * const keys = { k: true, layer: true } as const;
 * checkOptionKeys({ k: 3 }, keys, "Cannot search");
 * throws(() => checkOptionKeys({ kk: 3 }, keys, "Cannot search"), /unknown option 'kk' \(did you mean 'k'\?\)/);
 * ```
 */
export function checkOptionKeys(
  options: unknown,
  known: Readonly<Record<string, true>>,
  what: string,
): void {
  if (options === undefined) return;
  const names = Object.keys(known);
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    const it = Array.isArray(options) ? "an array" : String(options);
    throw new TypeError(`${what}: options is ${it}, expected an object with ${names.join(", ")}`);
  }
  for (const key of Object.keys(options)) {
    if (Object.hasOwn(known, key)) continue;
    const [near] = names
      .map((n) => ({ n, d: distance(key.toLowerCase(), n.toLowerCase()) }))
      .filter(({ n, d }) => d <= Math.max(1, Math.floor(n.length / 3)))
      .sort((x, y) => x.d - y.d);
    throw new TypeError(
      `${what}: unknown option '${key}'${
        near ? ` (did you mean '${near.n}'?)` : ""
      }, expected one of ${names.join(", ")}`,
    );
  }
}
