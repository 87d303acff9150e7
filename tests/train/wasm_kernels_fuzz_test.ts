import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { registerWasmTrainingKernels } from "../../lib/train/wasm_kernels.ts";
import { wasmFilterGradKernel } from "../../lib/train/_wasm_filter_grad.ts";
import { wasmPointwiseFilterGrad } from "../../lib/train/_wasm_pointwise_filter_grad.ts";
import { wasmBatchNormSimd } from "../../lib/train/_wasm_batch_norm_simd.ts";
import { assertAllClose, assertThrows, largestMagnitude } from "../_assert.ts";
import { fuzzRng as rng, on } from "./_backends.ts";

/** `f` on wasm (each of `variants` set up first) against tfjs-cpu, relative to the largest |cpu|. */
async function sameAsCpu(
  f: () => tf.Tensor[],
  tol: number,
  what: string,
  variants: (() => void)[] = [() => {}],
) {
  const cpu = await on("cpu", f);
  try {
    for (const [i, setUp] of variants.entries()) {
      setUp();
      const wasm = await on("wasm", f);
      cpu.forEach((expected, k) =>
        assertAllClose(
          wasm[k],
          expected,
          tol,
          `${what}, variant ${i}, output ${k}`,
          Math.max(largestMagnitude(expected), 1e-30),
        )
      );
    }
  } finally {
    Object.assign(wasmFilterGradKernel, savedFilterGrad);
    wasmPointwiseFilterGrad.enabled = true;
    wasmBatchNormSimd.enabled = true;
  }
}

const savedFilterGrad = { ...wasmFilterGradKernel };
/**
 * The filter gradient's formulations: as chosen, XNNPACK only, the direct SIMD kernel (also for
 * 1×1 convs, which the pointwise products take otherwise).
 */
const filterGradPaths = [
  () => Object.assign(wasmFilterGradKernel, savedFilterGrad),
  () => {
    Object.assign(wasmFilterGradKernel, { enabled: false });
    wasmPointwiseFilterGrad.enabled = false;
  },
  () => Object.assign(wasmFilterGradKernel, { enabled: true, maxTaps: Infinity }),
];
const simdOnOff = [
  () => (wasmBatchNormSimd.enabled = true),
  () => (wasmBatchNormSimd.enabled = false),
];

await tf.ready();
registerWasmTrainingKernels();

type Pad = "valid" | "same" | number | [[0, 0], [number, number], [number, number], [0, 0]];

Deno.test("Conv2DBackpropFilter on wasm reads zeros where windows pass the padded input", async (t) => {
  // A numeric pad with dimRoundingMode 'round'/'ceil', or kh ≠ kw / sh ≠ sw (tfjs sizes a numeric
  // pad's output with the filter's height and stride on both axes), gives windows that reach
  // past the padded input; tfjs-cpu skips those taps. The direct kernel used to read past the
  // rows (a silent wrong dW) and the im2col path to fail in Concat.
  const cases: { x: number[]; k: number[]; s: number[]; pad: number; round?: string }[] = [
    { x: [3, 4, 11, 6], k: [2, 1, 16], s: [3, 2], pad: 0, round: "round" },
    { x: [2, 10, 7, 11], k: [3, 3, 12], s: [2, 2], pad: 1, round: "ceil" },
    { x: [1, 7, 9, 16], k: [5, 2, 8], s: [1, 2], pad: 1 },
  ];
  for (const { x, k, s, pad, round } of cases) {
    await t.step(
      `x ${x.join("×")}, filter ${k.join("×")}, stride ${s}, pad ${pad} ${round}`,
      async () => {
        const r = rng(x[1] * 31 + k[0]);
        const filterShape = [k[0], k[1], x[3], k[2]] as [number, number, number, number];
        const info = tf.backend_util.computeConv2DInfo(
          x as [number, number, number, number],
          filterShape,
          s as [number, number],
          1,
          pad,
          round as "round" | undefined,
        );
        const dyShape = [x[0], info.outHeight, info.outWidth, k[2]];
        const xv = r.values(x.reduce((a, b) => a * b)),
          dyv = r.values(dyShape.reduce((a, b) => a * b));
        const f = () => [
          tf.engine().runKernel("Conv2DBackpropFilter", {
            x: tf.tensor(xv, x),
            dy: tf.tensor(dyv, dyShape),
          }, {
            strides: s,
            pad,
            dataFormat: "NHWC",
            dimRoundingMode: round,
            filterShape,
          } as unknown as tf.NamedAttrMap) as tf.Tensor,
        ];
        await sameAsCpu(f, 1e-5, "dW", filterGradPaths);
      },
    );
  }
});

