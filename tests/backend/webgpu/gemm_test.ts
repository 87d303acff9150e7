/**
 * The matrix-product kernel behind dense and convolution layers, in every schedule,
 * against float64 brute force: the tiled schedules are what GPUs run (software
 * adapters run "direct", so the engine tests do not reach them). Tile edges are
 * exercised on purpose: M, N and K are not multiples of any tile, N spans two column
 * tiles, strides and asymmetric padding leave taps outside the input.
 *
 * llvmpipe compiles the tiled kernels slowly (tens of seconds a shader with 16 or 64
 * accumulators; Mesa caches them on disk afterwards), so the tests use the schedules GPUs
 * run — 4 × 4 and 8 × 8, strided and blocked, each with the one-value and the four-value
 * gather — about once each.
 */
import * as tf from "@tensorflow/tfjs";
import { webgpuContext } from "../../../lib/backend/webgpu/device.ts";
import { Recorder } from "../../../lib/backend/webgpu/run.ts";
import { readBack } from "../../../lib/backend/webgpu/_gpu.ts";
import {
  gemmGroups,
  type GemmSchedule,
  gemmScheduleFor,
  gemmShader,
  type GemmSpec,
  gemmTile,
  type GemmTileShape,
} from "../../../lib/backend/webgpu/kernels/gemm.ts";
import {
  denseGemm,
  denseTransposeGemm,
  transposedDenseKernel,
} from "../../../lib/backend/webgpu/kernels/dense.ts";
import {
  conv2dGemm,
  conv2dTransposeGemm,
  transposedConvKernel,
} from "../../../lib/backend/webgpu/kernels/conv2d.ts";
import { fromLayersModel } from "../../../lib/network/from_layers_model.ts";
import type { Conv2DLayer, DenseLayer } from "../../../lib/network/spline_network.ts";
import { assertAllClose, assertEquals, assertThrows, largestMagnitude } from "../../_assert.ts";
import {
  gradientAtConv,
  poolOver,
  scatterTranspose,
  seeded,
  seededCodes,
} from "./_gradient_through_codes.ts";

await tf.setBackend("cpu");
const gpu = await webgpuContext();

async function product(
  spec: GemmSpec,
  schedule: GemmSchedule,
  data: {
    shape?: GemmTileShape;
    a: Float64Array;
    w: Float64Array;
    b: Float64Array | null;
    rows: number;
    codes?: Uint32Array[];
    rowsPerCode?: number;
  },
): Promise<Float32Array> {
  const rec = new Recorder(gpu!, "gemm test");
  try {
    const size = (spec.batches ?? 1) * data.rows * spec.mPerRow * spec.n;
    const y = rec.buffer(size, "y");
    rec.gemm(
      spec,
      [
        rec.upload(Float32Array.from(data.a), "a"),
        ...(data.codes ?? []).map((c) => rec.upload(c, "codes")),
        rec.upload(Float32Array.from(data.w), "w"),
        rec.upload(Float32Array.from(data.b ?? [0]), "b"),
        y,
      ],
      { rows: data.rows, rowsPerCode: data.rowsPerCode },
      schedule,
      data.shape,
    );
    rec.submit();
    const [out] = await readBack(gpu!, [{
      buffer: y,
      bytes: size * 4,
    }]);
    return new Float32Array(out);
  } finally {
    rec.release();
  }
}

/** The float32 values round to within 1e-5 of the largest reference entry. */
function close(got: Float32Array, want: Float64Array, what: string) {
  assertEquals(got.length, want.length, `${what}: length`);
  assertAllClose(got, want, 1e-5, what, largestMagnitude(want));
}

/**
 * Dense product and transpose in `schedules` (the transpose in `transposed`, by default the
 * same), against float64 brute force.
 */
