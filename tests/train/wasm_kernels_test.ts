import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { registerWasmTrainingKernels } from "../../lib/train/wasm_kernels.ts";
import { wasmFilterGradKernel } from "../../lib/train/_wasm_filter_grad.ts";
import { wasmBatchNormSimd } from "../../lib/train/_wasm_batch_norm_simd.ts";
import { fusedBatchNormLayer } from "../../lib/train/_batch_norm_layer.ts";
import { wasmGatherRows } from "../../lib/train/_wasm_gather.ts";
import { wasmSliceRuns } from "../../lib/train/_wasm_slice.ts";
import { wasmReluGrad } from "../../lib/train/_wasm_relu_grad.ts";
import { wasmFilterFlip } from "../../lib/train/_wasm_filter_flip.ts";
import {
  wasmWinograd,
  winogradRuns,
  withWinogradConvs,
} from "../../lib/backend/tfjs/_wasm_winograd.ts";
import { assert, assertAllClose, assertEquals, assertThrows } from "../_assert.ts";
import { adamRun, on } from "./_backends.ts";
import { runChildScript } from "../_threads.ts";
import { fromLayersModel } from "../../lib/network/from_layers_model.ts";
import { affineMap } from "../../lib/affine/affine_map.ts";
import { train } from "../../lib/train/train.ts";

/** Deterministic pseudo-random values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Tolerance relative to the largest |expected| entry (float32 sums of ~10³ products). */
function assertClose(actual: Float32Array, expected: Float32Array, tol: number, what: string) {
  let scale = 0;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  assertAllClose(actual, expected, tol, what, Math.max(scale, 1e-30));
}

/** `run` on wasm, with batch-norm's SIMD passes and with its JS loops, against tfjs-cpu. */
async function sameWithAndWithoutSimd(run: () => tf.Tensor[], tol: number, what: string) {
  const cpu = await on("cpu", run);
  for (const simd of [true, false]) {
    wasmBatchNormSimd.enabled = simd;
    try {
      const wasm = await on("wasm", run);
      for (let i = 0; i < cpu.length; i++) {
        assertClose(wasm[i], cpu[i], tol, `${what}: output ${i}, simd ${simd}`);
      }
    } finally {
      wasmBatchNormSimd.enabled = true;
    }
  }
}

await tf.ready();
registerWasmTrainingKernels();

Deno.test("registerWasmTrainingKernels() is idempotent and can restore the built-in kernels", () => {
  const again = registerWasmTrainingKernels();
  assertEquals(again, { added: [], replaced: [], gradients: [], alreadyRegistered: true });
  assert(tf.getKernel("Conv2DBackpropFilter", "wasm") !== undefined);
  const builtIn = registerWasmTrainingKernels({ replaceSlowKernels: false });
  assertEquals(builtIn.replaced, []);
  const restored = registerWasmTrainingKernels();
  assertEquals(restored.replaced.sort(), [
    "BatchMatMul",
    "Cast",
    "Conv2D",
    "Conv2DBackpropInput",
    "FusedBatchNorm",
    "FusedConv2D",
    "GatherV2",
    "Identity",
    "MaxPoolGrad",
    "Mean",
    "Slice",
    "Sum",
    "Tile",
    "_FusedMatMul",
  ]);
  const unfused = registerWasmTrainingKernels({ fuseBatchNorm: false });
  assertEquals(unfused.gradients.sort(), [
    "BatchNormalization",
    "FusedBatchNorm",
    "Mean",
    "Relu",
    "Sum",
  ]);
  assertEquals(registerWasmTrainingKernels().gradients.sort(), [
    "BatchNormalization",
    "FusedBatchNorm",
    "Mean",
    "Relu",
    "Sum",
  ]);
  assertThrows(
    () => registerWasmTrainingKernels({ replaceSlowKernels: "yes" as unknown as boolean }),
    TypeError,
  );
  assertThrows(
    () => registerWasmTrainingKernels({ fuseBatchNorm: 1 as unknown as boolean }),
    TypeError,
  );
  assertThrows(
    () => registerWasmTrainingKernels({ fuseAdam: "no" as unknown as boolean }),
    /fuseAdam is "no", expected a boolean/,
  );
  assertEquals(registerWasmTrainingKernels({ fuseAdam: false }).added, []);
  assertEquals(tf.getKernel("MasokitAdamUpdate", "wasm"), undefined);
  assertEquals(registerWasmTrainingKernels().added, ["MasokitAdamUpdate"]);
});

Deno.test("Adam's fused update on wasm equals tfjs's Adam on wasm bit for bit", async () => {
  try {
    registerWasmTrainingKernels({ fuseAdam: false });
    const stock = await adamRun("wasm", 5, "stock");
    registerWasmTrainingKernels();
    const fused = await adamRun("wasm", 5, "fused");
    assert(fused.ran.has("MasokitAdamUpdate") && !fused.ran.has("Sqrt"), [...fused.ran].join());
    assert(!stock.ran.has("MasokitAdamUpdate") && stock.ran.has("Sqrt"), [...stock.ran].join());
    assertEquals(fused.names, stock.names);
    // weights, iterations, first and second moments
    assertEquals(fused.values.map((v) => Array.from(v)), stock.values.map((v) => Array.from(v)));
  } finally {
    registerWasmTrainingKernels();
  }
});

