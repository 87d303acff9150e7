import * as tf from "@tensorflow/tfjs";
import { nearestNeighborsAsync } from "../../../lib/partition/nearest_neighbors_async.ts";
import { partitionDistanceMatrixAsync } from "../../../lib/partition/distance_matrix_async.ts";
import {
  setWebGpuAdapterSource,
  webgpuContext,
  webgpuHooks,
} from "../../../lib/backend/webgpu/device.ts";
import { webgpuNotices } from "../../../lib/backend/webgpu/with_fallback.ts";
import { randomCodes } from "../../partition/_random_codes.ts";
import type { CodeLayer } from "../../../lib/partition/code_layer.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../../_assert.ts";

/** Brute-force kNN: per-unit comparison, sort by (count, index); shares no code with the library. */
function bruteKnn(q: CodeLayer, b: CodeLayer, k: number, exclude: boolean) {
  const unit = (c: CodeLayer, n: number, u: number) =>
    c.kind === "max-pool"
      ? c.argmax[n * c.units + u]
      : (c.bits[n * c.words + (u >> 5)] >>> (u & 31)) & 1;
  const indices: number[][] = [], distances: number[][] = [];
  for (let i = 0; i < q.count; i++) {
    const all: [number, number][] = [];
    for (let j = 0; j < b.count; j++) {
      if (exclude && i === j) continue;
      let m = 0;
      for (let u = 0; u < q.units; u++) if (unit(q, i, u) !== unit(b, j, u)) m++;
      all.push([m, j]);
    }
    all.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    indices.push(all.slice(0, k).map((p) => p[1]));
    distances.push(all.slice(0, k).map((p) => Math.fround(p[0] / q.units)));
  }
  return { indices, distances };
}

const gpu = await webgpuContext();

Deno.test({
  name: "nearestNeighborsAsync() on WebGPU equals the brute-force kNN",
  ignore: gpu === null,
  async fn(t) {
    const cases: [string, CodeLayer, CodeLayer, number, boolean][] = [
      [
        "relu, 1000 units, k 5",
        randomCodes(70, 1000, { seed: 1, p: 0.3 }),
        randomCodes(300, 1000, { seed: 2, p: 0.3 }),
        5,
        false,
      ],
      [
        "abs, 45 units, many ties, k 9",
        randomCodes(40, 45, { kind: "abs", seed: 3, p: 0.05 }),
        randomCodes(200, 45, { kind: "abs", seed: 4, p: 0.05 }),
        9,
        false,
      ],
      [
        "max-pool, 77 units (odd, packed in pairs), k 3",
        randomCodes(50, 77, { kind: "max-pool", seed: 5 }),
        randomCodes(150, 77, { kind: "max-pool", seed: 6 }),
        3,
        false,
      ],
    ];
    const self = randomCodes(90, 300, { seed: 7, p: 0.2 });
    cases.push(["leave-one-out (exclude same-index), k 4", self, self, 4, true]);
    for (const [name, q, b, k, exclude] of cases) {
      await t.step(name, async () => {
        const want = bruteKnn(q, b, k, exclude);
        // chunks of 64 base rows and 32 query rows: several of each, the last partial (two
        // pairs a thread, so that the sizes suit every adapter: 16 × perThread divides them)
        const nn = await nearestNeighborsAsync(q, b, {
          k,
          exclude: exclude ? "same-index" : undefined,
          backend: "webgpu",
          gpuChunks: { perThread: 2, baseRows: 64, queryRows: 32 },
        });
        assertEquals(nn.indices.arraySync(), want.indices);
        assertEquals(nn.distances.arraySync(), want.distances);
        // the base streamed again for every query block through one buffer
        const streamed = await nearestNeighborsAsync(q, b, {
          k,
          exclude: exclude ? "same-index" : undefined,
          backend: "webgpu",
          gpuChunks: { perThread: 2, baseRows: 64, queryRows: 32, residentBaseBytes: 0 },
        });
        assertEquals(streamed.indices.arraySync(), want.indices);
        assertEquals(streamed.distances.arraySync(), want.distances);
        tf.dispose([nn.indices, nn.distances, streamed.indices, streamed.distances]);
      });
    }
    await t.step("one pair per thread (R = 1) and a single chunk", async () => {
      const [q, b] = [cases[0][1], cases[0][2]];
      const want = bruteKnn(q, b, 2, false);
      const nn = await nearestNeighborsAsync(q, b, {
        k: 2,
        backend: "webgpu",
        gpuChunks: { perThread: 1 },
      });
      assertEquals(nn.indices.arraySync(), want.indices);
      tf.dispose([nn.indices, nn.distances]);
    });
    await t.step(
      "8 × 8 pairs per thread, the GPU default (llvmpipe takes seconds to compile it)",
      async () => {
        // 70 queries and 300 base rows: one partial 128-row tile and three tiles of base
        const [q, b] = [cases[0][1], cases[0][2]];
        const want = bruteKnn(q, b, 5, false);
        const nn = await nearestNeighborsAsync(q, b, {
          k: 5,
          backend: "webgpu",
          gpuChunks: { perThread: 8, baseRows: 128 },
        });
        assertEquals(nn.indices.arraySync(), want.indices);
        assertEquals(nn.distances.arraySync(), want.distances);
        tf.dispose([nn.indices, nn.distances]);
      },
    );
    await t.step("chunk sizes that are not positive multiples of 16 × perThread", async () => {
      const [q, b] = [cases[0][1], cases[0][2]];
      for (
        const [chunks, message] of [
          [{ baseRows: 0 }, /baseRows is 0, expected a positive multiple of 32/],
          [{ queryRows: -32 }, /queryRows is -32, expected a positive multiple of 32/],
          [{ baseRows: 48 }, /baseRows is 48, expected a positive multiple of 32/],
          [{ queryRows: 2 ** 20, baseRows: 2 ** 20 }, /do not fit the device/],
        ] as const
      ) {
        await assertRejects(
          () =>
            nearestNeighborsAsync(q, b, {
              k: 2,
              backend: "webgpu",
              gpuChunks: { perThread: 2, ...chunks },
            }),
          (e: Error) => e instanceof RangeError && message.test(e.message),
        );
      }
    });
    await t.step("partitionDistanceMatrixAsync() equals the CPU matrix", async () => {
      const [q, b] = [cases[2][1], cases[2][2]];
      const d = await partitionDistanceMatrixAsync(q, b, {
        backend: "webgpu",
        gpuChunks: { perThread: 2, baseRows: 64, queryRows: 32 },
      });
      const ref = await partitionDistanceMatrixAsync(q, b, { backend: "cpu" });
      assertEquals(d.shape, [50, 150]);
      assertEquals(d.data, ref.data);
    });
    await t.step("k = 0, no queries, and k above the GPU's 128 run like the CPU", async () => {
      const q = randomCodes(3, 40, { seed: 9 }), b = randomCodes(200, 40, { seed: 10 });
      const nn0 = await nearestNeighborsAsync(q, b, { k: 0, backend: "webgpu" });
      assertEquals(nn0.indices.shape, [3, 0]);
      const big = await nearestNeighborsAsync(q, b, { k: 150, backend: "webgpu" });
      assertEquals(big.indices.arraySync(), bruteKnn(q, b, 150, false).indices);
      tf.dispose([nn0.indices, nn0.distances, big.indices, big.distances]);
    });
  },
});