Deno.test("wasm training kernels equal tfjs-cpu on random shapes (fixed seeds)", async (t) => {
  const r = rng(20261127);
  for (let it = 0; it < 12; it++) {
    const n = r.int(1, 5), h = r.int(1, 12), w = r.int(1, 12), c = r.int(1, 17);
    const co = r.pick([r.int(1, 17), 4 * r.int(1, 4)]); // the direct kernel needs co % 4 = 0
    const kh = r.int(1, Math.min(5, h)), kw = r.int(1, Math.min(5, w));
    const sh = r.int(1, 3), sw = r.int(1, 3);
    const pad: Pad = r.pick<Pad>([
      "valid",
      "same",
      [[0, 0], [r.int(0, 2), r.int(0, 2)], [r.int(0, 2), r.int(0, 2)], [0, 0]],
    ]);
    const name = `x ${n}×${h}×${w}×${c}, filter ${kh}×${kw}×${co}, stride ${sh}×${sw}, ${
      JSON.stringify(pad)
    }`;
    await t.step(name, async () => {
      const xv = r.values(n * h * w * c), wv = r.values(kh * kw * c * co);
      const probe = tf.backend_util.computeConv2DInfo(
        [n, h, w, c],
        [kh, kw, c, co],
        [sh, sw],
        1,
        pad,
      );
      const lv = r.values(n * probe.outHeight * probe.outWidth * co);
      // conv2d's gradients through a non-uniform loss: Conv2DBackpropFilter and ...Input
      await sameAsCpu(
        () => {
          const x = tf.tensor4d(xv, [n, h, w, c]), f = tf.tensor4d(wv, [kh, kw, c, co]);
          const loss = (a: tf.Tensor, b: tf.Tensor) => {
            const y = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, [sh, sw], pad);
            return tf.sum(tf.mul(y, tf.tensor(lv, y.shape)));
          };
          return tf.grads(loss)([x, f]);
        },
        1e-5,
        "conv2d gradients",
        filterGradPaths,
      );
      // max-pool gradient: ties, zeros, negatives; disjoint and overlapping windows
      const fh = r.int(1, 4), fw = r.int(1, 4);
      const [ph, pw] = r.pick([[fh, fw], [r.int(1, 3), r.int(1, 3)]]);
      const ppad = r.pick<"valid" | "same">(["valid", "same"]);
      const xt = r.values(n * h * w * c, { ties: true });
      if (ppad === "same" || (fh <= h && fw <= w)) {
        await sameAsCpu(
          () => {
            const x = tf.tensor4d(xt, [n, h, w, c]);
            return [
              tf.grad((a) =>
                tf.sum(tf.square(tf.maxPool(a as tf.Tensor4D, [fh, fw], [ph, pw], ppad)))
              )(x),
            ];
          },
          1e-6,
          `max-pool ${fh}×${fw} stride ${ph}×${pw} ${ppad}`,
        );
      }
      // batch-norm forward and gradients with batch moments; sums and means over leading axes
      const shape = r.pick([[n, h, w, c], [n * h * w, co], [n * h, w * 30, co]]);
      const C = shape[shape.length - 1], size = shape.reduce((a, b) => a * b);
      const bx = r.values(size).map((v) => v + 3), bw = r.values(size);
      const g = r.values(C).map((v) => 1 + 0.3 * v), b = r.values(C);
      const axes = shape.slice(0, -1).map((_, i) => i);
      await sameAsCpu(
        () => {
          const x = tf.tensor(bx, shape);
          const f = (a: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
            const { mean, variance } = tf.moments(a, axes);
            const y = tf.batchNorm(a, mean, variance, bb as tf.Tensor1D, gg as tf.Tensor1D, 1e-3);
            return tf.sum(tf.mul(y, tf.tensor(bw, shape)));
          };
          return [
            tf.sum(x, axes),
            tf.mean(x, axes.slice(0, 1), true),
            ...tf.grads(f)([x, tf.tensor1d(g), tf.tensor1d(b)]),
          ];
        },
        5e-5,
        `batch norm [${shape}]`,
        simdOnOff,
      );
    });
  }
});