const convConfigs: {
  x: [number, number, number, number];
  k: number;
  kw?: number; // the kernel's width where it is not k (the input gradient's flip of both axes)
  co: number;
  s: number;
  pad: "valid" | "same";
}[] = [
  { x: [2, 7, 9, 3], k: 3, co: 4, s: 1, pad: "valid" },
  { x: [2, 7, 9, 5], k: 3, kw: 2, co: 8, s: 1, pad: "same" },
  { x: [2, 8, 7, 4], k: 2, kw: 3, co: 12, s: 2, pad: "valid" },
  { x: [2, 7, 9, 3], k: 3, co: 4, s: 1, pad: "same" },
  { x: [3, 9, 7, 5], k: 3, co: 2, s: 2, pad: "valid" },
  { x: [3, 9, 7, 5], k: 3, co: 2, s: 2, pad: "same" },
  { x: [2, 11, 10, 4], k: 5, co: 3, s: 1, pad: "same" },
  { x: [2, 11, 10, 4], k: 5, co: 3, s: 2, pad: "valid" },
  { x: [3, 5, 6, 7], k: 1, co: 6, s: 1, pad: "valid" },
  { x: [2, 5, 7, 3], k: 1, co: 2, s: 2, pad: "same" },
  { x: [2, 8, 8, 32], k: 3, co: 8, s: 1, pad: "valid" }, // dW as a convolution (kh·kw·c ≥ 256)
  { x: [2, 9, 8, 32], k: 3, co: 8, s: 1, pad: "same" },
  // the direct SIMD filter gradient: a row of 9 taps (a remainder of 1 in blocks of 2), 5 output
  // quads (one block of 4 and a remainder), stride 2, padding on both sides, 1×1
  { x: [2, 7, 9, 3], k: 3, co: 20, s: 1, pad: "same" },
  { x: [3, 9, 7, 5], k: 3, co: 12, s: 2, pad: "valid" },
  { x: [2, 10, 9, 2], k: 5, co: 8, s: 2, pad: "same" },
  { x: [3, 5, 6, 7], k: 1, co: 16, s: 1, pad: "valid" },
];

/** The filter gradient's paths: as chosen, XNNPACK only, the direct kernel wherever co % 4 = 0. */
const filterPaths = [
  { name: "default", enabled: true, maxTaps: wasmFilterGradKernel.maxTaps },
  { name: "XNNPACK", enabled: false, maxTaps: wasmFilterGradKernel.maxTaps },
  { name: "direct", enabled: true, maxTaps: Infinity },
];

Deno.test("conv2d gradients on wasm equal the cpu backend's", async (t) => {
  for (const cfg of convConfigs) {
    const name = `x ${cfg.x.join("×")}, kernel ${cfg.k}×${
      cfg.kw ?? cfg.k
    }, ${cfg.co} filters, stride ${cfg.s}, ${cfg.pad}`;
    await t.step(name, async () => {
      const wShape = [cfg.k, cfg.kw ?? cfg.k, cfg.x[3], cfg.co] as [number, number, number, number];
      const xv = values(size(cfg.x), 7 + cfg.k), wv = values(size(wShape), 11 + cfg.s);
      const run = () => {
        const x = tf.tensor4d(xv, cfg.x), w = tf.tensor4d(wv, wShape);
        const weights = tf.tensor(values(size(cfg.x.slice(0, 3)) * cfg.co, 3)); // a non-uniform loss
        const loss = (...[a, b]: tf.Tensor[]) => {
          const y = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, cfg.s, cfg.pad);
          return tf.sum(tf.mul(y, weights.slice(0, y.size).reshape(y.shape)));
        };
        const [dx, dw] = tf.grads(loss)([x, w]);
        return [dx, dw];
      };
      const [cpuDx, cpuDw] = await on("cpu", run);
      const saved = { ...wasmFilterGradKernel };
      try {
        for (const path of filterPaths) {
          Object.assign(wasmFilterGradKernel, path);
          const [wasmDx, wasmDw] = await on("wasm", run);
          assertClose(wasmDw, cpuDw, 1e-5, `filter gradient (${path.name})`);
          assertClose(wasmDx, cpuDx, 1e-5, "input gradient");
        }
        // the input gradient's filter by tfjs-wasm's Reverse and Transpose (the fallback)
        wasmFilterFlip.enabled = false;
        const [reversedDx] = await on("wasm", run);
        assertClose(reversedDx, cpuDx, 1e-5, "input gradient, filter by Reverse");
      } finally {
        Object.assign(wasmFilterGradKernel, saved);
        wasmFilterFlip.enabled = true;
      }
    });
  }
});

