import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { fromLayersModel } from "../../lib/network/from_layers_model.ts";
import { affineMap } from "../../lib/affine/affine_map.ts";
import { templateInnerProducts } from "../../lib/affine/template_inner_products.ts";
import { partitionCodes } from "../../lib/partition/codes.ts";
import {
  disposeCodes,
  forwardPassTf,
  maskedPassTf,
  readCodes,
} from "../../lib/backend/tfjs/run.ts";
import { registerWasmTrainingKernels } from "../../lib/train/wasm_kernels.ts";
import {
  assert,
  assertAllClose,
  assertEquals,
  assertThrows,
  largestMagnitude,
} from "../_assert.ts";
import {
  wasmWinograd,
  WINOGRAD_CONV,
  winogradRuns,
  withWinogradConvs,
} from "../../lib/backend/tfjs/_wasm_winograd.ts";
import {
  POOL_CONV_TRANSPOSE,
  scatterPays,
  wasmConvPool,
} from "../../lib/backend/tfjs/_wasm_conv_pool.ts";
import { MASKED_MAX_POOL_TRANSPOSE } from "../../lib/backend/tfjs/_wasm_masked_max_pool.ts";
import { largeCNN } from "../../lib/models/large_cnn.ts";
import { cases } from "../_cases.ts";
import { repeatedImages } from "../_tie_images.ts";
import { normals, randomInput, randomizeWeights, rng } from "../_random_models.ts";
import { codeDifferences } from "../../lib/partition/code_differences.ts";

// importing the wasm backend makes it the highest priority: start from tfjs-cpu explicitly
await tf.setBackend("cpu");

/** Runs `fn` with the tfjs backend `name` active, restoring the previous one. */
async function withBackend(name: string, fn: () => void | Promise<void>) {
  const before = tf.getBackend();
  await tf.setBackend(name);
  try {
    await fn();
  } finally {
    await tf.setBackend(before);
  }
}

Deno.test("the tfjs engine agrees with the float64 CPU reference", async (t) => {
  for (const backend of ["cpu", "wasm"]) {
    for (const c of cases(11)) {
      await t.step(`${c.name} on tfjs-${backend}`, async () => {
        const net = fromLayersModel(c.model);
        const ref = affineMap(net, c.x, { backend: "cpu" });
        const refIp = templateInnerProducts(net, c.x, { backend: "cpu" });
        await withBackend(backend, () => {
          const x = tf.tensor(c.x.dataSync(), c.x.shape);
          // a first call makes the network's constant tensors, kept for later calls
          tf.dispose(Object.values(affineMap(net, x, { backend: "tfjs" })));
          tf.dispose(templateInnerProducts(net, x, { backend: "tfjs" }));
          const before = tf.memory().numTensors;
          const ours = affineMap(net, x, { backend: "tfjs" });
          const ip = templateInnerProducts(net, x, { backend: "tfjs" });
          assertEquals(ours.A.shape, ref.A.shape);
          assertEquals(ours.B.shape, ref.B.shape);
          // float32 vs float64: relative to the largest entry of each quantity
          const a = ref.A.dataSync(), b = ref.B.dataSync(), p = refIp.dataSync();
          assertAllClose(ours.A.dataSync(), a, 1e-4, "A", largestMagnitude(a));
          assertAllClose(ours.B.dataSync(), b, 1e-4, "B", largestMagnitude(b));
          assertAllClose(ip.dataSync(), p, 1e-4, "<A_c, x>", largestMagnitude(p));
          // nothing leaks but the three results
          assertEquals(tf.memory().numTensors, before + 3);
          tf.dispose([ours.A, ours.B, ip, x]);
        });
      });
    }
  }
});