async function checkDense(
  IN: number,
  OUT: number,
  schedules: readonly GemmSchedule[],
  transposed = schedules,
  shape?: GemmTileShape,
) {
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [IN], units: OUT, useBias: true })],
  });
  model.layers[0].setWeights([
    tf.tensor(Float32Array.from(seeded(IN * OUT, 1)), [IN, OUT]),
    tf.tensor(Float32Array.from(seeded(OUT, 2))),
  ]);
  const layer = fromLayersModel(model).layers[0] as DenseLayer;
  // the four-wide gathers exist exactly where the rows' widths are multiples of 4
  assertEquals(denseGemm(layer, true).vec4 !== undefined, IN % 4 === 0, "forward gather");
  assertEquals(denseTransposeGemm(layer).vec4 !== undefined, OUT % 4 === 0, "transpose gather");
  const rows = 37;
  const x = seeded(rows * IN, 3), g = seeded(rows * OUT, 4);
  const want = new Float64Array(rows * OUT), wantT = new Float64Array(rows * IN);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < OUT; o++) {
      let s = layer.bias![o];
      for (let i = 0; i < IN; i++) s += x[r * IN + i] * layer.kernel[i * OUT + o];
      want[r * OUT + o] = s;
    }
    for (let i = 0; i < IN; i++) {
      let s = 0;
      for (let o = 0; o < OUT; o++) s += g[r * OUT + o] * layer.kernel[i * OUT + o];
      wantT[r * IN + i] = s;
    }
  }
  for (const schedule of schedules) {
    close(
      await product(denseGemm(layer, true), schedule, {
        a: x,
        w: layer.kernel,
        b: layer.bias,
        rows,
        shape,
      }),
      want,
      `dense ${IN} → ${OUT}, ${schedule}${shape ? ` ${JSON.stringify(shape)}` : ""}`,
    );
  }
  for (const schedule of transposed) {
    close(
      await product(denseTransposeGemm(layer), schedule, {
        a: g,
        w: transposedDenseKernel(layer),
        b: null,
        rows,
        shape,
      }),
      wantT,
      `dense ${IN} → ${OUT} transpose, ${schedule}${shape ? ` ${JSON.stringify(shape)}` : ""}`,
    );
  }
  model.dispose();
}

Deno.test({
  name: "the matrix-product kernel: dense layers and transposes, direct and tiled",
  ignore: gpu === null,
  async fn() {
    // widths that are not multiples of 4: A is gathered one value at a time
    // (8 × 8 compiles for 1–2 min on llvmpipe: the forward product alone covers its tile)
    await checkDense(50, 70, ["direct", 8, "8p"], ["direct", 4, "4b", "4p"]);
    // multiples of 4: tiled schedules gather A four values at a time (register prefetch:
    // 4 slices of 16 and 5 of 8 depths, the last partial; the 4 × 4 tile's B slice of
    // 128 values spread over 256 threads)
    await checkDense(52, 68, [4, "8b", "8q", "4p", "8p", "8qp"]);
    // a final layer to few classes: one workgroup per row, reduced (four-wide, one-wide)
    await checkDense(300, 10, ["reduce"], ["direct"]);
    await checkDense(301, 7, ["reduce"], ["direct"]);
  },
});

Deno.test({
  name: "the matrix-product kernel: tile shapes a sweep asks for (bench/gemm_sweep.ts)",
  ignore: gpu === null,
  async fn() {
    // 8 × 4 outputs a thread, strided, the forward product (68 columns: 5 tiles of 16, the
    // last mostly empty) and its transpose (52 columns)
    await checkDense(52, 68, [8], [8], { rm: 8, rn: 4 });
    // blocked 4 × 8 with 8 rows of threads staging 32 depths (52: one slice and a partial;
    // 16,896 bytes staged: more than WebGPU guarantees, what the adapter offers)
    await checkDense(52, 68, ["4b"], ["4b"], { rm: 4, rn: 8, thm: 8, tk: 32, maxBytes: 32768 });
    // strided quads, 8 × 4 and 4 × 8, 4 rows of threads
    await checkDense(52, 68, ["4q"], ["8q"], { rm: 8, rn: 4, thm: 4 });
    await checkDense(52, 68, ["4q"], ["8q"], { rm: 4, rn: 8, thm: 4 });
    // blocked and strided-quad tiles that prefetch, B's vec4 slice spread unevenly (68
    // columns: 96 a workgroup, 24 vec4s × 16 depths over 5 × 12 threads; 52: 64 a workgroup,
    // 16 vec4s × 16 depths over 5 × 8 threads)
    await checkDense(52, 68, ["8bp"], ["4qp"], { rm: 4, rn: 8, thm: 5 });
    // prefetching 4 × 8, 8 depths a slice, 64 columns a workgroup
    await checkDense(52, 68, ["4p"], ["4p"], { rn: 8, tk: 8, tn: 64 });
    // three columns exactly (a transpose to RGB), two rows a thread, 128 rows of threads
    await checkDense(50, 3, [4], [4], { rm: 2, rn: 3, tn: 3, thm: 128 });
    // the choices reach the kernel: its key, its tile and its workgroups
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [52], units: 68 })] });
    const spec = denseGemm(fromLayersModel(model).layers[0] as DenseLayer, true);
    const shaped = gemmShader(spec, "4b", { rm: 4, rn: 8, thm: 8, tk: 32, maxBytes: 32768 });
    assertEquals(shaped.key === gemmShader(spec, "4b").key, false, "key");
    for (const line of ["TM = 32u", "TN = 96u", "TK = 32u", "THREADS = 96u"]) {
      assertEquals(shaped.build().includes(`const ${line};`), true, line);
    }
    assertEquals(gemmGroups(spec, 37, 8, { rm: 8, rn: 4 }), 5); // 256 rows, 16 columns
    model.dispose();
  },
});