Deno.test("3×3 convs of 16+ channels by Winograd on wasm equal the cpu backend's, gradients too", async (t) => {
  const cases: { x: [number, number, number, number]; co: number; pad: "valid" | "same" }[] = [
    { x: [2, 9, 8, 16], co: 20, pad: "same" }, // partial tiles; dx by Winograd too (20 → 16)
    { x: [3, 10, 10, 32], co: 16, pad: "valid" },
    { x: [9, 18, 18, 16], co: 24, pad: "valid" }, // 144 tiles: dW's products reload their sums
  ];
  for (const c of cases) {
    await t.step(`x ${c.x.join("×")}, ${c.co} filters, ${c.pad}`, async () => {
      const wShape: [number, number, number, number] = [3, 3, c.x[3], c.co];
      const xv = values(size(c.x), 5), wv = values(size(wShape), 9), bv = values(c.co, 13);
      const run = () => {
        const x = tf.tensor4d(xv, c.x), w = tf.tensor4d(wv, wShape), b = tf.tensor1d(bv);
        const plain = tf.conv2d(x, w, 1, c.pad);
        const loss = (...[a, k, bias]: tf.Tensor[]) => {
          const y = tf.fused.conv2d({
            x: a as tf.Tensor4D,
            filter: k as tf.Tensor4D,
            strides: 1,
            pad: c.pad,
            bias,
            activation: "relu",
          });
          return tf.sum(tf.mul(y, tf.sin(tf.range(0, y.size).reshape(y.shape))));
        };
        return [plain, ...tf.grads(loss)([x, w, b])];
      };
      const cpu = await on("cpu", run);
      // convs this small stay on XNNPACK by default (the filters' transform would cost more)
      let before = winogradRuns.count;
      const direct = await on("wasm", run);
      assertEquals(winogradRuns.count - before, 0);
      const { minFilterMacs, chunkBytes } = wasmWinograd;
      wasmWinograd.minFilterMacs = 0;
      try {
        // outside withWinogradConvs (train's steps) the kernels keep XNNPACK's exact ties
        before = winogradRuns.count;
        await on("wasm", run);
        assertEquals(winogradRuns.count - before, 0, "outside withWinogradConvs");
        const winograd = () => withWinogradConvs(run);
        before = winogradRuns.count;
        const wasm = await on("wasm", winograd);
        assertEquals(winogradRuns.count - before, 4); // the conv, the fused conv, its dx and dW
        ["conv", "dx", "dW", "db"].forEach((what, i) => {
          assertClose(wasm[i], cpu[i], 1e-5, what);
          assertClose(direct[i], cpu[i], 1e-5, `${what} on XNNPACK`);
        });
        // chunks of 5 tiles: dW summed over chunks that end inside rows
        wasmWinograd.chunkBytes = 36 * (c.x[3] + c.co) * 4 * 5;
        const chunked = await on("wasm", winograd);
        assertClose(chunked[2], cpu[2], 1e-5, "dW in chunks");
        wasmWinograd.chunkBytes = chunkBytes;
        // dW's products without the multiply-add, and on XNNPACK (the convs too); the filters'
        // transforms (and dW's last step) for each tile
        const tiles = [{ tile: 2 as const }, { tile: 4 as const }, { tile: 6 as const }];
        const settingsList = [{ fma: false }, { fused: false }, { filterKernel: false }, ...tiles];
        for (const settings of settingsList) {
          Object.assign(wasmWinograd, settings);
          before = winogradRuns.count;
          const other = await on("wasm", winograd);
          assertEquals(winogradRuns.count - before, 4, JSON.stringify(settings));
          Object.assign(wasmWinograd, { fma: true, fused: true, filterKernel: true, tile: "auto" });
          ["conv", "dx", "dW"].forEach((what, i) =>
            assertClose(other[i], cpu[i], 1e-5, `${what}, ${JSON.stringify(settings)}`)
          );
        }
      } finally {
        Object.assign(wasmWinograd, {
          minFilterMacs,
          chunkBytes,
          fma: true,
          fused: true,
          filterKernel: true,
          tile: "auto",
        });
      }
    });
  }
});

Deno.test("tf.grad of a model on the wasm kernels is its template A[x] on images with a constant background", async () => {
  // the reproduce's Sec. 5.2 check: a direct conv gives equal fields (the background) equal
  // outputs, so a max-pool window of them ties and autodiff follows the first-index convention;
  // Winograd's rounding breaks those ties, which train's steps (withWinogradConvs) may ignore
  // but a gradient compared with A[x] may not
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [14, 14, 1], filters: 16, kernelSize: 3, activation: "relu" }),
      tf.layers.conv2d({ filters: 16, kernelSize: 3, activation: "relu" }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 3 }),
    ],
  });
  // weights of both signs, biases that leave the background's ReLUs active
  model.layers.forEach((layer, i) =>
    layer.setWeights(
      layer.getWeights().map((w, j) =>
        tf.tensor(
          Float32Array.from(
            values(w.size, 31 + 2 * i + j),
            (v) => j === 0 ? v * 0.3 : 0.2 + v / 10,
          ),
          w.shape,
        )
      ),
    )
  );
  const N = 4, D = 14 * 14, C = 3;
  const data = new Float64Array(N * D); // strokes of a few lit pixels on a zero background
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < 5; k++) data[n * D + (4 + n + k) * 14 + 3 + 2 * k] = 0.5 + k / 4;
  }
  const net = fromLayersModel(model);
  const ref = affineMap(net, { data, shape: [N, 14, 14, 1] }, { backend: "cpu" }).A.data;
  const grads = (scope: <T>(fn: () => T) => T) =>
    on("wasm", () => {
      const x = tf.tensor4d(Float32Array.from(data), [N, 14, 14, 1]);
      return Array.from({ length: C }, (_, c) =>
        scope(() =>
          tf.grad((input: tf.Tensor) =>
            tf.sum(tf.slice(model.apply(input) as tf.Tensor, [0, c], [N, 1]))
          )(x)
        ));
    });
  // A[x] rows [n, c, :] against the gradients [c][n, :], relative to each template's largest entry
  const worst = (g: Float32Array[]) => {
    let err = 0;
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) {
        const row = ref.subarray((n * C + c) * D, (n * C + c + 1) * D);
        const scale = row.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        for (let d = 0; d < D; d++) {
          err = Math.max(err, Math.abs(g[c][n * D + d] - row[d]) / scale);
        }
      }
    }
    return err;
  };
  const { minFilterMacs } = wasmWinograd;
  wasmWinograd.minFilterMacs = 0; // the second conv qualifies
  try {
    let before = winogradRuns.count;
    const exact = worst(await grads((fn) => fn()));
    assertEquals(winogradRuns.count - before, 0, "outside withWinogradConvs: XNNPACK");
    assert(exact < 1e-5, `tf.grad against A[x]: ${exact}`);
    before = winogradRuns.count;
    const broken = worst(await grads(withWinogradConvs));
    assert(winogradRuns.count > before, "inside withWinogradConvs: Winograd");
    assert(broken > 1e-2, `Winograd's rounding broke the background's ties: ${broken}`);
  } finally {
    wasmWinograd.minFilterMacs = minFilterMacs;
  }
});

