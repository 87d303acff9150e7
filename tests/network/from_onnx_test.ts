/**
 * `fromOnnx` against PyTorch: models built and exported by `torch.onnx.export`
 * (tests/network/_torch_onnx.py), their outputs and input Jacobians computed by PyTorch in
 * float64 on the same weights. Needs Python with torch (Debian's `python3-torch`); without it
 * the tests are skipped with a notice, unless `MASOKIT_REQUIRE_TORCH=1` (CI) makes that a
 * failure.
 */
import {
  assert,
  assertEquals,
  assertStrictEquals,
  assertThrows,
  largestMagnitude,
  maxRelativeError,
} from "../_assert.ts";
import { fromOnnx } from "../../lib/network/from_onnx.ts";
import { forward } from "../../lib/network/forward.ts";
import { affineMap } from "../../lib/affine/affine_map.ts";
import { affineMapAsync } from "../../lib/affine/affine_map_async.ts";
import { partitionCodes } from "../../lib/partition/codes.ts";
import { SplineError } from "../../lib/util/errors.ts";
import type { Batch } from "../../lib/network/batch.ts";
import { type NodeSpec, writeOnnx } from "./_onnx_writer.ts";
import * as tf from "@tensorflow/tfjs";
import { webgpuContext } from "../../lib/backend/webgpu/device.ts";
import { assertAffineAgrees } from "../backend/webgpu/_affine_agrees.ts";
import { channelsFirst, channelsLast } from "../../lib/network/layout.ts";

/** A Python that imports torch, or why there is none. */
async function torchPython(): Promise<string | { missing: string }> {
  for (const python of ["/usr/bin/python3", "python3"]) {
    try {
      const { success } = await new Deno.Command(python, {
        args: ["-c", "import torch"],
        stdout: "null",
        stderr: "null",
      }).output();
      if (success) return python;
    } catch {
      // not installed: try the next
    }
  }
  return { missing: "no python3 imports torch (apt-get install python3-torch)" };
}

const python = await torchPython();
const required = Deno.env.get("MASOKIT_REQUIRE_TORCH") === "1";
/** The random networks' seed: 0, or `MASOKIT_ONNX_FUZZ_SEED` to try others. */
const FUZZ_SEED = Number(Deno.env.get("MASOKIT_ONNX_FUZZ_SEED") ?? 0);
if (!Number.isInteger(FUZZ_SEED) || FUZZ_SEED < 0) {
  throw new RangeError(
    `MASOKIT_ONNX_FUZZ_SEED is ${Deno.env.get("MASOKIT_ONNX_FUZZ_SEED")}, expected an integer ≥ 0`,
  );
}
if (typeof python !== "string" && !required) {
  console.warn(`NOTICE: skipping the ONNX tests against PyTorch: ${python.missing}`);
}
const ignore = typeof python !== "string" && !required;

interface Reference {
  shape: number[];
  x: number[];
  z: number[];
  jacobian: number[];
  torch: string;
  /** PyTorch's description of the model. */
  model: string;
}

let exported: Promise<string> | null = null;
/** Runs the export script once per test run; the folder of its files. */
function exports(): Promise<string> {
  exported ??= (async () => {
    if (typeof python !== "string") {
      throw new Error(`PyTorch is required (MASOKIT_REQUIRE_TORCH=1) but ${python.missing}`);
    }
    const dir = await Deno.makeTempDir({ prefix: "masokit-onnx-" });
    const script = new URL("./_torch_onnx.py", import.meta.url).pathname;
    const { success, stderr } = await new Deno.Command(python, {
      args: [script, dir, String(FUZZ_SEED)],
    })
      .output();
    if (!success) throw new Error(`${script} failed:\n${new TextDecoder().decode(stderr)}`);
    return dir;
  })();
  return exported;
}

/** NCHW → NHWC (masokit's layout) by `channelsLast`; vectors unchanged. */
function nhwc(x: ArrayLike<number>, shape: readonly number[]): Float64Array {
  return shape.length === 4 ? channelsLast({ data: x, shape }).data : Float64Array.from(x);
}

/** Export `name` converted, with the reference `reference` and its input in masokit's layout. */
async function load(name: string, reference = name) {
  const dir = await exports();
  const net = fromOnnx(await Deno.readFile(`${dir}/${name}.onnx`));
  const ref: Reference = JSON.parse(await Deno.readTextFile(`${dir}/${reference}.json`));
  const [N] = ref.shape;
  const x: Batch = { data: nhwc(ref.x, ref.shape), shape: [N, ...net.inputShape] };
  return { net, ref, x, N };
}