Deno.test({
  name: "the matrix-product kernel: batched products in seeded tile shapes of the sweep's grid",
  ignore: gpu === null,
  async fn() {
    // what bench/gemm_sweep.ts may pick and the gemmTiles hook then runs: three products of
    // [37, 52] · [52, N] in one dispatch (as Winograd batches them), each kind of tile with
    // seeded outputs a thread, threads, depth — every one against float64 brute force
    const [rows, K, B] = [37, 52, 3];
    const kinds = ["", "b", "q", "p", "bp", "qp"] as const;
    let s = 20261126;
    const pick = <T>(xs: readonly T[]): T => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return xs[s % xs.length];
    };
    const maxBytes = gpu!.device.limits.maxComputeWorkgroupStorageSize;
    let tested = 0;
    for (const N of [70, 9]) {
      const spec: GemmSpec = {
        key: "test-batched",
        bindings: [
          { name: "x", type: "f32", wide: true },
          { name: "w", type: "f32" },
          { name: "b", type: "f32" },
          { name: "y", type: "f32", write: true },
        ],
        mPerRow: 1,
        n: N,
        k: K,
        batches: B,
        loadA: "  return x[(BATCH * P.rows * M_PER_ROW + m) * K + k];",
        vec4: {
          rowInfo: "  return vec4<i32>(i32((BATCH * P.rows * M_PER_ROW + m) * (K / 4u)), 0, 0, 0);",
          load4: "  return x[u32(ri.x) + k / 4u];",
        },
        bias: false,
      };
      const a = seeded(B * rows * K, 11), w = seeded(B * K * N, 12);
      const want = new Float64Array(B * rows * N);
      for (let bt = 0; bt < B; bt++) {
        for (let m = 0; m < rows; m++) {
          for (let n = 0; n < N; n++) {
            let v = 0;
            for (let k = 0; k < K; k++) v += a[(bt * rows + m) * K + k] * w[(bt * K + k) * N + n];
            want[(bt * rows + m) * N + n] = v;
          }
        }
      }
      for (const kind of kinds) {
        // a shape the grid would offer: redrawn until gemmTile accepts it
        for (let tries = 0; tries < 100; tries++) {
          const blocked = kind.startsWith("b") || kind.startsWith("q");
          const narrow = N < 16 && !blocked;
          const shape: GemmTileShape = {
            rm: pick(narrow ? [1, 2, 4, 8] : [4, 8]),
            rn: narrow ? N : pick([4, 8]),
            thm: pick([4, 8, 16, 32, 64]),
            tk: pick([8, 16, 32, 48, 64]),
            maxBytes,
            ...(narrow ? { tn: N } : {}),
          };
          try {
            gemmTile(N, 8, blocked, shape);
          } catch {
            continue;
          }
          const schedule = (kind === "" ? 8 : `8${kind}`) as GemmSchedule;
          const y = await product(spec, schedule, { a, w, b: null, rows, shape });
          close(
            y,
            want,
            `${B} × [${rows}, ${K}] · [${K}, ${N}], ${schedule} ${JSON.stringify(shape)}`,
          );
          tested++;
          break;
        }
      }
    }
    assertEquals(tested, 2 * kinds.length, "a shape of every kind, for both widths");
  },
});

Deno.test("gemmTile(): derived tiles, and choices that cannot make one", () => {
  assertEquals(gemmTile(96, 8), {
    rm: 8,
    rn: 8,
    tm: 128,
    tn: 96,
    tk: 16,
    thm: 16,
    thn: 12,
    tmp: 130,
  });
  assertEquals(gemmTile(3, 4), { rm: 4, rn: 4, tm: 256, tn: 4, tk: 8, thm: 64, thn: 1, tmp: 258 });
  assertEquals(gemmTile(3, 4, false, { rm: 2, rn: 3, tn: 3, thm: 128 }).tm, 256);
  assertEquals(gemmTile(192, 8, false, { rn: 4 }).tn, 64); // the widest of 16, 32, 48, 64 that pads least
  assertThrows(() => gemmTile(96, 8, false, { thm: 32 }), RangeError, "32 × 12 threads");
  assertThrows(() => gemmTile(96, 8, false, { tk: 6 }), RangeError, "a depth of 6");
  assertThrows(
    () => gemmTile(96, 8, false, { tk: 64 }),
    RangeError,
    "staged slices of 57856 bytes",
  );
  assertThrows(() => gemmTile(96, 8, true, { rn: 6, tn: 96 }), RangeError, "come in fours");
  assertThrows(() => gemmTile(96, 8, false, { rn: 5, tn: 96 }), RangeError, "a multiple of 5");
  assertEquals(gemmTile(96, 8, false, { tk: 64, maxBytes: 65536 }).tk, 64);
});