/** The wide CNN, and 16-channel convs of stride 2 (their transposes: Winograd on the dilated gradient). */
function winogradCases() {
  const strided = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [11, 10, 16], filters: 16, kernelSize: 3, strides: 2 }),
      tf.layers.reLU(),
      tf.layers.conv2d({ filters: 20, kernelSize: 3, strides: 2, padding: "same" }),
      tf.layers.reLU(),
      tf.layers.flatten(),
      tf.layers.dense({ units: 3 }),
    ],
  });
  randomizeWeights(strided, 17);
  return [
    cases(11).find((c) => c.name.startsWith("wide CNN"))!,
    { name: "strided", model: strided, x: randomInput([11, 10, 16], 3, 19) },
  ];
}

Deno.test("on tfjs-wasm, 3×3 convs of 16+ channels run by Winograd, both tiles, and agree", async (t) => {
  for (const c of winogradCases()) await winogradAgrees(t, c);
});

async function winogradAgrees(
  t: Deno.TestContext,
  c: { name: string; model: tf.LayersModel; x: tf.Tensor },
): Promise<void> {
  const net = fromLayersModel(c.model);
  const ref = affineMap(net, c.x, { backend: "cpu" });
  const refIp = templateInnerProducts(net, c.x, { backend: "cpu" });
  for (const tile of ["auto", 2, 4] as const) {
    await t.step(`${c.name}, tile ${tile}`, async () => {
      wasmWinograd.tile = tile;
      try {
        await withBackend("wasm", async () => {
          const x = tf.tensor(c.x.dataSync(), c.x.shape);
          let ours: { A: tf.Tensor; B: tf.Tensor } | undefined, ip: tf.Tensor | undefined;
          const { kernelNames } = await tf.profile(() => {
            ours = affineMap(net, x, { backend: "tfjs" });
            ip = templateInnerProducts(net, x, { backend: "tfjs" });
          });
          // the forward convs, their transposes, the masked passes
          assert(kernelNames.includes(WINOGRAD_CONV), `${kernelNames}`);
          const a = ref.A.dataSync(), b = ref.B.dataSync(), p = refIp.dataSync();
          assertAllClose(ours!.A.dataSync(), a, 1e-4, "A", largestMagnitude(a));
          assertAllClose(ours!.B.dataSync(), b, 1e-4, "B", largestMagnitude(b));
          assertAllClose(ip!.dataSync(), p, 1e-4, "<A_c, x>", largestMagnitude(p));
          tf.dispose([ours!.A, ours!.B, ip!, x]);
        });
      } finally {
        wasmWinograd.tile = "auto";
      }
    });
  }
}

