/**
 * The WebGPU engine's passes over a SplineNetwork, recorded into one compute pass per
 * submit: the forward pass emitting outputs and every layer's codes (bit-packed sign words,
 * max-pool argmax slots), the masked pass with codes held fixed, and the transposed masked
 * pass (class templates), which runs a conv with the sign layer and max-pool after it as one
 * computation (window tiles, or a product gathering through their codes). Within a
 * recording, a buffer once read is the next output's. Float32 throughout.
 *
 * @module
 */
import type {
  Conv2DLayer,
  MaxPool2DLayer,
  NonlinearLayer,
  SplineLayer,
} from "../../network/spline_network.ts";
import { isDisjointPool } from "../../network/disjoint_pool.ts";
import { shapeSize } from "../../network/spline_network.ts";
import { type WebGpuContext, webgpuHooks } from "./device.ts";
import {
  bufferSize,
  dispatch,
  giveBuffer,
  smallestFit,
  STORAGE,
  storageBuffer,
  takeBuffer,
  UNIFORM,
  WG,
} from "./_gpu.ts";
import type { ShaderSource } from "./_pipelines.ts";
import { denseGemm, denseTransposeGemm, transposedDenseKernel } from "./kernels/dense.ts";
import {
  conv2dGemm,
  conv2dTransposeGemm,
  convCorrelation,
  transposedConvKernel,
  type TransposeSource,
} from "./kernels/conv2d.ts";
import {
  gemmGroups,
  type GemmSchedule,
  gemmScheduleFor,
  gemmShader,
  type GemmSpec,
  type GemmTileShape,
} from "./kernels/gemm.ts";
import { channelAffineShader } from "./kernels/channel_affine.ts";
import { zeroPadShader } from "./kernels/zero_pad.ts";
import { avgPoolShader, globalAvgPoolShader } from "./kernels/avg_pool.ts";
import { signForwardShader, signMaskedShader } from "./kernels/sign.ts";
import {
  maxPoolForwardShader,
  maxPoolMaskedShader,
  maxPoolTransposeShader,
} from "./kernels/max_pool.ts";
import { addShader } from "./kernels/add.ts";
import {
  convTapsApply,
  convTapsGemm,
  convTapsKernel,
  convTapsSumShader,
} from "./kernels/conv_taps.ts";
import { fillNanShader } from "./kernels/fill_nan.ts";
import {
  poolConvOverlapPerRow,
  poolConvOverlapShader,
  poolConvTilePasses,
  poolConvTiles,
  poolConvTilesPerRow,
  poolConvTilesShader,
  poolConvTilesWork,
  poolConvTileValues,
} from "./kernels/pool_conv_tiles.ts";
import {
  winogradApplies,
  winogradFilters,
  winogradInputShader,
  winogradOutputShader,
  winogradProduct,
  winogradRowFloats,
  type WinogradTile,
} from "./kernels/winograd.ts";
import { inactiveSlope } from "../cpu/activation.ts";
import { type ConvAlgorithm, convPlan, winogradTileOf } from "./conv_plan.ts";
import { gemmTilesOf } from "./gemm_tiles.ts";

/** Per-layer codes on the device: packed sign words `[n, words]` or u32 argmax slots `[n, units]`. */
export type GpuCodes = Map<NonlinearLayer, GPUBuffer>;

const weightCache = new WeakMap<GPUDevice, WeakMap<object, GPUBuffer>>();

/** A float32 copy of a parameter array on the device, uploaded once per device. */
function param(ctx: WebGpuContext, values: Float64Array | null): GPUBuffer {
  let m = weightCache.get(ctx.device);
  if (m === undefined) weightCache.set(ctx.device, m = new WeakMap());
  const k = values ?? ctx;
  let buf = m.get(k);
  if (buf === undefined) {
    buf = storageBuffer(ctx, values === null ? 16 : Float32Array.from(values), "weights");
    m.set(k, buf);
  }
  return buf;
}

/** The uniform `P` buffers by value, per device ({@linkcode paramsBuffer}). */
const paramsCache = new WeakMap<GPUDevice, Map<string, GPUBuffer>>();

/** The most uniform `P` buffers kept per device; past it they are dropped and made anew. */
const PARAMS_KEPT = 4096;

/**
 * The kernels' uniform `P` holding `values`, one buffer per device and value, written once:
 * the same values recur from call to call (chunk and slice sizes), so later recordings write
 * nothing and bind the same buffers (whose bind groups `dispatch` reuses).
 */
function paramsBuffer(ctx: WebGpuContext, values: readonly number[]): GPUBuffer {
  let byValue = paramsCache.get(ctx.device);
  if (byValue === undefined) paramsCache.set(ctx.device, byValue = new Map());
  const key = values.join("/");
  let u = byValue.get(key);
  if (u === undefined) {
    // dropped, not destroyed: work still queued may read them
    if (byValue.size >= PARAMS_KEPT) byValue.clear();
    u = ctx.device.createBuffer({ label: "params", size: 16, usage: UNIFORM });
    ctx.device.queue.writeBuffer(u, 0, new Uint32Array(values));
    byValue.set(key, u);
  }
  return u;
}

