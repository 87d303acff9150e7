/**
 * Evaluates the ONNX nodes whose outputs depend on constants and shapes only (private helper
 * of {@linkcode fromOnnx}): the shape arithmetic exporters write around `Reshape` and `Pad`,
 * e.g. PyTorch's `x.view(x.size(0), -1)` (Shape, Gather, Unsqueeze, Concat) or `ZeroPad2d`
 * (ConstantOfShape, Concat, Reshape, Slice with step −1, Transpose, Cast). Tensors are small;
 * values are float64; the batch dimension is 1.
 *
 * @module
 */
import { SplineError } from "../util/errors.ts";
import type { OnnxNode, OnnxTensor } from "./_onnx_proto.ts";

/** The operations evaluated here. */
const STATIC_OPS = [
  "Constant",
  "Shape",
  "Gather",
  "Unsqueeze",
  "Squeeze",
  "Concat",
  "Cast",
  "Identity",
  "Slice",
  "Reshape",
  "Transpose",
  "ConstantOfShape",
  "Add",
  "Sub",
  "Mul",
  "Div",
] as const;

function strides(dims: readonly number[]): number[] {
  const s = new Array(dims.length).fill(1);
  for (let k = dims.length - 2; k >= 0; k--) s[k] = s[k + 1] * dims[k + 1];
  return s;
}

