import * as tf from "@tensorflow/tfjs";
import { checkOptionKeys } from "../../lib/util/options.ts";
import { fromLayersModel } from "../../lib/network/from_layers_model.ts";
import { affineMap } from "../../lib/affine/affine_map.ts";
import { affineMapAsync } from "../../lib/affine/affine_map_async.ts";
import { templateInnerProductsAsync } from "../../lib/affine/template_inner_products_async.ts";
import { partitionCodes } from "../../lib/partition/codes.ts";
import { partitionCodesAsync } from "../../lib/partition/codes_async.ts";
import { nearestNeighbors } from "../../lib/partition/nearest_neighbors.ts";
import { nearestNeighborsAsync } from "../../lib/partition/nearest_neighbors_async.ts";
import { partitionDistance } from "../../lib/partition/distance.ts";
import { partitionDistanceMatrixAsync } from "../../lib/partition/distance_matrix_async.ts";
import { smallCNN } from "../../lib/models/small_cnn.ts";
import { largeCNN } from "../../lib/models/large_cnn.ts";
import { mlp } from "../../lib/models/mlp.ts";
import { resNet } from "../../lib/models/resnet.ts";
import { train } from "../../lib/train/train.ts";
import { loadDataset } from "../../lib/data/load_dataset.ts";
import { assertRejects, assertThrows } from "../_assert.ts";

Deno.test("checkOptionKeys() names an unknown key, the closest known one and all of them", () => {
  const keys = { k: true, layer: true, exclude: true, threads: true } as const;
  checkOptionKeys(undefined, keys, "Cannot search");
  checkOptionKeys({ k: 1, threads: 2 }, keys, "Cannot search");
  assertThrows(
    () => checkOptionKeys({ k: 1, excluded: "same-index" }, keys, "Cannot search"),
    (e: Error) =>
      e instanceof TypeError &&
      e.message ===
        "Cannot search: unknown option 'excluded' (did you mean 'exclude'?), expected one of k, layer, exclude, threads",
  );
  assertThrows(
    () => checkOptionKeys({ Layer: 0 }, keys, "x"),
    /'Layer' \(did you mean 'layer'\?\)/,
  );
  // nothing close: no suggestion
  assertThrows(() => checkOptionKeys({ gpu: true }, keys, "x"), /unknown option 'gpu', expected/);
  for (const bad of [null, 3, "k", [1]]) {
    assertThrows(() => checkOptionKeys(bad, keys, "x"), /options is .*, expected an object/);
  }
  // an array is named as one ([] printed as nothing: "options is , expected")
  for (const bad of [[], [1]]) {
    assertThrows(() => checkOptionKeys(bad, keys, "x"), /^TypeError: x: options is an array, /);
  }
});

Deno.test("the public functions refuse misspelt options instead of using defaults", async () => {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [4], units: 8, activation: "relu" }),
      tf.layers.dense({ units: 3 }),
    ],
  });
  const net = fromLayersModel(model);
  const x = tf.randomNormal([3, 4]);
  const codes = partitionCodes(net, x);
  const typo = (key: string) => (e: Error) =>
    e instanceof TypeError && e.message.includes(`unknown option '${key}'`);
  assertThrows(() => affineMap(net, x, { backnd: "cpu" } as never), typo("backnd"));
  assertThrows(() => partitionCodes(net, x, { backnd: "cpu" } as never), typo("backnd"));
  await assertRejects(() => affineMapAsync(net, x, { backed: "cpu" } as never), typo("backed"));
  await assertRejects(
    () => templateInnerProductsAsync(net, x, { Backend: "cpu" } as never),
    typo("Backend"),
  );
  await assertRejects(
    () => partitionCodesAsync(net, x, { engine: "cpu" } as never),
    typo("engine"),
  );
  assertThrows(
    () => nearestNeighbors(codes, codes, { k: 1, layer: 0, excluded: "same-index" } as never),
    typo("excluded"),
  );
  await assertRejects(
    () => nearestNeighborsAsync(codes, codes, { k: 1, layer: 0, chunks: {} } as never),
    typo("chunks"),
  );
  assertThrows(() => partitionDistance(codes, codes, { layers: 0 } as never), typo("layers"));
  await assertRejects(
    () => partitionDistanceMatrixAsync(codes, codes, { layer: 0, backnd: "cpu" } as never),
    typo("backnd"),
  );
  assertThrows(() => smallCNN({ clases: 3 } as never), typo("clases"));
  assertThrows(() => largeCNN({ filter: [8, 8] } as never), typo("filter"));
  assertThrows(() => mlp({ hiden: [4] } as never), typo("hiden"));
  assertThrows(() => resNet({ block: [1, 1, 1] } as never), typo("block"));
  const data = {
    train: { x: tf.randomNormal([6, 4]), y: tf.tensor1d([0, 1, 2, 0, 1, 2], "int32") },
    classes: 3,
  };
  await assertRejects(
    () => train(model, data, { epochs: 1, orthogonalty: 5 } as never),
    typo("orthogonalty"),
  );
  await assertRejects(() => loadDataset("mnist", { trainsize: 10 } as never), typo("trainsize"));
  tf.dispose([x, data.train.x, data.train.y]);
  model.dispose();
});