const MODELS = ["mlp", "cnn", "pools", "resnet", "ceil_opset9"];

/**
 * masokit's float64 outputs z, templates A[x] (back in PyTorch's layout) and A·x + B of export
 * `name` against PyTorch's z and Jacobians, each relative to the largest reference entry; measured
 * once per export (the outputs and the templates tests share it).
 */
function agreement(name: string) {
  let found = agreements.get(name);
  if (!found) agreements.set(name, found = measure(name));
  return found;
}
const agreements = new Map<string, ReturnType<typeof measure>>();

async function measure(name: string) {
  const { net, ref, x, N } = await load(name);
  const C = net.outputSize, D = net.inputSize;
  const { A, B } = affineMap(net, x);
  const zAB = new Float64Array(N * C);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      let s = B.data[n * C + c];
      for (let d = 0; d < D; d++) s += A.data[(n * C + c) * D + d] * x.data[n * D + d];
      zAB[n * C + c] = s;
    }
  }
  const templates = ref.shape.length === 4
    ? channelsFirst({ data: A.data, shape: [N * C, ...net.inputShape] }).data
    : A.data;
  const rel = (got: ArrayLike<number>, want: number[]) =>
    maxRelativeError(got, want, largestMagnitude(want));
  return {
    net,
    ref,
    what: `${name}, PyTorch's ${ref.model}`,
    outputs: rel(forward(net, x).data, ref.z),
    templates: rel(templates, ref.jacobian),
    affine: rel(zAB, ref.z),
  };
}

/** Prints the largest errors a test saw (its measured figures; the assertions hold the bounds). */
function report(what: string, worst: Record<string, number>): void {
  console.log(
    `${what}: ${Object.entries(worst).map(([k, v]) => `${k} ≤ ${v.toExponential(1)}`).join(", ")}`,
  );
}

Deno.test({
  name:
    "fromOnnx() converts PyTorch's exports exactly: outputs equal PyTorch's float64 forward pass",
  ignore,
  async fn(t) {
    let worst = 0;
    for (const name of MODELS) {
      await t.step(name, async () => {
        const { net, ref, outputs } = await agreement(name);
        assert(outputs <= 1e-13, `${name}: outputs differ from PyTorch ${ref.torch} by ${outputs}`);
        worst = Math.max(worst, outputs);
        const spatial = ref.shape.length === 4;
        assertEquals(
          net.inputShape,
          spatial ? [ref.shape[2], ref.shape[3], ref.shape[1]] : ref.shape.slice(1),
        );
      });
    }
    report(`the ${MODELS.length} PyTorch models' outputs against PyTorch's`, { relative: worst });
  },
});

Deno.test({
  name: "fromOnnx() networks' templates A[x] are PyTorch's input Jacobians (autograd, float64)",
  ignore,
  async fn(t) {
    const worst = { templates: 0, "A·x + B": 0 };
    for (const name of MODELS) {
      await t.step(name, async () => {
        const { templates, affine } = await agreement(name);
        assert(
          templates <= 1e-12,
          `${name}: templates differ from PyTorch's Jacobian by ${templates}`,
        );
        assert(affine <= 1e-12, `${name}: A·x + B differs from PyTorch by ${affine}`);
        worst.templates = Math.max(worst.templates, templates);
        worst["A·x + B"] = Math.max(worst["A·x + B"], affine);
      });
    }
    report(`the ${MODELS.length} PyTorch models against PyTorch's Jacobians and outputs`, worst);
  },
});

Deno.test({
  name:
    "fromOnnx() of 40 random PyTorch networks (sizes, strides, paddings, pools, residuals) equals PyTorch",
  ignore,
  async fn() {
    const dir = await exports();
    const names: string[] = JSON.parse(await Deno.readTextFile(`${dir}/fuzz.json`));
    assertStrictEquals(names.length, 40);
    const worst = { outputs: 0, templates: 0 };
    for (const name of names) {
      const { what, outputs, templates } = await agreement(name);
      assert(outputs <= 1e-12, `${what}\noutputs differ by ${outputs}`);
      assert(templates <= 1e-11, `${what}\ntemplates differ by ${templates}`);
      worst.outputs = Math.max(worst.outputs, outputs);
      worst.templates = Math.max(worst.templates, templates);
    }
    report(`40 random PyTorch networks (seed ${FUZZ_SEED}) against PyTorch`, worst);
  },
});