Deno.test("train() on wasm runs its steps and evaluations by Winograd, as cpu trains", async () => {
  const model = (seed: number) =>
    tf.sequential({
      layers: [
        tf.layers.conv2d({
          inputShape: [8, 8, 16],
          filters: 16,
          kernelSize: 3,
          activation: "relu",
          kernelInitializer: tf.initializers.glorotUniform({ seed }),
        }),
        tf.layers.flatten(),
        tf.layers.dense({
          units: 3,
          kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
        }),
      ],
    });
  const split = (n: number, seed: number) => ({
    x: tf.tensor4d(values(n * 8 * 8 * 16, seed), [n, 8, 8, 16]),
    y: tf.tensor1d(Int32Array.from({ length: n }, (_, i) => i % 3), "int32"),
  });
  const data = { train: split(12, 41), test: split(6, 43), classes: 3 };
  const options = { epochs: 1, batchSize: 3, learningRate: 0.01, silent: true, seed: 3 };
  const weights = async (backend: string) => {
    const previous = tf.getBackend();
    await tf.setBackend(backend);
    try {
      const m = model(5);
      const { history } = await train(m, data, options);
      return { w: m.getWeights().map((t) => Float32Array.from(t.dataSync())), history };
    } finally {
      await tf.setBackend(previous);
    }
  };
  const cpu = await weights("cpu");
  const { minFilterMacs } = wasmWinograd;
  wasmWinograd.minFilterMacs = 0;
  try {
    const before = winogradRuns.count;
    const wasm = await weights("wasm");
    // 4 steps × (conv, dW; no dx: the batch needs none) + the evaluation's conv
    assertEquals(winogradRuns.count - before, 4 * 2 + 1);
    wasm.w.forEach((w, i) => assertClose(w, cpu.w[i], 1e-5, `weight ${i}`));
    assertAllClose([wasm.history[0].testLoss!], [cpu.history[0].testLoss!], 1e-5, "test loss");
  } finally {
    wasmWinograd.minFilterMacs = minFilterMacs;
  }
});

Deno.test("maxPool, sum, mean and tile on wasm equal the cpu backend's", async (t) => {
  await t.step("max-pool gradient, 2×2 stride 2, odd sizes and ties", async () => {
    const shape = [2, 7, 9, 5] as [number, number, number, number];
    const xv = values(size(shape), 5).map((v) => Math.max(0, Math.round(v * 3) / 3)); // ties
    const run = () => {
      const x = tf.tensor4d(xv, shape);
      const g = tf.grad((a) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, 2, 2, "valid"), 1.5)))(x);
      return [g];
    };
    const [cpu] = await on("cpu", run);
    const [wasm] = await on("wasm", run);
    assertEquals(Array.from(wasm), Array.from(cpu));
  });
  for (
    const [shape, pool] of [
      [[2, 7, 9, 8], 2],
      [[3, 10, 8, 12], 3],
    ] as [[number, number, number, number], number][]
  ) {
    await t.step(
      `max-pool gradient, ${pool}×${pool} disjoint, ${shape[3]} channels (SIMD)`,
      async () => {
        const xv = values(size(shape), 6).map((v) => Math.round(v * 3) / 3); // ties, ± and 0
        const [OH, OW] = [Math.floor(shape[1] / pool), Math.floor(shape[2] / pool)];
        const dv = values(shape[0] * OH * OW * shape[3], 8);
        const run = () => {
          const x = tf.tensor4d(xv, shape), dy = tf.tensor4d(dv, [shape[0], OH, OW, shape[3]]);
          // the output is allocated where a freed tensor of garbage lay: zeros must be written
          tf.fill(shape, 7).dispose();
          const g = tf.grad((a) =>
            tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, pool, pool, "valid"), dy))
          )(x);
          return [g];
        };
        const [cpu] = await on("cpu", run);
        const [wasm] = await on("wasm", run);
        assertEquals(Array.from(wasm), Array.from(cpu));
      },
    );
  }
  await t.step("max-pool gradient, 3×3 stride 2 same (overlapping windows)", async () => {
    const shape = [2, 7, 6, 3] as [number, number, number, number];
    const xv = values(size(shape), 9);
    const run = () => {
      const x = tf.tensor4d(xv, shape);
      const dy = tf.tensor4d(values(2 * 4 * 3 * 3, 4), [2, 4, 3, 3]);
      const g = tf.grad((a) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, 3, 2, "same"), dy)))(x);
      return [g];
    };
    const [cpu] = await on("cpu", run);
    const [wasm] = await on("wasm", run);
    assertClose(wasm, cpu, 1e-6, "max-pool gradient");
  });
  await t.step("matMul with transposed operands (a dense layer's gradients)", async () => {
    const a = values(64 * 37, 21), b = values(37 * 10, 22), c = values(64 * 10, 23);
    const run = () => {
      const x = tf.tensor2d(a, [64, 37]), w = tf.tensor2d(b, [37, 10]);
      const dy = tf.tensor2d(c, [64, 10]), x3 = x.reshape([1, 64, 37]);
      return [
        tf.matMul(dy, w, false, true), // dx
        tf.matMul(x, dy, true, false), // dW
        tf.matMul(w, x, true, true), // both
        tf.matMul(x3, w.reshape([1, 37, 10]).transpose([0, 2, 1]), false, true), // rank 3
        tf.matMul(tf.stack([x, x]), tf.stack([w, w]), false, false), // batch 2: built-in
      ];
    };
    const cpu = await on("cpu", run);
    const wasm = await on("wasm", run);
    cpu.forEach((r, i) => assertClose(wasm[i], r, 1e-5, `product ${i}`));
  });
  await t.step("sum and mean over leading axes, tile of [1, 1, 1, C]", async () => {
    const shape = [3, 5, 4, 6];
    const xv = values(size(shape), 13);
    const run = () => {
      const x = tf.tensor(xv, shape);
      return [
        tf.sum(x, [0, 1, 2]),
        tf.mean(x, [0, 1], true),
        tf.sum(x, [1, 2]), // not leading axes: falls back to the built-in kernel
        tf.tile(tf.tensor4d(values(6, 2), [1, 1, 1, 6]), [3, 5, 4, 1]),
        tf.tile(tf.tensor2d(values(6, 2), [2, 3]), [2, 2]), // general tile: built-in
      ];
    };
    const cpu = await on("cpu", run);
    const wasm = await on("wasm", run);
    for (let i = 0; i < cpu.length; i++) assertClose(wasm[i], cpu[i], 1e-6, `output ${i}`);
  });
  await t.step(
    "sums over leading axes in SIMD blocks (C a multiple of 4, > 256 rows)",
    async () => {
      for (const shape of [[5, 9, 8, 36], [300, 12], [2, 2, 4]]) {
        // an offset so that float32 sums of many rows lose digits if done carelessly
        const xv = values(size(shape), 17).map((v) => 3 + v);
        const run = () => {
          const x = tf.tensor(xv, shape);
          return [tf.sum(x, [0]), tf.mean(x, shape.slice(0, -1).map((_, i) => i))];
        };
        await sameWithAndWithoutSimd(run, 1e-6, `[${shape}]`);
      }
    },
  );
});