let conversion = new Float32Array(0);

/**
 * How a computation's rows find their codes: `rowsPerCode` consecutive rows per example
 * (default 1), row 0 being example `codeBase` of the code buffers (default 0).
 */
export interface CodeRows {
  readonly rowsPerCode?: number;
  readonly codeBase?: number;
}

/**
 * The rows of a transposed pass: `rows` covectors, `rowsPerCode` per example of `codes`
 * (row 0 of example `codeBase`), temporaries within `rowFloats` values per row (the chunk was
 * sized for them: the network's largest activation).
 */
export interface TransposeRows extends CodeRows {
  readonly rows: number;
  readonly codes: GpuCodes;
  readonly rowsPerCode: number;
  readonly rowFloats: number;
}

/** Records the dispatches of one computation and owns its temporary buffers. */
export class Recorder {
  readonly ctx: WebGpuContext;
  readonly encoder: GPUCommandEncoder;
  readonly pass: GPUComputePassEncoder;
  /** Temporary buffers from the device's pool, given back by {@linkcode Recorder.release}. */
  private readonly pooled: GPUBuffer[] = [];
  /** Buffers to clear before the pass. */
  private readonly clears: GPUBuffer[] = [];
  /** Copies into buffers before the pass (after the clears). */
  private readonly copies: {
    src: GPUBuffer;
    from: number;
    dst: GPUBuffer;
    bytes: number;
  }[] = [];
  /** Temporaries whose last reader is recorded: later outputs of this recording reuse them. */
  private readonly reusable: GPUBuffer[] = [];

  /**
   * @param ctx The context.
   * @param label A label for the command encoder.
   */
  constructor(ctx: WebGpuContext, label: string) {
    this.ctx = ctx;
    this.encoder = ctx.device.createCommandEncoder({ label });
    this.pass = this.encoder.beginComputePass({ label });
  }

  /**
   * A temporary storage buffer of `floats` 32-bit values for an output that a kernel writes
   * in full (its contents are undefined): one of this recording's buffers given up with
   * {@linkcode Recorder.done} (the smallest holding `floats`: it is held until the recording
   * is released anyway), else one from the device's pool.
   */
  buffer(floats: number, label: string): GPUBuffer {
    const size = bufferSize(floats * 4);
    const best = smallestFit(this.reusable, (b) => b.size >= size);
    if (best >= 0) return this.reusable.splice(best, 1)[0];
    return this.fresh(floats, label);
  }

  /**
   * A temporary storage buffer for an output kept to the end of the recording (recorded
   * codes): one from the pool, never one given up here, which would hold a larger buffer for
   * the whole recording and make later outputs take new ones.
   */
  kept(floats: number, label: string): GPUBuffer {
    return this.fresh(floats, label);
  }

  /** A buffer from the pool that no dispatch of this recording has used. */
  private fresh(floats: number, label: string): GPUBuffer {
    const b = takeBuffer(this.ctx, floats * 4, STORAGE, label);
    this.pooled.push(b);
    return b;
  }

  /**
   * Gives up temporaries of this recording whose last reader has been recorded: dispatches
   * recorded later may write them (a pass runs its dispatches in order). Buffers that are not
   * this recording's temporaries are ignored.
   */
  done(...buffers: GPUBuffer[]): void {
    for (const b of buffers) {
      if (!this.pooled.includes(b) || this.reusable.includes(b)) continue;
      if (webgpuHooks.poisonGivenUp) {
        this.run(fillNanShader(), [b], { rows: b.size / 4, perRow: 1 });
      }
      this.reusable.push(b);
    }
  }

  /** Bytes of the temporaries this recording holds (its peak: given-up ones are reused). */
  get heldBytes(): number {
    return this.pooled.reduce((sum, b) => sum + b.size, 0);
  }

  /**
   * A temporary storage buffer of `floats` zeros (cleared before the pass runs, so never one
   * given up by an earlier dispatch).
   */
  zeros(floats: number, label: string): GPUBuffer {
    const b = this.fresh(floats, label);
    this.clears.push(b);
    return b;
  }

  /**
   * A temporary storage buffer holding `data` (written before the pass runs, so never one
   * given up by an earlier dispatch).
   */
  upload(data: Float32Array | Uint32Array, label: string): GPUBuffer {
    const b = this.fresh(data.length, label);
    this.ctx.device.queue.writeBuffer(b, 0, data as Float32Array<ArrayBuffer>);
    return b;
  }

  /**
   * A temporary storage buffer holding `floats` 32-bit values of `src` from byte `from` on,
   * copied on the device before the pass runs (so never one given up by an earlier dispatch):
   * an input that is already on the GPU.
   */
  copyIn(src: GPUBuffer, from: number, floats: number, label: string): GPUBuffer {
    const b = this.fresh(floats, label);
    if (floats > 0) this.copies.push({ src, from, dst: b, bytes: floats * 4 });
    return b;
  }