Deno.test("wasm training kernels give zeros for gradients and sums with no terms", async (t) => {
  // XNNPACK's products and tfjs-wasm's Sum leave their outputs uninitialised when there is
  // nothing to add up; tfjs-cpu gives zeros. A garbage-filled tensor lies where the output goes.
  const kernel = (name: string, inputs: Record<string, number[]>, attrs: object) => () => {
    tf.fill([4096], 7).dispose();
    const ins = Object.fromEntries(
      Object.entries(inputs).map(([k, shape]) => [k, tf.ones(shape)]),
    );
    return [tf.engine().runKernel(name, ins, attrs as tf.NamedAttrMap) as tf.Tensor];
  };
  const conv = { strides: 1, pad: "valid", dataFormat: "NHWC" };
  const cases: [string, () => tf.Tensor[], (() => void)[]][] = [
    [
      "filter gradient, empty dy (filter larger than the input)",
      kernel("Conv2DBackpropFilter", { x: [1, 2, 2, 4], dy: [1, 0, 0, 3] }, {
        ...conv,
        filterShape: [3, 3, 4, 3],
      }),
      filterGradPaths,
    ],
    [
      "filter gradient, empty batch",
      kernel("Conv2DBackpropFilter", { x: [0, 4, 4, 4], dy: [0, 2, 2, 4] }, {
        ...conv,
        filterShape: [3, 3, 4, 4],
      }),
      filterGradPaths,
    ],
    [
      "input gradient, empty dy",
      kernel("Conv2DBackpropInput", { dy: [1, 0, 0, 4], filter: [3, 3, 4, 4] }, {
        ...conv,
        inputShape: [1, 2, 2, 4],
      }),
      [() => {}],
    ],
    [
      "sum and mean over zero rows",
      () => {
        tf.fill([4096], 7).dispose();
        const x = tf.zeros([0, 3, 4]);
        return [tf.sum(x, 0), tf.mean(x, [0, 1], true), tf.sum(x, [0, 2])];
      },
      [() => {}],
    ],
  ];
  for (const [name, f, variants] of cases) {
    await t.step(name, () => sameAsCpu(f, 0, name, variants));
  }
});

Deno.test("wasm training kernels refuse what they do not support", async () => {
  await tf.setBackend("wasm");
  try {
    const x = tf.ones([1, 4, 4, 2]), dy = tf.ones([1, 2, 2, 4]);
    assertThrows(
      () =>
        tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
          strides: 1,
          pad: "valid",
          dataFormat: "NCHW",
          filterShape: [3, 3, 2, 4],
        }),
      RangeError,
    );
    assertThrows(
      () =>
        tf.engine().runKernel("Conv2DBackpropFilter", { x: x.cast("int32"), dy }, {
          strides: 1,
          pad: "valid",
          dataFormat: "NHWC",
          filterShape: [3, 3, 2, 4],
        }),
      TypeError,
    );
    tf.dispose([x, dy]);
  } finally {
    await tf.setBackend("cpu");
  }
});

Deno.test("a random conv-net training step has the same gradients on wasm and cpu", async () => {
  // conv 3×2 stride 2 same (5 filters) → BN → ReLU → max-pool 3×3 stride 2 same → conv 1×3
  // valid (4 filters) → BN → leaky ReLU → flatten → dense(3), batch 3 of 11×9×3 inputs
  const r = rng(7);
  const shapes: Record<string, number[]> = {
    w1: [3, 2, 3, 5],
    g1: [5],
    b1: [5],
    w2: [1, 3, 5, 4],
    g2: [4],
    b2: [4],
    wd: [3 * 1 * 4, 3],
  };
  const names = Object.keys(shapes);
  const init = names.map((k) => r.values(shapes[k].reduce((a, b) => a * b)));
  const xv = r.values(3 * 11 * 9 * 3);
  const f = () => {
    const params = names.map((k, i) =>
      tf.tensor(k.startsWith("g") ? init[i].map((v) => 1 + 0.2 * v) : init[i], shapes[k])
    );
    const x = tf.tensor4d(xv, [3, 11, 9, 3]);
    const y = tf.oneHot(tf.tensor1d([0, 2, 1], "int32"), 3);
    const bn = (z: tf.Tensor4D, g: tf.Tensor, b: tf.Tensor) => {
      const { mean, variance } = tf.moments(z, [0, 1, 2]);
      return tf.batchNorm(z, mean, variance, b as tf.Tensor1D, g as tf.Tensor1D, 1e-3);
    };
    const loss = (...p: tf.Tensor[]) => {
      let h = tf.conv2d(x, p[0] as tf.Tensor4D, 2, "same"); // 6×5×5
      h = tf.maxPool(tf.relu(bn(h, p[1], p[2])) as tf.Tensor4D, 3, 2, "same"); // 3×3×5
      h = tf.conv2d(h, p[3] as tf.Tensor4D, 1, "valid"); // 3×1×4
      h = tf.leakyRelu(bn(h, p[4], p[5]), 0.1) as tf.Tensor4D;
      const logits = tf.matMul(tf.reshape(h, [3, -1]), p[6]);
      return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
    };
    const { value, grads } = tf.valueAndGrads(loss)(params);
    return [value, ...grads];
  };
  await sameAsCpu(f, 1e-4, "training step", [...filterGradPaths, simdOnOff[1]]);
});
