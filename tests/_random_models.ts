/**
 * Seeded random tfjs models covering every layer kind the spline engine supports, for
 * property tests against tfjs' own forward pass.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { abs } from "../lib/models/abs_layer.ts";

/** A small deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Normal(0, 1) samples. */
export function normals(n: number, r: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  }
  return out;
}

/** Replaces every weight with seeded random values (batch-norm variances positive). */
export function randomizeWeights(model: tf.LayersModel, seed: number): void {
  const r = rng(seed);
  for (const layer of model.layers) {
    const ws = layer.getWeights();
    if (ws.length === 0) continue;
    layer.setWeights(ws.map((w, i) => {
      const vals = normals(w.size, r);
      const name = layer.weights[i].name;
      if (name.includes("moving_variance")) {
        for (let j = 0; j < vals.length; j++) vals[j] = 0.5 + r();
      } else if (name.includes("gamma")) {
        for (let j = 0; j < vals.length; j++) vals[j] = 0.5 + r();
      } else if (name.includes("kernel")) {
        const fanIn = w.shape.slice(0, -1).reduce((a, b) => a * b, 1);
        for (let j = 0; j < vals.length; j++) vals[j] *= Math.sqrt(2 / fanIn);
      } else for (let j = 0; j < vals.length; j++) vals[j] *= 0.3;
      return tf.tensor(vals, w.shape);
    }));
  }
}

/** A random batch `[n, ...shape]` with seeded normal values. */
export function randomInput(shape: number[], n: number, seed: number): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(normals(n * size, rng(seed)), [n, ...shape]);
}

/** An MLP: dense-relu, dense, leaky ReLU, dense. */
export function mlpModel(seed: number): tf.LayersModel {
  const m = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [7], units: 16, activation: "relu" }),
      tf.layers.dense({ units: 12 }),
      tf.layers.leakyReLU({ alpha: 0.2 }),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: 5, activation: "softmax" }),
    ],
  });
  randomizeWeights(m, seed);
  return m;
}

/** A CNN with strides, both paddings, BN, zero padding, max and average pooling. */
export function cnnModel(seed: number): tf.LayersModel {
  const m = tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [11, 9, 3],
        filters: 4,
        kernelSize: 3,
        padding: "same",
        useBias: false,
      }),
      tf.layers.batchNormalization(),
      tf.layers.reLU(),
      tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
      tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: "same" }),
      tf.layers.reLU(),
      tf.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: "same" }),
      tf.layers.zeroPadding2d({ padding: 1 }),
      tf.layers.conv2d({ filters: 5, kernelSize: [2, 3], strides: [1, 2] }),
      tf.layers.leakyReLU({ alpha: 0.1 }),
      tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: "same" }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 4 }),
    ],
  });
  randomizeWeights(m, seed);
  return m;
}

/**
 * Dense layers on the last axis of an image (tfjs maps `[..., in]` to `[..., units]`): a
 * per-pixel dense with ReLU, a max-pool, a conv, a per-pixel dense without bias and a leaky
 * ReLU, then the classifier.
 */
export function denseOnAxisModel(seed: number): tf.LayersModel {
  const m = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [5, 4, 3], units: 6, activation: "relu" }),
      tf.layers.maxPooling2d({ poolSize: 2, strides: 1 }),
      tf.layers.conv2d({ filters: 4, kernelSize: 2 }),
      tf.layers.reLU(),
      tf.layers.dense({ units: 5, useBias: false }),
      tf.layers.leakyReLU({ alpha: 0.2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 3 }),
    ],
  });
  randomizeWeights(m, seed);
  return m;
}

/**
 * A smallCNN-like stack of conv → ReLU → disjoint max-pool blocks with 12 classes: channel
 * counts that are multiples of 4 after the first layer (the tfjs-wasm engine's fused
 * conv/ReLU/pool kernels and its few-outputs transpose to the input's 3 channels), padding, a
 * non-square kernel,
 * odd pooled sizes, a conv without bias and a max-pool without a ReLU before it.
 */