  /**
   * A temporary storage buffer holding `values` as float32: float32 ones as they are, float64
   * ones rounded (converted through one reused array: `writeBuffer` copies it before
   * returning).
   */
  uploadInput(values: Float64Array | Float32Array, label: string): GPUBuffer {
    if (values instanceof Float32Array) return this.upload(values, label);
    if (conversion.length < values.length) conversion = new Float32Array(values.length);
    const f32 = conversion.subarray(0, values.length);
    f32.set(values);
    return this.upload(f32, label);
  }

  /** The kernels' uniform `P` (`PARAMS`, kernels/_snippets.ts), one buffer per distinct value. */
  private params(rows: number, dims: CodeRows & { rowBase?: number }): GPUBuffer {
    const p = [rows, dims.rowsPerCode ?? 1, dims.codeBase ?? 0, dims.rowBase ?? 0];
    return paramsBuffer(this.ctx, p);
  }

  /** Records a kernel over `rows · perRow` items (from row `rowBase`, default 0), `perGroup`
   * a workgroup (default one an invocation: `WG`). */
  run(
    shader: ShaderSource,
    buffers: GPUBuffer[],
    dims: { rows: number; perRow: number; rowBase?: number; perGroup?: number } & CodeRows,
  ): void {
    const u = this.params(dims.rows, dims);
    const groups = Math.ceil((dims.rows * dims.perRow) / (dims.perGroup ?? WG));
    if (groups > 0) this.encode(shader, [u, ...buffers], groups, 0);
  }

  /**
   * The schedule a product over `rows` input rows gets by default: the adapter's (or, with
   * `isFallback` false, a GPU's), with the test hooks' choices.
   */
  gemmSchedule(spec: GemmSpec, rows: number, isFallback = this.ctx.isFallback): GemmSchedule {
    return gemmScheduleFor(
      isFallback,
      webgpuHooks.gemmReduce === false || (spec.batches ?? 1) > 1
        ? { n: spec.n }
        : { m: rows * spec.mPerRow, n: spec.n, k: spec.k },
      webgpuHooks.gemmMaxPerThread,
      webgpuHooks.gemmBlocked,
      webgpuHooks.gemmPrefetch,
    );
  }

  /**
   * Records a matrix product over `rows` input rows (`rowsPerCode` of them share an
   * example's codes, for gathers that apply codes), by default with the adapter's schedule
   * (or the tile set for the product on the device: {@linkcode gemmTilesOf}); `shape`
   * overrides the tile's derived shape (benchmarks' sweeps, tests).
   */
  gemm(
    spec: GemmSpec,
    buffers: GPUBuffer[],
    dims: { rows: number } & CodeRows,
    schedule?: GemmSchedule,
    shape?: GemmTileShape,
  ): void {
    if (schedule === undefined) {
      schedule = this.gemmSchedule(spec, dims.rows);
      const tile = gemmTilesOf(this.ctx).get(gemmShader(spec, schedule).key);
      if (tile !== undefined && shape === undefined) ({ schedule, shape } = tile);
    }
    const { rows } = dims;
    const groups = gemmGroups(spec, rows, schedule, shape);
    if (groups === 0) return;
    const u = this.params(rows, dims);
    const flops = 2 * (spec.batches ?? 1) * rows * spec.mPerRow * spec.n * spec.k;
    this.encode(gemmShader(spec, schedule, shape), [u, ...buffers], groups, flops);
  }

  /**
   * Records one dispatch into the pass (a profiler overrides this to time each one).
   *
   * @param shader The kernel.
   * @param buffers Its bindings, the uniform first.
   * @param groups Workgroups.
   * @param flops Floating-point operations it does (matrix products; 0 for the others).
   */
  protected encode(shader: ShaderSource, buffers: GPUBuffer[], groups: number, flops: number) {
    void flops;
    dispatch(this.ctx, this.pass, shader, { buffers, groups });
  }

  /**
   * Ends the pass and submits everything recorded (after the clears of {@linkcode zeros} and
   * the copies of {@linkcode copyIn}).
   */
  submit(): void {
    this.pass.end();
    const { device } = this.ctx;
    const buffers: GPUCommandBuffer[] = [];
    if (this.clears.length > 0 || this.copies.length > 0) {
      const enc = device.createCommandEncoder({ label: "clears and copies" });
      this.clears.forEach((b) => enc.clearBuffer(b));
      this.copies.forEach((c) => enc.copyBufferToBuffer(c.src, c.from, c.dst, 0, c.bytes));
      buffers.push(enc.finish());
    }
    buffers.push(this.encoder.finish());
    device.queue.submit(buffers);
  }

  /**
   * Gives the temporary buffers back to the pool. Safe
   * right after {@linkcode submit} (and after the read-back copies are submitted): work
   * submitted later that reuses them runs after this recording's.
   */
  release(): void {
    this.pooled.forEach((b) => giveBuffer(this.ctx, b));
    this.pooled.length = 0;
    this.reusable.length = 0;
  }
}

/** Mode of a forward run: record codes, or apply fixed ones (with or without biases). */
export interface ForwardMode {
  readonly bias: boolean;
  /** Codes to record into (forward pass). */
  readonly record?: GpuCodes;
  /**
   * Whether the pass recording codes may run convs by Winograd all the same: where its codes
   * feed only a masked pass of x whose result does not depend on how exact ties are decided
   * (⟨A_c, x⟩; {@linkcode winogradRecordsCodes}).
   */
  readonly tiesFree?: boolean;
  /** Codes to apply (masked pass). */
  readonly fixed?: GpuCodes;
}