Deno.test("on tfjs-wasm, a pooled conv's transpose scatters only where scatterPays() says so, and agrees", async (t) => {
  await t.step("scatterPays(): small rows, or wider ones of ≤ 32 channels, not 4 KiB apart", () => {
    assert(scatterPays([15, 15, 32])); // smallCNN's second conv
    assert(scatterPays([7, 7, 16]));
    assert(scatterPays([9, 9, 192])); // 15,552 floats
    assert(scatterPays([45, 45, 16])); // 32,400 floats of 16 channels
    assert(!scatterPays([32, 32, 32])); // rows of 128 KiB
    assert(!scatterPays([8, 8, 16])); // rows of 4 KiB
    assert(!scatterPays([23, 23, 64])); // 33,856 floats of 64 channels
    assert(!scatterPays([38, 38, 96])); // largeCNN's third conv
    assert(!scatterPays([47, 47, 32])); // 70,688 floats
  });
  /** conv k×k (same) → ReLU → max-pool 2 → dense on `[h, h, 16]`. */
  const pooled = (h: number, k: number, seed: number) => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [h, h, 16], filters: 16, kernelSize: k, padding: "same" }),
        tf.layers.reLU(),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 3 }),
      ],
    });
    randomizeWeights(model, seed);
    return { model, x: randomInput([h, h, 16], 3, seed + 1) };
  };
  const shapes = [
    { h: 8, k: 3, rule: true, scatter: false }, // 8·8·16 floats = 4 KiB rows: Winograd
    { h: 7, k: 3, rule: true, scatter: true },
    { h: 8, k: 3, rule: false, scatter: true }, // the rule off: scattered wherever it applies
    { h: 8, k: 1, rule: true, scatter: true }, // no Winograd for a 1×1 conv: scattered
  ];
  for (const { h, k, rule, scatter } of shapes) {
    await t.step(
      `[${h}, ${h}, 16], ${k}×${k}, rule ${rule ? "on" : "off"}: ${
        scatter ? "scattered" : "Winograd"
      }`,
      async () => {
        const { model, x: x64 } = pooled(h, k, 31 + h);
        const net = fromLayersModel(model);
        const ref = affineMap(net, x64, { backend: "cpu" });
        const refIp = templateInnerProducts(net, x64, { backend: "cpu" });
        wasmConvPool.scatterRule = rule;
        try {
          await withBackend("wasm", async () => {
            const x = tf.tensor(x64.dataSync(), x64.shape);
            let ours: { A: tf.Tensor; B: tf.Tensor } | undefined;
            const { kernelNames } = await tf.profile(() => {
              ours = affineMap(net, x, { backend: "tfjs" });
            });
            const ip = templateInnerProducts(net, x, { backend: "tfjs" });
            assertEquals(kernelNames.includes(POOL_CONV_TRANSPOSE), scatter, `${kernelNames}`);
            assertEquals(kernelNames.includes(WINOGRAD_CONV), !scatter, `${kernelNames}`);
            const a = ref.A.dataSync(), b = ref.B.dataSync(), p = refIp.dataSync();
            assertAllClose(ours!.A.dataSync(), a, 1e-4, "A", largestMagnitude(a));
            assertAllClose(ours!.B.dataSync(), b, 1e-4, "B", largestMagnitude(b));
            assertAllClose(ip.dataSync(), p, 1e-4, "<A_c, x>", largestMagnitude(p));
            tf.dispose([ours!.A, ours!.B, ip, x]);
          });
        } finally {
          wasmConvPool.scatterRule = true;
        }
      },
    );
  }
});

Deno.test("on tfjs-wasm, the paper's largeCNN at full size agrees with the float64 reference, its pooled transposes as the rule picks", async () => {
  const model = largeCNN({ seed: 5 });
  // small random biases and batch-norm shifts, so that B is not zero
  const r = rng(7);
  for (const layer of model.layers) {
    const ws = layer.getWeights();
    if (ws.length === 0) continue;
    layer.setWeights(
      ws.map((w, i) =>
        /bias|beta/.test(layer.weights[i].name)
          ? tf.tensor(normals(w.size, r).map((v) => 0.1 * v), w.shape)
          : w
      ),
    );
  }
  const net = fromLayersModel(model);
  const n = 2, x64 = randomInput([32, 32, 3], n, 6);
  const batch = { data: Float64Array.from(x64.dataSync()), shape: [...x64.shape] };
  const ref = affineMap(net, batch, { backend: "cpu" });
  const refIp = templateInnerProducts(net, batch, { backend: "cpu" });
  await withBackend("wasm", async () => {
    const x = tf.tensor(x64.dataSync(), x64.shape);
    // a code within float32 rounding of a tie may be decided the other way (its example's
    // templates are then another region's): only near ties may differ, and those examples are
    // left out
    const codes = partitionCodes(net, x, { backend: "tfjs" });
    const differences = codeDifferences(
      net,
      batch,
      codes.map((l) => (l.kind === "max-pool" ? l.argmax : l.bits)),
    );
    assertEquals(differences.filter((d) => d.kind === "exact tie" || d.kind === "clear"), []);
    const keep = [...Array(n).keys()].filter((e) => !differences.some((d) => d.example === e));
    assert(keep.length > 0, "every example has a near tie");
    let ours: { A: tf.Tensor; B: tf.Tensor } | undefined;
    const { kernels } = await tf.profile(() => {
      ours = affineMap(net, x, { backend: "tfjs" });
    });
    const ip = templateInnerProducts(net, x, { backend: "tfjs" });
    // the third and sixth convs' transposes by Winograd after the masked pools, the 1×1 eighth's
    // scattered (scatterPays, scatters)
    const names = kernels.map((k) => k.name);
    const count = (name: string) => names.filter((k) => k === name).length;
    assertEquals(count(MASKED_MAX_POOL_TRANSPOSE), 2, `${names}`);
    assertEquals(count(POOL_CONV_TRANSPOSE), 1, `${names}`);
    const rows = (t: ArrayLike<number>, per: number) =>
      Float64Array.from(keep.flatMap((e) => Array.from(t).slice(e * per, (e + 1) * per)));
    const a = ref.A.data, b = ref.B.data, p = refIp.data, C = 10, D = 32 * 32 * 3;
    assert(largestMagnitude(b) > 0);
    const close = (got: ArrayLike<number>, want: Float64Array, per: number, what: string) =>
      assertAllClose(
        rows(got, per),
        rows(want, per),
        1e-4,
        what,
        largestMagnitude(rows(want, per)),
      );
    close(ours!.A.dataSync(), a, C * D, "A");
    close(ours!.B.dataSync(), b, C, "B");
    close(ip.dataSync(), p, C, "<A_c, x>");
    tf.dispose([ours!.A, ours!.B, ip, x]);
  });
});

