/**
 * Choosing a level of a partition (one per code layer) by index.
 *
 * @module
 */

/**
 * The level asked for, checked: an integer in `[0, count)`, the last by default (with no levels
 * at all, −1: the whole domain).
 *
 * @param level The level asked for, or `undefined`.
 * @param count How many levels the partition has.
 * @param what What failed, for messages.
 * @returns The level's index.
 */
export function levelIndex(level: number | undefined, count: number, what: string): number {
  const l = level ?? count - 1;
  if (count > 0 && !(Number.isInteger(l) && l >= 0 && l < count)) {
    throw new RangeError(`${what}: level is ${l}, expected an integer in [0, ${count - 1}]`);
  }
  return l;
}
