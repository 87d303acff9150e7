/**
 * Winograd F(m × m, 3 × 3) convolutions (kernels/winograd.ts, `recordWinograd`): the 1-D
 * transforms against the correlation they stand for, then the three kernels — forward with
 * bias, and the transpose read plain, through a sign layer, and through a sign layer and a
 * disjoint max-pool — against float64 brute force, in row slices, with the direct and a
 * tiled batched product.
 */
import { webgpuContext, webgpuHooks } from "../../../lib/backend/webgpu/device.ts";
import { Recorder, recordWinograd } from "../../../lib/backend/webgpu/run.ts";
import { readBack } from "../../../lib/backend/webgpu/_gpu.ts";
import type { GemmSchedule } from "../../../lib/backend/webgpu/kernels/gemm.ts";
import {
  winogradApplies,
  type WinogradTile,
  winogradTransforms,
} from "../../../lib/backend/webgpu/kernels/winograd.ts";
import type { Conv2DLayer } from "../../../lib/network/spline_network.ts";
import type { Padding2D } from "../../../lib/network/spline_network.ts";
import { assertAllClose, assertEquals } from "../../_assert.ts";
import {
  gradientAtConv,
  poolOver,
  scatterTranspose,
  seeded,
  seededCodes,
} from "./_gradient_through_codes.ts";

const gpu = await webgpuContext();

Deno.test("Winograd F(m, 3): Aᵀ[(G g) ⊙ (Bᵀ d)] is the 3-tap correlation of m + 2 inputs", () => {
  for (const m of [2, 4, 6] as const) {
    const { bt, g, at } = winogradTransforms(m);
    for (let trial = 0; trial < 5; trial++) {
      const d = seeded(m + 2, 10 * m + trial), k = seeded(3, 100 * m + trial);
      const u = g.map((row) => row.reduce((s, c, j) => s + c * k[j], 0));
      const v = bt.map((row) => row.reduce((s, c, j) => s + c * d[j], 0));
      const y = at.map((row) => row.reduce((s, c, j) => s + c * u[j] * v[j], 0));
      const want = Array.from(
        { length: m },
        (_, i) => d[i] * k[0] + d[i + 1] * k[1] + d[i + 2] * k[2],
      );
      assertAllClose(Float64Array.from(y), Float64Array.from(want), 1e-12, `F(${m}, 3)`, 1);
    }
  }
});

function conv(
  [H, W, CI]: [number, number, number],
  CO: number,
  padding: Padding2D,
  seed: number,
): Conv2DLayer {
  const OH = H + padding[0] + padding[1] - 2, OW = W + padding[2] + padding[3] - 2;
  return {
    kind: "conv2d",
    name: `conv ${H}×${W}×${CI} → ${CO}, padding ${padding}`,
    inputShape: [H, W, CI],
    outputShape: [OH, OW, CO],
    kernel: seeded(9 * CI * CO, seed),
    bias: seeded(CO, seed + 1),
    kernelSize: [3, 3],
    strides: [1, 1],
    padding,
  };
}

/** The conv forward (with bias), float64. */
function convForward(l: Conv2DLayer, x: Float64Array, rows: number): Float64Array {
  const [H, W, CI] = l.inputShape, [OH, OW, CO] = l.outputShape;
  const PT = l.padding[0], PL = l.padding[2];
  const y = new Float64Array(rows * OH * OW * CO);
  for (let r = 0; r < rows; r++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        for (let co = 0; co < CO; co++) {
          let s = l.bias![co];
          for (let t = 0; t < 9; t++) {
            const iy = oy + Math.floor(t / 3) - PT, ix = ox + (t % 3) - PL;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            for (let ci = 0; ci < CI; ci++) {
              s += x[((r * H + iy) * W + ix) * CI + ci] * l.kernel[(t * CI + ci) * CO + co];
            }
          }
          y[((r * OH + oy) * OW + ox) * CO + co] = s;
        }
      }
    }
  }
  return y;
}

/** Runs `recordWinograd` on uploaded inputs; returns the output and the slices recorded. */
async function run(
  l: Conv2DLayer,
  options: {
    inputs: (Float64Array | Uint32Array)[];
    outFloats: number;
    rows: number;
    rowFloats: number;
    bias?: boolean;
    transposed?: Parameters<typeof recordWinograd>[2]["transposed"];
    rowsPerCode?: number;
  },
  schedule: GemmSchedule,
): Promise<{ y: Float32Array; slices: number }> {
  const rec = new Recorder(gpu!, "winograd test");
  try {
    const y = rec.buffer(options.outFloats, "y");
    const slices = recordWinograd(rec, l, {
      ...options,
      inputs: options.inputs.map((a) =>
        rec.upload(a instanceof Float64Array ? Float32Array.from(a) : a, "input")
      ),
      y,
    }, schedule);
    rec.submit();
    const [out] = await readBack(gpu!, [{ buffer: y, bytes: options.outFloats * 4 }]);
    return { y: new Float32Array(out), slices };
  } finally {
    rec.release();
  }
}