Deno.test("on tfjs-wasm, Winograd leaves exact max-pool ties to the first-index convention", async () => {
  // an image's constant background: equal pre-activations that a max-pool window must tie on
  const c = cases(11).find((c) => c.name.startsWith("wide CNN"))!;
  const net = fromLayersModel(c.model);
  const data = new Float64Array(4 * 10 * 9 * 3);
  for (let n = 0; n < 4; n++) data[((n * 10 + 3 + n) * 9 + 4) * 3 + (n % 3)] = 1 + n;
  const batch = { data, shape: [4, 10, 9, 3] };
  const want = partitionCodes(net, batch, { backend: "cpu" });
  const ref = affineMap(net, batch, { backend: "cpu" });
  const check = () => {
    const x = tf.tensor(Float32Array.from(data), batch.shape);
    const before = winogradRuns.count;
    const got = partitionCodes(net, x, { backend: "tfjs" });
    const ours = affineMap(net, x, { backend: "tfjs" });
    assert(winogradRuns.count > before, "the templates' passes ran by Winograd");
    got.forEach((layer, i) => {
      assertEquals(Array.from(layer.bits), Array.from(want[i].bits), `layer ${i} bits`);
      assertEquals(Array.from(layer.argmax), Array.from(want[i].argmax), `layer ${i} argmax`);
    });
    assertAllClose(ours.A.dataSync(), ref.A.data, 1e-4, "A", largestMagnitude(ref.A.data));
    tf.dispose([x, ours.A, ours.B]);
  };
  await withBackend("wasm", check);
  // with the training kernels' Conv2D and FusedConv2D, which take convs of any size here, even
  // inside the scope of train's steps
  registerWasmTrainingKernels();
  const { minFilterMacs } = wasmWinograd;
  wasmWinograd.minFilterMacs = 0;
  try {
    await withBackend("wasm", () => withWinogradConvs(check));
  } finally {
    wasmWinograd.minFilterMacs = minFilterMacs;
    registerWasmTrainingKernels({ replaceSlowKernels: false });
  }
});

Deno.test("on tfjs-wasm, ties of fields repeated along a diagonal or an axis keep the convention", async () => {
  // what even F(2)'s ±1 transforms would break in a pass that records codes (the WebGPU
  // engine's exact_ties_test.ts shows it): this engine's recording passes run products
  const net = fromLayersModel(cases(11).find((c) => c.name.startsWith("wide CNN"))!.model);
  const batch = repeatedImages([10, 9, 3]);
  const want = partitionCodes(net, batch, { backend: "cpu" });
  await withBackend("wasm", () => {
    const x = tf.tensor(Float32Array.from(batch.data), batch.shape);
    const before = winogradRuns.count;
    const got = partitionCodes(net, x, { backend: "tfjs" });
    const { A, B } = affineMap(net, x, { backend: "tfjs" });
    assert(winogradRuns.count > before, "the templates' passes ran by Winograd");
    got.forEach((layer, i) => {
      assertEquals(Array.from(layer.bits), Array.from(want[i].bits), `layer ${i} bits`);
      assertEquals(Array.from(layer.argmax), Array.from(want[i].argmax), `layer ${i} argmax`);
    });
    tf.dispose([x, A, B]);
  });
});

