/**
 * A tiny WebAssembly binary emitter: just enough of the format (one imported
 * memory, functions, exports, a handful of opcodes) to generate kernels at run
 * time, specialised to their shapes: the Hamming kernels of
 * `lib/partition/_hamming_wasm.ts` and the max-pool kernels of
 * `lib/backend/tfjs/_wasm_max_pool_simd.ts`. Generating the bytes here keeps the
 * library free of committed binaries and of any build step.
 *
 * @module
 */

/** WebAssembly value types used by the kernels. */
export const I32 = 0x7f;
/** 64-bit integer value type. */
export const I64 = 0x7e;
/** 32-bit float value type. */
export const F32 = 0x7d;
/** 128-bit vector value type. */
export const V128 = 0x7b;

/** Opcodes (single byte) used by the kernels. */
export const Op = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  br: 0x0c,
  brIf: 0x0d,
  call: 0x10,
  end: 0x0b,
  select: 0x1b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  f32Load: 0x2a,
  i64Load: 0x29,
  i32Store: 0x36,
  f32Store: 0x38,
  i32Const: 0x41,
  i64Const: 0x42,
  f32Const: 0x43,
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32LtS: 0x48,
  i32LtU: 0x49,
  i32GtS: 0x4a,
  f32Gt: 0x5e,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32DivU: 0x6e,
  i32And: 0x71,
  i32Or: 0x72,
  i32Shl: 0x74,
  i64Popcnt: 0x7b,
  i64Add: 0x7c,
  i64Xor: 0x85,
  f32Add: 0x92,
  f32Mul: 0x94,
  i32WrapI64: 0xa7,
} as const;

/** SIMD opcodes (after the 0xfd prefix). */
export const SimdOp = {
  v128Load: 0x00,
  v128Load32Splat: 0x09,
  v128Store: 0x0b,
  v128Const: 0x0c,
  i8x16Shuffle: 0x0d,
  i32x4ExtractLane: 0x1b,
  f32x4Splat: 0x13,
  f32x4ExtractLane: 0x1f,
  i16x8Ne: 0x2e,
  i32x4ExtaddPairwiseI16x8U: 0x7f,
  f32x4Ne: 0x42,
  f32x4Gt: 0x44,
  v128And: 0x4e,
  v128AndNot: 0x4f,
  v128Bitselect: 0x52,
  i16x8Sub: 0x91,
  i32x4Bitmask: 0xa4,
  i32x4Add: 0xae,
  f32x4Sqrt: 0xe3,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Div: 0xe7,
  /** Relaxed SIMD's `f32x4.relaxed_madd` (`a · b + c`, fused or not as the machine does it). */
  f32x4RelaxedMadd: 0x105,
} as const;

let relaxed: boolean | undefined;

/**
 * Whether this engine validates relaxed SIMD's `f32x4.relaxed_madd` (V8 ships it; other engines
 * may not): generated kernels use it only where it does.
 *
 * @returns Whether modules may use it.
 */
export function relaxedSimd(): boolean {
  if (relaxed === undefined) {
    const f = new FunctionBuilder([]);
    f.v128Zero().v128Zero().v128Zero().simd(SimdOp.f32x4RelaxedMadd).op(0x1a); // drop
    const bytes = assembleModule({ madd: f }, { shared: false, maxPages: null });
    relaxed = WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>);
  }
  return relaxed;
}

/** Appends the unsigned LEB128 encoding of `n` to `out`. */
export function uleb(out: number[], n: number): void {
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
}

/** Appends the signed LEB128 encoding of the 32-bit integer `n` to `out`. */
export function sleb(out: number[], n: number): void {
  n |= 0;
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return;
    }
    out.push(byte | 0x80);
  }
}

/** A function body under construction: locals plus an instruction stream. */
export class FunctionBuilder {
  /** The instruction bytes. */
  readonly code: number[] = [];
  readonly #params: number[];
  readonly #locals: number[] = [];

  /**
   * Starts a function with the given parameter types (locals 0…n−1).
   *
   * @param params Parameter value types.
   */
  constructor(params: readonly number[]) {
    this.#params = [...params];
  }

  /** The parameter types. */
  get params(): readonly number[] {
    return this.#params;
  }

  /**
   * Declares a new local and returns its index.
   *
   * @param type The local's value type.
   * @returns The local index.
   */
  local(type: number): number {
    this.#locals.push(type);
    return this.#params.length + this.#locals.length - 1;
  }