Deno.test("a smallCNN-like training step has equal loss and gradients on wasm and cpu", async () => {
  // conv3×3(8)-BN-ReLU → maxpool2 → conv3×3(16)-BN-ReLU → maxpool2 → conv1×1(16)-BN-ReLU →
  // maxpool2 → flatten → dense(10); batch-norm in training mode (batch moments).
  const shapes: Record<string, number[]> = {
    w1: [3, 3, 3, 8],
    g1: [8],
    b1: [8],
    w2: [3, 3, 8, 16],
    g2: [16],
    b2: [16],
    w3: [1, 1, 16, 16],
    g3: [16],
    b3: [16],
    wd: [16, 10],
  };
  const names = Object.keys(shapes);
  const n = 4;
  const xv = values(n * 18 * 18 * 3, 21);
  const labels = [1, 7, 3, 3];
  const run = () => {
    const params = names.map((k, i) => {
      const v = values(size(shapes[k]), 100 + i);
      return tf.tensor(
        k.startsWith("g") ? v.map((a) => 1 + 0.2 * a) : v.map((a) => 0.5 * a),
        shapes[k],
      );
    });
    const x = tf.tensor4d(xv, [n, 18, 18, 3]);
    const y = tf.oneHot(tf.tensor1d(labels, "int32"), 10);
    const block = (h: tf.Tensor4D, w: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor4D => {
      const z = tf.conv2d(h, w as tf.Tensor4D, 1, "valid");
      const { mean, variance } = tf.moments(z, [0, 1, 2]);
      const bn = tf.batchNorm(z, mean, variance, b as tf.Tensor1D, g as tf.Tensor1D, 1e-3);
      return tf.maxPool(tf.relu(bn) as tf.Tensor4D, 2, 2, "valid");
    };
    const f = (...p: tf.Tensor[]) => {
      let h = block(x, p[0], p[1], p[2]);
      h = block(h, p[3], p[4], p[5]);
      h = block(h, p[6], p[7], p[8]);
      const logits = tf.matMul(tf.reshape(h, [n, -1]), p[9]);
      return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
    };
    const { value, grads } = tf.valueAndGrads(f)(params);
    return [value, ...grads];
  };
  const cpu = await on("cpu", run);
  const wasm = await on("wasm", run);
  assertClose(wasm[0], cpu[0], 1e-5, "loss");
  for (let i = 0; i < names.length; i++) {
    assertClose(wasm[i + 1], cpu[i + 1], 1e-4, `gradient of ${names[i]}`);
  }
});

/** Kernel names that ran on the active backend during `f` (tf.profile). */
async function kernelsRun(f: () => tf.Tensor[]): Promise<Set<string>> {
  const info = await tf.profile(() => f());
  tf.dispose(info.result as tf.Tensor[]);
  return new Set(info.kernels.map((k) => k.name));
}

Deno.test("fused batch-norm gradients on wasm equal the cpu backend's", async (t) => {
  const cases: { name: string; shape: number[]; axes: number[] }[] = [
    { name: "NHWC conv activations", shape: [4, 6, 5, 7], axes: [0, 1, 2] },
    { name: "one channel", shape: [3, 4, 4, 1], axes: [0, 1, 2] },
    { name: "dense activations [N, C]", shape: [9, 5], axes: [0] },
    // the SIMD passes: several 256-row blocks, channels in blocks of 4 and 8 vectors + the rest
    { name: "NHWC, 12 channels, 300 rows", shape: [3, 10, 10, 12], axes: [0, 1, 2] },
    { name: "dense [300, 40]", shape: [300, 40], axes: [0] },
  ];
  for (const { name, shape, axes } of cases) {
    await t.step(name, async () => {
      const c = shape[shape.length - 1];
      const xv = values(size(shape), 31), wv = values(size(shape), 32);
      const gv = values(c, 33).map((a) => 1 + 0.3 * a), bv = values(c, 34);
      // y = Σ w ⊙ batchNorm(x; batch moments): x's gradient goes through BN and the moments.
      const run = () => {
        const w = tf.tensor(wv, shape);
        const f = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
          const { mean, variance } = tf.moments(x, axes);
          const y = tf.batchNorm(x, mean, variance, b as tf.Tensor1D, g as tf.Tensor1D, 1e-3);
          return tf.sum(tf.mul(y, w));
        };
        const [x, g, b] = [tf.tensor(xv, shape), tf.tensor1d(gv), tf.tensor1d(bv)];
        const { mean, variance } = tf.moments(x, axes);
        const y = tf.batchNorm(x, mean, variance, b, g, 1e-3); // the forward kernel too
        return [y, ...tf.grads(f)([x, g, b])];
      };
      await sameWithAndWithoutSimd(run, 2e-5, name);
      await tf.setBackend("wasm");
      const ran = await kernelsRun(run);
      await tf.setBackend("cpu");
      assert(ran.has("MasokitBatchNormGrad"), `fused kernel did not run: ${[...ran]}`);
      assert(ran.has("MasokitBroadcastLeading"), `${[...ran]}`);
    });
  }
  await t.step("non-leading axes fall back to tfjs's gradients", async () => {
    const shape = [3, 4, 5];
    const xv = values(size(shape), 41);
    const run = () => [tf.grad((x) => tf.sum(tf.square(tf.mean(x, [1]))))(tf.tensor(xv, shape))];
    const cpu = await on("cpu", run);
    const wasm = await on("wasm", run);
    assertClose(wasm[0], cpu[0], 1e-6, "mean over axis 1");
  });
  await t.step("fuseBatchNorm: false gives the same gradients through tfjs's ops", async () => {
    const shape = [4, 5, 5, 6];
    const xv = values(size(shape), 51), wv = values(size(shape), 52);
    const run = () => {
      const f = (x: tf.Tensor) => {
        const { mean, variance } = tf.moments(x, [0, 1, 2]);
        const [beta, gamma] = [tf.zeros([6]) as tf.Tensor1D, tf.ones([6]) as tf.Tensor1D];
        const y = tf.batchNorm(x, mean, variance, beta, gamma, 1e-3);
        return tf.sum(tf.mul(tf.square(y), tf.tensor(wv, shape)));
      };
      return [tf.grad(f)(tf.tensor(xv, shape))];
    };
    const fused = await on("wasm", run);
    registerWasmTrainingKernels({ fuseBatchNorm: false });
    try {
      const plain = await on("wasm", run);
      assertClose(fused[0], plain[0], 2e-5, "fused vs unfused");
    } finally {
      registerWasmTrainingKernels();
    }
  });
});