Deno.test("on tfjs-wasm, ⟨A_c, x⟩ records its codes by Winograd, and the exact ties that breaks leave it equal", async (t) => {
  // the constant background (and repeated fields) above: Winograd's rounding decides their
  // max-pool ties, yet ⟨A_c, x⟩ stays the reference's, tied entries having the same receptive
  // field and so the same values without biases too
  const net = fromLayersModel(cases(11).find((c) => c.name.startsWith("wide CNN"))!.model);
  const lit = new Float64Array(4 * 10 * 9 * 3);
  for (let n = 0; n < 4; n++) lit[((n * 10 + 3 + n) * 9 + 4) * 3 + (n % 3)] = 1 + n;
  const batches = [
    { name: "lit pixels", batch: { data: lit, shape: [4, 10, 9, 3] } },
    { name: "repeated fields", batch: repeatedImages([10, 9, 3]) },
  ];
  const { minFilterMacs } = wasmWinograd;
  wasmWinograd.minFilterMacs = 0; // these images are small
  try {
    for (const { name, batch } of batches) {
      await t.step(name, async () => {
        const want = partitionCodes(net, batch, { backend: "cpu" });
        const ref = templateInnerProducts(net, batch, { backend: "cpu" }).data;
        await withBackend("wasm", () => {
          const x = tf.tensor(Float32Array.from(batch.data), batch.shape);
          // max-pool codes that differ from the reference's, by a forward pass with `tiesFree`
          let runs = 0; // Winograd convs of the forward pass with `tiesFree` and its masked pass
          const brokenBy = (tiesFree: boolean) => {
            const before = winogradRuns.count;
            const { output, codes } = forwardPassTf(net, x, { tiesFree });
            const ran = winogradRuns.count > before;
            const got = readCodes(codes);
            tf.dispose([output, maskedPassTf(net, x, { codes, bias: false })]);
            runs = winogradRuns.count - before;
            disposeCodes(codes);
            const differ = net.codeLayers.reduce((sum, info, i) => {
              if (info.kind !== "max-pool") return sum;
              const ours = got.get(info.layer)!;
              return sum + want[i].argmax.filter((a, j) => a !== ours[j]).length;
            }, 0);
            return { ran, differ };
          };
          assertEquals(brokenBy(false), { ran: false, differ: 0 }, "products: the convention");
          const winograd = brokenBy(true);
          assert(
            winograd.ran && winograd.differ > 0,
            `Winograd broke ties: ${JSON.stringify(winograd)}`,
          );
          const before = winogradRuns.count;
          const z = templateInnerProducts(net, x, { backend: "tfjs" });
          assertEquals(winogradRuns.count - before, runs, "templateInnerProducts runs that pass");
          assertAllClose(z.dataSync(), ref, 1e-5, "<A_c, x>", largestMagnitude(ref));
          tf.dispose([x, z]);
        });
      });
    }
  } finally {
    wasmWinograd.minFilterMacs = minFilterMacs;
  }
});

Deno.test("partitionCodes() on the tfjs engine equals the float64 reference", async (t) => {
  for (const backend of ["cpu", "wasm"]) {
    for (const c of cases(12)) {
      await t.step(`${c.name} on tfjs-${backend}`, async () => {
        const net = fromLayersModel(c.model);
        const ref = partitionCodes(net, c.x, { backend: "cpu" });
        await withBackend(backend, () => {
          const x = tf.tensor(c.x.dataSync(), c.x.shape);
          const ours = partitionCodes(net, x, { backend: "tfjs" });
          assertEquals(ours.length, ref.length);
          for (let l = 0; l < ref.length; l++) {
            assertEquals(ours[l].kind, ref[l].kind);
            assertEquals(ours[l].bits, ref[l].bits, `layer ${l} bits`);
            assertEquals(ours[l].argmax, ref[l].argmax, `layer ${l} argmax`);
          }
          x.dispose();
        });
      });
    }
  }
});