Deno.test({
  name:
    "fromOnnx() networks on the float32 engines: tfjs and WebGPU agree with the float64 reference",
  ignore,
  async fn(t) {
    const dir = await exports();
    const names: string[] = [...MODELS, ...JSON.parse(await Deno.readTextFile(`${dir}/fuzz.json`))];
    const gpu = await webgpuContext();
    await tf.setBackend("cpu");
    for (const name of names) {
      await t.step(name, async () => {
        const { net, x } = await load(name);
        const exact = affineMap(net, x).A.data;
        const xt = tf.tensor(Float32Array.from(x.data), x.shape as number[]);
        const { A, B } = affineMap(net, xt, { backend: "tfjs" });
        const scale = largestMagnitude(exact);
        // a random network can be dead on these inputs (every template 0): then exactly 0
        const err = maxRelativeError(await A.data(), exact, Math.max(scale, 1e-300));
        tf.dispose([xt, A, B]);
        assert(err <= 1e-4, `${name}: tfjs engine's templates differ by ${err}`);
        if (gpu !== null && scale > 0) {
          await assertAffineAgrees(net, { data: x.data, shape: [...x.shape] }, `${name} on WebGPU`);
        } else if (gpu !== null) {
          const g = await affineMapAsync(net, x, { backend: "webgpu" });
          assert(g.A.data.every((v) => v === 0), `${name}: WebGPU's templates of a dead network`);
        }
      });
    }
  },
});

Deno.test({
  name:
    "fromOnnx() reads the layers PyTorch writes: batch-norm nodes, residual sums, pools, shape arithmetic",
  ignore,
  async fn(t) {
    const kinds = async (name: string) => (await load(name)).net.layers.map((l) => l.kind);
    await t.step(
      "mlp: Linear → Gemm or MatMul, BatchNorm1d → channel-affine, Dropout dropped",
      async () => {
        assertEquals(await kinds("mlp"), [
          "dense",
          "relu",
          "dense",
          "leaky-relu",
          "channel-affine",
          "dense",
        ]);
      },
    );
    await t.step(
      "cnn: normalisation as channel-affines, PReLU as leaky, padded mean, flatten reordered",
      async () => {
        const { net } = await load("cnn");
        assertEquals(net.layers.map((l) => l.kind), [
          "channel-affine",
          "channel-affine",
          "conv2d",
          "channel-affine",
          "relu",
          "max-pool",
          "conv2d",
          "leaky-relu",
          "zero-pad", // AvgPool2d(padding=1) counts the padding in each mean (PyTorch's default)
          "avg-pool",
          "flatten",
          "dense", // the final LogSoftmax is the paper's g: dropped
        ]);
        const leaky = net.layers[7];
        assert(
          leaky.kind === "leaky-relu" && Math.abs(leaky.alpha - 0.2) < 1e-7,
          `${JSON.stringify(leaky)}`,
        );
      },
    );
    await t.step(
      "resnet: two residual blocks, the second with a strided 1×1 shortcut",
      async () => {
        const { net } = await load("resnet");
        const blocks = net.layers.filter((l) => l.kind === "residual");
        assertStrictEquals(blocks.length, 2);
        const paths = blocks.map((b) => b.kind === "residual" ? b.paths.map((p) => p.length) : []);
        // identity shortcut [] in the first; conv + batch-norm in the second
        assert(paths[0].includes(0) && !paths[1].includes(0), JSON.stringify(paths));
        assertStrictEquals(net.codeLayers.length, 5);
      },
    );
    await t.step("partition codes of a converted network: one layer per ReLU / pool", async () => {
      const { net, x, N } = await load("pools");
      const codes = partitionCodes(net, x);
      assertEquals(codes.map((c) => c.kind), ["relu", "max-pool", "max-pool", "relu", "max-pool"]);
      assert(codes.every((c) => c.count === N));
      assertEquals(codes.map((c) => c.units), net.codeLayers.map((l) => l.units));
    });
  },
});

Deno.test({
  name: "fromOnnx() with batch-norm folded by the exporter agrees to float32 rounding",
  ignore,
  async fn() {
    const { net, ref, x } = await load("resnet_folded", "resnet");
    assert(
      !net.layers.some((l) => l.kind === "channel-affine"),
      "batch-norm was folded into convs",
    );
    const err = maxRelativeError(forward(net, x).data, ref.z, largestMagnitude(ref.z));
    assert(err <= 1e-5, `folded resnet differs by ${err}`);
    report("the ResNet with batch-norm folded by the exporter, outputs", { relative: err });
  },
});

