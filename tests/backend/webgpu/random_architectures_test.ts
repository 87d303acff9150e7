/**
 * Property tests of the WebGPU engine on seeded random architectures against the float64 CPU
 * reference: dense layers (on flat vectors and on an image's last axis), convs with strides,
 * both paddings, non-square kernels and inputs down to 1 × 1, batch norm, ReLU / leaky ReLU /
 * abs, max and average pools with strides unlike their size, zero padding, residual sums,
 * global pools, 1 to 33 classes — each with random engine choices (per-conv plans, Winograd,
 * window tiles, taps, fused transposes) and batches that straddle the chunks. Codes and
 * nearest neighbours must be identical, the affine map and ⟨A_c, x⟩ within 1e-4 of the
 * largest reference value.
 */
import * as tf from "@tensorflow/tfjs";
import { fromLayersModel } from "../../../lib/network/from_layers_model.ts";
import { affineMap } from "../../../lib/affine/affine_map.ts";
import { affineMapAsync } from "../../../lib/affine/affine_map_async.ts";
import { templateInnerProducts } from "../../../lib/affine/template_inner_products.ts";
import { templateInnerProductsAsync } from "../../../lib/affine/template_inner_products_async.ts";
import { partitionCodes } from "../../../lib/partition/codes.ts";
import { partitionCodesAsync } from "../../../lib/partition/codes_async.ts";
import { nearestNeighbors } from "../../../lib/partition/nearest_neighbors.ts";
import { nearestNeighborsAsync } from "../../../lib/partition/nearest_neighbors_async.ts";
import { partitionDistanceMatrix } from "../../../lib/partition/distance_matrix.ts";
import { partitionDistanceMatrixAsync } from "../../../lib/partition/distance_matrix_async.ts";
import { webgpuContext, webgpuHooks } from "../../../lib/backend/webgpu/device.ts";
import {
  clearConvPlans,
  type ConvAlgorithm,
  plannedConvs,
  setConvPlan,
} from "../../../lib/backend/webgpu/conv_plan.ts";
import { abs } from "../../../lib/models/abs_layer.ts";
import { randomInput, randomizeWeights, rng } from "../../_random_models.ts";
import { pickRows, randomCodes } from "../../partition/_random_codes.ts";
import { assertAllClose, assertEquals, largestMagnitude } from "../../_assert.ts";

await tf.setBackend("cpu");
const gpu = await webgpuContext();

type Sym = tf.SymbolicTensor;