const close = (got: Float32Array, want: Float64Array, what: string) => {
  assertEquals(got.length, want.length, `${what}: length`);
  let big = 0;
  for (const v of want) big = Math.max(big, Math.abs(v));
  assertAllClose(got, want, 1e-5, what, big);
};

Deno.test({
  name:
    "Winograd kernels: conv forward with bias and transposes (plain, through a sign layer, through a sign layer and a max-pool) against brute force, in row slices",
  ignore: gpu === null,
  async fn(t) {
    const cases: { l: Conv2DLayer; pool?: [number, number]; slope?: number }[] = [
      { l: conv([7, 9, 16], 20, [1, 1, 1, 1], 1), slope: 0 }, // same; 7×9: partial tiles
      { l: conv([6, 5, 20], 16, [2, 2, 2, 2], 3), pool: [2, 2], slope: 0.1 }, // full
      { l: conv([9, 8, 16], 16, [0, 1, 2, 0], 5), pool: [3, 2] }, // asymmetric
      { l: conv([10, 10, 16], 16, [0, 0, 0, 0], 7), slope: -1 }, // valid
    ];
    try {
      for (const m of [2, 4, 6] as WinogradTile[]) {
        webgpuHooks.winograd = m;
        for (const [ci, c] of cases.entries()) {
          const { l } = c;
          assertEquals(winogradApplies(l), true);
          const examples = 3, perCode = 2, rows = examples * perCode;
          const inSize = l.inputShape.reduce((a, b) => a * b);
          const outSize = l.outputShape.reduce((a, b) => a * b);
          // a budget of the layer's largest side per row: each temporary is
          // (m + 2)²/m² (and more, with partial tiles) times larger, so the rows are sliced
          const rowFloats = Math.max(inSize, outSize);
          const schedule: GemmSchedule = m === 4 && ci === 1
            ? 4
            : m === 6 && ci === 2
            ? "4qp"
            : "direct";
          // the transforms staged through workgroup memory too (every other case)
          const staged = (ci + m / 2) % 2 === 1;
          webgpuHooks.winogradStaged = staged;
          await t.step(`F(${m}) ${l.name}, ${schedule}${staged ? ", staged" : ""}`, async () => {
            const x = seeded(rows * inSize, 20 + ci);
            // the layer's budget (sliced), then an unbounded one (one slice)
            for (const budget of [rowFloats, Infinity]) {
              const fwd = await run(l, {
                inputs: [x],
                outFloats: rows * outSize,
                rows,
                rowFloats: budget,
                bias: true,
              }, schedule);
              const one = budget === Infinity;
              assertEquals(one ? fwd.slices === 1 : fwd.slices > 1, true, `${fwd.slices} slices`);
              close(fwd.y, convForward(l, x, rows), `forward, budget ${budget}`);
            }

            const plainG = seeded(rows * outSize, 30 + ci);
            const plain = await run(l, {
              inputs: [plainG],
              outFloats: rows * inSize,
              rows,
              rowFloats,
              transposed: {},
            }, schedule);
            close(plain.y, scatterTranspose(l, plainG, rows), "transpose");

            const pool = c.pool && poolOver(l, c.pool);
            const g = seeded(rows * (pool ?? l).outputShape.reduce((a, b) => a * b), 40 + ci);
            const codes = seededCodes(l, pool, examples, 50 + ci);
            const at = gradientAtConv(l, { g, rows, perCode, codes, pool, slope: c.slope });
            const sign = c.slope === undefined ? undefined : { slope: c.slope };
            const through = await run(l, {
              inputs: [g, ...(pool ? [codes.slots] : []), ...(sign ? [codes.bits] : [])],
              outFloats: rows * inSize,
              rows,
              rowFloats,
              transposed: { pool, sign },
              rowsPerCode: perCode,
            }, schedule);
            close(
              through.y,
              scatterTranspose(l, at, rows),
              `transpose through ${JSON.stringify(c.pool)} pool, slope ${c.slope}`,
            );
          });
        }
      }
    } finally {
      delete webgpuHooks.winograd;
      delete webgpuHooks.winogradStaged;
    }
  },
});
