/**
 * Converts an ONNX model (e.g. a PyTorch model saved with `torch.onnx.export`) into a
 * {@linkcode SplineNetwork}.
 *
 * @module
 */
import { SplineError } from "../util/errors.ts";
import type { Padding2D, Shape, SplineLayer } from "./spline_network.ts";
import { shapeSize, SplineNetwork } from "./spline_network.ts";
import { type OnnxModel, type OnnxNode, type OnnxTensor, readOnnx } from "./_onnx_proto.ts";
import { evaluateStatic } from "./_onnx_static.ts";

/** Options of {@linkcode fromOnnx}. */
export interface FromOnnxOptions {
  /**
   * The per-example input shape in the model's own layout, `[C, H, W]` or `[F]`, for a model
   * whose file leaves a dimension other than the batch symbolic (e.g. exported with dynamic
   * height and width). Default: the shape the file declares.
   */
  readonly inputShape?: readonly number[];
}

/** What {@linkcode fromOnnx} converts, for error messages. */
const SUPPORTED = "Conv (group 1, dilation 1), Gemm, MatMul by a constant, BatchNormalization, " +
  "Add/Sub/Mul/Div by a per-channel constant, Relu, LeakyRelu, PRelu with one slope, Abs, " +
  "Clip to [0, ∞), MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, ReduceMean and " +
  "ReduceMax over the height and width, Pad (constant 0), " +
  "Flatten, Reshape or Squeeze to a vector, Dropout, Identity, Add of two paths (residual), and a final " +
  "Softmax or LogSoftmax";

/** The ops that only reshape. */
const RESHAPES = new Set(["Flatten", "Squeeze", "Unsqueeze", "Reshape"]);

/** The data path's state: the per-example shape in ONNX layout and the order of a vector. */
interface State {
  /** `[C, H, W]` or `[F]` (ONNX layout, no batch). */
  readonly shape: readonly number[];
  /**
   * For a vector flattened from a `[C, H, W]` map: `order[j]` is the ONNX index of the value
   * at position j here (masokit flattens `[H, W, C]`); null when the orders agree.
   */
  readonly order: Int32Array | null;
}

/** A piece of the data path: one node, or a sum of paths from `fork` (a residual block). */
type Item =
  | { readonly node: OnnxNode }
  | { readonly add: OnnxNode; readonly paths: Item[][] };

/** masokit's layout of an ONNX per-example shape: `[C, H, W] → [H, W, C]`. */
function ours(shape: readonly number[], where: string): Shape {
  if (shape.length === 1) return [...shape];
  if (shape.length === 3) return [shape[1], shape[2], shape[0]];
  throw new SplineError(
    `Cannot convert ${where}: a tensor shaped [${shape}] per example, expected [C, H, W] or [F]`,
  );
}

