/**
 * A parser for the IDX format of the MNIST files (LeCun et al.).
 *
 * @module
 */

/** A decoded IDX file: its shape and its values in row-major order. */
export interface IdxArray {
  /** Dimensions, outermost first, e.g. `[60000, 28, 28]`. */
  readonly shape: number[];
  /** The element type code of the file. */
  readonly dtype: "uint8" | "int8" | "int16" | "int32" | "float32" | "float64";
  /** The values, row-major. `uint8` files give a view into the input bytes. */
  readonly data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

const TYPES = {
  0x08: ["uint8", 1],
  0x09: ["int8", 1],
  0x0b: ["int16", 2],
  0x0c: ["int32", 4],
  0x0d: ["float32", 4],
  0x0e: ["float64", 8],
} as const;

/**
 * Parses an IDX file: magic `0x00 0x00 type ndim`, `ndim` big-endian uint32 sizes, then the
 * values big-endian in row-major order.
 *
 * @param bytes The file's bytes (not gzipped).
 * @param name The file's name, used in error messages.
 * @returns The shape and values; throws a `RangeError` naming the file when the magic is
 *   wrong or the length does not match the header (truncated or trailing bytes).
 *
 * @example A 2 × 3 uint8 file
 * ```ts
 * import { parseIdx } from "./idx.ts";
 * import { deepEqual } from "node:assert/strict";
 * const bytes = new Uint8Array([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]);
 * const idx = parseIdx(bytes);
 * deepEqual(idx.shape, [2, 3]);
 * deepEqual([...idx.data], [1, 2, 3, 4, 5, 6]);
 * ```
 */
export function parseIdx(bytes: Uint8Array, name = "IDX file"): IdxArray {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0 || !(bytes[2] in TYPES)) {
    throw new RangeError(
      `Cannot parse ${name}: magic bytes are [${[
        ...bytes.subarray(0, 4),
      ]}], expected [0, 0, type, ndim] with type one of 8, 9, 11, 12, 13, 14`,
    );
  }
  const [dtype, size] = TYPES[bytes[2] as keyof typeof TYPES];
  const ndim = bytes[3];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = 4 + 4 * ndim;
  if (bytes.length < headerLength) {
    throw new RangeError(
      `Cannot parse ${name}: ${bytes.length} bytes, header needs ${headerLength} (truncated)`,
    );
  }
  const shape: number[] = [];
  for (let i = 0; i < ndim; i++) shape.push(view.getUint32(4 + 4 * i, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = headerLength + count * size;
  if (bytes.length !== expected) {
    throw new RangeError(
      `Cannot parse ${name}: ${bytes.length} bytes, header [${shape}] of ${dtype} needs ${expected}${
        bytes.length < expected ? " (truncated)" : ""
      }`,
    );
  }
  const body = bytes.subarray(headerLength);
  switch (dtype) {
    case "uint8":
      return { shape, dtype, data: body };
    case "int8":
      return { shape, dtype, data: new Int8Array(body.buffer, body.byteOffset, count) };
    case "int16": {
      const data = new Int16Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getInt16(headerLength + 2 * i, false);
      return { shape, dtype, data };
    }
    case "int32": {
      const data = new Int32Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getInt32(headerLength + 4 * i, false);
      return { shape, dtype, data };
    }
    case "float32": {
      const data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getFloat32(headerLength + 4 * i, false);
      return { shape, dtype, data };
    }
    case "float64": {
      const data = new Float64Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getFloat64(headerLength + 8 * i, false);
      return { shape, dtype, data };
    }
  }
}