Deno.test("the BatchNormalization layer trains through one kernel on wasm, as tfjs computes it on cpu", async (t) => {
  const cases: { name: string; shape: number[]; fused: boolean }[] = [
    // several 256-row blocks; channels in SIMD blocks of 4 and 8 vectors + the rest
    { name: "NHWC, 44 channels, 300 rows", shape: [3, 10, 10, 44], fused: true },
    { name: "NHWC, 6 channels (JS loops)", shape: [4, 5, 5, 6], fused: true },
    { name: "dense [33, 12]", shape: [33, 12], fused: true },
    { name: "switched off: tfjs's own pass", shape: [4, 5, 5, 8], fused: false },
  ];
  for (const { name, shape, fused } of cases) {
    await t.step(name, async () => {
      const c = shape[shape.length - 1];
      const xv = values(size(shape), 71).map((v) => 3 + 2 * v); // a mean far from 0
      const wv = values(size(shape), 72);
      const weights = [73, 74, 75, 76].map((seed, i) =>
        values(c, seed).map((v) => [1 + 0.3 * v, v, v, 1 + 0.5 * v][i])
      );
      let ran = new Set<string>();
      // y, ∂/∂x, ∂/∂γ, ∂/∂β of Σ w ⊙ y, and the moving statistics after those three passes
      const run = () => {
        const layer = tf.layers.batchNormalization({ momentum: 0.8, epsilon: 1e-3 });
        layer.build([null, ...shape.slice(1)]);
        layer.setWeights(weights.map((w) => tf.tensor1d(w)));
        const x = tf.tensor(xv, shape), w = tf.tensor(wv, shape);
        const loss = (input: tf.Tensor) =>
          tf.sum(tf.mul(layer.apply(input, { training: true }) as tf.Tensor, w)) as tf.Scalar;
        const y = layer.apply(x, { training: true }) as tf.Tensor;
        const dx = tf.grad(loss)(x);
        const { grads } = tf.variableGrads(() => loss(x));
        const read = (v: tf.LayerVariable) => v.read() as tf.Variable;
        const out = [
          y,
          dx,
          ...layer.trainableWeights.map((v) => grads[read(v).name]),
          ...layer.nonTrainableWeights.map(read),
        ];
        const kept = out.map((o) => o.clone());
        tf.dispose([...out, ...layer.weights.map((v) => v.read())]);
        return kept;
      };
      fusedBatchNormLayer.enabled = fused;
      try {
        await sameWithAndWithoutSimd(run, 2e-5, name);
        await tf.setBackend("wasm");
        ran = await kernelsRun(run);
      } finally {
        await tf.setBackend("cpu");
        fusedBatchNormLayer.enabled = true;
      }
      const kernels = [
        "MasokitBatchNormTrain",
        "MasokitBatchNormTrainGrad",
        "MasokitMovingAverages",
      ];
      for (const kernel of kernels) {
        assertEquals(ran.has(kernel), fused, `${kernel} ran: ${[...ran]}`);
      }
      assertEquals(ran.has("Square"), !fused, "tf.moments' ops");
      if (!fused) return;
      // the moving statistics by one kernel: bit for bit tfjs's three ops each
      fusedBatchNormLayer.movingAverages = false;
      try {
        const ops = await on("wasm", run);
        fusedBatchNormLayer.movingAverages = true;
        const one = await on("wasm", run);
        for (const i of [ops.length - 2, ops.length - 1]) {
          assertEquals(Array.from(one[i]), Array.from(ops[i]), `moving statistic ${i}`);
        }
      } finally {
        fusedBatchNormLayer.movingAverages = true;
      }
    });
  }
  await t.step("the kernel refuses a missing γ or a wrong shape, naming it", async () => {
    await tf.setBackend("wasm");
    try {
      const x = tf.ones([2, 3, 4]), g = tf.ones([4]), b = tf.zeros([4]);
      const run = (inputs: tf.NamedTensorMap) => () =>
        tf.engine().runKernel("MasokitBatchNormTrain", inputs, { varianceEpsilon: 1e-3 });
      assertThrows(run({ x, offset: b }), RangeError, "scale is missing, expected float32 [4]");
      assertThrows(
        run({ x, scale: tf.ones([3]), offset: b }),
        RangeError,
        "scale is float32 [3], expected float32 [4]",
      );
      tf.dispose([x, g, b]);
    } finally {
      await tf.setBackend("cpu");
    }
  });
  await t.step("the kernel's gradient through its mean and variance outputs too", async () => {
    const shape = [5, 4, 3, 8];
    const xv = values(size(shape), 81), wv = values(size(shape), 82);
    const [gv, bv, uv, vv] = [83, 84, 85, 86].map((seed) => values(8, seed));
    // Σ w ⊙ y + Σ u ⊙ μ + Σ v ⊙ σ², by the kernel on wasm and by tfjs's ops on cpu
    const f = (kernel: boolean) => (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const [y, mean, variance] = kernel
        ? tf.engine().runKernel(
          "MasokitBatchNormTrain",
          { x, scale: g, offset: b },
          { varianceEpsilon: 1e-3 },
        ) as tf.Tensor[]
        : (() => {
          const m = tf.moments(x, [0, 1, 2]);
          const out = tf.batchNorm(x, m.mean, m.variance, b as tf.Tensor1D, g as tf.Tensor1D, 1e-3);
          return [out, m.mean, m.variance];
        })();
      return tf.addN([
        tf.sum(tf.mul(y, tf.tensor(wv, shape))),
        tf.sum(tf.mul(mean, tf.tensor1d(uv))),
        tf.sum(tf.mul(variance, tf.tensor1d(vv))),
      ]) as tf.Scalar;
    };
    const args = () => [tf.tensor(xv, shape), tf.tensor1d(gv), tf.tensor1d(bv)];
    const cpu = await on("cpu", () => tf.grads(f(false))(args()));
    for (const simd of [true, false]) {
      wasmBatchNormSimd.enabled = simd;
      try {
        const wasm = await on("wasm", () => tf.grads(f(true))(args()));
        ["dx", "dγ", "dβ"].forEach((what, i) =>
          assertClose(wasm[i], cpu[i], 2e-5, `${what}, simd ${simd}`)
        );
      } finally {
        wasmBatchNormSimd.enabled = true;
      }
    }
  });
});