function same(a: Int32Array | null, b: Int32Array | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

class Converter {
  readonly producer = new Map<string, number>();
  readonly constants = new Map<string, OnnxTensor>();
  readonly staticMemo = new Map<string, boolean>();
  /** ONNX shapes (with the batch as 1) of the data tensors converted so far. */
  readonly shapes = new Map<string, number[]>();
  input = "";
  /** The last ceil-mode pool that dropped a window starting past its input (PyTorch's rule). */
  dropped: string | null = null;

  constructor(readonly model: OnnxModel) {
    model.nodes.forEach((n, i) => n.outputs.forEach((o) => this.producer.set(o, i)));
    for (const [name, t] of model.initializers) this.constants.set(name, t);
  }

  nodeName(n: OnnxNode): string {
    return n.name || `${n.opType}_${this.producer.get(n.outputs[0])}`;
  }

  fail(n: OnnxNode, what: string): never {
    throw new SplineError(`Cannot convert ONNX node '${this.nodeName(n)}' (${n.opType}): ${what}`);
  }

  /** True for a tensor that depends on constants and shapes only. */
  isStatic(name: string): boolean {
    const memo = this.staticMemo.get(name);
    if (memo !== undefined) return memo;
    let result: boolean;
    if (this.constants.has(name)) result = true;
    else if (name === this.input) result = false;
    else {
      const i = this.producer.get(name);
      if (i === undefined) {
        throw new SplineError(
          `Cannot convert the ONNX model: tensor '${name}' is neither an input, an initializer nor a node's output`,
        );
      }
      const n = this.model.nodes[i];
      result = n.opType === "Constant" || n.opType === "Shape" ||
        n.inputs.every((x) => x === "" || this.isStatic(x));
    }
    this.staticMemo.set(name, result);
    return result;
  }

  /** The value of a static tensor (shape arithmetic evaluated with the batch as 1). */
  value(name: string, user: OnnxNode): OnnxTensor {
    const known = this.constants.get(name);
    if (known) return known;
    const i = this.producer.get(name);
    if (i === undefined || !this.isStatic(name)) {
      this.fail(user, `its input '${name}' is not a constant`);
    }
    const n = this.model.nodes[i];
    const t = this.evaluate(n);
    this.constants.set(name, t);
    return t;
  }

  evaluate(n: OnnxNode): OnnxTensor {
    return evaluateStatic(n, (k) => this.value(n.inputs[k], n), (name) => this.shapes.get(name));
  }

  /** The data inputs of a node (those depending on the network's input). */
  dataInputs(n: OnnxNode): string[] {
    return n.inputs.filter((x) => x !== "" && !this.isStatic(x));
  }

  ancestors(name: string): Set<string> {
    const seen = new Set<string>(), stack = [name];
    while (stack.length > 0) {
      const t = stack.pop()!;
      if (seen.has(t)) continue;
      seen.add(t);
      const i = this.producer.get(t);
      if (i !== undefined) stack.push(...this.dataInputs(this.model.nodes[i]));
    }
    return seen;
  }

  order(name: string): number {
    return name === this.input ? -1 : this.producer.get(name)!;
  }

  /** The data path from tensor `stop` (exclusive) to `end` (inclusive), in forward order. */
  chain(end: string, stop: string): Item[] {
    const items: Item[] = [];
    let t = end;
    while (t !== stop) {
      const i = this.producer.get(t);
      if (i === undefined || this.order(t) < this.order(stop)) {
        throw new SplineError(
          `Cannot convert the ONNX model: the path to '${end}' does not pass through '${stop}' (only sums of paths that fork and rejoin are supported)`,
        );
      }
      const n = this.model.nodes[i];
      if (n.domain !== "" && n.domain !== "ai.onnx") {
        this.fail(
          n,
          `operators of domain '${n.domain}' are not supported (the default domain only)`,
        );
      }
      if (n.outputs[0] !== t) {
        this.fail(n, `its output '${t}' is used, expected only its first output '${n.outputs[0]}'`);
      }
      const ins = this.dataInputs(n);
      if (n.opType === "Add" && ins.length === 2) {
        const [a, b] = ins.map((x) => this.ancestors(x));
        const common = [...a].filter((x) => b.has(x));
        if (common.length === 0) this.fail(n, "its two inputs share no ancestor");
        const fork = common.reduce((x, y) => (this.order(y) > this.order(x) ? y : x));
        items.push({ add: n, paths: ins.map((x) => this.chain(x, fork)) });
        t = fork;
        continue;
      }
      if (ins.length !== 1) {
        this.fail(
          n,
          `it takes ${ins.length} inputs that depend on the network's input, expected 1 (or 2 for a residual Add)`,
        );
      }
      items.push({ node: n });
      t = ins[0];
    }
    return items.reverse();
  }

  /** The spline layers of `items` from state `s`. */
  build(items: readonly Item[], s: State, from: string): { layers: SplineLayer[]; state: State } {
    const layers: SplineLayer[] = [];
    let tensor = from;
    for (const item of items) {
      if ("add" in item) {
        const n = item.add;
        const paths = item.paths.map((p) => this.build(p, s, tensor));
        const first = paths[0].state;
        for (const p of paths) {
          if (
            p.state.shape.length !== first.shape.length ||
            p.state.shape.some((d, k) => d !== first.shape[k])
          ) {
            this.fail(
              n,
              `its inputs are shaped [${
                paths.map((q) => q.state.shape).join("] and [")
              }], expected equal shapes (no broadcasting)`,
            );
          }
          if (!same(p.state.order, first.order)) {
            this.fail(n, "its inputs are vectors flattened in different orders");
          }
        }
        const name = this.nodeName(n);
        layers.push({
          kind: "residual",
          name,
          inputShape: ours(s.shape, `ONNX node '${name}'`),
          outputShape: ours(first.shape, `ONNX node '${name}'`),
          paths: paths.map((p) => p.layers),
        });
        s = first;
      } else {
        const out = this.layer(item.node, s);
        layers.push(...out.layers);
        s = out.state;
      }
      tensor = "add" in item ? item.add.outputs[0] : item.node.outputs[0];
      this.shapes.set(tensor, [1, ...s.shape]);
    }
    return { layers, state: s };
  }

  /**
   * Per-channel (per-feature for a vector) values of a constant: one value, or (broadcast per
   * ONNX's rules) `[C, 1, 1]` against `[C, H, W]`, `[F]` against `[F]`; `listed` takes a plain
   * list of C values (BatchNormalization's parameters).
   */
  perChannel(
    n: OnnxNode,
    t: OnnxTensor,
    s: State,
    what: string,
    listed = false,
  ): Float64Array<ArrayBuffer> {
    const C = s.shape[0];
    const len = t.values.length;
    const dims = [...t.dims];
    while (dims.length > s.shape.length && dims[0] === 1) dims.shift();
    const ok = len === 1 || (len === C &&
      (listed
        ? t.dims.length === 1
        : s.shape.length === 1
        ? dims.length === 1
        : (dims.length === 3 && dims[1] === 1 && dims[2] === 1)));
    if (!ok) {
      this.fail(
        n,
        `its ${what} '${t.name}' is shaped [${t.dims}], expected one value, or one per channel (${C}) broadcast against [${s.shape}]`,
      );
    }
    const v = len === 1 ? new Float64Array(C).fill(t.values[0]) : Float64Array.from(t.values);
    const bad = v.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) {
      this.fail(
        n,
        `its ${what} '${t.name}' holds ${v[bad]} at index ${bad} (expected finite values)`,
      );
    }
    if (s.shape.length === 1 && s.order !== null) return Float64Array.from(s.order, (k) => v[k]);
    return v;
  }

  weight(n: OnnxNode, k: number, what: string, dims: number): OnnxTensor {
    const name = n.inputs[k];
    if (name === undefined || name === "") this.fail(n, `it has no ${what}`);
    if (!this.isStatic(name)) this.fail(n, `its ${what} '${name}' is not a constant`);
    const t = this.value(name, n);
    if (t.dims.length !== dims) {
      this.fail(n, `its ${what} '${name}' is shaped [${t.dims}], expected ${dims} dimensions`);
    }
    let bad = -1;
    for (let i = 0; i < t.values.length && bad < 0; i++) if (!Number.isFinite(t.values[i])) bad = i;
    if (bad >= 0) {
      this.fail(
        n,
        `its ${what} '${name}' holds ${t.values[bad]} at index ${bad} (expected finite weights)`,
      );
    }
    return t;
  }

  /** Explicit `[top, bottom, left, right]` padding and output size of a conv or pool. */
  window(n: OnnxNode, s: State, k: [number, number], ceil = false) {
    const a = n.attributes;
    const strides = (a.get("strides")?.ints ?? [1, 1]) as number[];
    const dil = a.get("dilations")?.ints ?? [1, 1];
    if (dil.some((d) => d !== 1)) this.fail(n, `dilations [${dil}] are not supported (1 only)`);
    const [, H, W] = s.shape;
    const auto = a.get("auto_pad")?.s ?? "NOTSET";
    let pads = (a.get("pads")?.ints ?? [0, 0, 0, 0]) as number[];
    if (auto === "VALID") pads = [0, 0, 0, 0];
    else if (auto === "SAME_UPPER" || auto === "SAME_LOWER") {
      const total = [H, W].map((d, i) =>
        Math.max((Math.ceil(d / strides[i]) - 1) * strides[i] + k[i] - d, 0)
      );
      const lo = total.map((t) => (auto === "SAME_UPPER" ? Math.floor(t / 2) : Math.ceil(t / 2)));
      pads = [lo[0], lo[1], total[0] - lo[0], total[1] - lo[1]];
    } else if (auto !== "NOTSET") this.fail(n, `auto_pad '${auto}' is not supported`);
    // (an end pad may be negative: older exporters write ceil_mode that way, dropping input rows
    // or columns that no window reaches)
    if (strides.length !== 2 || pads.length !== 4 || pads[0] < 0 || pads[1] < 0) {
      this.fail(n, `strides [${strides}] and pads [${pads}] are not a 2-D window's`);
    }
    // ONNX pads are [top, left, bottom, right]; masokit's [top, bottom, left, right]
    const padding = [pads[0], pads[2], pads[1], pads[3]];
    const out = [H, W].map((d, i) => {
      const span = d + padding[2 * i] + padding[2 * i + 1] - k[i];
      if (span < 0) {
        this.fail(
          n,
          `its ${k[0]} × ${k[1]} window is larger than its padded ${H} × ${W} input` +
            (this.dropped === null
              ? ""
              : `; pool '${this.dropped}' (ceil_mode) dropped a last window that would start past its input, as PyTorch does and ONNX's size formula does not, and this file's later sizes follow ONNX's (an exporter's inconsistency: PyTorch computes the smaller size)`),
        );
      }
      if (!ceil) {
        const o = Math.floor(span / strides[i]) + 1;
        if (padding[2 * i + 1] < 0) {
          // the padding the windows need past the input: none when the negative pad only drops
          // what no window reaches
          const need = (o - 1) * strides[i] + k[i] - d - padding[2 * i];
          if (need <= -strides[i]) {
            this.fail(n, `pads [${pads}] crop the input beyond what its windows leave out`);
          }
          padding[2 * i + 1] = Math.max(need, 0);
        }
        return o;
      }
      let o = Math.ceil(span / strides[i]) + 1;
      // the last window must start inside the input or its leading padding
      if ((o - 1) * strides[i] >= d + padding[2 * i]) {
        o--;
        this.dropped = this.nodeName(n);
      }
      padding[2 * i + 1] += Math.max((o - 1) * strides[i] + k[i] - span - k[i], 0);
      return o;
    });
    return {
      strides: [strides[0], strides[1]] as [number, number],
      padding: padding as unknown as Padding2D,
      out: out as [number, number],
    };
  }

  /** The per-example shape a Flatten, Squeeze, Unsqueeze or Reshape of `shape` gives. */
  reshapeTarget(n: OnnxNode, shape: readonly number[]): number[] {
    const a = n.attributes;
    const r = shape.length + 1;
    const listed = () => n.inputs[1] ? [...this.value(n.inputs[1], n).values] : a.get("axes")?.ints;
    if (n.opType === "Squeeze") {
      // e.g. [C, 1, 1] → [C] after a global pool; never the batch axis
      const given = listed();
      const axes = (given ?? [...shape.keys()].filter((k) => shape[k] === 1).map((k) => k + 1))
        .map((v) => (v < 0 ? v + r : v));
      if (axes.some((v) => v < 1 || v >= r || shape[v - 1] !== 1)) {
        this.fail(
          n,
          `axes [${given}] are not axes of size 1 of [batch, ${shape}] other than the batch`,
        );
      }
      return shape.filter((_, k) => !axes.includes(k + 1));
    }
    if (n.opType === "Unsqueeze") {
      const given = listed() ?? [];
      const rank = r + given.length;
      const axes = given.map((v) => (v < 0 ? v + rank : v)).sort((x, y) => x - y);
      if (axes.some((v) => v < 1 || v >= rank)) {
        this.fail(n, `axes [${given}] are not axes of [batch, ${shape}] other than the batch`);
      }
      const out = [1, ...shape];
      for (const v of axes) out.splice(v, 0, 1);
      return out.slice(1);
    }
    if (n.opType === "Flatten") {
      const axis = a.get("axis")?.i ?? 1;
      if (axis !== 1) this.fail(n, `axis ${axis} is not supported (1: each example to a vector)`);
      return [shapeSize(shape)];
    }
    const want = [...this.value(n.inputs[1], n).values];
    const full = [1, ...shape];
    const dims = want.map((d, i) => (d === 0 && (a.get("allowzero")?.i ?? 0) === 0 ? full[i] : d));
    const known = dims.filter((d) => d !== -1).reduce((x, y) => x * y, 1);
    const filled = dims.map((d) => (d === -1 ? shapeSize(full) / known : d));
    if (filled[0] !== 1) this.fail(n, `its target shape [${want}] changes the batch dimension`);
    return filled.slice(1);
  }

  /** One node's spline layers. */
  layer(n: OnnxNode, s: State): { layers: SplineLayer[]; state: State } {
    const name = this.nodeName(n);
    const a = n.attributes;
    const spatial = () => {
      if (s.shape.length !== 3) {
        this.fail(n, `its input is shaped [${s.shape}] per example, expected [C, H, W]`);
      }
    };
    const vector = () => {
      if (s.shape.length !== 1) {
        this.fail(
          n,
          `its input is shaped [${s.shape}] per example, expected a vector (Flatten first)`,
        );
      }
    };
    const base = (shape: readonly number[]) => ({
      name,
      inputShape: ours(s.shape, `ONNX node '${name}'`),
      outputShape: ours(shape, `ONNX node '${name}'`),
    });
    const keep = (layers: SplineLayer[]) => ({ layers, state: s });
    switch (n.opType) {
      case "Identity":
      case "Dropout":
        return keep([]);
      case "Relu":
        return keep([{ ...base(s.shape), kind: "relu" }]);
      case "Clip": {
        // clamp(x, min=0) is a ReLU; an upper bound is not convex (ReLU6)
        const bound = (k: number, key: string, none: number) =>
          n.inputs[k] ? this.value(n.inputs[k], n).values[0] : a.get(key)?.f ?? none;
        const lo = bound(1, "min", -Infinity), hi = bound(2, "max", Infinity);
        if (hi !== Infinity || (lo !== 0 && lo !== -Infinity)) {
          this.fail(
            n,
            `clipping to [${lo}, ${hi}] is not a max-affine spline (supported: min 0 or none, no max)`,
          );
        }
        return keep(lo === 0 ? [{ ...base(s.shape), kind: "relu" }] : []);
      }
      case "Abs":
        return keep([{ ...base(s.shape), kind: "abs" }]);
      case "LeakyRelu":
        return keep([{ ...base(s.shape), kind: "leaky-relu", alpha: a.get("alpha")?.f ?? 0.01 }]);
      case "PRelu": {
        const slope = this.value(n.inputs[1], n);
        if (slope.values.length !== 1) {
          this.fail(
            n,
            `its slope '${slope.name}' has ${slope.values.length} values, expected 1 (a leaky ReLU; per-channel slopes are not supported)`,
          );
        }
        return keep([{ ...base(s.shape), kind: "leaky-relu", alpha: slope.values[0] }]);
      }
      case "Conv": {
        spatial();
        if ((a.get("group")?.i ?? 1) !== 1) {
          this.fail(
            n,
            `group ${
              a.get("group")?.i
            } is not supported (1 only: no depthwise or grouped convolutions)`,
          );
        }
        const w = this.weight(n, 1, "weight", 4);
        const [O, I, kh, kw] = w.dims, C = s.shape[0];
        if (I !== C) this.fail(n, `its weight is shaped [${w.dims}], expected ${C} input channels`);
        const { strides, padding, out } = this.window(n, s, [kh, kw]);
        const kernel = new Float64Array(kh * kw * I * O);
        for (let o = 0; o < O; o++) {
          for (let c = 0; c < I; c++) {
            for (let y = 0; y < kh; y++) {
              for (let x = 0; x < kw; x++) {
                kernel[((y * kw + x) * I + c) * O + o] = w.values[((o * I + c) * kh + y) * kw + x];
              }
            }
          }
        }
        const bias = n.inputs[2] ? this.weight(n, 2, "bias", 1) : null;
        if (bias && bias.values.length !== O) {
          this.fail(n, `its bias has ${bias.values.length} values, expected ${O}`);
        }
        const shape = [O, out[0], out[1]];
        return {
          layers: [{
            ...base(shape),
            kind: "conv2d",
            kernel,
            bias: bias ? Float64Array.from(bias.values) : null,
            kernelSize: [kh, kw],
            strides,
            padding,
          }],
          state: { shape, order: null },
        };
      }
      case "Gemm":
      case "MatMul": {
        vector();
        const F = s.shape[0];
        if (n.opType === "Gemm" && (a.get("transA")?.i ?? 0) !== 0) {
          this.fail(
            n,
            "transA 1 is not supported (the input must be the first, untransposed, operand)",
          );
        }
        if (this.isStatic(n.inputs[0])) {
          this.fail(n, "its data input is the second operand, expected the first (x · W)");
        }
        const w = this.weight(n, 1, "weight", 2);
        const trans = n.opType === "Gemm" && (a.get("transB")?.i ?? 0) === 1;
        const [rows, cols] = w.dims;
        const [inp, units] = trans ? [cols, rows] : [rows, cols];
        if (inp !== F) this.fail(n, `its weight is shaped [${w.dims}], expected ${F} inputs`);
        const alpha = n.opType === "Gemm" ? a.get("alpha")?.f ?? 1 : 1;
        const beta = n.opType === "Gemm" ? a.get("beta")?.f ?? 1 : 1;
        const kernel = new Float64Array(F * units);
        for (let j = 0; j < F; j++) {
          const src = s.order ? s.order[j] : j;
          for (let o = 0; o < units; o++) {
            kernel[j * units + o] = alpha *
              (trans ? w.values[o * F + src] : w.values[src * units + o]);
          }
        }
        let bias: Float64Array | null = null;
        if (n.opType === "Gemm" && n.inputs[2]) {
          const c = this.value(n.inputs[2], n);
          if (c.values.length !== 1 && c.values.length !== units) {
            this.fail(n, `its bias '${c.name}' is shaped [${c.dims}], expected ${units} values`);
          }
          bias = Float64Array.from(
            { length: units },
            (_, o) => beta * c.values[c.values.length === 1 ? 0 : o],
          );
          const bad = bias.findIndex((x) => !Number.isFinite(x));
          if (bad >= 0) {
            this.fail(
              n,
              `its bias '${c.name}' holds ${bias[bad]} at index ${bad} (expected finite weights)`,
            );
          }
        }
        const shape = [units];
        return {
          layers: [{ ...base(shape), kind: "dense", units, kernel, bias }],
          state: { shape, order: null },
        };
      }
      case "BatchNormalization": {
        if ((a.get("training_mode")?.i ?? 0) !== 0) {
          this.fail(n, "training_mode 1 is not supported (inference only)");
        }
        const eps = a.get("epsilon")?.f ?? 1e-5;
        const [gamma, beta, mean, variance] = [1, 2, 3, 4].map((k, i) =>
          this.perChannel(
            n,
            this.value(n.inputs[k], n),
            s,
            ["scale", "bias", "mean", "variance"][i],
            true,
          )
        );
        const scale = gamma.map((g, j) => g / Math.sqrt(variance[j] + eps));
        const shift = beta.map((b, j) => b - mean[j] * scale[j]);
        return keep([{ ...base(s.shape), kind: "channel-affine", scale, shift }]);
      }
      case "Add":
      case "Sub":
      case "Mul":
      case "Div": {
        const k = n.inputs.findIndex((x) => this.isStatic(x));
        const c = this.perChannel(n, this.value(n.inputs[k], n), s, "constant");
        const C = c.length;
        let scale = new Float64Array(C).fill(1), shift = new Float64Array(C);
        if (n.opType === "Add") shift = c;
        else if (n.opType === "Mul") scale = c;
        else if (n.opType === "Sub") {
          if (k === 0) [scale, shift] = [scale.fill(-1), c];
          else shift = c.map((v) => -v);
        } else {
          if (k === 0) this.fail(n, "it divides a constant by the data, which is not affine");
          scale = c.map((v) => 1 / v);
        }
        return keep([{ ...base(s.shape), kind: "channel-affine", scale, shift }]);
      }
      case "MaxPool":
      case "AveragePool": {
        spatial();
        const k = (a.get("kernel_shape")?.ints ?? []) as number[];
        if (k.length !== 2) this.fail(n, `kernel_shape [${k}] is not a 2-D window`);
        const ceil = (a.get("ceil_mode")?.i ?? 0) === 1;
        const w = this.window(n, s, [k[0], k[1]], ceil);
        const shape = [s.shape[0], w.out[0], w.out[1]];
        const pool = { poolSize: [k[0], k[1]] as [number, number], strides: w.strides };
        if (n.opType === "MaxPool") {
          return {
            layers: [{ ...base(shape), kind: "max-pool", ...pool, padding: w.padding }],
            state: { shape, order: null },
          };
        }
        const exact = this.window(n, s, [k[0], k[1]], false);
        if (ceil && (exact.out[0] !== w.out[0] || exact.out[1] !== w.out[1])) {
          this.fail(
            n,
            "ceil_mode 1 adds a partial window here, which is not supported for average pooling",
          );
        }
        const padded = exact.padding.some((p) => p > 0);
        if (!padded || (a.get("count_include_pad")?.i ?? 0) === 0) {
          return {
            layers: [{ ...base(shape), kind: "avg-pool", ...pool, padding: exact.padding }],
            state: { shape, order: null },
          };
        }
        // counting the padding in each mean: zeros added first, then a plain average
        const [t, b, l, r] = exact.padding, [C, H, W] = s.shape;
        const mid = [C, H + t + b, W + l + r];
        return {
          layers: [
            { ...base(mid), name: `${name}/pad`, kind: "zero-pad", padding: exact.padding },
            {
              name,
              inputShape: ours(mid, name),
              outputShape: ours(shape, name),
              kind: "avg-pool",
              ...pool,
              padding: [0, 0, 0, 0],
            },
          ],
          state: { shape, order: null },
        };
      }
      case "GlobalAveragePool":
      case "GlobalMaxPool":
      case "ReduceMean":
      case "ReduceMax": {
        spatial();
        const [C, H, W] = s.shape, shape = [C, 1, 1];
        const max = n.opType === "GlobalMaxPool" || n.opType === "ReduceMax";
        // x.mean((2, 3)), x.amax((2, 3)): a global pool, then (keepdims 0) a flatten
        let keep = true;
        if (n.opType.startsWith("Reduce")) {
          const listed = n.inputs[1] ? [...this.value(n.inputs[1], n).values] : a.get("axes")?.ints;
          const axes = (listed ?? []).map((v) => (v < 0 ? v + 4 : v)).sort();
          if (axes.join() !== "2,3") {
            this.fail(
              n,
              `axes [${listed ?? "all"}] are not supported (the height and width: [2, 3])`,
            );
          }
          keep = (a.get("keepdims")?.i ?? 1) === 1;
        }
        const pool: SplineLayer = {
          ...base(shape),
          kind: max ? "max-pool" : "avg-pool",
          poolSize: [H, W],
          strides: [H, W],
          padding: [0, 0, 0, 0],
        };
        if (keep) return { layers: [pool], state: { shape, order: null } };
        return {
          layers: [pool, {
            name: `${name}/flatten`,
            inputShape: ours(shape, name),
            outputShape: [C],
            kind: "flatten",
          }],
          state: { shape: [C], order: null },
        };
      }
      case "Pad": {
        spatial();
        const mode = a.get("mode")?.s ?? "constant";
        const pads = n.inputs[1]
          ? [...this.value(n.inputs[1], n).values]
          : a.get("pads")?.ints ?? [];
        const fill = n.inputs[2] ? this.value(n.inputs[2], n).values[0] : a.get("value")?.f ?? 0;
        if (mode !== "constant" || fill !== 0) {
          this.fail(n, `mode '${mode}' with value ${fill} is not supported (constant 0 only)`);
        }
        if (
          pads.length !== 8 || pads[0] || pads[1] || pads[4] || pads[5] || pads.some((p) => p < 0)
        ) {
          this.fail(
            n,
            `pads [${pads}] are not supported (non-negative, on the height and width only)`,
          );
        }
        const [C, H, W] = s.shape;
        const shape = [C, H + pads[2] + pads[6], W + pads[3] + pads[7]];
        return {
          layers: [{
            ...base(shape),
            kind: "zero-pad",
            padding: [pads[2], pads[6], pads[3], pads[7]],
          }],
          state: { shape, order: null },
        };
      }
      case "Flatten":
      case "Squeeze":
      case "Reshape": {
        const target = this.reshapeTarget(n, s.shape);
        const same = target.length === s.shape.length && target.every((d, i) => d === s.shape[i]);
        if (same) return keep([]);
        if (target.length !== 1) {
          this.fail(
            n,
            `it reshapes [${s.shape}] to [${target}] per example; only reshaping to a vector is supported`,
          );
        }
        if (s.shape.length === 1) return keep([]);
        const [C, H, W] = s.shape;
        let order: Int32Array | null = null;
        if (C > 1 && H * W > 1) {
          order = new Int32Array(C * H * W);
          for (let y = 0; y < H; y++) {
            for (let x = 0; x < W; x++) {
              for (let c = 0; c < C; c++) order[(y * W + x) * C + c] = (c * H + y) * W + x;
            }
          }
        }
        return { layers: [{ ...base(target), kind: "flatten" }], state: { shape: target, order } };
      }
    }
    return this.fail(
      n,
      `not a max-affine spline operator masokit supports (supported: ${SUPPORTED})`,
    );
  }
}