Deno.test({
  name: "fromOnnx() refuses what it cannot convert, naming the node and the reason",
  ignore,
  async fn(t) {
    const dir = await exports();
    const read = (name: string) => Deno.readFile(`${dir}/${name}.onnx`);
    const cases: [string, RegExp][] = [
      ["bad_grouped", /node '\/0\/Conv' \(Conv\): group 4 is not supported/],
      ["bad_dilated", /node '\/0\/Conv' \(Conv\): dilations \[2,2\] are not supported/],
      ["bad_relu6", /node '\/1\/Clip' \(Clip\): clipping to \[0, 6\] is not a max-affine spline/],
      ["bad_flat_end", /channels-first feature map flattened to a vector \(12 values\)/],
      ["bad_nan_weight", /node '\/2\/Gemm' \(Gemm\): its weight '2\.weight' holds NaN at index 6/],
      ["dynamic", /input 'x' is shaped \[batch,1,h,w\].*pass options\.inputShape/],
      [
        "bad_ceil_then_adaptive",
        /\(MaxPool\): its 4 × 5 window is larger than its padded 4 × 4 input; pool '\/0\/MaxPool' \(ceil_mode\) dropped a last window/,
      ],
    ];
    for (const [name, message] of cases) {
      await t.step(name, async () => {
        const bytes = await read(name);
        assertThrows(
          () => fromOnnx(bytes),
          (e: Error) => e instanceof SplineError && message.test(e.message),
        );
      });
    }
    await t.step("a symbolic height and width are given by inputShape", async () => {
      const bytes = await read("dynamic");
      const net = fromOnnx(bytes, { inputShape: [1, 9, 9] });
      assertEquals(net.inputShape, [9, 9, 1]);
      assertEquals(net.outputShape, [3]);
      assertThrows(
        () => fromOnnx(bytes, { inputShape: [9, 9] }),
        /inputShape is \[9,9\], expected \[C, H, W\] or \[F\]/,
      );
    });
    await t.step("truncated and foreign bytes", async () => {
      const bytes = await read("resnet");
      for (const cut of [3, 500, bytes.length - 1]) {
        assertThrows(
          () => fromOnnx(bytes.subarray(0, cut)),
          (e: Error) => /Cannot read the ONNX model: .* at byte \d+ of \d+/.test(e.message),
        );
      }
      assertThrows(
        () => fromOnnx(new TextEncoder().encode("not a model")),
        /Cannot read the ONNX model/,
      );
      assertThrows(() => fromOnnx(new Uint8Array(0)), /hold no graph/);
      assertThrows(
        () => fromOnnx("model.onnx" as unknown as Uint8Array),
        /expected the file's bytes as a Uint8Array \(Deno\.readFile\) or an ArrayBuffer/,
      );
      // an ArrayBuffer (what fetch gives) is read like its bytes
      assertEquals(fromOnnx(bytes.slice().buffer).layers.length, fromOnnx(bytes).layers.length);
    });
  },
});

Deno.test("fromOnnx() refuses bytes that hold no graph (without PyTorch too)", () => {
  assertThrows(
    () => fromOnnx(new Uint8Array([0x08, 0x07])), // an ir_version and nothing else
    (e: Error) => e instanceof SplineError && /its 2 bytes hold no graph/.test(e.message),
  );
});

// ---- graphs PyTorch does not write, against a plain NCHW evaluation written here ----

/** A plain NCHW tensor of the reference evaluation. */
interface Nchw {
  dims: number[];
  v: Float64Array;
}

function conv(x: Nchw, w: Nchw, b: ArrayLike<number>, s: number[], p: number[]): Nchw {
  // p: ONNX pads [top, left, bottom, right]
  const [N, C, H, W] = x.dims, [O, , kh, kw] = w.dims;
  const OH = Math.floor((H + p[0] + p[2] - kh) / s[0]) + 1;
  const OW = Math.floor((W + p[1] + p[3] - kw) / s[1]) + 1;
  const v = new Float64Array(N * O * OH * OW);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      for (let i = 0; i < OH; i++) {
        for (let j = 0; j < OW; j++) {
          let sum = b[o];
          for (let c = 0; c < C; c++) {
            for (let y = 0; y < kh; y++) {
              for (let q = 0; q < kw; q++) {
                const r = i * s[0] + y - p[0], col = j * s[1] + q - p[1];
                if (r < 0 || r >= H || col < 0 || col >= W) continue;
                sum += w.v[((o * C + c) * kh + y) * kw + q] * x.v[((n * C + c) * H + r) * W + col];
              }
            }
          }
          v[((n * O + o) * OH + i) * OW + j] = sum;
        }
      }
    }
  }
  return { dims: [N, O, OH, OW], v };
}

