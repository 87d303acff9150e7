/**
 * Checkpoints on disk: a tfjs `IOHandler` for Deno files (`model.json` +
 * `weights.bin`), and training checkpoints that add the optimizer state and
 * the training state (epoch, history, RNG state) so that a killed run resumes
 * exactly where its last checkpoint was.
 *
 * Layout of a training checkpoint directory:
 * ```
 * dir/latest.json              {"step": 3, "path": "ckpt-000003-1a2b3c4d"}   (atomic)
 * dir/ckpt-000003-1a2b3c4d/    model.json, weights.bin, optimizer.json,
 *                              optimizer.bin, state.json
 * ```
 * A checkpoint directory is completely written before `latest.json` is
 * atomically replaced to point at it, and older ones are deleted only after:
 * a kill at any moment leaves `latest.json` pointing at a complete checkpoint.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { captureOptimizer, type OptimizerSnapshot, restoreOptimizer } from "./_optimizer_state.ts";
// Registers the orthogonal-template regularizer, so saved models that use it load back.
import "./orthogonality.ts";

export type { OptimizerSnapshot } from "./_optimizer_state.ts";

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function joinPath(dir: string, name: string): string {
  return dir.endsWith("/") ? `${dir}${name}` : `${dir}/${name}`;
}

/**
 * An error raised when a saved model or training checkpoint cannot be read: a file is
 * missing, is not valid JSON, does not have the expected fields, or fails its size/CRC-32
 * check. `path` names the file at fault.
 *
 * @example Catching a damaged checkpoint
 * ```ts
 * import { CheckpointError, loadCheckpoint } from "./checkpoint.ts";
 * import { rejects } from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/latest.json`, "{ torn");
 * await rejects(loadCheckpoint(dir), CheckpointError);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class CheckpointError extends Error {
  /** The file at fault. */
  readonly path: string;

  /**
   * Creates an error with the given message.
   *
   * @param message What failed, naming the file and what is wrong with it.
   * @param path The file at fault.
   */
  constructor(message: string, path: string) {
    super(message);
    this.name = "CheckpointError";
    this.path = path;
  }
}

/**
 * Reads and parses a JSON file, or returns `undefined` when it does not exist. Invalid JSON
 * throws a {@linkcode CheckpointError} naming the file, its message starting with `what`.
 */