/**
 * Conv product and transpose in `schedules` (the transpose in `transposed`, by default the
 * same), against float64 brute force.
 */
async function checkConv(
  CIN: number,
  COUT: number,
  schedules: readonly GemmSchedule[],
  transposed = schedules,
) {
  const model = tf.sequential({
    layers: [tf.layers.conv2d({
      inputShape: [9, 11, CIN],
      filters: COUT,
      kernelSize: [3, 4],
      strides: [2, 3],
      padding: "same",
      useBias: true,
    })],
  });
  model.layers[0].setWeights([
    tf.tensor(Float32Array.from(seeded(3 * 4 * CIN * COUT, 5)), [3, 4, CIN, COUT]),
    tf.tensor(Float32Array.from(seeded(COUT, 6))),
  ]);
  const l = fromLayersModel(model).layers[0] as Conv2DLayer;
  assertEquals(conv2dGemm(l, true).vec4 !== undefined, CIN % 4 === 0, "forward gather");
  assertEquals(conv2dTransposeGemm(l).vec4 !== undefined, COUT % 4 === 0, "transpose gather");
  const [H, W, CI] = l.inputShape, [OH, OW, CO] = l.outputShape;
  const [KH, KW] = l.kernelSize, [SH, SW] = l.strides, PT = l.padding[0], PL = l.padding[2];
  const rows = 3;
  const x = seeded(rows * H * W * CI, 7), g = seeded(rows * OH * OW * CO, 8);
  // forward by gathering, the transpose by scattering every tap's contribution
  const want = new Float64Array(rows * OH * OW * CO), wantT = new Float64Array(rows * H * W * CI);
  for (let r = 0; r < rows; r++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        for (let co = 0; co < CO; co++) {
          const o = ((r * OH + oy) * OW + ox) * CO + co;
          let s = l.bias![co];
          for (let ky = 0; ky < KH; ky++) {
            for (let kx = 0; kx < KW; kx++) {
              const iy = oy * SH + ky - PT, ix = ox * SW + kx - PL;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              for (let ci = 0; ci < CI; ci++) {
                const k = l.kernel[((ky * KW + kx) * CI + ci) * CO + co];
                s += x[((r * H + iy) * W + ix) * CI + ci] * k;
                wantT[((r * H + iy) * W + ix) * CI + ci] += g[o] * k;
              }
            }
          }
          want[o] = s;
        }
      }
    }
  }
  for (const schedule of schedules) {
    close(
      await product(conv2dGemm(l, true), schedule, { a: x, w: l.kernel, b: l.bias, rows }),
      want,
      `conv ${CIN} → ${COUT}, ${schedule}`,
    );
  }
  for (const schedule of transposed) {
    close(
      await product(conv2dTransposeGemm(l), schedule, {
        a: g,
        w: transposedConvKernel(l),
        b: null,
        rows,
      }),
      wantT,
      `conv ${CIN} → ${COUT} transpose, ${schedule}`,
    );
  }
  model.dispose();
}

Deno.test({
  name:
    "the matrix-product kernel: a strided, padded convolution and its transpose, direct and tiled",
  ignore: gpu === null,
  async fn() {
    // channels that are not multiples of 4: one value at a time
    await checkConv(5, 19, ["direct", 4], ["direct", 4, "reduce"]);
    // multiples of 4: four at a time (input channels forward, output channels transposed)
    await checkConv(8, 12, [4, 8, "4b", "4p"], [4, "4b", "4p", "reduce"]);
  },
});

/**
 * A conv's transpose reading the gradient through the layers after the conv, fused into its
 * gather: a sign layer (codes: packed bits, inactive units scaled by `slope`) and/or a
 * disjoint `ph × pw` max-pool (codes: argmax slots; the gradient is the pooled one), with 2
 * rows per example's codes — against the unpooled, masked gradient built by brute force and
 * scattered through the taps.
 */