Deno.test("a first layer's pooled transpose is right where its window tiles cross every edge", async (t) => {
  // conv (same padding) → ReLU → 2×2 max-pool: the tiles of the edge windows reach past the
  // input on all four sides and are clipped (3×3 over 3 channels; 5×5 over 1 channel; a pool
  // straight after the conv, no ReLU to gate it, over 2 channels)
  const configs: [number[], number, boolean][] = [
    [[8, 10, 3], 3, true],
    [[9, 8, 1], 5, true],
    [[7, 6, 2], 3, false],
  ];
  for (const [shape, k, relu] of configs) {
    await t.step(`${k}×${k} over [${shape}]${relu ? "" : ", no ReLU"}`, async () => {
      const model = tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: shape, filters: 8, kernelSize: k, padding: "same" }),
          ...(relu ? [tf.layers.reLU()] : []),
          tf.layers.maxPooling2d({ poolSize: 2 }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 3 }),
        ],
      });
      randomizeWeights(model, k);
      const net = fromLayersModel(model);
      const x = randomInput(shape, 3, 7 + k);
      const ref = affineMap(net, x, { backend: "cpu" });
      await withBackend("wasm", () => {
        const ours = affineMap(net, tf.tensor(x.dataSync(), x.shape), { backend: "tfjs" });
        const a = ref.A.dataSync(), b = ref.B.dataSync();
        assertAllClose(ours.A.dataSync(), a, 1e-5, "A", largestMagnitude(a));
        assertAllClose(ours.B.dataSync(), b, 1e-5, "B", largestMagnitude(b));
      });
    });
  }
});

Deno.test("the tfjs engine counts each max-pool window once when its maxima tie exactly", async (t) => {
  // a constant image gives identical positive activations in every window: the first wins
  // (4 input channels: the fused pool/ReLU/conv transpose kernel on wasm; 2: the others)
  for (const channels of [2, 4]) {
    await t.step(`${channels} input channels`, async () => {
      const model = tf.sequential({
        layers: [
          tf.layers.conv2d({
            inputShape: [6, 6, channels],
            filters: 3,
            kernelSize: 1,
            biasInitializer: "ones",
          }),
          tf.layers.reLU(),
          tf.layers.maxPooling2d({ poolSize: 2 }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 2 }),
        ],
      });
      const net = fromLayersModel(model);
      const x = tf.fill([2, 6, 6, channels], 0.5);
      const ref = affineMap(net, x, { backend: "cpu" });
      const refIp = templateInnerProducts(net, x, { backend: "cpu" });
      await withBackend("wasm", () => {
        const xt = tf.fill([2, 6, 6, channels], 0.5);
        const ours = affineMap(net, xt, { backend: "tfjs" });
        assertAllClose(ours.A.dataSync(), ref.A.dataSync(), 1e-5, "A");
        assertAllClose(ours.B.dataSync(), ref.B.dataSync(), 1e-5, "B");
        assertAllClose(
          templateInnerProducts(net, xt, { backend: "tfjs" }).dataSync(),
          refIp.dataSync(),
          1e-5,
        );
      });
    });
  }
});