function averagePool(x: Nchw, k: number[], s: number[], p: number[]): Nchw {
  // the padding counts in each mean (count_include_pad 1)
  const ones: Nchw = { dims: [x.dims[1], 1, k[0], k[1]], v: new Float64Array(k[0] * k[1]) };
  const [N, C] = x.dims;
  const out: Nchw[] = [];
  for (let c = 0; c < C; c++) {
    const one: Nchw = {
      dims: [N, 1, x.dims[2], x.dims[3]],
      v: new Float64Array(N * x.dims[2] * x.dims[3]),
    };
    const hw = x.dims[2] * x.dims[3];
    for (let n = 0; n < N; n++) {
      one.v.set(x.v.subarray((n * C + c) * hw, (n * C + c + 1) * hw), n * hw);
    }
    ones.v.fill(1 / (k[0] * k[1]));
    out.push(conv(one, { dims: [1, 1, k[0], k[1]], v: ones.v }, [0], s, p));
  }
  const [, , OH, OW] = out[0].dims, v = new Float64Array(N * C * OH * OW);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      v.set(out[c].v.subarray(n * OH * OW, (n + 1) * OH * OW), (n * C + c) * OH * OW);
    }
  }
  return { dims: [N, C, OH, OW], v };
}

/** Per-channel `f(x, c[ch])` of an NCHW (or [N, F]) tensor. */
function perChannel(x: Nchw, c: ArrayLike<number>, f: (a: number, b: number) => number): Nchw {
  const [, C] = x.dims, inner = x.dims.slice(2).reduce((a, b) => a * b, 1);
  return {
    dims: x.dims,
    v: x.v.map((a, i) => f(a, c.length === 1 ? c[0] : c[Math.floor(i / inner) % C])),
  };
}

function gemm(x: Nchw, w: ArrayLike<number>, units: number, transB: boolean): Nchw {
  const [N] = x.dims, F = x.v.length / N, v = new Float64Array(N * units);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < units; o++) {
      let s = 0;
      for (let f = 0; f < F; f++) s += x.v[n * F + f] * w[transB ? o * F + f : f * units + o];
      v[n * units + o] = s;
    }
  }
  return { dims: [N, units], v };
}

/** Deterministic values in [−1, 1), rounded to float32 and to 1/64 (exact in float16 too). */
function values(count: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: count }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return Math.round((s / 2147483648 * 2 - 1) * 64) / 64;
  });
}