/**
 * Records layers on `rows` rows of `v`; returns the output buffer.
 *
 * @param rec The recorder.
 * @param layers The layers.
 * @param options `v` the input, `rows`, `mode`.
 * @returns The output buffer.
 */
export function recordForward(
  rec: Recorder,
  layers: readonly SplineLayer[],
  options: { v: GPUBuffer; rows: number; rowFloats: number; mode: ForwardMode },
): GPUBuffer {
  const { rows, rowFloats, mode } = options;
  const ctx = rec.ctx;
  let v = options.v;
  for (let li = 0; li < layers.length; li++) {
    const input = v;
    const l = layers[li];
    const out = shapeSize(l.outputShape);
    const dims = { rows, perRow: out };
    switch (l.kind) {
      case "dense":
      case "conv2d": {
        const y = rec.buffer(rows * out, l.name);
        // by Winograd in a pass that records codes only where ties do not matter
        // (winogradRecordsCodes)
        const wino = l.kind === "conv2d" &&
          (mode.record === undefined || mode.tiesFree === true || winogradRecordsCodes()) &&
          recordWinograd(rec, l, { inputs: [v], y, bias: mode.bias, rows, rowFloats }) > 0;
        if (!wino) {
          const spec = l.kind === "dense" ? denseGemm(l, mode.bias) : conv2dGemm(l, mode.bias);
          rec.gemm(spec, [v, param(ctx, l.kernel), param(ctx, l.bias), y], { rows });
        }
        v = y;
        break;
      }
      case "channel-affine": {
        const y = rec.buffer(rows * out, l.name);
        rec.run(
          channelAffineShader(l, mode.bias),
          [v, param(ctx, l.scale), param(ctx, l.shift), y],
          dims,
        );
        v = y;
        break;
      }
      case "zero-pad": {
        const y = rec.buffer(rows * out, l.name);
        rec.run(zeroPadShader(l, false), [v, y], dims);
        v = y;
        break;
      }
      case "avg-pool": {
        const y = rec.buffer(rows * out, l.name);
        rec.run(avgPoolShader(l, false), [v, y], dims);
        v = y;
        break;
      }
      case "global-avg-pool": {
        const y = rec.buffer(rows * out, l.name);
        rec.run(globalAvgPoolShader(l, false), [v, y], dims);
        v = y;
        break;
      }
      case "flatten":
        break;
      case "relu":
      case "leaky-relu":
      case "abs": {
        const fixed = mode.fixed?.get(l);
        const next = layers[li + 1];
        const pooled = next?.kind === "max-pool" ? mode.fixed?.get(next) : undefined;
        if (fixed && pooled) {
          // a ReLU and the max-pool after it with fixed codes: one selection, the sign applied
          // to the selected value only
          const p = next as MaxPool2DLayer;
          const y = rec.buffer(rows * shapeSize(p.outputShape), p.name);
          rec.run(maxPoolMaskedShader(p, { slope: inactiveSlope(l) }), [v, pooled, fixed, y], {
            rows,
            perRow: shapeSize(p.outputShape),
          });
          v = y;
          li++;
          break;
        }
        const y = rec.buffer(rows * out, l.name);
        if (fixed) rec.run(signMaskedShader(l), [v, fixed, y], dims);
        else {
          const words = Math.ceil(out / 32);
          const codes = rec.kept(rows * words, `${l.name} codes`);
          rec.run(signForwardShader(l), [v, y, codes], { rows, perRow: words });
          mode.record?.set(l, codes);
        }
        v = y;
        break;
      }
      case "max-pool": {
        const y = rec.buffer(rows * out, l.name);
        const fixed = mode.fixed?.get(l);
        if (fixed) rec.run(maxPoolMaskedShader(l), [v, fixed, y], dims);
        else {
          const codes = rec.kept(rows * out, `${l.name} codes`);
          rec.run(maxPoolForwardShader(l), [v, y, codes], dims);
          mode.record?.set(l, codes);
        }
        v = y;
        break;
      }
      case "residual": {
        const outs = l.paths.map((p) => recordForward(rec, p, { v, rows, rowFloats, mode }));
        v = sumPaths(rec, outs, { rows, perRow: out }, input);
        break;
      }
    }
    // the layer's input is read: a later output may take it (never the caller's)
    if (v !== input && input !== options.v) rec.done(input);
  }
  return v;
}

/**
 * The sum of a residual block's path outputs; gives up every path output and partial sum
 * but the result and the block's input `input` (an identity path's output).
 */
function sumPaths(
  rec: Recorder,
  outs: GPUBuffer[],
  dims: { rows: number; perRow: number },
  input: GPUBuffer,
) {
  if (outs.length === 0) return rec.zeros(dims.rows * dims.perRow, "empty residual");
  let s = outs[0];
  for (let p = 1; p < outs.length; p++) {
    const y = rec.buffer(dims.rows * dims.perRow, "residual sum");
    rec.run(addShader(dims.perRow), [s, outs[p], y], dims);
    if (p >= 2) rec.done(s); // a partial sum
    s = y;
  }
  rec.done(...outs.filter((o) => o !== s && o !== input));
  return s;
}