export function pooledCnnModel(seed: number): tf.LayersModel {
  const m = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [12, 11, 3], filters: 8, kernelSize: 3 }),
      tf.layers.reLU(),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 12, kernelSize: [3, 2], padding: "same", useBias: false }),
      tf.layers.batchNormalization(),
      tf.layers.reLU(),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 8, kernelSize: 1, useBias: false }),
      tf.layers.maxPooling2d({ poolSize: [2, 1] }),
      tf.layers.reLU(),
      tf.layers.flatten(),
      tf.layers.dense({ units: 12 }),
    ],
  });
  randomizeWeights(m, seed);
  return m;
}

/**
 * Convs of 16 and more channels, as the WebGPU engine runs by Winograd (3×3, stride 1): a
 * first conv from 3 channels (not one of them), asymmetric zero padding then a valid conv
 * (as largeCNN's "full" convs), a conv → ReLU → disjoint max-pool block, a conv without bias with
 * batch norm and a leaky ReLU, a valid conv, and a dense layer to 5 classes.
 */
export function wideCnnModel(seed: number): tf.LayersModel {
  const m = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [10, 9, 3], filters: 16, kernelSize: 3, padding: "same" }),
      tf.layers.reLU(),
      tf.layers.zeroPadding2d({ padding: [[2, 1], [0, 2]] }),
      tf.layers.conv2d({ filters: 16, kernelSize: 3 }),
      tf.layers.reLU(),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 20, kernelSize: 3, padding: "same", useBias: false }),
      tf.layers.batchNormalization(),
      tf.layers.leakyReLU({ alpha: 0.1 }),
      tf.layers.conv2d({ filters: 16, kernelSize: 3 }),
      tf.layers.reLU(),
      tf.layers.flatten(),
      tf.layers.dense({ units: 5 }),
    ],
  });
  randomizeWeights(m, seed);
  return m;
}

/** A functional model with a pre-activation residual block and a downsampling block. */
export function residualModel(seed: number): tf.LayersModel {
  const inp = tf.input({ shape: [8, 8, 2] });
  const apply = (l: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) =>
    l.apply(x) as tf.SymbolicTensor;
  let x = apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: "same" }), inp);
  // identity block
  let h = apply(tf.layers.batchNormalization(), x);
  h = apply(tf.layers.reLU(), h);
  h = apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: "same" }), h);
  h = apply(tf.layers.batchNormalization(), h);
  h = apply(tf.layers.reLU(), h);
  h = apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: "same" }), h);
  x = apply(tf.layers.add(), [x, h]);
  // downsampling block
  let b = apply(tf.layers.batchNormalization(), x);
  b = apply(tf.layers.reLU(), b);
  b = apply(tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: "same" }), b);
  b = apply(tf.layers.averagePooling2d({ poolSize: 2 }), b);
  let s = apply(tf.layers.conv2d({ filters: 6, kernelSize: 1 }), x);
  s = apply(tf.layers.averagePooling2d({ poolSize: 2 }), s);
  x = apply(tf.layers.add(), [b, s]);
  x = apply(tf.layers.reLU(), x);
  x = apply(tf.layers.globalAveragePooling2d({}), x);
  const out = apply(tf.layers.dense({ units: 3 }), x);
  const m = tf.model({ inputs: inp, outputs: out });
  randomizeWeights(m, seed);
  return m;
}

/** One step of a {@linkcode randomArchitecture}: a layer factory, or a residual sum of paths. */
export type ArchOp =
  | { readonly kind: "layer"; readonly make: () => tf.layers.Layer; readonly desc: string }
  | { readonly kind: "add"; readonly paths: readonly (readonly ArchOp[])[] };

/** A seeded random architecture: its model, input shape and a one-line description. */
export interface RandomArchitecture {
  /** The model, weights randomized (seeded). */
  readonly model: tf.LayersModel;
  /** Per-example input shape. */
  readonly inputShape: number[];
  /** Sequential or functional. */
  readonly functional: boolean;
  /** The layers, one word each. */
  readonly description: string;
  /** The tensor before a final softmax (the logits), when the model ends in one. */
  readonly logits: (x: tf.Tensor) => tf.Tensor;
}

/**
 * A seeded random tfjs model of layers the spline import supports: convs (strides, both
 * paddings, with or without bias, activations inside), batch-norm (random statistics, center
 * and scale on or off, various epsilons), ReLU / leaky ReLU / abs / linear activations as
 * layers, max and average pools (odd sizes, strides, `same`), zero padding, dense layers on
 * images and vectors, flatten / global pooling, dropout, and (functional models) residual add
 * blocks as the resNet builds them; an optional final softmax.
 *
 * @param seed The seed (architecture and weights).
 * @returns The model and how to get its logits.
 */