/**
 * Converts an ONNX model into a {@linkcode SplineNetwork}, e.g. a PyTorch model saved with
 * `torch.onnx.export(model.eval(), x, "model.onnx")`: Conv (group 1, dilation 1), Gemm and
 * MatMul by a constant (Linear), BatchNormalization (folded in inference mode:
 * `scale = γ/√(σ²+ε)`, `shift = β − μ·scale`), Add/Sub/Mul/Div by a constant per channel
 * (e.g. input normalisation), Relu, LeakyRelu, PRelu with a single slope, Abs, MaxPool
 * (`ceil_mode` too), AveragePool (with or without the padding in each mean), GlobalAveragePool,
 * GlobalMaxPool, ReduceMean and ReduceMax over the height and width (`x.mean((2, 3))`), Pad with
 * zeros, Flatten, Reshape to a vector (shape arithmetic such as
 * `x.view(x.size(0), -1)` is evaluated), Squeeze to a vector, Clip to [0, ∞) (a ReLU),
 * Dropout and Identity, the Add of two paths that fork and rejoin (residual blocks, nested
 * too), and a final Softmax or LogSoftmax (the paper's g, dropped). Anything else throws a
 * {@linkcode SplineError} naming the node.
 *
 * ONNX images are channels-first; masokit's are channels-last. A model that first reshapes a
 * flat input to one-channel images (`x.view(-1, 1, 28, 28)`, `x.unsqueeze(1)`) takes the images:
 * the same values in the same order. The network's input shape is
 * `[H, W, C]` for an ONNX input `[N, C, H, W]`: give it images as `[N, H, W, C]`
 * ({@linkcode channelsLast}, or `x.permute(0, 2, 3, 1)` in PyTorch; for one channel the values
 * are in the same order), and read templates `A[x]_c` in that layout ({@linkcode channelsFirst}
 * turns them back). Flattening a channels-first map is reordered into the next
 * dense layer's columns, so outputs equal the ONNX model's. Weights become float64.
 *
 * @param bytes The model file's bytes (`await Deno.readFile("model.onnx")`, or an `ArrayBuffer`
 *   from `fetch`), weights inside.
 * @param options `inputShape` (ONNX layout) when the file leaves a dimension symbolic.
 * @returns The network.
 *
 * @example Bytes that are not an ONNX model are refused
 * ```ts
 * import { fromOnnx } from "./from_onnx.ts";
 * import { throws } from "node:assert/strict";
 * throws(() => fromOnnx(new Uint8Array([0x0a, 0x05, 0x01])), /Cannot read the ONNX model/);
 * ```
 */