  /**
   * Appends raw bytes.
   *
   * @param bytes The bytes.
   * @returns This builder.
   */
  op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }

  /**
   * `local.get i`.
   *
   * @param i Local index.
   * @returns This builder.
   */
  get(i: number): this {
    this.code.push(Op.localGet);
    uleb(this.code, i);
    return this;
  }

  /**
   * `local.set i`.
   *
   * @param i Local index.
   * @returns This builder.
   */
  set(i: number): this {
    this.code.push(Op.localSet);
    uleb(this.code, i);
    return this;
  }

  /**
   * `i32.const n`.
   *
   * @param n The constant.
   * @returns This builder.
   */
  i32(n: number): this {
    this.code.push(Op.i32Const);
    sleb(this.code, n);
    return this;
  }

  /**
   * A memory instruction with its memarg (alignment exponent, byte offset).
   *
   * @param opcode The load/store opcode.
   * @param align log2 of the natural alignment.
   * @param offset Constant byte offset.
   * @returns This builder.
   */
  mem(opcode: number, align: number, offset: number): this {
    this.code.push(opcode);
    return this.#memarg(align, offset);
  }

  /**
   * A SIMD instruction (0xfd prefix), with optional immediate bytes.
   *
   * @param opcode The SIMD opcode.
   * @param immediates Raw immediate bytes.
   * @returns This builder.
   */
  simd(opcode: number, ...immediates: number[]): this {
    this.code.push(0xfd);
    uleb(this.code, opcode);
    this.code.push(...immediates);
    return this;
  }

  /**
   * `v128.load` with a byte offset.
   *
   * @param offset Constant byte offset.
   * @returns This builder.
   */
  v128Load(offset: number): this {
    return this.simd(SimdOp.v128Load).#memarg(4, offset);
  }

  /**
   * `v128.load32_splat` with a byte offset: one f32/i32 read into all four lanes.
   *
   * @param offset Constant byte offset.
   * @returns This builder.
   */
  v128Load32Splat(offset: number): this {
    return this.simd(SimdOp.v128Load32Splat).#memarg(2, offset);
  }

  /**
   * `v128.store` with a byte offset (address and value on the stack).
   *
   * @param offset Constant byte offset.
   * @returns This builder.
   */
  v128Store(offset: number): this {
    return this.simd(SimdOp.v128Store).#memarg(4, offset);
  }

  /**
   * `v128.const` of all zeros.
   *
   * @returns This builder.
   */
  v128Zero(): this {
    return this.simd(SimdOp.v128Const, ...new Array(16).fill(0));
  }

  /** A memory instruction's immediates: log2 alignment and byte offset. */
  #memarg(align: number, offset: number): this {
    uleb(this.code, align);
    uleb(this.code, offset);
    return this;
  }

  /**
   * A counted loop, `for (; i < end; i += step) body()` on i32 locals (`i` set by the
   * caller; unsigned comparison; no iteration when `i >= end` at the start).
   *
   * @param i The counter local.
   * @param end The local holding the bound.
   * @param step The increment.
   * @param body Emits the loop body.
   * @returns This builder.
   */
  forLoop(i: number, end: number, step: number, body: () => void): this {
    this.op(Op.block, 0x40, Op.loop, 0x40);
    this.get(i).get(end).op(Op.i32GeU, Op.brIf, 1);
    body();
    this.get(i).i32(step).op(Op.i32Add).set(i).op(Op.br, 0, Op.end, Op.end);
    return this;
  }

  /**
   * `end = min(i + step, limit)` on i32 locals (unsigned): the end of a block of a blocked loop.
   *
   * @param end The local to set.
   * @param i The block's start.
   * @param step The block's size.
   * @param limit The loop's end.
   * @returns This builder.
   */
  setBlockEnd(end: number, i: number, step: number, limit: number): this {
    this.get(i).i32(step).op(Op.i32Add).get(limit).get(i).i32(step).op(Op.i32Add).get(limit);
    return this.op(Op.i32LtU, Op.select).set(end);
  }

  /**
   * The encoded body (locals declaration + code + `end`).
   *
   * @returns The body bytes, without the size prefix.
   */
  body(): number[] {
    const out: number[] = [];
    uleb(out, this.#locals.length);
    for (const t of this.#locals) {
      out.push(1, t);
    }
    for (const byte of this.code) out.push(byte); // no spread: bodies can be large
    out.push(Op.end);
    return out;
  }
}

function section(out: number[], id: number, content: number[]): void {
  out.push(id);
  uleb(out, content.length);
  for (const byte of content) out.push(byte);
}

function name(out: number[], s: string): void {
  const bytes = new TextEncoder().encode(s);
  uleb(out, bytes.length);
  out.push(...bytes);
}

/**
 * Assembles a module that imports one memory as `env.memory` and exports the
 * given functions (each returning nothing).
 *
 * @param functions Exported name → function builder.
 * @param options `shared`: import a shared memory (for worker threads); `maxPages`:
 *   the memory's declared maximum in 64 KiB pages (required when shared; `null`
 *   imports an unshared memory of any maximum, or none).
 * @returns The module bytes.
 */
export function assembleModule(
  functions: Readonly<Record<string, FunctionBuilder>>,
  options: { shared: boolean; maxPages: number | null },
): Uint8Array {
  const names = Object.keys(functions);
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  // Types: one per function.
  const types: number[] = [];
  uleb(types, names.length);
  for (const n of names) {
    const params = functions[n].params;
    types.push(0x60);
    uleb(types, params.length);
    types.push(...params);
    types.push(0);
  }
  section(out, 1, types);
  // Import: env.memory.
  const imports: number[] = [];
  uleb(imports, 1);
  name(imports, "env");
  name(imports, "memory");
  if (options.maxPages === null && options.shared) {
    throw new RangeError("A shared memory import needs a maximum: maxPages is null");
  }
  imports.push(0x02, options.maxPages === null ? 0x00 : options.shared ? 0x03 : 0x01);
  uleb(imports, 1);
  if (options.maxPages !== null) uleb(imports, options.maxPages);
  section(out, 2, imports);
  // Functions.
  const funcs: number[] = [];
  uleb(funcs, names.length);
  names.forEach((_, i) => uleb(funcs, i));
  section(out, 3, funcs);
  // Exports.
  const exports: number[] = [];
  uleb(exports, names.length);
  names.forEach((n, i) => {
    name(exports, n);
    exports.push(0x00);
    uleb(exports, i);
  });
  section(out, 7, exports);
  // Code.
  const code: number[] = [];
  uleb(code, names.length);
  for (const n of names) {
    const body = functions[n].body();
    uleb(code, body.length);
    for (const byte of body) code.push(byte);
  }
  section(out, 10, code);
  return new Uint8Array(out);
}