export function randomArchitecture(seed: number): RandomArchitecture {
  // deno-lint-ignore no-explicit-any
  const L = tf.layers as any;
  const r = rng(seed * 7919 + 13);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const functional = r() < 0.5;
  const image = r() < 0.8;
  let shape: number[] = image ? [int(3, 11), int(3, 11), int(1, 3)] : [int(2, 9)];
  if (image && shape[0] === shape[1]) shape[1] += 1;
  const inputShape = [...shape];
  let depth = 0;
  const op = (desc: string, make: () => tf.layers.Layer): ArchOp => ({ kind: "layer", make, desc });
  const act = () => pick([undefined, "linear", "relu", "relu"]);
  const activationOp = (): ArchOp => {
    switch (int(0, 5)) {
      case 0:
        return op("relu", () => L.reLU());
      case 1:
        return op("Activation(relu)", () => L.activation({ activation: "relu" }));
      case 2:
        return op("Activation(linear)", () => L.activation({ activation: "linear" }));
      case 3: {
        const alpha = pick([0.3, 0.01, 0.5, 0, -0.5, 1.5, 1]);
        return op(`leaky(${alpha})`, () => L.leakyReLU({ alpha }));
      }
      case 4:
        return op("leaky()", () => L.leakyReLU());
      default:
        return op("abs", () => abs());
    }
  };
  const bnOp = (): ArchOp => {
    const center = r() < 0.7, scale = r() < 0.7, epsilon = pick([1e-3, 1e-5, 0.1, 0.5]);
    const axis = r() < 0.5 ? -1 : shape.length;
    return op(
      `bn(c${+center}s${+scale}e${epsilon})`,
      () => L.batchNormalization({ center, scale, epsilon, axis }),
    );
  };
  /** Spatial output size of a sliding window. */
  const slide = (n: number, k: number, s: number, pad: string) =>
    pad === "same" ? Math.ceil(n / s) : Math.floor((n - k) / s) + 1;
  const imageOp = (allowResidual: boolean): ArchOp[] => {
    const [h, w, c] = shape;
    const choice = int(0, allowResidual ? 10 : 9);
    switch (choice) {
      case 0:
      case 1: {
        const padding = pick(["valid", "same"]);
        const kmax = padding === "same" ? 5 : 4;
        const k: [number, number] = [
          int(1, Math.min(kmax, padding === "same" ? 5 : h)),
          int(1, Math.min(kmax, padding === "same" ? 5 : w)),
        ];
        const s: [number, number] = [int(1, 3), int(1, 3)];
        const filters = r() < 0.1 ? 16 : int(1, 6), useBias = r() < 0.6, activation = act();
        shape = [slide(h, k[0], s[0], padding), slide(w, k[1], s[1], padding), filters];
        return [op(
          `conv${k.join("x")}/${s.join("")}${padding[0]}${useBias ? "b" : ""}${activation ?? ""}`,
          () => L.conv2d({ filters, kernelSize: k, strides: s, padding, useBias, activation }),
        )];
      }
      case 2:
        return [bnOp()];
      case 3:
        return [activationOp()];
      case 4:
      case 5: {
        const padding = pick(["valid", "same"]);
        const p: [number, number] = [
          int(1, Math.min(4, padding === "same" ? 4 : h)),
          int(1, Math.min(4, padding === "same" ? 4 : w)),
        ];
        const s: [number, number] = [int(1, 4), int(1, 4)];
        const max = r() < 0.5;
        shape = [slide(h, p[0], s[0], padding), slide(w, p[1], s[1], padding), c];
        const cfg = { poolSize: p, strides: s, padding };
        return [op(
          `${max ? "max" : "avg"}${p.join("x")}/${s.join("")}${padding[0]}`,
          () => max ? L.maxPooling2d(cfg) : L.averagePooling2d(cfg),
        )];
      }
      case 6: {
        const p = [[int(0, 2), int(0, 2)], [int(0, 2), int(0, 2)]];
        shape = [h + p[0][0] + p[0][1], w + p[1][0] + p[1][1], c];
        return [op(`zpad${p.flat().join("")}`, () => L.zeroPadding2d({ padding: p }))];
      }
      case 7: {
        const units = int(1, 4), activation = act(), useBias = r() < 0.5;
        shape = [h, w, units];
        return [op(`pixdense${units}`, () => L.dense({ units, activation, useBias }))];
      }
      case 8:
        return [op("dropout", () => L.dropout({ rate: 0.3 }))];
      case 9:
        return [activationOp()];
      default: {
        // a resNet block: (BN → act → conv3×3 same) ×2 + identity or 1×1 projection
        const before = [...shape];
        const width = r() < 0.5 ? c : int(1, 4);
        const main: ArchOp[] = [];
        for (let i = 0; i < int(1, 2); i++) {
          if (r() < 0.7) main.push(bnOp());
          main.push(activationOp());
          const useBias = r() < 0.5;
          main.push(
            op(
              `conv3x3s${width}`,
              () => L.conv2d({ filters: width, kernelSize: 3, padding: "same", useBias }),
            ),
          );
        }
        let nested = false;
        if (width === c && depth < 2 && r() < 0.3) {
          nested = true;
          // a nested block, or any shape-preserving layers, inside the path
          shape = [...before];
          depth++;
          main.push(...imageOp(true));
          depth--;
          if (shape.join() !== before.join()) main.length = 0;
          shape = [...before];
        }
        const skip: ArchOp[] = width === c && r() < 0.7
          ? []
          : [op(`proj${width}`, () => L.conv2d({ filters: width, kernelSize: 1, useBias: false }))];
        if (r() < 0.3 && width === c && !nested) {
          main.unshift(op("zpad1", () => L.zeroPadding2d({ padding: 1 })));
          main.push(
            op(
              "crop-by-valid-conv",
              () => L.conv2d({ filters: width, kernelSize: 3, useBias: false }),
            ),
          );
        }
        shape = [before[0], before[1], width];
        const paths = r() < 0.5 ? [main, skip] : [skip, main];
        if (r() < 0.2) {
          paths.push(
            r() < 0.5 && width === c
              ? []
              : [op(`proj${width}`, () => L.conv2d({ filters: width, kernelSize: 1 }))],
          );
        }
        const out: ArchOp[] = [{ kind: "add", paths }];
        if (r() < 0.4 && before[0] >= 2 && before[1] >= 2) {
          shape = [Math.floor(before[0] / 2), Math.floor(before[1] / 2), width];
          out.push(op("avg2x2", () => L.averagePooling2d({ poolSize: 2, strides: 2 })));
        }
        return out;
      }
    }
  };
  const vectorOp = (allowResidual: boolean): ArchOp[] => {
    const [d] = shape;
    switch (int(0, allowResidual ? 5 : 4)) {
      case 0:
      case 1: {
        const units = int(1, 8), activation = act(), useBias = r() < 0.6;
        shape = [units];
        return [
          op(`dense${units}${activation ?? ""}`, () => L.dense({ units, activation, useBias })),
        ];
      }
      case 2:
        return [bnOp()];
      case 3:
        return [activationOp()];
      case 4:
        return [op("dropout", () => L.dropout({ rate: 0.5 }))];
      default: {
        const main: ArchOp[] = [
          op(`dense${d}`, () => L.dense({ units: d })),
          activationOp(),
          op(`dense${d}`, () => L.dense({ units: d, useBias: r() < 0.5 })),
        ];
        return [{ kind: "add", paths: [[], main] }];
      }
    }
  };
  const ops: ArchOp[] = [];
  if (image) {
    for (let i = int(1, 6); i > 0; i--) ops.push(...imageOp(functional));
    switch (int(0, 3)) {
      case 0:
        ops.push(op("gap", () => L.globalAveragePooling2d({})));
        shape = [shape[2]];
        break;
      case 1:
        ops.push(op("gmp", () => L.globalMaxPooling2d({})));
        shape = [shape[2]];
        break;
      case 2: {
        const size = shapeSizeOf(shape);
        ops.push(op("reshape", () => L.reshape({ targetShape: [size] })));
        break;
      }
      default:
        ops.push(op("flatten", () => L.flatten()));
    }
    if (shape.length === 3) shape = [shapeSizeOf(shape)];
  }
  for (let i = int(0, 3); i > 0; i--) ops.push(...vectorOp(functional));
  const classes = int(2, 5);
  const ending = int(0, 3);
  ops.push(
    op(
      `dense${classes}`,
      () => L.dense({ units: classes, activation: ending === 1 ? "softmax" : undefined }),
    ),
  );
  if (ending === 2) ops.push(op("softmaxAct", () => L.activation({ activation: "softmax" })));
  if (ending === 3) ops.push(op("softmax", () => L.softmax()));

  const describe = (os: readonly ArchOp[]): string =>
    os.map((o) => o.kind === "layer" ? o.desc : `add[${o.paths.map(describe).join(" | ")}]`)
      .join(" ");
  // a run of layers (before the classifier) wrapped in a model nested as one layer
  const tail = ending >= 2 ? 2 : 1;
  let nest: [number, number] | null = null;
  if (r() < 0.3 && ops.length - tail > 0) {
    const a = int(0, ops.length - tail - 1);
    nest = [a, int(a + 1, ops.length - tail)];
  }
  const nestedFunctional = r() < 0.5 ||
    (nest !== null && ops.slice(nest[0], nest[1]).some((o) => o.kind === "add"));
  let description = describe(ops);
  if (nest) {
    description = [
      describe(ops.slice(0, nest[0])),
      `nest${nestedFunctional ? "F" : "S"}[${describe(ops.slice(nest[0], nest[1]))}]`,
      describe(ops.slice(nest[1])),
    ].filter((d) => d !== "").join(" ");
  }
  const run = (os: readonly ArchOp[], x: tf.SymbolicTensor): tf.SymbolicTensor => {
    for (const o of os) {
      if (o.kind === "layer") x = o.make().apply(x) as tf.SymbolicTensor;
      else {
        const start = x;
        x = L.add().apply(o.paths.map((p) => run(p, start))) as tf.SymbolicTensor;
      }
    }
    return x;
  };
  /** The nested model of ops[from, to) on inputs of `shape`. */
  const inner = (from: number, to: number, shape: number[]): tf.LayersModel => {
    if (nestedFunctional) {
      const i = tf.input({ shape });
      return tf.model({ inputs: i, outputs: run(ops.slice(from, to), i) });
    }
    const m = tf.sequential();
    m.add(tf.layers.inputLayer({ inputShape: shape }));
    for (const o of ops.slice(from, to)) if (o.kind === "layer") m.add(o.make());
    return m;
  };
  const exampleShapeOf = (t: tf.SymbolicTensor) => t.shape.slice(1) as number[];
  let model: tf.LayersModel;
  if (functional) {
    const inp = tf.input({ shape: inputShape });
    let out: tf.SymbolicTensor;
    if (nest) {
      const before = run(ops.slice(0, nest[0]), inp);
      const mid = inner(nest[0], nest[1], exampleShapeOf(before)).apply(before);
      out = run(ops.slice(nest[1]), mid as tf.SymbolicTensor);
    } else out = run(ops, inp);
    model = tf.model({ inputs: inp, outputs: out });
  } else {
    const m = tf.sequential();
    m.add(tf.layers.inputLayer({ inputShape }));
    ops.forEach((o, i) => {
      if (nest && i === nest[0]) m.add(inner(nest[0], nest[1], exampleShapeOf(m.outputs[0])));
      if (nest && i >= nest[0] && i < nest[1]) return;
      if (o.kind === "layer") m.add(o.make());
    });
    model = m;
  }
  randomizeWeights(model, seed);
  const logits = (x: tf.Tensor): tf.Tensor =>
    tf.tidy(() => {
      const layers = model.layers.filter((l) => l.getClassName() !== "InputLayer");
      const last = layers.at(-1)!;
      if (ending === 0) return model.apply(x, { training: false }) as tf.Tensor;
      const dense = ending === 1 ? last : layers.at(-2)!;
      const sub = tf.model({ inputs: model.inputs, outputs: dense.input as tf.SymbolicTensor });
      const h = sub.apply(x, { training: false }) as tf.Tensor;
      const [k, b] = dense.getWeights();
      return tf.add(tf.matMul(h, k), b);
    });
  return { model, inputShape, functional, description, logits };
}

function shapeSizeOf(s: readonly number[]): number {
  return s.reduce((a, b) => a * b, 1);
}