export function fromOnnx(
  bytes: Uint8Array | ArrayBuffer,
  options: FromOnnxOptions = {},
): SplineNetwork {
  const model = readOnnx(bytes);
  const c = new Converter(model);
  const inputs = model.inputs.filter((i) => !model.initializers.has(i.name));
  if (inputs.length !== 1 || model.outputs.length !== 1) {
    throw new SplineError(
      `Cannot convert the ONNX model: it has ${inputs.length} inputs and ${model.outputs.length} outputs, expected 1 and 1`,
    );
  }
  const input = inputs[0];
  c.input = input.name;
  if (input.elemType !== 0 && input.elemType !== 1 && input.elemType !== 11) {
    throw new SplineError(
      `Cannot convert the ONNX model: input '${input.name}' has element type ${input.elemType}, expected float (1) or double (11)`,
    );
  }
  let shape: number[];
  if (options.inputShape !== undefined) {
    const s = options.inputShape;
    if (
      !Array.isArray(s) || !(s.length === 1 || s.length === 3) ||
      !s.every((d) => Number.isInteger(d) && d > 0)
    ) {
      throw new RangeError(
        `Cannot convert the ONNX model: inputShape is ${
          JSON.stringify(s)
        }, expected [C, H, W] or [F] of positive integers (without the batch)`,
      );
    }
    shape = [...s];
  } else {
    const dims = input.dims;
    const rest = dims?.slice(1) ?? [];
    if (dims === null || rest.length === 0 || !rest.every((d) => typeof d === "number" && d > 0)) {
      throw new SplineError(
        `Cannot convert the ONNX model: input '${input.name}' is shaped [${
          dims ?? "unknown"
        }], expected a batch and fixed [C, H, W] or [F]: pass options.inputShape`,
      );
    }
    shape = rest as number[];
  }
  // a final Softmax / LogSoftmax is the paper's g, not a layer
  let end = model.outputs[0].name;
  for (;;) {
    const i = c.producer.get(end);
    const n = i === undefined ? null : model.nodes[i];
    if (!n || !["Softmax", "LogSoftmax", "Identity", "Dropout"].includes(n.opType)) break;
    end = c.dataInputs(n)[0];
  }
  c.shapes.set(input.name, [1, ...shape]);
  let items = c.chain(end, input.name), from = input.name;
  // A model that first reshapes its input to one-channel images (`x.view(-1, 1, 28, 28)`,
  // `x.unsqueeze(1)`): the images hold the same values in the same order in either layout, so the
  // network takes them as its input.
  const first = items[0];
  if (first !== undefined && "node" in first && RESHAPES.has(first.node.opType)) {
    const target = c.reshapeTarget(first.node, shape);
    if (target.length === 3 && target[0] === 1 && shape.length !== 3) {
      shape = target;
      items = items.slice(1);
      from = first.node.outputs[0];
      c.shapes.set(from, [1, ...shape]);
    }
  }
  ours(shape, `input '${input.name}'`);
  const { layers, state } = c.build(items, { shape, order: null }, from);
  if (state.order !== null) {
    throw new SplineError(
      `Cannot convert the ONNX model: its output is a channels-first feature map flattened to a vector (${
        state.shape[0]
      } values), whose order masokit does not keep (end the model with a Linear layer, or flatten a 1 × 1 map)`,
    );
  }
  return new SplineNetwork(ours(shape, `input '${input.name}'`), layers);
}
