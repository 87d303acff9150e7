/**
 * Reads the parts of an ONNX model file (`onnx.proto`, protobuf wire format) that
 * {@linkcode fromOnnx} converts: the graph's nodes with their attributes, its initializers
 * (weights) as float64, and the shapes of its inputs and outputs. Everything else (docs,
 * metadata, training info, functions) is skipped. A truncated or malformed file throws a
 * {@linkcode SplineError} naming the byte offset.
 *
 * @module
 */
import { SplineError } from "../util/errors.ts";

/** A tensor of the graph (an initializer, a `Constant`'s value or an attribute's). */
export interface OnnxTensor {
  /** Its name (initializers are referred to by it). */
  readonly name: string;
  /** Its dimensions. */
  readonly dims: readonly number[];
  /** ONNX `TensorProto.DataType` (1 float, 6 int32, 7 int64, 10 float16, 11 double, …). */
  readonly dataType: number;
  /** The values as float64 (int64 beyond 2^53 rounded). */
  readonly values: Float64Array;
}

/** A node's attribute; only the fields the file sets are present. */
export interface OnnxAttribute {
  /** Its name. */
  readonly name: string;
  /** A float value. */
  f?: number;
  /** An integer value. */
  i?: number;
  /** A string value. */
  s?: string;
  /** A tensor value. */
  t?: OnnxTensor;
  /** Float values. */
  floats: number[];
  /** Integer values. */
  ints: number[];
}

/** A node of the graph. */
export interface OnnxNode {
  /** Its name (may be empty). */
  readonly name: string;
  /** Its operator, e.g. `"Conv"`. */
  readonly opType: string;
  /** Its operator set's domain (`""` for the default `ai.onnx`). */
  readonly domain: string;
  /** Names of its inputs (`""` for an omitted optional one). */
  readonly inputs: readonly string[];
  /** Names of its outputs. */
  readonly outputs: readonly string[];
  /** Its attributes by name. */
  readonly attributes: ReadonlyMap<string, OnnxAttribute>;
}

/** A graph input or output: its name and, when declared, its shape (a string for a symbolic dimension). */
export interface OnnxValueInfo {
  /** Its name. */
  readonly name: string;
  /** Its element type (1 float, 11 double, …), 0 when not declared. */
  readonly elemType: number;
  /** Its dimensions; null when the shape is not declared. */
  readonly dims: readonly (number | string)[] | null;
}

/** The model file's contents that matter to the conversion. */
export interface OnnxModel {
  /** Who wrote it (e.g. `"pytorch 1.13.0"`). */
  readonly producer: string;
  /** The default domain's operator set version (0 when not stated). */
  readonly opset: number;
  /** The graph's nodes, in the file's (topological) order. */
  readonly nodes: readonly OnnxNode[];
  /** The initializers by name. */
  readonly initializers: ReadonlyMap<string, OnnxTensor>;
  /** The graph's inputs (initializers may be listed among them too). */
  readonly inputs: readonly OnnxValueInfo[];
  /** The graph's outputs. */
  readonly outputs: readonly OnnxValueInfo[];
}

const TWO_64 = 2n ** 64n, TWO_63 = 2n ** 63n;
/** Typed arrays read little-endian here (ONNX's raw data is little-endian). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A protobuf message's bytes, read field by field. */
class Reader {
  pos: number;
  constructor(readonly bytes: Uint8Array, readonly start: number, readonly end: number) {
    this.pos = start;
  }

  fail(what: string): never {
    throw new SplineError(
      `Cannot read the ONNX model: ${what} at byte ${this.pos} of ${this.bytes.length} (the file is truncated or not an ONNX model)`,
    );
  }