Deno.test("fromOnnx() of hand-written graphs equals a plain NCHW evaluation: SAME paddings, counted padding, constants, data types, computed shapes", async (t) => {
  const N = 2, C = 2, H = 7, W = 6;
  const x: Nchw = { dims: [N, C, H, W], v: Float64Array.from(values(N * C * H * W, 1)) };
  const c0 = [0.5, -0.25], m = [1.5, -2];
  const w1 = values(3 * 2 * 2 * 3, 2), b1 = [0.1, -0.2, 0.05].map(Math.fround);
  const w2 = values(2 * 3 * 2 * 2, 3);
  const w3 = values(12 * 4, 4), c3 = [0.5, -1, 0.25, 2];
  const bytes = writeOnnx([
    { op: "Sub", inputs: ["c0", "x"], outputs: ["s"] },
    { op: "Mul", inputs: ["s", "m"], outputs: ["m1"] },
    {
      op: "Conv",
      inputs: ["m1", "w1", "b1"],
      outputs: ["c1"],
      strings: { auto_pad: "SAME_UPPER" },
      ints: { strides: [2, 2] },
    },
    { op: "Relu", inputs: ["c1"], outputs: ["r1"] },
    { op: "Conv", inputs: ["r1", "w2"], outputs: ["c2"], strings: { auto_pad: "SAME_LOWER" } },
    {
      op: "AveragePool",
      inputs: ["c2"],
      outputs: ["a"],
      ints: { kernel_shape: [3, 2], strides: [2, 1], pads: [1, 0, 1, 1], count_include_pad: 1 },
    },
    { op: "Div", inputs: ["a", "four"], outputs: ["d"] },
    { op: "Shape", inputs: ["d"], outputs: ["shape"] },
    { op: "Constant", inputs: [], outputs: ["zero"], ints: { value_ints: [0] } },
    { op: "Gather", inputs: ["shape", "zero"], outputs: ["batch"], ints: { axis: 0 } },
    { op: "Constant", inputs: [], outputs: ["rest"], ints: { value_ints: [-1] } },
    { op: "Concat", inputs: ["batch", "rest"], outputs: ["target"], ints: { axis: -1 } },
    { op: "Reshape", inputs: ["d", "target"], outputs: ["f"] },
    { op: "Gemm", inputs: ["f", "w3", "c3"], outputs: ["z"], floats: { alpha: 0.5, beta: 2 } },
  ], [
    { name: "c0", dims: [1, 2, 1, 1], values: c0 },
    { name: "m", dims: [2, 1, 1], values: m, type: 11 },
    { name: "w1", dims: [3, 2, 2, 3], values: w1 },
    { name: "b1", dims: [3], values: b1 },
    { name: "w2", dims: [2, 3, 2, 2], values: w2, type: 10 },
    { name: "four", dims: [], values: [4], type: 11 },
    { name: "w3", dims: [12, 4], values: w3 },
    { name: "c3", dims: [1, 4], values: c3, type: 10 },
  ], ["N", C, H, W]);
  const net = fromOnnx(bytes);

  // the same computation, written out in NCHW
  let r = perChannel(x, c0, (a, c) => c - a);
  r = perChannel(r, m, (a, c) => a * c);
  r = conv(r, { dims: [3, 2, 2, 3], v: Float64Array.from(w1) }, b1, [2, 2], [0, 0, 1, 1]); // 7 × 6 → 4 × 3
  r = { dims: r.dims, v: r.v.map((a) => Math.max(a, 0)) };
  r = conv(r, { dims: [2, 3, 2, 2], v: Float64Array.from(w2) }, [0, 0], [1, 1], [1, 1, 0, 0]);
  r = averagePool(r, [3, 2], [2, 1], [1, 0, 1, 1]);
  r = perChannel(r, [4], (a, c) => a / c);
  assertEquals(r.dims, [N, 2, 2, 3]);
  const z = gemm(r, w3, 4, false);
  const expected = z.v.map((a, i) => 0.5 * a + 2 * c3[i % 4]);

  await t.step("the layers", () => {
    assertEquals(net.layers.map((l) => l.kind), [
      "channel-affine",
      "channel-affine",
      "conv2d",
      "relu",
      "conv2d",
      "zero-pad",
      "avg-pool",
      "channel-affine",
      "flatten",
      "dense",
    ]);
  });
  await t.step("the outputs", () => {
    const got = forward(net, { data: nhwc(x.v, x.dims), shape: [N, ...net.inputShape] }).data;
    const err = maxRelativeError(got, expected, largestMagnitude(expected));
    assert(err <= 1e-13, `differs from the NCHW evaluation by ${err}`);
  });

  await t.step(
    "a vector path: MatMul, Add of a bias, LeakyRelu, Abs, Sub, Gemm with transB",
    () => {
      const F = 5, U = 6;
      const xv: Nchw = { dims: [3, F], v: Float64Array.from(values(3 * F, 5)) };
      const wa = values(F * U, 6), ba = values(U, 7), sub = values(U, 8), wb = values(3 * U, 9);
      const model = writeOnnx([
        { op: "MatMul", inputs: ["x", "wa"], outputs: ["h"] },
        { op: "Add", inputs: ["ba", "h"], outputs: ["h1"] },
        { op: "LeakyRelu", inputs: ["h1"], outputs: ["h2"], floats: { alpha: 0.25 } },
        { op: "Sub", inputs: ["h2", "sub"], outputs: ["h3"] },
        { op: "Abs", inputs: ["h3"], outputs: ["h4"] },
        { op: "Gemm", inputs: ["h4", "wb"], outputs: ["z"], ints: { transB: 1 } },
      ], [
        { name: "wa", dims: [F, U], values: wa },
        { name: "ba", dims: [U], values: ba },
        { name: "sub", dims: [1, U], values: sub },
        { name: "wb", dims: [3, U], values: wb },
      ], ["batch", F]);
      const mlp = fromOnnx(model);
      let h = gemm(xv, wa, U, false);
      h = perChannel(h, ba, (a, c) => a + c);
      h = { dims: h.dims, v: h.v.map((a) => (a > 0 ? a : 0.25 * a)) };
      h = perChannel(h, sub, (a, c) => Math.abs(a - c));
      const want = gemm(h, wb, 3, true).v;
      const got = forward(mlp, { data: xv.v, shape: [3, F] }).data;
      const err = maxRelativeError(got, want, largestMagnitude(want));
      assert(err <= 1e-13, `differs by ${err}`);
      assertEquals(mlp.codeLayers.map((l) => l.kind), ["leaky-relu", "abs"]);
    },
  );

  await t.step(
    "a flat input reshaped to one-channel images first (x.view(-1, 1, 4, 4), x.unsqueeze(1))",
    () => {
      const w = values(2 * 9, 11), wd = values(2 * 2 * 2 * 3, 12);
      const xs: Nchw = { dims: [3, 1, 4, 4], v: Float64Array.from(values(48, 13)) };
      const none = [0, 0, 0, 0];
      let r = conv(xs, { dims: [2, 1, 3, 3], v: Float64Array.from(w) }, [0, 0], [1, 1], none);
      r = { dims: r.dims, v: r.v.map((a) => Math.max(a, 0)) };
      const want = gemm(r, wd, 3, false).v; // [3, 2·2·2] channels-first · [8, 3]
      const layers = [
        { op: "Conv", inputs: ["img", "w"], outputs: ["c"] },
        { op: "Relu", inputs: ["c"], outputs: ["r"] },
        { op: "Flatten", inputs: ["r"], outputs: ["f"] },
        { op: "Gemm", inputs: ["f", "wd"], outputs: ["z"] },
      ];
      const weights = [{ name: "w", dims: [2, 1, 3, 3], values: w }, {
        name: "wd",
        dims: [8, 3],
        values: wd,
      }];
      const firsts: [NodeSpec, (number | string)[]][] = [
        [{ op: "Reshape", inputs: ["x", "s"], outputs: ["img"] }, ["N", 16]],
        [{ op: "Unsqueeze", inputs: ["x"], outputs: ["img"], ints: { axes: [1] } }, ["N", 4, 4]],
      ];
      for (const [first, dims] of firsts) {
        const model = writeOnnx([first, ...layers], [
          ...weights,
          { name: "s", dims: [4], values: [-1, 1, 4, 4], type: 7 },
        ], dims);
        const v = fromOnnx(model);
        assertEquals(v.inputShape, [4, 4, 1]);
        const got = forward(v, { data: xs.v, shape: [3, 4, 4, 1] }).data;
        const err = maxRelativeError(got, want, largestMagnitude(want));
        assert(err <= 1e-13, `${first.op}: differs by ${err}`);
      }
      // two channels are not the same values in either layout: refused
      const two = writeOnnx([{ op: "Reshape", inputs: ["x", "s"], outputs: ["z"], name: "view" }], [
        { name: "s", dims: [4], values: [-1, 2, 4, 4], type: 7 },
      ], ["N", 32]);
      assertThrows(
        () => fromOnnx(two),
        /node 'view' \(Reshape\): it reshapes \[32\] to \[2,4,4\] per example/,
      );
    },
  );

  await t.step("a global pool squeezed to a vector, clamp(min=0) as a ReLU", () => {
    const w = values(2 * 3, 10);
    const model = writeOnnx([
      { op: "GlobalAveragePool", inputs: ["x"], outputs: ["g"] },
      { op: "Squeeze", inputs: ["g", "axes"], outputs: ["v"] },
      { op: "Sub", inputs: ["v", "half"], outputs: ["u"] },
      { op: "Clip", inputs: ["u", "zero", ""], outputs: ["r"] },
      { op: "Gemm", inputs: ["r", "w"], outputs: ["z"] },
    ], [
      { name: "axes", dims: [2], values: [-2, 3], type: 7 },
      { name: "half", dims: [], values: [0.5] },
      { name: "zero", dims: [], values: [0] },
      { name: "w", dims: [2, 3], values: w },
    ], ["N", C, H, W]);
    const g = fromOnnx(model);
    assertEquals(g.layers.map((l) => l.kind), [
      "avg-pool",
      "flatten",
      "channel-affine",
      "relu",
      "dense",
    ]);
    const mean = Array.from({ length: N * C }, (_, k) => {
      let sum = 0;
      for (let p = 0; p < H * W; p++) sum += x.v[k * H * W + p];
      return Math.max(sum / (H * W) - 0.5, 0);
    });
    const want = gemm({ dims: [N, C], v: Float64Array.from(mean) }, w, 3, false).v;
    const got = forward(g, { data: nhwc(x.v, x.dims), shape: [N, ...g.inputShape] }).data;
    const err = maxRelativeError(got, want, largestMagnitude(want));
    assert(err <= 1e-13, `differs by ${err}`);
  });
});