Deno.test("nearestNeighborsAsync() validates like nearestNeighbors()", async (t) => {
  const q = randomCodes(3, 40, { seed: 9 }), b = randomCodes(5, 40, { seed: 10 });
  await t.step("k too large", async () => {
    let err: unknown;
    try {
      await nearestNeighborsAsync(q, b, { k: 6, backend: "webgpu" });
    } catch (e) {
      err = e;
    }
    assert(err instanceof RangeError);
    assertMatch(err.message, /k is 6, expected an integer in \[0, 5\]/);
  });
  await t.step("unknown backend", async () => {
    let err: unknown;
    try {
      await nearestNeighborsAsync(q, b, { k: 1, backend: "gpu" as "cpu" });
    } catch (e) {
      err = e;
    }
    assert(err instanceof RangeError);
    assertMatch(err.message, /Unknown engine backend 'gpu'/);
  });
});

Deno.test({
  name: "nearestNeighborsAsync() falls back to the CPU without an adapter or on a lost device",
  ignore: gpu === null,
  async fn(t) {
    const q = randomCodes(20, 100, { seed: 11 }), b = randomCodes(60, 100, { seed: 12 });
    const want = bruteKnn(q, b, 3, false).indices;
    const lines: string[] = [];
    const write = webgpuNotices.write;
    webgpuNotices.write = (line) => lines.push(line);
    try {
      await t.step("no adapter: one notice, the CPU result", async () => {
        setWebGpuAdapterSource(() => Promise.resolve(null));
        const nn = await nearestNeighborsAsync(q, b, { k: 3, backend: "webgpu" });
        assertEquals(nn.indices.arraySync(), want);
        assertEquals(lines.length, 1);
        assertMatch(
          lines[0],
          /^masokit: no WebGPU adapter; computing nearest neighbours on the CPU/,
        );
        tf.dispose([nn.indices, nn.distances]);
        setWebGpuAdapterSource(null);
      });
      await t.step("device destroyed mid-run: one notice, redone on the CPU", async () => {
        lines.length = 0;
        webgpuHooks.beforeReadback = (ctx) => ctx.device.destroy();
        const nn = await nearestNeighborsAsync(q, b, { k: 3, backend: "webgpu" });
        webgpuHooks.beforeReadback = undefined;
        assertEquals(nn.indices.arraySync(), want);
        assertEquals(lines.length, 1);
        assertMatch(
          lines[0],
          /^masokit: WebGPU device lost \(destroyed.*redone on the CPU backend$/,
        );
        tf.dispose([nn.indices, nn.distances]);
      });
      await t.step("the next call gets a new device", async () => {
        lines.length = 0;
        const nn = await nearestNeighborsAsync(q, b, { k: 3, backend: "webgpu" });
        assertEquals(nn.indices.arraySync(), want);
        assertEquals(lines.length, 0);
        tf.dispose([nn.indices, nn.distances]);
      });
    } finally {
      webgpuNotices.write = write;
      webgpuHooks.beforeReadback = undefined;
      setWebGpuAdapterSource(null);
    }
  },
});