/** A seeded random functional model and its input shape, with a one-line description. */
function randomArchitecture(seed: number) {
  const r = rng(seed);
  const int = (a: number, b: number) => a + Math.floor(r() * (b - a + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const wide = r() < 0.5;
  let [h, w, c] = [int(1, wide ? 12 : 7), int(1, wide ? 12 : 7), int(1, wide ? 18 : 3)];
  const inputShape = [h, w, c];
  const input = tf.input({ shape: inputShape });
  const parts: string[] = [];
  const apply = (l: tf.layers.Layer, v: Sym | Sym[]) => l.apply(v) as Sym;
  const nonlinear = () => {
    const kind = pick(["relu", "leaky", "abs"]);
    parts.push(kind);
    return kind === "relu"
      ? tf.layers.reLU()
      : kind === "leaky"
      ? tf.layers.leakyReLU({ alpha: 0.1 })
      : abs({});
  };
  const resize = (v: Sym) => [h, w, c] = v.shape.slice(1) as number[];
  let x: Sym = input, flat = false;
  for (let i = int(1, wide ? 6 : 4); i > 0; i--) {
    const op = flat
      ? pick(["dense", "nl"])
      : pick(["conv", "conv", "nl", "pool", "bn", "pad", "res", "dense"]);
    if (op === "conv") {
      const kernelSize = [int(1, 3), int(1, 3)];
      const s = r() < 0.5 ? 1 : int(1, 2), strides = [s, r() < 0.5 ? s : int(1, 2)];
      const padding = h < kernelSize[0] || w < kernelSize[1] || r() < 0.5 ? "same" : "valid";
      const filters = wide && r() < 0.5 ? int(14, 24) : int(1, 5);
      parts.push(`conv ${kernelSize.join("×")}/${strides.join("×")} ${padding} ${filters}`);
      x = apply(tf.layers.conv2d({ filters, kernelSize, strides, padding, useBias: r() < 0.7 }), x);
      resize(x);
    } else if (op === "nl") {
      x = apply(nonlinear(), x);
    } else if (op === "pool") {
      const poolSize: [number, number] = [int(1, 3), int(1, 3)];
      const strides: [number, number] = [int(1, 3), int(1, 3)];
      const padding = h < poolSize[0] || w < poolSize[1] || r() < 0.5 ? "same" : "valid";
      const max = r() < 0.6;
      parts.push(`${max ? "max" : "avg"} ${poolSize.join("×")}/${strides.join("×")} ${padding}`);
      const config = { poolSize, strides, padding } as const;
      x = apply(max ? tf.layers.maxPooling2d(config) : tf.layers.averagePooling2d(config), x);
      resize(x);
    } else if (op === "bn") {
      parts.push("bn");
      x = apply(tf.layers.batchNormalization(), x);
    } else if (op === "pad") {
      const padding: [[number, number], [number, number]] = [
        [int(0, 2), int(0, 2)],
        [int(0, 2), int(0, 2)],
      ];
      parts.push(`pad ${JSON.stringify(padding)}`);
      x = apply(tf.layers.zeroPadding2d({ padding }), x);
      resize(x);
    } else if (op === "res") {
      parts.push("res(");
      const y = apply(nonlinear(), x);
      const kernelSize = [int(1, 3), int(1, 3)];
      x = apply(tf.layers.add(), [
        x,
        apply(tf.layers.conv2d({ filters: c, kernelSize, padding: "same" }), y),
      ]);
      parts.push(")");
    } else {
      if (!flat && r() < 0.5) {
        x = apply(tf.layers.flatten(), x);
        flat = true;
        parts.push("flatten");
      }
      const units = int(1, 40);
      parts.push(`dense ${units}`);
      x = apply(tf.layers.dense({ units }), x);
      if (!flat) resize(x);
    }
  }
  if (!flat) {
    const end = pick(["flatten", "flatten", "gmax", "gavg"]);
    parts.push(end);
    x = apply(
      end === "gmax"
        ? tf.layers.globalMaxPooling2d({})
        : end === "gavg"
        ? tf.layers.globalAveragePooling2d({})
        : tf.layers.flatten(),
      x,
    );
  }
  if (!parts.some((p) => /^(relu|leaky|abs|max|gmax)/.test(p))) x = apply(nonlinear(), x);
  const classes = pick([1, 2, 3, 10, 13, 33]);
  parts.push(`dense ${classes}`);
  x = apply(tf.layers.dense({ units: classes }), x);
  const model = tf.model({ inputs: input, outputs: x });
  randomizeWeights(model, seed + 7);
  return { model, inputShape, what: `[${inputShape}] ${parts.join(", ")}` };
}

const FORWARD: readonly (ConvAlgorithm | undefined)[] = [
  undefined,
  "product",
  "winograd2",
  "winograd4",
];
const TRANSPOSE: readonly (ConvAlgorithm | undefined)[] = [
  ...FORWARD,
  "window-tiles",
  "taps",
  "layers",
];

Deno.test({
  name: "the WebGPU engine agrees with the CPU reference on random architectures",
  ignore: gpu === null,
  async fn(t) {
    for (let seed = 1; seed <= 24; seed++) {
      const { model, inputShape, what } = randomArchitecture(seed);
      const net = fromLayersModel(model);
      const r = rng(seed * 3);
      const n = [1, 2, 3, 5, 7, 17][Math.floor(r() * 6)];
      const chunk = r() < 0.5 ? undefined : 1 + Math.floor(r() * 3); // examples a chunk
      const choices = {
        fuseTransposes: [undefined, true, false][Math.floor(r() * 3)],
        windowTiles: [undefined, true, false, "narrow", "work"][Math.floor(r() * 5)],
        winograd: [undefined, false, 2, 4][Math.floor(r() * 4)],
        convTaps: [undefined, true, false][Math.floor(r() * 3)],
      } as const;
      const plans = plannedConvs(net).map((conv) => {
        const plan = {
          forward: FORWARD[Math.floor(r() * FORWARD.length)],
          transpose: TRANSPOSE[Math.floor(r() * TRANSPOSE.length)],
        };
        setConvPlan(gpu!, conv, plan);
        return `${plan.forward ?? "rules"}/${plan.transpose ?? "rules"}`;
      });
      const xt = randomInput(inputShape, n, seed + 1000);
      const x = { data: Float64Array.from(xt.dataSync()), shape: xt.shape };
      xt.dispose();
      const name = `seed ${seed}, ${n} examples${chunk ? `, ${chunk} a chunk` : ""}, ${
        JSON.stringify(choices)
      }, plans ${plans.join(" ") || "none"}: ${what}`;
      await t.step(name, async () => {
        Object.assign(webgpuHooks, choices);
        if (chunk !== undefined) {
          webgpuHooks.chunkBytes = net.largestActivation * 4 * net.outputSize * chunk;
        }
        try {
          const refCodes = partitionCodes(net, x, { backend: "cpu" });
          const codes = await partitionCodesAsync(net, x, { backend: "webgpu" });
          assertEquals(codes.length, refCodes.length);
          codes.forEach((got, l) => {
            assertEquals(got.bits, refCodes[l].bits, `layer ${l} bits`);
            assertEquals(got.argmax, refCodes[l].argmax, `layer ${l} argmax`);
          });
          const close = (got: ArrayLike<number>, want: Float64Array, label: string) =>
            assertAllClose(got, want, 1e-4, label, largestMagnitude(want));
          const refMap = affineMap(net, x, { backend: "cpu" });
          const map = await affineMapAsync(net, x, { backend: "webgpu" });
          assertEquals(map.A.shape, refMap.A.shape);
          close(map.A.data, refMap.A.data, "A");
          close(map.B.data, refMap.B.data, "B");
          const ip = await templateInnerProductsAsync(net, x, { backend: "webgpu" });
          close(ip.data, templateInnerProducts(net, x, { backend: "cpu" }).data, "<A_c, x>");
          for (const layer of refCodes) {
            if (n < 2) break;
            const k = Math.min(n - 1, 3);
            const options = { k, exclude: "same-index" } as const;
            const want = nearestNeighbors(layer, layer, options);
            const got = await nearestNeighborsAsync(layer, layer, {
              ...options,
              backend: "webgpu",
            });
            assertEquals(got.indices.arraySync(), want.indices.arraySync());
            assertEquals(got.distances.arraySync(), want.distances.arraySync());
            tf.dispose([want.indices, want.distances, got.indices, got.distances]);
            const d = await partitionDistanceMatrixAsync(layer, layer, { backend: "webgpu" });
            assertEquals(d.data, partitionDistanceMatrix(layer, layer).data);
          }
        } finally {
          for (const key of [...Object.keys(choices), "chunkBytes"]) {
            delete webgpuHooks[key as keyof typeof webgpuHooks];
          }
          clearConvPlans(gpu!, net);
          model.dispose();
        }
      });
    }
  },
});

Deno.test({
  name: "nearest neighbours and distances on WebGPU match the CPU on random codes and chunkings",
  ignore: gpu === null,
  async fn(t) {
    const r = rng(77);
    const int = (a: number, b: number) => a + Math.floor(r() * (b - a + 1));
    for (let i = 0; i < 24; i++) {
      const kind = r() < 0.5 ? "relu" as const : "max-pool" as const;
      const units = [1, 3, 31, 32, 33, 64, 65, 127, 129, 257, 513][int(0, 10)];
      const m = int(1, 300);
      const base = randomCodes(m, units, { kind, seed: i, p: r(), window: int(1, 3) });
      const self = r() < 0.3;
      const query = self
        ? base
        : r() < 0.5
        ? pickRows(base, Array.from({ length: int(1, 150) }, () => int(0, m - 1)))
        : randomCodes(int(1, 150), units, { kind, seed: i + 999, p: r(), window: int(1, 3) });
      const R = [1, 2, 4, 8][int(0, 3)], T = 16 * R;
      const gpuChunks = r() < 0.3 ? undefined : {
        perThread: R,
        baseRows: r() < 0.5 ? undefined : T * int(1, 4),
        queryRows: r() < 0.5 ? undefined : T * int(1, 3),
        residentBaseBytes: r() < 0.5 ? undefined : 0,
      };
      const exclude = self && r() < 0.6 ? "same-index" as const : undefined;
      const k = Math.min(r() < 0.7 ? int(1, 12) : int(1, 60), m - (exclude ? 1 : 0));
      await t.step(
        `${query.count} × ${m} ${kind} codes of ${units} units, k ${k}${
          exclude ? ", leave-one-out" : ""
        }, chunks ${JSON.stringify(gpuChunks)}`,
        async () => {
          if (k >= 1) {
            const want = nearestNeighbors(query, base, { k, exclude });
            const got = await nearestNeighborsAsync(query, base, {
              k,
              exclude,
              backend: "webgpu",
              gpuChunks,
            });
            assertEquals(got.indices.arraySync(), want.indices.arraySync());
            assertEquals(got.distances.arraySync(), want.distances.arraySync());
            tf.dispose([want.indices, want.distances, got.indices, got.distances]);
          }
          const d = await partitionDistanceMatrixAsync(query, base, {
            backend: "webgpu",
            gpuChunks,
          });
          assertEquals(d.data, partitionDistanceMatrix(query, base).data);
        },
      );
    }
  },
});