async function readJsonIfExists(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${what}: ${path} is not valid JSON (${(e as Error).message})`, path);
  }
}

/** Whether a parsed JSON value is an object (not null, not an array). */
function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Integrity record stored in model.json next to the tfjs fields. */
interface WeightsIntegrity {
  bytes: number;
  crc32: number;
}

/** A tfjs `IOHandler` whose `save` and `load` are both present. */
export type FileIOHandler = tf.io.IOHandler & Required<Pick<tf.io.IOHandler, "save" | "load">>;

/**
 * A tfjs `IOHandler` that saves to and loads from a directory with Deno's file
 * API: `model.json` (topology, weights manifest, training config, metadata)
 * and `weights.bin`. Each file is written atomically (temp + rename), weights
 * first; `model.json` records the weights' size and CRC-32, checked on load,
 * so a kill between the two renames is detected rather than loaded silently.
 * Needs `--allow-read` / `--allow-write` for `dir`.
 *
 * @param dir The directory (created on save).
 * @returns An IOHandler for `model.save(...)` and `tf.loadLayersModel(...)`.
 * @example Save and load a model
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { fileIO } from "./checkpoint.ts";
 * import { deepEqual } from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
 * await model.save(fileIO(dir));
 * const loaded = await tf.loadLayersModel(fileIO(dir));
 * deepEqual(loaded.getWeights()[0].arraySync(), model.getWeights()[0].arraySync());
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function fileIO(dir: string): FileIOHandler {
  if (typeof dir !== "string" || dir.length === 0) {
    throw new TypeError(`Cannot create a file IOHandler: dir is ${JSON.stringify(dir)}`);
  }
  const modelPath = joinPath(dir, "model.json");
  const weightsPath = joinPath(dir, "weights.bin");
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new TypeError(
          `Cannot save to ${dir}: the model topology is binary (a GraphDef), only JSON is supported`,
        );
      }
      await Deno.mkdir(dir, { recursive: true });
      const weights = new Uint8Array(
        artifacts.weightData == null
          ? new ArrayBuffer(0)
          : tf.io.CompositeArrayBuffer.join(artifacts.weightData),
      );
      await writeFileAtomic(weightsPath, weights);
      const integrity: WeightsIntegrity = { bytes: weights.length, crc32: crc32(weights) };
      const modelJSON = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: [{ paths: ["weights.bin"], weights: artifacts.weightSpecs ?? [] }],
        trainingConfig: artifacts.trainingConfig,
        userDefinedMetadata: artifacts.userDefinedMetadata,
        signature: artifacts.signature,
        modelInitializer: artifacts.modelInitializer,
        initializerSignature: artifacts.initializerSignature,
        masokit: { weights: integrity },
      };
      await writeFileAtomic(modelPath, JSON.stringify(modelJSON));
      return {
        modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts),
      };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const what = `Cannot load a model from ${dir}`;
      const json = await readJsonIfExists(modelPath, what);
      if (json === undefined) {
        throw new CheckpointError(`${what}: ${modelPath} is missing`, modelPath);
      }
      if (
        !isObject(json) || !isObject(json.modelTopology) || !Array.isArray(json.weightsManifest)
      ) {
        throw new CheckpointError(
          `${what}: ${modelPath} is not a tfjs model.json (expected an object with ` +
            `modelTopology and weightsManifest)`,
          modelPath,
        );
      }
      const modelJSON = json as unknown as tf.io.ModelJSON & {
        masokit?: { weights?: WeightsIntegrity };
      };
      return await tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const parts: Uint8Array[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const p of group.paths) {
            const path = joinPath(dir, p);
            try {
              parts.push(await Deno.readFile(path));
            } catch (e) {
              if (!(e instanceof Deno.errors.NotFound)) throw e;
              throw new CheckpointError(`${what}: ${path} (listed in model.json) is missing`, path);
            }
          }
        }
        const total = parts.reduce((s, p) => s + p.length, 0);
        const data = new Uint8Array(total);
        let off = 0;
        for (const p of parts) {
          data.set(p, off);
          off += p.length;
        }
        const check = modelJSON.masokit?.weights;
        if (check && (check.bytes !== data.length || check.crc32 !== crc32(data))) {
          throw new CheckpointError(
            `${what}: ${weightsPath} (${data.length} bytes, crc32 ` +
              `${crc32(data)}) does not match model.json (${check.bytes} bytes, crc32 ` +
              `${check.crc32}); the save was interrupted or the file is damaged`,
            weightsPath,
          );
        }
        return [specs, data.buffer];
      });
    },
  };
}

/** What {@linkcode saveCheckpoint} writes. */
export interface CheckpointContents {
  /** The model (its topology and all weights, trainable or not, are saved). */
  model: tf.LayersModel;
  /** The optimizer whose state (iterations, slots, Adam's β powers) is saved. */
  optimizer?: tf.Optimizer;
  /** The step this checkpoint is at (e.g. the number of finished epochs), an integer ≥ 0. */
  step: number;
  /** Any JSON-serializable training state (epoch, history, RNG state, …). */
  state?: unknown;
  /** How many checkpoints to keep, newest first (default 1). */
  keep?: number;
}

/** A training checkpoint read back by {@linkcode loadCheckpoint}. */
export interface LoadedCheckpoint {
  /** The step recorded at save time. */
  step: number;
  /** The checkpoint's own directory. */
  path: string;
  /** The model weights in `model.weights` order (caller owns them). */
  weights: tf.Tensor[];
  /** The saved optimizer state, or `null` if none was saved. */
  optimizer: OptimizerSnapshot | null;
  /** The saved training state (`null` if none). */
  state: unknown;
}

interface Pointer {
  step: number;
  path: string;
}

async function readPointer(dir: string): Promise<Pointer | null> {
  const path = joinPath(dir, "latest.json");
  const p = await readJsonIfExists(path, "Cannot read checkpoint pointer");
  if (p === undefined) return null;
  if (
    !isObject(p) || !Number.isInteger(p.step) || typeof p.path !== "string" || p.path === "" ||
    p.path.includes("/")
  ) {
    throw new CheckpointError(
      `Cannot read checkpoint pointer ${path}: it holds ${JSON.stringify(p)}, expected ` +
        `{"step": <integer>, "path": "<checkpoint folder name>"}`,
      path,
    );
  }
  return p as unknown as Pointer;
}

/**
 * Saves a training checkpoint into `dir/ckpt-<step>-<id>/` (model, optimizer
 * state, training state), then atomically points `dir/latest.json` at it and
 * deletes checkpoints beyond the newest `keep`.
 *
 * @param dir The checkpoint directory (created if missing).
 * @param contents Model, optimizer, step, state, keep.
 * @returns The path of the new checkpoint.
 * @example Save, then load the latest checkpoint
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
 * import { deepEqual, equal } from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
 * await saveCheckpoint(dir, { model, step: 1, state: { note: "first" } });
 * await saveCheckpoint(dir, { model, step: 2, state: { note: "second" } });
 * const ckpt = await loadCheckpoint(dir);
 * equal(ckpt?.step, 2);
 * deepEqual(ckpt?.state, { note: "second" });
 * equal(ckpt?.weights.length, 2);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function saveCheckpoint(dir: string, contents: CheckpointContents): Promise<string> {
  const { model, optimizer, step } = contents;
  const keep = contents.keep ?? 1;
  if (!Number.isInteger(step) || step < 0) {
    throw new RangeError(`Cannot save a checkpoint: step is ${step}, expected an integer ≥ 0`);
  }
  if (!Number.isInteger(keep) || keep < 1) {
    throw new RangeError(`Cannot save a checkpoint: keep is ${keep}, expected an integer ≥ 1`);
  }
  await Deno.mkdir(dir, { recursive: true });
  const name = `ckpt-${String(step).padStart(6, "0")}-${crypto.randomUUID().slice(0, 8)}`;
  const tmpName = `.tmp-${name}`;
  const tmp = joinPath(dir, tmpName);
  await Deno.mkdir(tmp);
  try {
    let state: string;
    try {
      state = JSON.stringify({ step, state: contents.state ?? null });
    } catch (e) {
      throw new TypeError(
        `Cannot save a checkpoint in ${dir}: state is not JSON-serializable (${
          (e as Error).message
        })`,
      );
    }
    await model.save(fileIO(tmp));
    if (optimizer) {
      const snap = await captureOptimizer(optimizer);
      const { data, specs } = await tf.io.encodeWeights(snap.weights);
      tf.dispose(snap.weights.map((w) => w.tensor));
      const bytes = new Uint8Array(data);
      await writeFileAtomic(joinPath(tmp, "optimizer.bin"), bytes);
      await writeFileAtomic(
        joinPath(tmp, "optimizer.json"),
        JSON.stringify({
          className: snap.className,
          config: snap.config,
          specs,
          extra: snap.extra,
          bytes: bytes.length,
          crc32: crc32(bytes),
        }),
      );
    }
    await writeFileAtomic(joinPath(tmp, "state.json"), state);
    await Deno.rename(tmp, joinPath(dir, name));
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
  await writeFileAtomic(joinPath(dir, "latest.json"), JSON.stringify({ step, path: name }));
  // Prune: keep the newest `keep` checkpoints (by step, then the current one), drop temp dirs.
  const entries: { name: string; step: number }[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (!e.isDirectory) continue;
    if (e.name.startsWith(".tmp-ckpt-")) {
      await Deno.remove(joinPath(dir, e.name), { recursive: true }).catch(() => {});
      continue;
    }
    const m = /^ckpt-(\d+)-[0-9a-f]{8}$/.exec(e.name);
    if (m && e.name !== name) entries.push({ name: e.name, step: Number(m[1]) });
  }
  entries.sort((a, b) => b.step - a.step);
  for (const e of entries.slice(keep - 1)) {
    await Deno.remove(joinPath(dir, e.name), { recursive: true }).catch(() => {});
  }
  return joinPath(dir, name);
}

/**
 * Loads the latest training checkpoint of `dir` (the one `latest.json` points
 * at), or returns `null` when the directory holds none.
 *
 * @param dir The checkpoint directory.
 * @returns The checkpoint (weights, optimizer snapshot, state), or `null`.
 * @example A directory without checkpoints
 * ```ts
 * import { loadCheckpoint } from "./checkpoint.ts";
 * import { equal } from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * equal(await loadCheckpoint(dir), null);
 * await Deno.remove(dir);
 * ```
 */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint | null> {
  const pointer = await readPointer(dir);
  if (!pointer) return null;
  const path = joinPath(dir, pointer.path);
  const what = `Cannot load checkpoint ${path}`;
  // Every file is read and checked before any tensor is made, so a bad file leaks none.
  const statePath = joinPath(path, "state.json");
  const saved = await readJsonIfExists(statePath, what);
  if (!isObject(saved) || !("state" in saved)) {
    const got = saved === undefined ? "is missing" : `holds ${JSON.stringify(saved)}`;
    throw new CheckpointError(
      `${what}: ${statePath} ${got}, expected {"step", "state"}`,
      statePath,
    );
  }
  const metaPath = joinPath(path, "optimizer.json");
  const meta = await readJsonIfExists(metaPath, what);
  let optimizerBytes: Uint8Array<ArrayBuffer> | undefined;
  if (meta !== undefined) {
    if (
      !isObject(meta) || typeof meta.className !== "string" || !Array.isArray(meta.specs) ||
      !Number.isInteger(meta.bytes) || !Number.isInteger(meta.crc32)
    ) {
      throw new CheckpointError(
        `${what}: ${metaPath} holds ${JSON.stringify(meta)}, expected an object with ` +
          `className, specs, bytes and crc32`,
        metaPath,
      );
    }
    const binPath = joinPath(path, "optimizer.bin");
    optimizerBytes = await Deno.readFile(binPath).catch((e) => {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    });
    const bytes = optimizerBytes;
    if (!bytes || bytes.length !== meta.bytes || crc32(bytes) !== meta.crc32) {
      const got = bytes ? `${bytes.length} bytes, crc32 ${crc32(bytes)}` : "missing";
      throw new CheckpointError(
        `${what}: ${binPath} (${got}) does not match optimizer.json ` +
          `(${meta.bytes} bytes, crc32 ${meta.crc32})`,
        binPath,
      );
    }
  }
  const artifacts = await fileIO(path).load();
  const specs = artifacts.weightSpecs ?? [];
  const named = artifacts.weightData
    ? tf.io.decodeWeights(artifacts.weightData, specs)
    : {} as tf.NamedTensorMap;
  const weights = specs.map((s) => named[s.name]);
  let optimizer: OptimizerSnapshot | null = null;
  if (isObject(meta) && optimizerBytes) {
    const optimizerSpecs = meta.specs as tf.io.WeightsManifestEntry[];
    const map = tf.io.decodeWeights(optimizerBytes.buffer, optimizerSpecs);
    optimizer = {
      className: meta.className as string,
      config: meta.config as tf.serialization.ConfigDict,
      weights: optimizerSpecs.map((s) => ({ name: s.name, tensor: map[s.name] })),
      extra: (meta.extra ?? {}) as OptimizerSnapshot["extra"],
    };
  }
  return { step: pointer.step, path, weights, optimizer, state: saved.state };
}

/**
 * Loads the latest checkpoint of `dir` into an existing model (weights in
 * `model.weights` order, shapes checked) and, if given, an optimizer.
 *
 * @param dir The checkpoint directory.
 * @param target The model and optional optimizer to restore into, and an optional check of
 *   the saved state that runs before either is touched.
 * @returns The checkpoint's step and state, or `null` if `dir` holds none.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { restoreCheckpoint, saveCheckpoint } from "./checkpoint.ts";
 * import { deepEqual } from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const make = () => tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
 * const a = make(), b = make();
 * await saveCheckpoint(dir, { model: a, step: 5, state: { epoch: 5 } });
 * const r = await restoreCheckpoint(dir, { model: b });
 * deepEqual(r, { step: 5, state: { epoch: 5 } });
 * deepEqual(b.getWeights()[0].arraySync(), a.getWeights()[0].arraySync());
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function restoreCheckpoint(
  dir: string,
  target: {
    model: tf.LayersModel;
    optimizer?: tf.Optimizer;
    /** Checks the saved training state before anything is restored: it throws to refuse the
     * checkpoint (e.g. one trained with other settings), leaving model and optimizer as they
     * were. `path` is the checkpoint's `state.json`. */
    checkState?: (state: unknown, path: string) => void;
  },
): Promise<{ step: number; state: unknown } | null> {
  const ckpt = await loadCheckpoint(dir);
  if (!ckpt) return null;
  const { model, optimizer } = target;
  try {
    target.checkState?.(ckpt.state, joinPath(ckpt.path, "state.json"));
    if (optimizer && !ckpt.optimizer) {
      throw new Error(`Cannot restore checkpoint ${ckpt.path}: it holds no optimizer state`);
    }
    const expected = model.weights;
    if (expected.length !== ckpt.weights.length) {
      throw new RangeError(
        `Cannot restore checkpoint ${ckpt.path}: it has ${ckpt.weights.length} weights, the ` +
          `model has ${expected.length}`,
      );
    }
    expected.forEach((w, i) => {
      const got = ckpt.weights[i].shape;
      if (got.length !== w.shape.length || got.some((d, j) => d !== w.shape[j])) {
        throw new RangeError(
          `Cannot restore checkpoint ${ckpt.path}: weight ${i} (${w.name}) has shape [${got}], ` +
            `the model expects [${w.shape}]`,
        );
      }
    });
    model.setWeights(ckpt.weights);
    if (optimizer) await restoreOptimizer(optimizer, ckpt.optimizer!);
  } finally {
    tf.dispose(ckpt.weights);
    if (ckpt.optimizer) tf.dispose(ckpt.optimizer.weights.map((w) => w.tensor));
  }
  return { step: ckpt.step, state: ckpt.state };
}