async function checkConvThrough(
  CIN: number,
  COUT: number,
  through: { pool?: [number, number]; slope?: number },
  schedules: readonly GemmSchedule[],
) {
  const model = tf.sequential({
    layers: [tf.layers.conv2d({
      inputShape: [10, 9, CIN],
      filters: COUT,
      kernelSize: [3, 2],
      strides: [1, 2],
      padding: "same",
    })],
  });
  model.layers[0].setWeights([
    tf.tensor(Float32Array.from(seeded(3 * 2 * CIN * COUT, 9)), [3, 2, CIN, COUT]),
    tf.tensor(Float32Array.from(seeded(COUT, 10))),
  ]);
  const l = fromLayersModel(model).layers[0] as Conv2DLayer;
  const pool = through.pool && poolOver(l, through.pool);
  const examples = 2, perCode = 2, rows = examples * perCode;
  const g = seeded(rows * (pool ?? l).outputShape.reduce((a, b) => a * b), 11);
  const codes = seededCodes(l, pool, examples, 12);
  const at = gradientAtConv(l, { g, rows, perCode, codes, pool, slope: through.slope });
  const want = scatterTranspose(l, at, rows);
  const sign = through.slope === undefined ? undefined : { slope: through.slope };
  const spec = conv2dTransposeGemm(l, { pool, sign });
  assertEquals(spec.vec4 !== undefined, COUT % 4 === 0, "transpose gather");
  for (const schedule of schedules) {
    close(
      await product(spec, schedule, {
        a: g,
        w: transposedConvKernel(l),
        b: null,
        rows,
        codes: [...(pool ? [codes.slots] : []), ...(sign ? [codes.bits] : [])],
        rowsPerCode: perCode,
      }),
      want,
      `conv ${CIN} → ${COUT} transpose through ${JSON.stringify(through)}, ${schedule}`,
    );
  }
  model.dispose();
}

Deno.test({
  name:
    "the matrix-product kernel: a conv transpose through the sign layer and disjoint max-pool after the conv",
  ignore: gpu === null,
  async fn() {
    // one value at a time (5 output channels), then four (8); tiled where the gather's code
    // differs (each tiled shader compiles for ≈ 30 s on llvmpipe)
    await checkConvThrough(3, 5, { pool: [2, 2], slope: 0 }, ["direct", 4]);
    await checkConvThrough(3, 8, { pool: [2, 3], slope: 0.1 }, ["direct", 4, "4b"]);
    await checkConvThrough(2, 8, { pool: [2, 2] }, ["direct"]);
    await checkConvThrough(2, 8, { slope: -1 }, ["direct", 4]);
    await checkConvThrough(2, 5, { slope: 0 }, ["direct"]);
    // overlapping windows cannot be gathered this way
    assertThrows(
      () =>
        conv2dTransposeGemm({ kind: "conv2d" } as Conv2DLayer, {
          pool: {
            kind: "max-pool",
            name: "p",
            inputShape: [9, 9, 4],
            outputShape: [4, 4, 4],
            poolSize: [3, 3],
            strides: [2, 2],
            padding: [0, 0, 0, 0],
          },
        }),
      RangeError,
      "windows overlap or are padded",
    );
  },
});

Deno.test("gemmScheduleFor(): the adapter's schedule, and the alternatives benchmarks ask for", () => {
  const wide = { m: 1e6, n: 192, k: 192 }, narrow = { m: 1e6, n: 32, k: 192 };
  assertEquals(gemmScheduleFor(true, wide), "direct");
  // GPUs: strided quads with register prefetch (the H100's fastest end to end)
  assertEquals(gemmScheduleFor(false, wide), "8qp");
  assertEquals(gemmScheduleFor(false, narrow), "4qp");
  assertEquals(gemmScheduleFor(false, { m: 4096, n: 10, k: 1152 }), "reduce");
  assertEquals(gemmScheduleFor(false, wide, 4), "4qp");
  assertEquals(gemmScheduleFor(false, wide, 8, false, false), 8);
  assertEquals(gemmScheduleFor(false, narrow, 8, false, false), 4);
  assertEquals(gemmScheduleFor(false, wide, 8, true, false), "8b");
  assertEquals(gemmScheduleFor(false, narrow, 8, "quads", false), "4q");
  assertEquals(gemmScheduleFor(false, wide, 8, false, true), "8p");
  assertEquals(gemmScheduleFor(false, narrow, 8, false, true), "4p");
  assertEquals(gemmScheduleFor(false, wide, 8, true, true), "8bp");
  assertEquals(gemmScheduleFor(false, narrow, 8, "quads", true), "4qp");
});