Deno.test("fusing the BatchNormalization layer creates no layer (default names stay in sequence)", async () => {
  // in a fresh process: the layer's class is looked up once, at the first registration
  const code = `
    import * as tf from "@tensorflow/tfjs";
    import { registerWasmTrainingKernels } from "${new URL(
    "../../lib/train/wasm_kernels.ts",
    import.meta.url,
  )}";
    const before = tf.layers.batchNormalization({}).name;
    registerWasmTrainingKernels();
    console.log(JSON.stringify([before, tf.layers.batchNormalization({}).name]));
  `;
  const names = JSON.parse((await runChildScript(code)).split("\n").pop()!);
  const number = (name: string) => Number(name.match(/(\d+)$/)![1]);
  assertEquals(number(names[1]), number(names[0]) + 1, names.join(", then "));
});

Deno.test("gather on wasm by row copies equals the cpu backend's, errors too", async () => {
  const images = values(30 * 4 * 4 * 3, 31), table = values(3 * 10 * 20, 32);
  const ints = Int32Array.from(values(12 * 17, 33), (v) => Math.round(v * 1000));
  const run = () => [
    tf.gather(tf.tensor4d(images, [30, 4, 4, 3]), [29, 0, 7, 7, 15]), // a batch, a repeat
    tf.gather(tf.tensor4d(images, [30, 4, 4, 3]), tf.tensor2d([3, 1, 4, 1], [2, 2], "int32")),
    tf.gather(tf.tensor3d(table, [3, 10, 20]), [9, 2, 0], 1), // rows inside an outer axis
    tf.gather(tf.tensor3d(table, [3, 10, 20]), [9, 2, 0], -2),
    tf.gather(tf.tensor2d(ints, [12, 17], "int32"), [11, 5]).toFloat(),
    tf.gather(tf.tensor2d(table.slice(0, 12 * 17), [12, 17]).greater(0), [2, 4]).toFloat(),
    tf.gather(tf.tensor3d(table, [3, 10, 20]), [19, 3], 2), // 1-element slices: tfjs's kernel
    tf.gather(tf.tensor4d(images, [30, 4, 4, 3]), tf.tensor1d([], "int32")), // nothing gathered
  ];
  const cpu = await on("cpu", run);
  const before = wasmGatherRows.runs;
  const wasm = await on("wasm", run);
  assertEquals(wasmGatherRows.runs - before, 6);
  for (let i = 0; i < cpu.length; i++) assertEquals(Array.from(wasm[i]), Array.from(cpu[i]));
  const previous = tf.getBackend();
  await tf.setBackend("wasm");
  try {
    const x = tf.zeros([5, 4, 4]);
    assertThrows(() => tf.gather(x, [1, 5]), Error, "GatherV2: the index value 5 is not in [0, 4]");
    assertThrows(() => tf.gather(x, [-1]), Error, "GatherV2: the index value -1 is not in [0, 4]");
    x.dispose();
  } finally {
    await tf.setBackend(previous);
  }
});

