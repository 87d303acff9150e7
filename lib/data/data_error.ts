/**
 * The error raised by masokit's dataset loaders.
 *
 * @module
 */

/**
 * An error raised when a dataset cannot be downloaded, read, verified or decoded. When a
 * particular file is at fault, `path` names it.
 *
 * @example Catching a loader error
 * ```ts
 * import { DataError } from "./data_error.ts";
 * import { equal, throws } from "node:assert/strict";
 * const error = new DataError("Cannot read data/cache/x.u8: truncated", "data/cache/x.u8");
 * equal(error.path, "data/cache/x.u8");
 * throws(() => {
 *   throw error;
 * }, DataError);
 * ```
 */
export class DataError extends Error {
  /** The file at fault, when there is one. */
  readonly path?: string;

  /**
   * Creates an error with the given message.
   *
   * @param message What failed, quoting the offending values.
   * @param path The file at fault, if any.
   */
  constructor(message: string, path?: string) {
    super(message);
    this.name = "DataError";
    if (path !== undefined) this.path = path;
  }
}