/**
 * Records the transposed masked pass of the covector rows `g` ({@linkcode TransposeRows};
 * `codeBase` 0 by default); returns rows `g·A[x]` `[rows, D]`.
 *
 * @param rec The recorder.
 * @param layers The layers.
 * @param options `g` and the rows.
 * @returns The output buffer.
 */
export function recordTranspose(
  rec: Recorder,
  layers: readonly SplineLayer[],
  options: { g: GPUBuffer } & TransposeRows,
): GPUBuffer {
  const pass: Required<TransposeRows> = { codeBase: 0, ...options };
  const { rows, codes, rowsPerCode, codeBase } = pass;
  const ctx = rec.ctx;
  let v = options.g;
  for (let i = layers.length - 1; i >= 0; i--) {
    const input = v;
    const block = convBlock(layers, i);
    const out = block === null ? null : recordBlockTranspose(rec, block, v, pass);
    if (out !== null) {
      v = out;
      i = block!.at;
    } else i -= recordLayer(i);
    // the layer's input is read: a later output may take it (never the caller's)
    if (v !== input && input !== options.g) rec.done(input);
  }
  return v;

  /** Records `layers[i]` (and the sign layer before it, fused): returns the extra layers. */
  function recordLayer(i: number): number {
    const l = layers[i];
    const inSize = shapeSize(l.inputShape);
    const dims = { rows, perRow: inSize, rowsPerCode, codeBase };
    const y = () => rec.buffer(rows * inSize, `${l.name} transpose`);
    switch (l.kind) {
      case "dense":
      case "conv2d": {
        const o = y();
        const taps = l.kind === "conv2d" &&
          tapsFor(l, ctx.isFallback, convPlan(ctx, l).transpose);
        if (taps) recordTaps(rec, l, { ...pass, inputs: [v], y: o, source: {} });
        const wino = l.kind === "conv2d" && !taps &&
          recordWinograd(rec, l, { ...pass, inputs: [v], y: o, transposed: {} }) > 0;
        if (!wino && !taps) {
          const [spec, w] = l.kind === "dense"
            ? [denseTransposeGemm(l), transposedDenseKernel(l)]
            : [conv2dTransposeGemm(l), transposedConvKernel(l)];
          rec.gemm(spec, [v, param(ctx, w), param(ctx, null), o], { rows });
        }
        v = o;
        break;
      }
      case "channel-affine": {
        const o = y();
        rec.run(
          channelAffineShader(l, false),
          [v, param(ctx, l.scale), param(ctx, l.shift), o],
          dims,
        );
        v = o;
        break;
      }
      case "zero-pad": {
        const o = y();
        rec.run(zeroPadShader(l, true), [v, o], dims);
        v = o;
        break;
      }
      case "avg-pool": {
        const o = y();
        rec.run(avgPoolShader(l, true), [v, o], dims);
        v = o;
        break;
      }
      case "global-avg-pool": {
        const o = y();
        rec.run(globalAvgPoolShader(l, true), [v, o], dims);
        v = o;
        break;
      }
      case "flatten":
        break;
      case "relu":
      case "leaky-relu":
      case "abs": {
        const o = y();
        rec.run(signMaskedShader(l), [v, codes.get(l)!, o], dims);
        v = o;
        break;
      }
      case "max-pool": {
        const prev = layers[i - 1];
        if (isSign(prev)) {
          // the sign layer before the pool applied in the same gather (its input is as large)
          const o = y();
          rec.run(
            maxPoolTransposeShader(l, { slope: inactiveSlope(prev) }),
            [v, codes.get(l)!, codes.get(prev)!, o],
            dims,
          );
          v = o;
          return 1;
        }
        const o = y();
        rec.run(maxPoolTransposeShader(l), [v, codes.get(l)!, o], dims);
        v = o;
        break;
      }
      case "residual": {
        const g = v;
        const outs = l.paths.map((p) => recordTranspose(rec, p, { ...pass, g }));
        v = sumPaths(rec, outs, { rows, perRow: inSize }, g);
        break;
      }
    }
    return 0;
  }
}

/**
 * The fewest columns (the conv's input channels) for which a conv transpose gathers through
 * the layers after it: the gather's code lookups are redone for each of the conv's taps and
 * shared by a tile's columns, so a transpose to 3 channels (the first layer's, to RGB) would
 * pay them for little work — such a block runs as window tiles where a pool follows, else by
 * taps on GPUs ({@linkcode tapsFor}) and layer by layer on software adapters. Also the
 * narrowness below which window tiles and taps are used whatever their work.
 * A guess between 3 and 32 channels, which a GPU benchmark should settle (`webgpu_bench.ts
 * --profile` compares the variants kernel by kernel).
 */
const FUSED_MIN_COLUMNS = 16;

type SignLayer = Exclude<NonlinearLayer, MaxPool2DLayer>;

