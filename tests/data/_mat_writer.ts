/**
 * Test helper: a MATLAB level-5 MAT-file writer (numeric arrays, optional zlib-compressed
 * elements as MATLAB writes them, little- or big-endian), independent of lib/data/mat.ts.
 *
 * @module
 */

/** A variable to write. */
export interface MatVariable {
  name: string;
  /** MATLAB class: "double" (6) or "uint8" (9) or "single" (7) or "int16" (10). */
  className: "double" | "uint8" | "single" | "int16";
  dims: number[];
  /** Values in column-major order. */
  values: ArrayLike<number>;
  /** Element type for the data: "miUINT8" (2), "miDOUBLE" (9), "miSINGLE" (7), "miINT16" (3). */
  storeAs?: "miUINT8" | "miDOUBLE" | "miSINGLE" | "miINT16";
}

const CLASS_CODE = { double: 6, single: 7, uint8: 9, int16: 10 } as const;
const TYPE_CODE = { miUINT8: 2, miINT16: 3, miSINGLE: 7, miDOUBLE: 9 } as const;
const TYPE_SIZE = { miUINT8: 1, miINT16: 2, miSINGLE: 4, miDOUBLE: 8 } as const;

class Out {
  parts: number[] = [];
  constructor(readonly little: boolean) {}
  u32(v: number) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, this.little);
    this.parts.push(...b);
  }
  u16(v: number) {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, this.little);
    this.parts.push(...b);
  }
  bytes(b: ArrayLike<number>) {
    for (let i = 0; i < b.length; i++) this.parts.push(b[i]);
  }
  pad() {
    while (this.parts.length % 8 !== 0) this.parts.push(0);
  }
  /** A data element; small format when ≤ 4 bytes (and `small` allowed). */
  element(type: number, data: Uint8Array, small = true) {
    if (small && data.length <= 4) {
      if (this.little) {
        this.u32((data.length << 16) | type);
      } else {
        this.u16(data.length);
        this.u16(type);
      }
      const b = new Uint8Array(4);
      b.set(data);
      this.bytes(b);
      return;
    }
    this.u32(type);
    this.u32(data.length);
    this.bytes(data);
    this.pad();
  }
}

function encodeValues(v: MatVariable, type: keyof typeof TYPE_CODE, little: boolean): Uint8Array {
  const size = TYPE_SIZE[type];
  const out = new Uint8Array(v.values.length * size);
  const view = new DataView(out.buffer);
  for (let i = 0; i < v.values.length; i++) {
    const x = v.values[i];
    if (type === "miUINT8") view.setUint8(i, x);
    else if (type === "miINT16") view.setInt16(i * 2, x, little);
    else if (type === "miSINGLE") view.setFloat32(i * 4, x, little);
    else view.setFloat64(i * 8, x, little);
  }
  return out;
}

function matrix(v: MatVariable, little: boolean): Uint8Array {
  const body = new Out(little);
  body.u32(6); // miUINT32
  body.u32(8);
  body.u32(CLASS_CODE[v.className]);
  body.u32(0);
  const dims = new Out(little);
  for (const d of v.dims) dims.u32(d);
  body.element(5, new Uint8Array(dims.parts), false);
  body.element(1, new TextEncoder().encode(v.name));
  const storeAs = v.storeAs ??
    (v.className === "uint8"
      ? "miUINT8"
      : v.className === "double"
      ? "miDOUBLE"
      : v.className === "single"
      ? "miSINGLE"
      : "miINT16");
  body.element(TYPE_CODE[storeAs], encodeValues(v, storeAs, little));
  const out = new Out(little);
  out.u32(14);
  out.u32(body.parts.length);
  out.bytes(body.parts);
  return new Uint8Array(out.parts);
}

async function zlib(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("deflate"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Writes a level-5 MAT-file holding the variables. */
export async function writeMat(
  variables: MatVariable[],
  options: { compress?: boolean; little?: boolean } = {},
): Promise<Uint8Array> {
  const little = options.little ?? true;
  const header = new Uint8Array(128).fill(32);
  header.set(new TextEncoder().encode("MATLAB 5.0 MAT-file, written by masokit tests"));
  header.fill(0, 116, 124);
  const tail = new Out(little);
  tail.u16(0x0100);
  header.set(tail.parts, 124);
  header.set(new TextEncoder().encode(little ? "IM" : "MI"), 126);
  const out = new Out(little);
  out.bytes(header);
  for (const v of variables) {
    const m = matrix(v, little);
    if (options.compress) {
      const z = await zlib(m);
      out.u32(15);
      out.u32(z.length);
      out.bytes(z);
    } else {
      out.bytes(m);
    }
  }
  return new Uint8Array(out.parts);
}
