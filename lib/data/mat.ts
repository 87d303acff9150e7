/**
 * A reader for MATLAB level-5 MAT-files (the format of SVHN's `*_32x32.mat`): numeric and char
 * arrays, little- or big-endian, with zlib-compressed elements (`miCOMPRESSED`, decompressed
 * with the web-standard `DecompressionStream("deflate")`).
 *
 * @module
 */
import { decompress } from "./decompress.ts";

/** MATLAB array classes this reader decodes. */
export type MatClass =
  | "double"
  | "single"
  | "int8"
  | "uint8"
  | "int16"
  | "uint16"
  | "int32"
  | "uint32"
  | "int64"
  | "uint64"
  | "char";

/** Values of a MAT array, typed by its class (64-bit integers as Float64Array). */
export type MatData =
  | Float64Array
  | Float32Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array;

/** One variable of a MAT-file. */
export interface MatArray {
  /** Variable name. */
  readonly name: string;
  /** MATLAB class. */
  readonly className: MatClass;
  /** Dimensions, e.g. `[32, 32, 3, N]`. */
  readonly dims: number[];
  /** Real part, column-major (first index fastest), converted to the class's type. */
  readonly data: MatData;
  /** Imaginary part for complex arrays. */
  readonly imag?: MatData;
  /** Whether MATLAB marked the array logical. */
  readonly logical: boolean;
}

const CLASSES: Record<number, MatClass> = {
  4: "char",
  6: "double",
  7: "single",
  8: "int8",
  9: "uint8",
  10: "int16",
  11: "uint16",
  12: "int32",
  13: "uint32",
  14: "int64",
  15: "uint64",
};

const CLASS_ARRAYS = {
  double: Float64Array,
  single: Float32Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: Float64Array,
  uint64: Float64Array,
  char: Uint16Array,
} as const;

// Element data types: byte size and DataView reader.
const TYPES: Record<number, [number, (v: DataView, o: number, le: boolean) => number]> = {
  1: [1, (v, o) => v.getInt8(o)],
  2: [1, (v, o) => v.getUint8(o)],
  3: [2, (v, o, le) => v.getInt16(o, le)],
  4: [2, (v, o, le) => v.getUint16(o, le)],
  5: [4, (v, o, le) => v.getInt32(o, le)],
  6: [4, (v, o, le) => v.getUint32(o, le)],
  7: [4, (v, o, le) => v.getFloat32(o, le)],
  9: [8, (v, o, le) => v.getFloat64(o, le)],
  12: [8, (v, o, le) => Number(v.getBigInt64(o, le))],
  13: [8, (v, o, le) => Number(v.getBigUint64(o, le))],
  16: [1, (v, o) => v.getUint8(o)],
  17: [2, (v, o, le) => v.getUint16(o, le)],
};
const MI_MATRIX = 14;
const MI_COMPRESSED = 15;

interface Tag {
  type: number;
  size: number;
  start: number;
  next: number;
}

class Reader {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array, readonly little: boolean, readonly file: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  tag(offset: number, end: number): Tag {
    if (offset + 8 > end) {
      throw new RangeError(
        `Cannot parse ${this.file}: element tag at byte ${offset} runs past ${end} (truncated)`,
      );
    }
    let type = this.view.getUint32(offset, this.little);
    if (type >>> 16 !== 0) {
      const size = type >>> 16;
      type &= 0xffff;
      if (size > 4) {
        throw new RangeError(
          `Cannot parse ${this.file}: small element at byte ${offset} claims ${size} bytes (max 4)`,
        );
      }
      return { type, size, start: offset + 4, next: offset + 8 };
    }
    const size = this.view.getUint32(offset + 4, this.little);
    const start = offset + 8;
    if (start + size > end) {
      throw new RangeError(
        `Cannot parse ${this.file}: element of type ${type} at byte ${offset} needs ${size} bytes, only ${
          end - start
        } left (truncated)`,
      );
    }
    const next = type === MI_COMPRESSED ? start + size : start + Math.ceil(size / 8) * 8;
    return { type, size, start, next: Math.min(next, end) };
  }

  values(tag: Tag, className: MatClass, what: string): MatData {
    const spec = TYPES[tag.type];
    if (!spec) {
      throw new RangeError(`Cannot parse ${this.file}: ${what} has element type ${tag.type}`);
    }
    const [width, read] = spec;
    if (tag.size % width !== 0) {
      throw new RangeError(
        `Cannot parse ${this.file}: ${what} has ${tag.size} bytes, not a multiple of ${width}`,
      );
    }
    const count = tag.size / width;
    const Out = CLASS_ARRAYS[className];
    if (this.little && tag.type === 2 && Out === Uint8Array) {
      return this.bytes.slice(tag.start, tag.start + count);
    }
    const out = new Out(count);
    for (let i = 0; i < count; i++) out[i] = read(this.view, tag.start + i * width, this.little);
    return out;
  }