  /** An unsigned varint read as a signed int64 (negatives are 10-byte two's complement). */
  varint(): number {
    let result = 0, shift = 0;
    while (shift < 28) {
      if (this.pos >= this.end) this.fail("a varint runs past the end");
      const b = this.bytes[this.pos++];
      result |= (b & 0x7f) << shift;
      if (b < 0x80) return result >>> 0;
      shift += 7;
    }
    let big = BigInt(result >>> 0), bigShift = 28n;
    for (let k = 0; k < 6; k++) {
      if (this.pos >= this.end) this.fail("a varint runs past the end");
      const b = this.bytes[this.pos++];
      big |= BigInt(b & 0x7f) << bigShift;
      if (b < 0x80) {
        big %= TWO_64;
        return Number(big >= TWO_63 ? big - TWO_64 : big);
      }
      bigShift += 7n;
    }
    return this.fail("a varint is longer than 10 bytes");
  }

  /** The next field's number and wire type, or null at the end. */
  tag(): [number, number] | null {
    if (this.pos >= this.end) return null;
    const t = this.varint();
    if (t <= 0) this.fail(`field tag ${t}`);
    return [Math.floor(t / 8), t % 8];
  }

  /** A length-delimited field's bounds, skipped over. */
  span(): [number, number] {
    const n = this.varint();
    const s = this.pos;
    if (n < 0 || s + n > this.end) this.fail(`a field of ${n} bytes runs past the end`);
    this.pos = s + n;
    return [s, s + n];
  }

  sub(): Reader {
    const [s, e] = this.span();
    return new Reader(this.bytes, s, e);
  }

  string(): string {
    const [s, e] = this.span();
    return new TextDecoder().decode(this.bytes.subarray(s, e));
  }

  float32(): number {
    if (this.pos + 4 > this.end) this.fail("a float runs past the end");
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 4).getFloat32(
      0,
      true,
    );
    this.pos += 4;
    return v;
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.span();
    else if (wire === 5) this.pos += 4;
    else this.fail(`wire type ${wire}`);
    if (this.pos > this.end) this.fail("a field runs past the end");
  }

  /** Repeated varints, packed (wire type 2) or one per field. */
  varints(wire: number, into: number[]): void {
    if (wire === 0) into.push(this.varint());
    else if (wire === 2) {
      const r = this.sub();
      while (r.pos < r.end) into.push(r.varint());
    } else this.fail(`wire type ${wire} for integers`);
  }

  /** Repeated floats, packed or one per field. */
  floats(wire: number, into: number[]): void {
    if (wire === 5) into.push(this.float32());
    else if (wire === 2) {
      const r = this.sub();
      while (r.pos < r.end) into.push(r.float32());
    } else this.fail(`wire type ${wire} for floats`);
  }

  /** Repeated doubles, packed or one per field. */
  doubles(wire: number, into: number[]): void {
    const one = (r: Reader) => {
      if (r.pos + 8 > r.end) r.fail("a double runs past the end");
      into.push(new DataView(r.bytes.buffer, r.bytes.byteOffset + r.pos, 8).getFloat64(0, true));
      r.pos += 8;
    };
    if (wire === 1) one(this);
    else if (wire === 2) {
      const r = this.sub();
      while (r.pos < r.end) one(r);
    } else this.fail(`wire type ${wire} for doubles`);
  }
}

const ELEMENT_BYTES: Record<number, number> = { 1: 4, 6: 4, 7: 8, 10: 2, 11: 8 };
const TYPE_NAMES: Record<number, string> = {
  1: "float",
  2: "uint8",
  3: "int8",
  6: "int32",
  7: "int64",
  9: "bool",
  10: "float16",
  11: "double",
  16: "bfloat16",
};