Deno.test("the linear masked pass reuses the forward pass's W₁x", async (t) => {
  for (const backend of ["cpu", "wasm"]) {
    for (const c of cases(13)) {
      await t.step(`${c.name} on tfjs-${backend}`, async () => {
        const net = fromLayersModel(c.model);
        await withBackend(backend, () => {
          const x = tf.tensor(c.x.dataSync(), c.x.shape), copy = x.clone();
          const { output, codes } = forwardPassTf(net, x);
          const reused = maskedPassTf(net, x, { codes, bias: false }); // starts from W₁x
          const fresh = maskedPassTf(net, copy, { codes, bias: false }); // recomputes it
          const full = maskedPassTf(net, x, { codes, bias: true });
          // to the bit where both run the same ops; to float32 rounding on wasm, where a
          // conv → ReLU → pool runs masokit's gathering kernel (dot products at the pooled
          // positions only) in the fresh pass and the reused W₁x came from XNNPACK's conv
          const tol = backend === "cpu" ? 0 : 1e-6, f = fresh.dataSync();
          assertAllClose(reused.dataSync(), f, tol, "reused W₁x", largestMagnitude(f));
          // the affine masked pass reproduces the forward output, likewise
          const want = output.dataSync();
          assertAllClose(full.dataSync(), want, tol, "affine masked pass", largestMagnitude(want));
          disposeCodes(codes);
          tf.dispose([x, copy, output, reused, fresh, full]);
        });
      });
    }
  }
});

Deno.test("resolveBackend() refuses the tfjs engine on tfjs-webgpu and names the way out", async () => {
  const { resolveBackend } = await import("../../lib/backend/backend.ts");
  const x = tf.zeros([1, 2]);
  const ok = await navigator.gpu?.requestAdapter().then((a) => a !== null, () => false);
  if (!ok) return; // no WebGPU here: nothing to check
  await import("@tensorflow/tfjs-backend-webgpu");
  await withBackend("webgpu", () => {
    assertEquals(resolveBackend(x, {}), "cpu");
    assertThrows(
      () => resolveBackend(x, { backend: "tfjs" }),
      /synchronous read-back.*affineMapAsync/,
    );
  });
});

Deno.test("the tfjs engine takes empty batches and int32 tensors as the cpu engine does", async (t) => {
  const net = fromLayersModel(cases(13).find((c) => c.x.shape.length === 4)!.model); // a CNN
  const C = net.outputSize, D = net.inputSize;
  for (const backend of ["cpu", "wasm"]) {
    await t.step(`tfjs-${backend}`, async () => {
      await withBackend(backend, () => {
        const empty = tf.zeros([0, ...net.inputShape]);
        for (const engine of ["tfjs", "auto"] as const) {
          const { A, B } = affineMap(net, empty, { backend: engine });
          assertEquals([A.shape, B.shape], [[0, C, D], [0, C]]);
          assertEquals(templateInnerProducts(net, empty, { backend: engine }).shape, [0, C]);
          assertEquals(partitionCodes(net, empty, { backend: engine }).map((c) => c.count), [
            ...partitionCodes(net, empty, { backend: "cpu" }).map(() => 0),
          ]);
          tf.dispose([A, B]);
        }
        const ints = tf.tensor(
          Int32Array.from({ length: 2 * D }, (_, i) => (i * 7) % 5 - 2),
          [2, ...net.inputShape],
          "int32",
        );
        const ref = affineMap(net, ints, { backend: "cpu" });
        const ours = affineMap(net, ints, { backend: "tfjs" });
        assertAllClose(
          ours.B.dataSync(),
          ref.B.dataSync(),
          1e-4,
          "B",
          largestMagnitude(ref.B.dataSync()),
        );
        assertAllClose(
          templateInnerProducts(net, ints, { backend: "tfjs" }).dataSync(),
          templateInnerProducts(net, ints, { backend: "cpu" }).dataSync(),
          1e-4,
          "<A_c, x>",
        );
        assertEquals(
          partitionCodes(net, ints, { backend: "tfjs" }).map((c) => Array.from(c.bits)),
          partitionCodes(net, ints, { backend: "cpu" }).map((c) => Array.from(c.bits)),
        );
        assertThrows(
          () => affineMap(net, tf.zeros([1, ...net.inputShape], "bool"), { backend: "tfjs" }),
          /dtype bool, expected float32 or int32/,
        );
        tf.dispose([empty, ints, ref.A, ref.B, ours.A, ours.B]);
      });
    });
  }
});