Deno.test("fromOnnx() refuses hand-written graphs it cannot convert, naming the node", async (t) => {
  const x = ["N", 2, 4, 4];
  const cases: [string, Uint8Array, RegExp][] = [
    [
      "a constant divided by the data",
      writeOnnx([{ op: "Div", inputs: ["one", "x"], outputs: ["z"], name: "inv" }], [
        { name: "one", dims: [], values: [1] },
      ], x),
      /node 'inv' \(Div\): it divides a constant by the data, which is not affine/,
    ],
    [
      "a used max-pool indices output",
      writeOnnx(
        [
          {
            op: "MaxPool",
            inputs: ["x"],
            outputs: ["p", "idx"],
            name: "pool",
            ints: { kernel_shape: [2, 2] },
          },
          { op: "Add", inputs: ["p", "idx"], outputs: ["z"] },
        ],
        [],
        x,
      ),
      /node 'pool' \(MaxPool\): its output 'idx' is used, expected only its first output 'p'/,
    ],
    [
      "a partial last window of a ceil-mode average pool",
      writeOnnx(
        [{
          op: "AveragePool",
          inputs: ["x"],
          outputs: ["z"],
          name: "avg",
          ints: { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 },
        }],
        [],
        x,
      ),
      /node 'avg' \(AveragePool\): ceil_mode 1 adds a partial window/,
    ],
    [
      "a reshape to a matrix per example",
      writeOnnx([{ op: "Reshape", inputs: ["x", "s"], outputs: ["z"], name: "view" }], [
        { name: "s", dims: [3], values: [0, 2, -1], type: 7 },
      ], x),
      /node 'view' \(Reshape\): it reshapes \[2,4,4\] to \[2,16\] per example/,
    ],
    [
      "an operator of another domain",
      writeOnnx(
        [{ op: "Gelu", inputs: ["x"], outputs: ["z"], name: "g", domain: "com.microsoft" }],
        [],
        x,
      ),
      /node 'g' \(Gelu\): operators of domain 'com\.microsoft' are not supported/,
    ],
    [
      "a per-channel constant broadcast along the width",
      writeOnnx([{ op: "Add", inputs: ["x", "c"], outputs: ["z"], name: "shift" }], [
        { name: "c", dims: [2], values: [1, 2] },
      ], x),
      /node 'shift' \(Add\): its constant 'c' is shaped \[2\], expected one value, or one per channel \(2\)/,
    ],
    [
      "a mean over the channels",
      writeOnnx(
        [{ op: "ReduceMean", inputs: ["x"], outputs: ["z"], name: "mean", ints: { axes: [1] } }],
        [],
        x,
      ),
      /node 'mean' \(ReduceMean\): axes \[1\] are not supported \(the height and width: \[2, 3\]\)/,
    ],
    [
      "two inputs",
      writeOnnx([{ op: "Add", inputs: ["x", "y"], outputs: ["z"] }], [], x, ["y"]),
      /it has 2 inputs and 1 outputs, expected 1 and 1/,
    ],
    [
      "an operator that is not a spline (Sigmoid), with shape arithmetic beside it",
      writeOnnx(
        [
          { op: "Relu", inputs: ["x"], outputs: ["a"] },
          { op: "Shape", inputs: ["a"], outputs: ["s"] },
          { op: "Cast", inputs: ["s"], outputs: ["sf"], ints: { to: 1 } },
          { op: "Sigmoid", inputs: ["a"], outputs: ["z"], name: "sig" },
        ],
        [],
        x,
      ),
      /node 'sig' \(Sigmoid\): not a max-affine spline operator masokit supports/,
    ],
    [
      "a boolean initializer",
      writeOnnx([{ op: "Relu", inputs: ["x"], outputs: ["z"] }], [
        { name: "flag", dims: [1], values: [1], type: 9 },
      ], x),
      /tensor 'flag' has data type 9 \(bool\), expected float, double, float16, int32 or int64/,
    ],
  ];
  for (const [what, bytes, message] of cases) {
    await t.step(what, () => {
      assertThrows(
        () => fromOnnx(bytes),
        (e: Error) => e instanceof SplineError && message.test(e.message),
      );
    });
  }
});
