/**
 * Bad inputs of the partition-distance and nearest-neighbour entry points, sync and async:
 * each refused with an error naming the value, whichever engine would run.
 */
import * as tf from "@tensorflow/tfjs";
import { assertRejects, assertThrows } from "../_assert.ts";
import { partitionDistance } from "../../lib/partition/distance.ts";
import { partitionDistanceMatrix } from "../../lib/partition/distance_matrix.ts";
import { partitionDistanceMatrixAsync } from "../../lib/partition/distance_matrix_async.ts";
import { nearestNeighbors } from "../../lib/partition/nearest_neighbors.ts";
import {
  type MismatchChunks,
  nearestNeighborsAsync,
} from "../../lib/partition/nearest_neighbors_async.ts";
import { webgpuContext } from "../../lib/backend/webgpu/device.ts";
import type { CodeLayer, PartitionCodes } from "../../lib/partition/code_layer.ts";
import { randomCodes } from "./_random_codes.ts";

await tf.setBackend("cpu");
const BACKENDS = ["cpu", "webgpu", "auto"] as const;

Deno.test("partitionDistance() names a missing code layer of PartitionCodes", async (t) => {
  const relu = randomCodes(3, 40);
  const missing = (side: string, at: number) => (e: Error) =>
    e instanceof TypeError && e.message.includes(`${side}[${at}] is `) &&
    e.message.includes("expected a CodeLayer");
  await t.step("null, the only layer", () => {
    assertThrows(
      () => partitionDistanceMatrix([null] as unknown as PartitionCodes, relu),
      missing("a", 0),
    );
  });
  await t.step("undefined, the layer asked for", () => {
    const holes = [relu, undefined] as unknown as PartitionCodes;
    assertThrows(
      () => partitionDistance([relu, relu], holes, { layer: 1 }),
      missing("b", 1),
    );
    assertThrows(() => nearestNeighbors(holes, relu, { k: 1, layer: 1 }), missing("query", 1));
  });
  await t.step("async entry points", async () => {
    const holes = [relu, undefined] as unknown as PartitionCodes;
    for (const backend of BACKENDS) {
      await assertRejects(
        () => partitionDistanceMatrixAsync(holes, [relu, relu], { layer: 1, backend }),
        missing("a", 1),
      );
      await assertRejects(
        () => nearestNeighborsAsync([relu, relu], holes, { k: 1, layer: 1, backend }),
        missing("base", 1),
      );
    }
  });
});

Deno.test("partitionDistance() refuses the codes of the same layer of different networks", async (t) => {
  // 40 units each, laid out [2, 2, 10] in one network and [2, 5, 4] in the other
  const a: CodeLayer = { ...randomCodes(3, 40, { seed: 1 }), shape: [2, 2, 10] };
  const b: CodeLayer = { ...randomCodes(4, 40, { seed: 2 }), shape: [2, 5, 4] };
  const named = (first: string, second: string) => (e: Error) =>
    e instanceof RangeError && e.message.includes("codes of different networks") &&
    e.message.includes(`${first} is layer 0 'relu0' (relu, 40 units, 2 words) of shape [2,2,10]`) &&
    e.message.includes(`${second} is layer 0 'relu0' (relu, 40 units, 2 words) of shape [2,5,4]`);
  await t.step("sync", () => {
    assertThrows(() => partitionDistance(a, b), named("a", "b"));
    assertThrows(() => partitionDistanceMatrix(a, b), named("a", "b"));
    assertThrows(() => nearestNeighbors(a, b, { k: 1 }), named("query", "base"));
  });
  await t.step("async", async () => {
    for (const backend of BACKENDS) {
      await assertRejects(() => partitionDistanceMatrixAsync(a, b, { backend }), named("a", "b"));
      await assertRejects(
        () => nearestNeighborsAsync(a, b, { k: 1, backend }),
        named("query", "base"),
      );
    }
  });
  await t.step("the same shape still compares", () => {
    const d = partitionDistanceMatrix(a, { ...b, shape: [2, 2, 10] });
    if (d.shape[0] !== 3 || d.shape[1] !== 4) throw new Error(`shape ${d.shape}`);
  });
});

Deno.test("partitionDistanceMatrixAsync() refuses a bad threads option on every backend", async () => {
  const relu = randomCodes(3, 40);
  for (const backend of BACKENDS) {
    for (const threads of [0, -1, 1.5, NaN]) {
      await assertRejects(
        () => partitionDistanceMatrixAsync(relu, relu, { threads, backend }),
        (e: Error) =>
          e instanceof RangeError &&
          e.message.includes(`options.threads is ${threads}, expected an integer ≥ 1`),
        `backend ${backend}, threads ${threads}`,
      );
    }
  }
});

Deno.test("the async entry points refuse unknown or malformed gpuChunks on every backend", async () => {
  const relu = randomCodes(3, 40);
  for (const backend of BACKENDS) {
    const unknown = (e: Error) =>
      e instanceof TypeError && e.message.includes("(options.gpuChunks)") &&
      e.message.includes("unknown option 'baseRow' (did you mean 'baseRows'?)");
    const chunks = { baseRow: 64 } as MismatchChunks;
    await assertRejects(
      () => nearestNeighborsAsync(relu, relu, { k: 1, backend, gpuChunks: chunks }),
      unknown,
    );
    await assertRejects(
      () => partitionDistanceMatrixAsync(relu, relu, { backend, gpuChunks: chunks }),
      unknown,
    );
    await assertRejects(
      () => nearestNeighborsAsync(relu, relu, { k: 1, backend, gpuChunks: 64 as MismatchChunks }),
      (e: Error) =>
        e instanceof TypeError && /\(options\.gpuChunks\): options is 64/.test(e.message),
    );
  }
});

Deno.test({
  name: "nearestNeighborsAsync() on WebGPU refuses a residentBaseBytes that is not a number ≥ 0",
  ignore: (await webgpuContext()) === null,
  async fn() {
    const relu = randomCodes(3, 40);
    for (const residentBaseBytes of [NaN, -1, "0" as unknown as number]) {
      await assertRejects(
        () =>
          nearestNeighborsAsync(relu, relu, {
            k: 1,
            backend: "webgpu",
            gpuChunks: { residentBaseBytes },
          }),
        (e: Error) =>
          e instanceof RangeError &&
          e.message.includes(`residentBaseBytes is ${residentBaseBytes}, expected a number ≥ 0`),
      );
    }
  },
});