const isSign = (l: SplineLayer | undefined): l is SignLayer =>
  l?.kind === "relu" || l?.kind === "leaky-relu" || l?.kind === "abs";

/** A conv and the sign layer and/or disjoint max-pool right after it, ending at `layers[i]`. */
export interface ConvBlock {
  readonly conv: Conv2DLayer;
  readonly pool?: MaxPool2DLayer;
  readonly sign?: SignLayer;
  /** The conv's index. */
  readonly at: number;
}

/**
 * The conv block ending at `layers[i]`: conv → sign layer, conv → disjoint max-pool, or
 * conv → sign layer → disjoint max-pool; null elsewhere.
 *
 * @param layers The layers.
 * @param i The block's last layer.
 * @returns The block.
 */
export function convBlock(layers: readonly SplineLayer[], i: number): ConvBlock | null {
  let j = i;
  const last = layers[j];
  const pool = last.kind === "max-pool" && isDisjointPool(last) ? last : undefined;
  if (pool !== undefined) j--;
  const prev = layers[j];
  const sign = isSign(prev) ? prev : undefined;
  if (sign !== undefined) j--;
  const conv = layers[j];
  if (conv?.kind !== "conv2d" || (pool === undefined && sign === undefined)) return null;
  return { conv, pool, sign, at: j };
}

/**
 * Whether a window-tile rule (`webgpuHooks.windowTiles`: see {@linkcode recordBlockTranspose})
 * runs the transpose of a stride-1 conv → (sign) → disjoint max-pool block by window tiles,
 * where no tuned plan decides.
 *
 * @param rule `true` or `false` everywhere, `"narrow"`: where the conv has fewer than
 * {@linkcode FUSED_MIN_COLUMNS} input channels, `"work"`: there and where the tiles do at most
 * half the product's multiply-adds.
 * @param conv The block's conv.
 * @param pool The block's pool.
 * @returns Whether by window tiles.
 */
export function windowTilesBy(
  rule: boolean | "narrow" | "work",
  conv: Conv2DLayer,
  pool: MaxPool2DLayer,
): boolean {
  if (typeof rule === "boolean") return rule;
  return conv.inputShape[2] < FUSED_MIN_COLUMNS ||
    (rule === "work" && poolConvTilesWork(conv, pool) <= 0.5);
}

/**
 * Records a conv block's transpose as one computation where that pays, reading the gradient
 * `v` at the block's output through the block's codes (never writing the gradient at the
 * conv's output): window tiles for a stride-1 conv before a pool whose tiles are small, where
 * the conv has fewer than {@linkcode FUSED_MIN_COLUMNS} input channels, and on software
 * adapters also where they do at most half the product's multiply-adds (on the H100 Winograd
 * ran those blocks faster; `webgpuHooks.windowTiles` overrides the rule:
 * {@linkcode poolConvTilesShader}); else Winograd ({@linkcode recordWinograd}: gathering
 * through the codes on every adapter, since its input transform reads each gradient value
 * once for all columns) or one product gathering through the codes where
 * `webgpuHooks.fuseTransposes` allows (default: hardware adapters, convs of at least
 * {@linkcode FUSED_MIN_COLUMNS} input channels: tiled products stage each gathered value once
 * for a tile of columns, while the direct schedule of software adapters would redo the
 * gather's lookups for every column). A conv's plan on the device ({@linkcode convPlan}: set by
 * `tuneWebGpu`) overrides these rules: its `transpose` algorithm runs wherever it applies (else
 * Winograd or a product, gathering through the codes), `"layers"` runs the block layer by layer.
 *
 * @returns The gradient at the conv's input, or null: run the block's layers one by one.
 */