function half(bits: number): number {
  const s = bits & 0x8000 ? -1 : 1, e = (bits >> 10) & 0x1f, m = bits & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m === 0 ? s * Infinity : NaN;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function tensor(r: Reader): OnnxTensor {
  let name = "", dataType = 0, raw: [number, number] | null = null, external = false;
  const dims: number[] = [], listed: number[] = [];
  for (let t = r.tag(); t !== null; t = r.tag()) {
    const [field, wire] = t;
    if (field === 1) r.varints(wire, dims);
    else if (field === 2) dataType = r.varint();
    else if (field === 4) r.floats(wire, listed);
    else if (field === 5 || field === 7) r.varints(wire, listed);
    else if (field === 8) name = r.string();
    else if (field === 9) raw = r.span();
    else if (field === 10) r.doubles(wire, listed);
    else if (field === 14) external = r.varint() === 1;
    else r.skip(wire);
  }
  const what = `tensor '${name}'`;
  if (external) {
    throw new SplineError(
      `Cannot read the ONNX model: ${what} keeps its data in an external file, which is not supported (save the model with its weights inside: onnx.save(model, path, save_as_external_data=False))`,
    );
  }
  const count = dims.reduce((a, b) => a * b, 1);
  const width = ELEMENT_BYTES[dataType];
  if (width === undefined) {
    throw new SplineError(
      `Cannot read the ONNX model: ${what} has data type ${dataType} (${
        TYPE_NAMES[dataType] ?? "unknown"
      }), expected float, double, float16, int32 or int64`,
    );
  }
  let values: Float64Array;
  if (raw !== null) {
    const [s, e] = raw;
    if (e - s !== count * width) {
      throw new SplineError(
        `Cannot read the ONNX model: ${what} of shape [${dims}] holds ${e - s} bytes, expected ${
          count * width
        }`,
      );
    }
    if ((dataType === 1 || dataType === 11) && LITTLE_ENDIAN) {
      // the common case, a float32 or float64 weight: read through a typed view of a copy
      // (the copy aligns it)
      const copy = r.bytes.slice(s, e).buffer;
      values = dataType === 1 ? new Float64Array(new Float32Array(copy)) : new Float64Array(copy);
    } else {
      const view = new DataView(r.bytes.buffer, r.bytes.byteOffset + s, e - s);
      values = new Float64Array(count);
      for (let k = 0; k < count; k++) {
        values[k] = dataType === 1
          ? view.getFloat32(4 * k, true)
          : dataType === 11
          ? view.getFloat64(8 * k, true)
          : dataType === 6
          ? view.getInt32(4 * k, true)
          : dataType === 7
          ? Number(view.getBigInt64(8 * k, true))
          : half(view.getUint16(2 * k, true));
      }
    }
  } else {
    if (listed.length !== count) {
      throw new SplineError(
        `Cannot read the ONNX model: ${what} of shape [${dims}] holds ${listed.length} values, expected ${count}`,
      );
    }
    values = Float64Array.from(listed, dataType === 10 ? half : (v) => v);
  }
  return { name, dims, dataType, values };
}

function attribute(r: Reader): OnnxAttribute {
  const a: OnnxAttribute = { name: "", floats: [], ints: [] };
  for (let t = r.tag(); t !== null; t = r.tag()) {
    const [field, wire] = t;
    if (field === 1) (a as { name: string }).name = r.string();
    else if (field === 2) a.f = r.float32();
    else if (field === 3) a.i = r.varint();
    else if (field === 4) a.s = r.string();
    else if (field === 5) a.t = tensor(r.sub());
    else if (field === 7) r.floats(wire, a.floats);
    else if (field === 8) r.varints(wire, a.ints);
    else r.skip(wire);
  }
  return a;
}

function node(r: Reader): OnnxNode {
  let name = "", opType = "", domain = "";
  const inputs: string[] = [], outputs: string[] = [];
  const attributes = new Map<string, OnnxAttribute>();
  for (let t = r.tag(); t !== null; t = r.tag()) {
    const [field, wire] = t;
    if (field === 1) inputs.push(r.string());
    else if (field === 2) outputs.push(r.string());
    else if (field === 3) name = r.string();
    else if (field === 4) opType = r.string();
    else if (field === 5) {
      const a = attribute(r.sub());
      attributes.set(a.name, a);
    } else if (field === 7) domain = r.string();
    else r.skip(wire);
  }
  return { name, opType, domain, inputs, outputs, attributes };
}

/** ValueInfoProto → TypeProto.tensor_type → elem_type, shape → dims. */
function valueInfo(r: Reader): OnnxValueInfo {
  let name = "", elemType = 0, dims: (number | string)[] | null = null;
  for (let t = r.tag(); t !== null; t = r.tag()) {
    const [field, wire] = t;
    if (field === 1) name = r.string();
    else if (field === 2) {
      const type = r.sub();
      for (let u = type.tag(); u !== null; u = type.tag()) {
        if (u[0] !== 1) {
          type.skip(u[1]);
          continue;
        }
        const tt = type.sub();
        for (let v = tt.tag(); v !== null; v = tt.tag()) {
          if (v[0] === 1) elemType = tt.varint();
          else if (v[0] === 2) {
            dims = [];
            const shape = tt.sub();
            for (let w = shape.tag(); w !== null; w = shape.tag()) {
              if (w[0] !== 1) {
                shape.skip(w[1]);
                continue;
              }
              const dim = shape.sub();
              let d: number | string = "?";
              for (let x = dim.tag(); x !== null; x = dim.tag()) {
                if (x[0] === 1) d = dim.varint();
                else if (x[0] === 2) d = dim.string();
                else dim.skip(x[1]);
              }
              dims.push(d);
            }
          } else tt.skip(v[1]);
        }
      }
    } else r.skip(wire);
  }
  return { name, elemType, dims };
}

/**
 * Reads an ONNX model file's graph.
 *
 * @param file The file's bytes.
 * @returns Its nodes, initializers, inputs and outputs, producer and opset.
 */
export function readOnnx(file: Uint8Array | ArrayBuffer): OnnxModel {
  const bytes = file instanceof ArrayBuffer ? new Uint8Array(file) : file;
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(
      `Cannot read the ONNX model: got ${
        bytes === null || typeof bytes !== "object"
          ? bytes
          : `a ${(bytes as object).constructor?.name}`
      }, expected the file's bytes as a Uint8Array (Deno.readFile) or an ArrayBuffer (fetch)`,
    );
  }
  const r = new Reader(bytes, 0, bytes.length);
  let producer = "", version = "", opset = 0, graph: Reader | null = null;
  for (let t = r.tag(); t !== null; t = r.tag()) {
    const [field, wire] = t;
    if (field === 2) producer = r.string();
    else if (field === 3) version = r.string();
    else if (field === 7) graph = r.sub();
    else if (field === 8) {
      const o = r.sub();
      let domain = "", v = 0;
      for (let u = o.tag(); u !== null; u = o.tag()) {
        if (u[0] === 1) domain = o.string();
        else if (u[0] === 2) v = o.varint();
        else o.skip(u[1]);
      }
      if (domain === "" || domain === "ai.onnx") opset = v;
    } else r.skip(wire);
  }
  if (graph === null) {
    throw new SplineError(
      `Cannot read the ONNX model: its ${bytes.length} bytes hold no graph (not an ONNX model file)`,
    );
  }
  const nodes: OnnxNode[] = [], inputs: OnnxValueInfo[] = [], outputs: OnnxValueInfo[] = [];
  const initializers = new Map<string, OnnxTensor>();
  for (let t = graph.tag(); t !== null; t = graph.tag()) {
    const [field, wire] = t;
    if (field === 1) nodes.push(node(graph.sub()));
    else if (field === 5) {
      const w = tensor(graph.sub());
      initializers.set(w.name, w);
    } else if (field === 11) inputs.push(valueInfo(graph.sub()));
    else if (field === 12) outputs.push(valueInfo(graph.sub()));
    else graph.skip(wire);
  }
  return {
    producer: [producer, version].filter((s) => s !== "").join(" "),
    opset,
    nodes,
    initializers,
    inputs,
    outputs,
  };
}