/** Row-major positions of every index of `dims`, each mapped through `at`. */
function gather(dims: readonly number[], at: (index: number[]) => number): Float64Array {
  const count = dims.reduce((a, b) => a * b, 1);
  const out = new Float64Array(count), index = new Array(dims.length).fill(0);
  for (let k = 0; k < count; k++) {
    out[k] = at(index);
    for (let d = dims.length - 1; d >= 0; d--) {
      if (++index[d] < dims[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

/**
 * The output of static node `n`.
 *
 * @param n The node.
 * @param arg Its k-th input's value.
 * @param shapeOf The shape (batch 1) of a data tensor, for `Shape` (undefined for a constant).
 * @returns Its first output.
 */
export function evaluateStatic(
  n: OnnxNode,
  arg: (k: number) => OnnxTensor,
  shapeOf: (name: string) => readonly number[] | undefined,
): OnnxTensor {
  const fail = (what: string): never => {
    throw new SplineError(
      `Cannot convert ONNX node '${n.name || n.outputs[0]}' (${n.opType}): ${what}`,
    );
  };
  const out = (dims: readonly number[], values: ArrayLike<number>): OnnxTensor => ({
    name: n.outputs[0],
    dims: [...dims],
    dataType: 7,
    values: Float64Array.from(values),
  });
  const a = n.attributes;
  const int = (key: string, d: number) => a.get(key)?.i ?? d;
  const list = (k: number, key: string) =>
    n.inputs.length > k && n.inputs[k] !== "" ? [...arg(k).values] : a.get(key)?.ints;
  const axisOf = (v: number, rank: number) => {
    const r = v < 0 ? v + rank : v;
    if (r < 0 || r >= rank) fail(`axis ${v} is outside a rank-${rank} tensor`);
    return r;
  };
  switch (n.opType) {
    case "Constant": {
      const t = a.get("value")?.t;
      if (t) return { ...t, name: n.outputs[0] };
      const f = a.get("value_float")?.f, i = a.get("value_int")?.i;
      if (f !== undefined) return out([], [f]);
      if (i !== undefined) return out([], [i]);
      const fs = a.get("value_floats")?.floats, is = a.get("value_ints")?.ints;
      if (fs && fs.length > 0) return out([fs.length], fs);
      if (is) return out([is.length], is);
      return fail("a Constant without a value");
    }
    case "Shape": {
      // a data tensor's shape as converted so far, else a constant's own
      const s = shapeOf(n.inputs[0]) ?? arg(0).dims;
      const r = s.length;
      const norm = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
      const dims = s.slice(norm(int("start", 0)), norm(int("end", r)));
      return out([dims.length], dims);
    }
    case "Cast":
    case "Identity":
      return { ...arg(0), name: n.outputs[0] };
    case "Gather": {
      const data = arg(0), index = arg(1);
      if (int("axis", 0) !== 0 || data.dims.length !== 1) {
        return fail("only gathering from a 1-D constant along axis 0 is supported");
      }
      const len = data.values.length;
      return out(index.dims, Array.from(index.values, (k) => data.values[k < 0 ? k + len : k]));
    }
    case "Unsqueeze":
    case "Squeeze": {
      const data = arg(0);
      const axes = list(1, "axes");
      const dims = [...data.dims];
      if (n.opType === "Squeeze") {
        const drop = new Set((axes ?? dims.map((d, k) => (d === 1 ? k : -1)).filter((k) => k >= 0))
          .map((v) => axisOf(v, data.dims.length)));
        return out(dims.filter((_, k) => !drop.has(k)), data.values);
      }
      const rank = dims.length + (axes?.length ?? 0);
      for (const v of [...(axes ?? [])].map((v) => (v < 0 ? v + rank : v)).sort((x, y) => x - y)) {
        dims.splice(v, 0, 1);
      }
      return out(dims, data.values);
    }
    case "Concat": {
      const parts = n.inputs.map((_, k) => arg(k));
      if (axisOf(int("axis", 0), Math.max(1, parts[0].dims.length)) !== 0) {
        return fail("only concatenating along axis 0 is supported");
      }
      const v = parts.flatMap((p) => [...p.values]);
      const rest = parts[0].dims.slice(1);
      return out([parts.reduce((s, p) => s + (p.dims[0] ?? 1), 0), ...rest], v);
    }
    case "Reshape": {
      const data = arg(0), want = [...arg(1).values];
      const dims = want.map((d, k) => (d === 0 && int("allowzero", 0) === 0 ? data.dims[k] : d));
      const known = dims.filter((d) => d !== -1).reduce((x, y) => x * y, 1);
      return out(dims.map((d) => (d === -1 ? data.values.length / known : d)), data.values);
    }
    case "Transpose": {
      const data = arg(0), r = data.dims.length;
      const perm = a.get("perm")?.ints ?? data.dims.map((_, k) => r - 1 - k);
      const st = strides(data.dims);
      const dims = perm.map((p) => data.dims[p]);
      return out(
        dims,
        gather(dims, (i) => data.values[i.reduce((s, v, k) => s + v * st[perm[k]], 0)]),
      );
    }
    case "Slice": {
      const data = arg(0), r = data.dims.length;
      const starts = list(1, "starts") ?? [], ends = list(2, "ends") ?? [];
      const axes = (list(3, "axes") ?? starts.map((_, k) => k)).map((v) => axisOf(v, r));
      const steps = list(4, "steps") ?? starts.map(() => 1);
      const first = new Array(r).fill(0), step = new Array(r).fill(1), dims = [...data.dims];
      axes.forEach((ax, k) => {
        const d = data.dims[ax], st = steps[k];
        if (st === 0) fail("a step of 0");
        const clamp = (v: number, lo: number, hi: number) =>
          Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
        const b = st > 0 ? clamp(starts[k], 0, d) : clamp(starts[k], -1, d - 1);
        const e = st > 0 ? clamp(ends[k], 0, d) : clamp(ends[k], -1, d - 1);
        first[ax] = b;
        step[ax] = st;
        dims[ax] = Math.max(0, Math.ceil((e - b) / st));
      });
      const st = strides(data.dims);
      return out(
        dims,
        gather(
          dims,
          (i) => data.values[i.reduce((s, v, k) => s + (first[k] + v * step[k]) * st[k], 0)],
        ),
      );
    }
    case "ConstantOfShape": {
      const dims = [...arg(0).values];
      const fill = a.get("value")?.t?.values[0] ?? 0;
      return out(dims, new Float64Array(dims.reduce((x, y) => x * y, 1)).fill(fill));
    }
    case "Add":
    case "Sub":
    case "Mul":
    case "Div": {
      const [x, y] = [arg(0), arg(1)];
      const big = x.values.length >= y.values.length ? x : y;
      if (x.values.length !== y.values.length && Math.min(x.values.length, y.values.length) !== 1) {
        return fail(
          `only same-size or scalar operands are evaluated, got [${x.dims}] and [${y.dims}]`,
        );
      }
      const at = (t: OnnxTensor, k: number) => t.values[t.values.length === 1 ? 0 : k];
      const f = {
        Add: (p: number, q: number) => p + q,
        Sub: (p: number, q: number) => p - q,
        Mul: (p: number, q: number) => p * q,
        Div: (p: number, q: number) => p / q,
      }[n.opType];
      return out(big.dims, Array.from(big.values, (_, k) => f(at(x, k), at(y, k))));
    }
  }
  return fail(
    `its output is computed from constants and shapes, and ${n.opType} is not evaluated on those (supported: ${
      STATIC_OPS.join(", ")
    })`,
  );
}