function recordBlockTranspose(
  rec: Recorder,
  block: ConvBlock,
  v: GPUBuffer,
  pass: Required<TransposeRows>,
): GPUBuffer | null {
  const { conv, pool, sign } = block;
  const { rows, codes, rowsPerCode, codeBase } = pass;
  const ctx = rec.ctx;
  const choice = convPlan(ctx, conv).transpose; // a plan's choice, else the rules below
  if (choice === "layers") return null;
  const fusedSign = sign && { slope: inactiveSlope(sign) };
  const signCodes = sign === undefined ? [] : [codes.get(sign)!];
  const o = () => rec.buffer(rows * shapeSize(conv.inputShape), `${conv.name} transpose`);
  // window tiles where the product would be narrow (to RGB), and on software adapters where
  // they save work, in as few passes over channel groups as the chunk's budget allows (on
  // llvmpipe they beat Winograd on smallCNN's and largeCNN's blocks, which do about as many
  // multiply-adds by Winograd; on the H100 Winograd won: bench/RESULTS.md)
  const rule = webgpuHooks.windowTiles ?? (ctx.isFallback ? "work" : "narrow");
  const tiles = pool !== undefined &&
    (choice !== undefined ? choice === "window-tiles" : windowTilesBy(rule, conv, pool));
  const passes = tiles ? poolConvTilePasses(conv, pool, pass.rowFloats) : [];
  if (pool !== undefined && passes.length > 0) {
    const out = o();
    const tileCodes = [codes.get(pool)!, ...signCodes];
    for (const groups of passes) {
      const t = rec.buffer(rows * poolConvTileValues(conv, pool, groups), `${conv.name} tiles`);
      rec.run(
        poolConvTilesShader(conv, pool, { sign: fusedSign, groups }),
        [v, ...tileCodes, param(ctx, poolConvTiles(conv, pool)), t],
        { rows, perRow: poolConvTilesPerRow(conv, pool, groups), rowsPerCode, codeBase },
      );
      rec.run(poolConvOverlapShader(conv, pool, groups), [t, out], {
        rows,
        perRow: poolConvOverlapPerRow(conv, pool, groups),
      });
      rec.done(t); // the next pass's tiles take it
    }
    return out;
  }
  const source = { pool, sign: fusedSign };
  const poolCodes = pool === undefined ? [] : [codes.get(pool)!];
  const fuse = webgpuHooks.fuseTransposes ?? (ctx.isFallback ? "winograd" : "wide");
  const out = o();
  const inputs = [v, ...poolCodes, ...signCodes];
  if (fuse !== false && tapsFor(conv, ctx.isFallback, choice)) {
    recordTaps(rec, conv, { ...pass, inputs, y: out, source });
    return out;
  }
  const wino = (choice !== undefined || fuse !== false) &&
    recordWinograd(rec, conv, { ...pass, inputs, y: out, transposed: source }) > 0;
  if (wino) return out;
  const narrow = conv.inputShape[2] < FUSED_MIN_COLUMNS;
  const unfused = choice === undefined &&
    (fuse === false || fuse === "winograd" || (fuse === "wide" && narrow));
  if (unfused) {
    rec.done(out); // unused: the next output takes it
    return null;
  }
  const spec = conv2dTransposeGemm(conv, source);
  rec.gemm(
    spec,
    [
      v,
      ...poolCodes,
      ...signCodes,
      param(ctx, transposedConvKernel(conv)),
      param(ctx, null),
      out,
    ],
    { rows, rowsPerCode, codeBase },
  );
  return out;
}

/**
 * Whether a conv's transpose runs by taps (kernels/conv_taps.ts), where they apply
 * ({@linkcode convTapsApply}): a plan's choice where given, else, on hardware adapters, for convs
 * of fewer than {@linkcode FUSED_MIN_COLUMNS} input channels (the first layer's, to RGB: the
 * col2im product would gather each gradient value once per tap for 3 columns; window tiles run
 * such a conv's block first, where a pool follows) unless `webgpuHooks.convTaps` says otherwise.
 * Not on software adapters by default: their direct products redo the gather for every column
 * (27 of them to RGB): on lavapipe largeCNN's first transpose ran 0.64× as fast by taps in
 * direct products, 2.29× as fast in a GPU's tiles (`bench/conv_taps_bench.ts`, RESULTS.md).
 *
 * @param conv The conv.
 * @param isFallback Whether on a software adapter.
 * @param algorithm The transpose's algorithm that a plan chose, if any.
 * @returns Whether by taps.
 */
export function tapsFor(
  conv: Conv2DLayer,
  isFallback: boolean,
  algorithm?: ConvAlgorithm,
): boolean {
  if (!convTapsApply(conv)) return false;
  if (algorithm !== undefined) return algorithm === "taps";
  return (webgpuHooks.convTaps ?? !isFallback) && conv.inputShape[2] < FUSED_MIN_COLUMNS;
}

/**
 * Records a conv's transpose by taps into `y`: the product of the gradient (read through
 * `source`'s codes) with every tap's filters, then each input pixel's taps summed.
 *
 * @param rec The recorder.
 * @param conv The conv.
 * @param options The gradient and the codes its gather reads, the output, the rows and their
 *   codes, the layers after the conv applied in the gather.
 */
function recordTaps(
  rec: Recorder,
  conv: Conv2DLayer,
  options: { inputs: GPUBuffer[]; y: GPUBuffer; rows: number; source: TransposeSource } & CodeRows,
): void {
  const { rows, rowsPerCode, codeBase } = options;
  const spec = convTapsGemm(conv, options.source);
  const t = rec.buffer(rows * spec.mPerRow * spec.n, `${conv.name} taps`);
  rec.gemm(
    spec,
    [...options.inputs, param(rec.ctx, convTapsKernel(conv)), param(rec.ctx, null), t],
    { rows, rowsPerCode, codeBase },
  );
  rec.run(convTapsSumShader(conv), [t, options.y], {
    rows,
    perRow: shapeSize(conv.inputShape),
  });
  rec.done(t);
}

/**
 * The Winograd tile size for a conv, or false: a plan's `algorithm` where given (Winograd's
 * tiles where the conv allows them), else `webgpuHooks.winograd` where set, else 4:
 * F(4 × 4, 3 × 3) does a quarter of the product's multiply-adds, with about three times its
 * rounding error (`WINOGRAD_POINTS`; F(2) has less than the product's, for 4/9 of its
 * multiply-adds); on llvmpipe it runs largeCNN's templates 3× faster (bench/RESULTS.md).
 * Only convs that {@linkcode winogradApplies} to, with at least
 * {@linkcode FUSED_MIN_COLUMNS} input and output channels, qualify (for few channels the
 * transforms' memory traffic outweighs the products: a threshold no GPU has measured yet).
 *
 * @param conv The conv.
 * @param algorithm The algorithm that a plan chose for this direction of the conv, if any.
 * @returns The tile size, or false.
 */