Deno.test("slices on wasm by runs equal the cpu backend's", async () => {
  const images = values(3 * 10 * 9 * 40, 41), table = values(7 * 300, 42);
  const run = () => {
    const x = tf.tensor4d(images, [3, 10, 9, 40]);
    return [
      tf.slice(x, [0, 1, 1, 0], [3, 8, 7, 40]), // a zero-padding layer's gradient: a crop
      tf.slice(x, [1, 2, 0, 0], [2, -1, 9, 40]), // whole rows of an image: runs of 2 axes
      tf.slice(x, [0, 0, 2, 8], [3, 10, 7, 32]), // channels cut: runs of 32 < 256, tfjs's kernel
      tf.slice(x, [1, 0, 0, 0], [1, 10, 9, 40]), // one contiguous range: tfjs's kernel
      tf.slice(tf.tensor2d(table, [7, 300]), [2, 10], [4, 280]), // rows of a matrix
      tf.slice(
        tf.tensor3d(Int32Array.from(table, (v) => Math.round(v * 99)), [7, 30, 10], "int32"),
        [
          1,
          3,
          0,
        ],
        [5, 27, 10],
      ).toFloat(),
      tf.slice(tf.tensor3d(table, [7, 30, 10]).greater(0), [0, 1, 0], [7, 28, 10]).toFloat(),
    ];
  };
  const cpu = await on("cpu", run);
  const before = wasmSliceRuns.runs;
  const wasm = await on("wasm", run);
  assertEquals(wasmSliceRuns.runs - before, 5);
  for (let i = 0; i < cpu.length; i++) {
    assertEquals(Array.from(wasm[i]), Array.from(cpu[i]), `slice ${i}`);
  }
});

Deno.test("ReLU's gradient on wasm in one pass equals the cpu backend's, NaN and ±0 too", async () => {
  const n = 3 * 7 * 5 * 9; // 945: 236 vectors and one value past them
  const xv = values(n, 51).map((v, i) => (i % 17 === 0 ? 0 : i % 23 === 0 ? -0 : v));
  xv[5] = NaN;
  xv[n - 1] = NaN; // in the last values, past the vectors
  const dv = values(n, 52).map((v, i) => (i % 29 === 0 ? Infinity : i % 31 === 0 ? NaN : v));
  const run = () => {
    const x = tf.tensor4d(xv, [3, 7, 5, 9]), dy = tf.tensor4d(dv, [3, 7, 5, 9]);
    return [
      tf.grad((a) => tf.sum(tf.mul(tf.relu(a), dy)))(x),
      tf.grad((a) => tf.sum(tf.relu(a)))(tf.tensor1d(xv.slice(0, 6))), // 6 values: JS and SIMD
    ];
  };
  const cpu = await on("cpu", run);
  for (const [simd, minSplitValues] of [[true, 1 << 16], [true, 4], [false, 1 << 16]] as const) {
    Object.assign(wasmReluGrad, { enabled: simd, minSplitValues });
    try {
      const wasm = await on("wasm", run);
      for (let i = 0; i < cpu.length; i++) {
        const same = Array.from(wasm[i]).every((v, j) => Object.is(v, cpu[i][j]));
        assert(same, `output ${i}, simd ${simd}, split from ${minSplitValues}`);
      }
    } finally {
      Object.assign(wasmReluGrad, { enabled: true, minSplitValues: 1 << 20 });
    }
  }
  const previous = tf.getBackend();
  await tf.setBackend("wasm");
  const kernels = await tf.profile(() => tf.dispose(run())).finally(() => tf.setBackend(previous));
  const names = new Set(kernels.kernels.map((k) => k.name));
  assert(names.has("MasokitReluGrad") && !names.has("Step"), [...names].join());
});

Deno.test("Identity and same-dtype Cast on wasm share memory and keep values", async () => {
  const previous = tf.getBackend();
  await tf.setBackend("wasm");
  try {
    const before = tf.memory().numBytes;
    const x = tf.tensor2d([[1, -2.5], [3, 4]]);
    const y = tf.clone(x), z = tf.cast(x, "float32"), i = tf.cast(x, "int32");
    assertEquals(Array.from(await y.data()), [1, -2.5, 3, 4]);
    assertEquals(Array.from(await z.data()), [1, -2.5, 3, 4]);
    assertEquals(Array.from(await i.data()), [1, -2, 3, 4]); // a real cast still converts
    x.dispose();
    assertEquals(Array.from(await z.data()), [1, -2.5, 3, 4]); // alive after x is disposed
    tf.dispose([y, z, i]);
    assertEquals(tf.memory().numBytes, before);
  } finally {
    await tf.setBackend(previous);
  }
});

Deno.test("a tf.layers smallCNN training step has equal gradients on wasm and cpu", async () => {
  const { smallCNN } = await import("../../lib/models/small_cnn.ts");
  const n = 4;
  const xv = values(n * 16 * 16 * 3, 61);
  const run = () => {
    const model = smallCNN({ inputShape: [16, 16, 3], filters: [4, 6, 8], seed: 7 });
    const x = tf.tensor4d(xv, [n, 16, 16, 3]);
    const y = tf.oneHot(tf.tensor1d([0, 3, 9, 3], "int32"), 10);
    const { value, grads } = tf.variableGrads(() => {
      const logits = model.apply(x, { training: true }) as tf.Tensor;
      return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
    });
    const out = [
      value,
      ...model.trainableWeights.map((w) => grads[(w.read() as tf.Variable).name]),
    ];
    const kept = out.map((t) => t.clone());
    tf.dispose([...out, ...model.weights.map((w) => w.read())]);
    return kept;
  };
  const cpu = await on("cpu", run);
  const wasm = await on("wasm", run);
  assertClose(wasm[0], cpu[0], 1e-5, "loss");
  for (let i = 1; i < cpu.length; i++) assertClose(wasm[i], cpu[i], 1e-4, `gradient ${i}`);
});
