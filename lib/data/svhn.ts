/**
 * SVHN cropped digits (Netzer et al. 2011) from the official `train_32x32.mat` and
 * `test_32x32.mat` the user provides: MATLAB level-5 files with `X` uint8 `[32, 32, 3, N]`
 * (column-major) and `y` `[N, 1]` where label 10 means digit 0.
 *
 * @module
 */
import { DataError } from "./data_error.ts";
import { parseMat } from "./mat.ts";
import { joinPath, readFileIfExists } from "./_fs.ts";
import { validateRaw } from "./_validate.ts";
import type { RawDataset, RawSplit } from "./types.ts";

/**
 * Converts SVHN's MAT variables to a raw split: `X[r, c, ch, n]` (column-major) becomes NHWC
 * and label 10 becomes 0.
 *
 * @param bytes The bytes of a `*_32x32.mat` file.
 * @param name The file's name, used in error messages.
 * @returns The split; rejects with a `RangeError` naming the file when `X` or `y` is missing
 *   or has the wrong shape, `X` holds a value that is not a whole number 0…255 (e.g. a
 *   double X scaled to [0, 1]), or a label is not an integer 1…10.
 *
 * @example A MAT-file is required
 * ```ts
 * import { parseSvhnMat } from "./svhn.ts";
 * import { rejects } from "node:assert/strict";
 * await rejects(parseSvhnMat(new Uint8Array(10), "x.mat"), /Cannot parse x\.mat/);
 * ```
 */
export async function parseSvhnMat(bytes: Uint8Array, name = "SVHN file"): Promise<RawSplit> {
  const vars = await parseMat(bytes, name);
  const x = vars.get("X");
  const y = vars.get("y");
  if (!x || !y) {
    throw new RangeError(
      `Cannot parse ${name}: variables are [${[...vars.keys()]}], expected X and y`,
    );
  }
  const [h, w, c, n = 1] = x.dims;
  if (x.dims.length > 4 || h !== 32 || w !== 32 || c !== 3) {
    throw new RangeError(`Cannot parse ${name}: X is [${x.dims}], expected [32, 32, 3, N]`);
  }
  if (x.className !== "uint8") {
    // a double/single X (e.g. re-saved with im2double, values in [0, 1]) would wrap or
    // truncate silently into bytes: only whole 0…255 values are SVHN's pixels
    const bad = x.data.findIndex((v: number) => !Number.isInteger(v) || v < 0 || v > 255);
    if (bad >= 0) {
      throw new RangeError(
        `Cannot parse ${name}: X is ${x.className} and X(${bad + 1}) is ${
          x.data[bad]
        }, expected uint8 pixels (whole numbers 0…255)`,
      );
    }
  }
  if (y.data.length !== n) {
    throw new RangeError(`Cannot parse ${name}: y is [${y.dims}], expected [${n}, 1]`);
  }
  const images = new Uint8Array(n * 3072);
  const src = x.data;
  for (let k = 0; k < n; k++) {
    const base = k * 3072;
    for (let r = 0; r < 32; r++) {
      for (let col = 0; col < 32; col++) {
        const out = base + (r * 32 + col) * 3;
        const at = base + r + 32 * col;
        images[out] = src[at];
        images[out + 1] = src[at + 1024];
        images[out + 2] = src[at + 2048];
      }
    }
  }
  const labels = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const v = y.data[k];
    if (!Number.isInteger(v) || v < 1 || v > 10) {
      throw new RangeError(`Cannot parse ${name}: y[${k}] is ${v}, expected an integer 1…10`);
    }
    labels[k] = v % 10;
  }
  return { images, labels, count: n };
}

/**
 * Reads SVHN from a folder holding `train_32x32.mat` and `test_32x32.mat`.
 *
 * @param path The folder, e.g. `"data/svhn"`.
 * @returns The dataset (labels "0"…"9"); rejects with a {@link DataError} naming the missing
 *   or bad file.
 *
 * @example A missing folder gives a clear error
 * ```ts
 * import { readSvhn } from "./svhn.ts";
 * import { rejects } from "node:assert/strict";
 * await rejects(readSvhn("no/such/dir"), /no\/such\/dir\/train_32x32\.mat/);
 * ```
 */
export async function readSvhn(path: string): Promise<RawDataset> {
  const split = async (file: string): Promise<RawSplit> => {
    const full = joinPath(path, file);
    const bytes = await readFileIfExists(full);
    if (!bytes) {
      throw new DataError(
        `Cannot load SVHN: ${full} not found. Download the official cropped-digits files train_32x32.mat and test_32x32.mat (format 2) and copy them into ${path}/, or pass their folder as path`,
        full,
      );
    }
    try {
      return await parseSvhnMat(bytes, full);
    } catch (error) {
      throw new DataError((error as Error).message, full);
    }
  };
  const train = await split("train_32x32.mat");
  const test = await split("test_32x32.mat");
  return validateRaw({
    name: "svhn",
    height: 32,
    width: 32,
    channels: 3,
    labels: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
    train,
    test,
  });
}
