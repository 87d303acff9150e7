/**
 * Writes small ONNX model files (protobuf wire format) for the tests of `fromOnnx`: graphs
 * that PyTorch's exporter does not write (other paddings, constants, data types, malformed
 * fields), written field by field from `onnx.proto`.
 */

/** A node: op, inputs, outputs and attributes (numbers are ints unless in `floats`). */
export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  ints?: Record<string, number | number[]>;
  floats?: Record<string, number | number[]>;
  strings?: Record<string, string>;
}

/** An initializer: values written as float32 (1), float16 (10), double (11), int64 (7) or bool (9). */
export interface TensorSpec {
  name: string;
  dims: number[];
  values: ArrayLike<number>;
  type?: 1 | 7 | 9 | 10 | 11;
}

function varint(v: number | bigint): number[] {
  let b = BigInt(v);
  if (b < 0n) b += 2n ** 64n;
  const out: number[] = [];
  do {
    const low = Number(b & 0x7fn);
    b >>= 7n;
    out.push(b > 0n ? low | 0x80 : low);
  } while (b > 0n);
  return out;
}

const field = (n: number, wire: number) => varint(n * 8 + wire);
const bytes = (
  n: number,
  payload: number[],
) => [...field(n, 2), ...varint(payload.length), ...payload];
const text = (n: number, s: string) => bytes(n, [...new TextEncoder().encode(s)]);
const int = (n: number, v: number) => [...field(n, 0), ...varint(v)];

function f32(v: number): number[] {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, v, true);
  return [...b];
}

function half(v: number): number {
  // round-to-nearest float16 bits of a value representable in float16 (tests use such values)
  if (v === 0) return Object.is(v, -0) ? 0x8000 : 0;
  const s = v < 0 ? 0x8000 : 0, a = Math.abs(v);
  const e = Math.floor(Math.log2(a));
  if (e < -14) return s | Math.round(a / 2 ** -24);
  return s | ((e + 15) << 10) | Math.round((a / 2 ** e - 1) * 1024);
}

function tensor(t: TensorSpec): number[] {
  const type = t.type ?? 1;
  const width = { 1: 4, 7: 8, 9: 1, 10: 2, 11: 8 }[type];
  const raw = new Uint8Array(t.values.length * width), view = new DataView(raw.buffer);
  for (let k = 0; k < t.values.length; k++) {
    const v = t.values[k];
    if (type === 1) view.setFloat32(4 * k, v, true);
    else if (type === 11) view.setFloat64(8 * k, v, true);
    else if (type === 7) view.setBigInt64(8 * k, BigInt(v), true);
    else if (type === 9) view.setUint8(k, v);
    else view.setUint16(2 * k, half(v), true);
  }
  return [
    ...bytes(1, t.dims.flatMap((d) => varint(d))),
    ...int(2, type),
    ...text(8, t.name),
    ...bytes(9, [...raw]),
  ];
}

function attribute(name: string, kind: "i" | "f" | "s", v: number | number[] | string): number[] {
  const head = text(1, name);
  if (kind === "s") {
    return [...head, ...int(20, 3), ...bytes(4, [...new TextEncoder().encode(v as string)])];
  }
  if (Array.isArray(v)) {
    return kind === "i"
      ? [...head, ...int(20, 7), ...bytes(8, v.flatMap((x) => varint(x)))]
      : [...head, ...int(20, 6), ...bytes(7, v.flatMap(f32))];
  }
  return kind === "i"
    ? [...head, ...int(20, 2), ...int(3, v as number)]
    : [...head, ...int(20, 1), ...field(2, 5), ...f32(v as number)];
}

function node(n: NodeSpec): number[] {
  const out = [
    ...n.inputs.flatMap((i) => text(1, i)),
    ...n.outputs.flatMap((o) => text(2, o)),
    ...text(3, n.name ?? ""),
    ...text(4, n.op),
    ...(n.domain ? text(7, n.domain) : []),
  ];
  for (const [k, v] of Object.entries(n.ints ?? {})) out.push(...bytes(5, attribute(k, "i", v)));
  for (const [k, v] of Object.entries(n.floats ?? {})) out.push(...bytes(5, attribute(k, "f", v)));
  for (const [k, v] of Object.entries(n.strings ?? {})) out.push(...bytes(5, attribute(k, "s", v)));
  return out;
}

/** ValueInfoProto: a name and a tensor type (element type and shape). */
function valueInfo(name: string, dims: (number | string)[], elemType = 1): number[] {
  const shape = dims.flatMap((d) => bytes(1, typeof d === "number" ? int(1, d) : text(2, d)));
  return [...text(1, name), ...bytes(2, bytes(1, [...int(1, elemType), ...bytes(2, shape)]))];
}

/**
 * An ONNX model file: input `x` of shape `inputDims` (batch first), output `z`, and inputs
 * `more` besides.
 *
 * @returns The file's bytes.
 */
export function writeOnnx(
  nodes: NodeSpec[],
  initializers: TensorSpec[],
  inputDims: (number | string)[],
  more: string[] = [],
): Uint8Array {
  const graph = [
    ...nodes.flatMap((n) => bytes(1, node(n))),
    ...text(2, "test"),
    ...initializers.flatMap((t) => bytes(5, tensor(t))),
    ...bytes(11, valueInfo("x", inputDims)),
    ...more.flatMap((name) => bytes(11, valueInfo(name, inputDims))),
    ...bytes(12, [...text(1, "z")]),
  ];
  return new Uint8Array([
    ...int(1, 8),
    ...text(2, "masokit-test"),
    ...bytes(7, graph),
    ...bytes(8, [...text(1, ""), ...int(2, 13)]),
  ]);
}