export function winogradTileFor(
  conv: Conv2DLayer,
  algorithm?: ConvAlgorithm,
): WinogradTile | false {
  if (algorithm !== undefined) {
    const tile = winogradTileOf(algorithm);
    return tile !== false && winogradApplies(conv) ? tile : false;
  }
  const m = webgpuHooks.winograd ?? 4;
  const narrow = Math.min(conv.inputShape[2], conv.outputShape[2]) < FUSED_MIN_COLUMNS;
  return m !== false && winogradApplies(conv) && !narrow ? m : false;
}

/**
 * Whether a forward pass that records codes may run convs by Winograd: only where
 * `webgpuHooks.winogradRecording` says so (benchmarks time what the rule costs). By default
 * such passes run every conv as a product, as the CPU engines do: Winograd's rounding differs
 * from one position of a tile to the next, so values that tie exactly — an image's constant
 * background through a conv into a max-pool window — would no longer tie, and the max-pool's
 * code would follow the rounding instead of the first-index convention of the CPU reference.
 * Passes with fixed codes (offsets, masked passes, transposes) keep Winograd, and so does the
 * pass that records the codes of ⟨A_c, x⟩ alone (`ForwardMode.tiesFree`): entries that tie
 * exactly have the same receptive field and the same codes before them (an image's constant
 * background), so their values in the masked pass of x without biases are equal too, and
 * ⟨A_c, x⟩ — like the offsets B, but not the templates A — is the same whichever of them the
 * max-pool picks (tests/backend/webgpu/exact_ties_test.ts; on the H100 that pass by Winograd
 * ran largeCNN's ⟨A_c, x⟩ 1.45–1.63× faster: bench/RESULTS.md, eighteenth session).
 *
 * @returns True where recording passes may use Winograd.
 */
export function winogradRecordsCodes(): boolean {
  return webgpuHooks.winogradRecording === true;
}

/**
 * Records a stride-1 3×3 conv (forward, adding its bias where `bias`) or its transpose
 * (`transposed`: the gather through the layers after it) by Winograd into `y`, in as few row
 * slices as keep each temporary within `rowFloats` values per row of the computation.
 *
 * @param rec The recorder.
 * @param conv The conv.
 * @param options The input (or the gradient) and any codes that the transpose's gather reads,
 *   the output `y`, the rows and their codes, the budget.
 * @param schedule The batched product's schedule (the adapter's by default).
 * @returns The row slices recorded: 0 where the conv does not run by Winograd here
 *   ({@linkcode winogradTileFor}) or one row's temporaries would exceed the budget (record a
 *   product instead).
 */
export function recordWinograd(
  rec: Recorder,
  conv: Conv2DLayer,
  options: {
    inputs: GPUBuffer[];
    y: GPUBuffer;
    rows: number;
    rowFloats: number;
    bias?: boolean;
    transposed?: TransposeSource;
  } & CodeRows,
  schedule?: GemmSchedule,
): number {
  const { rows, transposed } = options;
  const plan = convPlan(rec.ctx, conv);
  const m = winogradTileFor(conv, transposed === undefined ? plan.forward : plan.transpose);
  if (m === false) return 0;
  const c = convCorrelation(conv, transposed !== undefined, transposed);
  const per = winogradRowFloats(c, m);
  const most = Math.floor((rows * options.rowFloats) / Math.max(per.input, per.product));
  if (most < 1) return 0;
  const slices = Math.ceil(rows / Math.min(rows, most)), slice = Math.ceil(rows / slices);
  const withBias = options.bias === true && conv.bias !== null;
  const staged = webgpuHooks.winogradStaged === true;
  const input = winogradInputShader(c, m, staged);
  const output = winogradOutputShader(c, m, withBias, staged);
  const filters = param(rec.ctx, winogradFilters(conv, transposed !== undefined, m));
  const bias = param(rec.ctx, withBias ? conv.bias : null);
  for (let rowBase = 0; rowBase < rows; rowBase += slice) {
    const n = Math.min(slice, rows - rowBase);
    const v = rec.buffer(n * per.input, `${conv.name} winograd input`);
    rec.run(input.shader, [...options.inputs, v], {
      rows: n,
      perRow: input.perRow,
      perGroup: input.perGroup,
      rowsPerCode: options.rowsPerCode,
      codeBase: options.codeBase,
      rowBase,
    });
    const mt = rec.buffer(n * per.product, `${conv.name} winograd product`);
    // (an undefined schedule takes the default)
    rec.gemm(winogradProduct(c, m), [v, filters, param(rec.ctx, null), mt], { rows: n }, schedule);
    rec.done(v);
    rec.run(output.shader, [mt, bias, options.y], {
      rows: n,
      perRow: output.perRow,
      perGroup: output.perGroup,
      rowBase,
    });
    rec.done(mt);
  }
  return slices;
}