  matrix(tag: Tag): MatArray | undefined {
    const end = tag.start + tag.size;
    if (tag.size === 0) return undefined;
    const flags = this.tag(tag.start, end);
    const word = this.view.getUint32(flags.start, this.little);
    const className = CLASSES[word & 0xff];
    const flagBits = (word >>> 8) & 0xff;
    const dimsTag = this.tag(flags.next, end);
    const dims = [...this.values(dimsTag, "int32", "dimensions")];
    const nameTag = this.tag(dimsTag.next, end);
    const name = new TextDecoder().decode(
      this.bytes.subarray(nameTag.start, nameTag.start + nameTag.size),
    );
    if (!className) return undefined; // cell, struct, object, sparse: not decoded
    const count = dims.reduce((a, b) => a * b, 1);
    const realTag = this.tag(nameTag.next, end);
    const data = this.values(realTag, className, `variable "${name}"`);
    if (data.length !== count) {
      throw new RangeError(
        `Cannot parse ${this.file}: variable "${name}" has ${data.length} values, dimensions [${dims}] need ${count}`,
      );
    }
    let imag: MatData | undefined;
    if (flagBits & 0x08) {
      const imagTag = this.tag(realTag.next, end);
      imag = this.values(imagTag, className, `variable "${name}" (imaginary part)`);
    }
    return { name, className, dims, data, imag, logical: (flagBits & 0x02) !== 0 };
  }

  async elements(start: number, end: number, out: Map<string, MatArray>): Promise<void> {
    let offset = start;
    while (offset < end) {
      if (end - offset < 8 && this.bytes.subarray(offset, end).every((b) => b === 0)) return;
      const tag = this.tag(offset, end);
      if (tag.type === MI_COMPRESSED) {
        let inflated: Uint8Array;
        try {
          inflated = await decompress(
            this.bytes.subarray(tag.start, tag.start + tag.size),
            "deflate",
          );
        } catch (error) {
          throw new RangeError(
            `Cannot parse ${this.file}: compressed element at byte ${offset} does not inflate (${
              (error as Error).message
            }; corrupt or truncated)`,
          );
        }
        const inner = new Reader(inflated, this.little, this.file);
        await inner.elements(0, inflated.length, out);
      } else if (tag.type === MI_MATRIX) {
        const array = this.matrix(tag);
        if (array) out.set(array.name, array);
      }
      offset = tag.next;
    }
  }
}

/**
 * Parses a MATLAB level-5 MAT-file into its numeric and char variables (cell, struct, object
 * and sparse variables are skipped). Values stay column-major, converted to the array class's
 * type (MATLAB may store, say, a double array as `miUINT8`).
 *
 * @param bytes The file's bytes.
 * @param name The file's name, used in error messages.
 * @returns The variables by name; rejects with a `RangeError` naming the file when it is not
 *   a level-5 MAT-file, or is corrupt or truncated.
 *
 * @example A hand-made file with one uint8 variable "x" = [1 2 3]
 * ```ts
 * import { parseMat } from "./mat.ts";
 * import { deepEqual } from "node:assert/strict";
 * const header = new Uint8Array(128).fill(32);
 * header.set([0, 1, 73, 77], 124); // version 0x0100, "IM": little-endian
 * const u32 = (...v: number[]) => new Uint8Array(new Uint32Array(v).buffer);
 * const body = [
 *   u32(14, 48), // miMATRIX, 48 bytes
 *   u32(6, 8, 9, 0), // array flags: class uint8
 *   u32(5, 8, 1, 3), // dimensions [1, 3]
 *   u32(0x00010001), new Uint8Array([120, 0, 0, 0]), // name "x" (small element)
 *   u32(0x00030002), new Uint8Array([1, 2, 3, 0]), // data miUINT8 (small element)
 * ];
 * const file = new Uint8Array([...header, ...body.flatMap((b) => [...b])]);
 * const vars = await parseMat(file);
 * deepEqual(vars.get("x")!.dims, [1, 3]);
 * deepEqual([...vars.get("x")!.data], [1, 2, 3]);
 * ```
 */
export async function parseMat(
  bytes: Uint8Array,
  name = "MAT-file",
): Promise<Map<string, MatArray>> {
  if (bytes.length < 128) {
    throw new RangeError(
      `Cannot parse ${name}: ${bytes.length} bytes, a level-5 MAT-file header needs 128 (truncated)`,
    );
  }
  const mark = String.fromCharCode(bytes[126], bytes[127]);
  if (mark !== "IM" && mark !== "MI") {
    const start = new TextDecoder().decode(bytes.subarray(0, 10));
    throw new RangeError(
      `Cannot parse ${name}: endian indicator is "${mark}", expected "IM" or "MI" (not a level-5 MAT-file; it starts "${start}", v7.3 files are HDF5 and not supported)`,
    );
  }
  const reader = new Reader(bytes, mark === "IM", name);
  const out = new Map<string, MatArray>();
  await reader.elements(128, bytes.length, out);
  return out;
}
