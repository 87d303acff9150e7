/**
 * The decoded-array cache: uint8 arrays in raw binary files plus a JSON manifest holding their
 * shapes and SHA-256 checksums. An entry is written in a folder of its own (a marker file
 * first, the manifest last) and renamed into place, so an entry folder is always complete;
 * an interrupted write leaves a `<entry>.tmp-<id>` folder beside it. A directory that is
 * neither marked nor holds a masokit manifest is never removed or overwritten: it is
 * someone else's.
 *
 * @module
 */
import { DataError } from "./data_error.ts";
import { exists, joinPath, readFileIfExists, removeIfExists, sha256Hex } from "./_fs.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";

/** One array stored in a cache entry. */
export interface CachedArray {
  /** Array shape, outermost first. */
  readonly shape: readonly number[];
  /** The bytes, row-major. */
  readonly data: Uint8Array;
}

/** A cache entry: named uint8 arrays, the source they came from and free-form metadata. */
export interface CacheEntry {
  /** Identifies what the arrays were decoded from; a different source makes the entry stale. */
  readonly source: Record<string, unknown>;
  /** Metadata stored alongside (JSON-serializable). */
  readonly meta: Record<string, unknown>;
  /** The arrays by name (names become file names: letters, digits, `_` and `-`). */
  readonly arrays: ReadonlyMap<string, CachedArray>;
}

interface ManifestArray {
  name: string;
  file: string;
  dtype: "uint8";
  shape: number[];
  byteLength: number;
  sha256: string;
}

interface Manifest {
  format: "masokit-array-cache";
  version: 1;
  source: Record<string, unknown>;
  meta: Record<string, unknown>;
  arrays: ManifestArray[];
}

/** File name of the manifest inside a cache entry directory. */
const MANIFEST = "manifest.json";

/** File name of the marker that says masokit created the entry directory (written first). */
const MARKER = ".masokit-cache";

/** Whether a parsed manifest is a masokit array-cache manifest this code reads. */
function isOurManifest(manifest: unknown): manifest is Manifest {
  const m = manifest as Manifest | null;
  return m?.format === "masokit-array-cache" && m.version === 1 && Array.isArray(m.arrays);
}

/**
 * Whether `dir` is a cache entry masokit wrote: it has the marker, or (entries written before
 * the marker existed) a masokit manifest.
 */
async function isOurEntry(dir: string): Promise<boolean> {
  if (await exists(joinPath(dir, MARKER))) return true;
  const raw = await readFileIfExists(joinPath(dir, MANIFEST)).catch(() => undefined);
  if (raw === undefined) return false;
  try {
    return isOurManifest(JSON.parse(new TextDecoder().decode(raw)));
  } catch {
    return false;
  }
}

/** The error for a directory in the way of a cache entry that masokit did not write. */
function notOurs(dir: string, why: string): DataError {
  return new DataError(
    `Cannot use cache directory ${dir}: ${why}, so it was not written by masokit and was left untouched; move it away or pass another cacheDir`,
    dir,
  );
}

/** Temp folders older than this are a killed writer's, not a concurrent one's. */
const STALE_TEMP_MS = 3_600_000;

/**
 * Removes the `<dir>.tmp-<id>` folders that writers killed mid-write left beside entry `dir`:
 * those marked as masokit's and untouched for an hour (a live writer's are newer).
 */
async function removeStaleTemps(dir: string): Promise<void> {
  const slash = dir.lastIndexOf("/");
  const parent = slash >= 0 ? dir.slice(0, slash) || "/" : ".";
  const prefix = `${dir.slice(slash + 1)}.tmp-`;
  try {
    for await (const e of Deno.readDir(parent)) {
      if (!e.isDirectory || !e.name.startsWith(prefix)) continue;
      const path = joinPath(parent, e.name);
      const marker = await Deno.stat(joinPath(path, MARKER)).catch(() => null);
      const when = (await Deno.stat(path)).mtime?.getTime() ?? Date.now();
      if (marker !== null && Date.now() - when > STALE_TEMP_MS) await removeIfExists(path);
    }
  } catch {
    // tidying only: an unreadable parent or a folder removed meanwhile is left as it is
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Writes a cache entry into directory `dir` (replacing an earlier masokit entry there): a
 * marker file, one `.u8` file per array, then `manifest.json` with shapes and SHA-256
 * checksums, written in a sibling folder `<dir>.tmp-<id>` and renamed into place, so that
 * concurrent writers of the same entry do not break each other (an intact identical entry
 * already in place is kept). A directory at `dir` that masokit did not write is left alone
 * and gives a {@link DataError}.
 *
 * @param dir The entry's directory, e.g. `"data/cache/mnist"`.
 * @param entry The arrays, their source and metadata.
 * @returns Resolves when the manifest is in place.
 *
 * @example Write then read back
 * ```ts
 * import { readArrayCache, writeArrayCache } from "./cache.ts";
 * import { deepEqual } from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const arrays = new Map([["x", { shape: [2, 2], data: new Uint8Array([1, 2, 3, 4]) }]]);
 * await writeArrayCache(`${dir}/e`, { source: { v: 1 }, meta: {}, arrays });
 * const back = await readArrayCache(`${dir}/e`, { v: 1 });
 * deepEqual([...back!.arrays.get("x")!.data], [1, 2, 3, 4]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeArrayCache(dir: string, entry: CacheEntry): Promise<void> {
  const list: ManifestArray[] = [];
  for (const [name, array] of entry.arrays) {
    if (!/^[A-Za-z0-9_-]+$/.test(name)) {
      throw new RangeError(
        `Cannot write cache entry ${dir}: array name "${name}" is not [A-Za-z0-9_-]+`,
      );
    }
    const count = array.shape.reduce((a, b) => a * b, 1);
    if (count !== array.data.length) {
      throw new RangeError(
        `Cannot write cache entry ${dir}: array "${name}" has ${array.data.length} bytes, shape [${array.shape}] needs ${count}`,
      );
    }
    list.push({
      name,
      file: `${name}.u8`,
      dtype: "uint8",
      shape: [...array.shape],
      byteLength: array.data.length,
      sha256: "",
    });
  }
  for (const item of list) item.sha256 = await sha256Hex(entry.arrays.get(item.name)!.data);
  const manifest: Manifest = {
    format: "masokit-array-cache",
    version: 1,
    source: entry.source,
    meta: entry.meta,
    arrays: list,
  };
  const manifestText = JSON.stringify(manifest, null, 2) + "\n";
  // Concurrent loads of one dataset (a notebook's parallel calls, sweep shards sharing the
  // cache) used to write into the same folder: one removed the other's half-written entry
  // ("not written by masokit", NotFound on rename, "Directory not empty"). The entry is now
  // written in a folder of its own and renamed into place, and an identical entry already
  // there (a concurrent writer's, its files checked) is kept.
  const identical = async (): Promise<boolean> => {
    const there = await readFileIfExists(joinPath(dir, MANIFEST)).catch(() => undefined);
    if (there === undefined || new TextDecoder().decode(there) !== manifestText) return false;
    for (const item of list) {
      const data = await readFileIfExists(joinPath(dir, item.file)).catch(() => undefined);
      if (data?.length !== item.byteLength || (await sha256Hex(data)) !== item.sha256) {
        return false;
      }
    }
    return true;
  };
  if (await exists(dir)) {
    if (!(await isOurEntry(dir))) throw notOurs(dir, `it has no masokit ${MANIFEST}`);
    if (await identical()) return;
  }
  const slash = dir.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(dir.slice(0, slash), { recursive: true });
  const tmp = `${dir}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(tmp);
  try {
    await writeFileAtomic(joinPath(tmp, MARKER), "masokit array cache entry\n");
    for (const item of list) {
      await writeFileAtomic(joinPath(tmp, item.file), entry.arrays.get(item.name)!.data);
    }
    await writeFileAtomic(joinPath(tmp, MANIFEST), manifestText);
    for (let attempt = 0;; attempt++) {
      try {
        await Deno.rename(tmp, dir); // fails while `dir` holds an entry
        await removeStaleTemps(dir);
        return;
      } catch (error) {
        if (await identical()) return; // another writer renamed the same entry in first
        if (attempt === 3) throw error;
        if (await exists(dir)) {
          // a stale or damaged entry: moved aside in one step, so no reader sees it half gone
          if (!(await isOurEntry(dir))) throw notOurs(dir, `it has no masokit ${MANIFEST}`);
          const old = `${dir}.old-${crypto.randomUUID().slice(0, 8)}`;
          await Deno.rename(dir, old).catch(() => {}); // another writer may have moved it
          await removeIfExists(old);
        }
      }
    }
  } finally {
    await removeIfExists(tmp).catch(() => {});
  }
}

/**
 * Reads a cache entry written by {@link writeArrayCache}, verifying each file's length and
 * SHA-256. A missing entry, an entry without a manifest (an interrupted write) or one from
 * another source gives `undefined` (and leftovers are removed). A corrupt or truncated file,
 * or metadata that `check` rejects, throws a {@link DataError} naming it, after the whole
 * entry is removed. A directory masokit did not write (no marker, no masokit manifest) throws
 * a {@link DataError} and is left untouched.
 *
 * @param dir The entry's directory.
 * @param source The source the entry must come from (compared as JSON).
 * @param check Optional check of the entry read (e.g. its metadata); it throws an `Error`
 *   saying what is wrong, which is reported as a corrupt manifest.
 * @returns The entry, or `undefined` when there is no usable one.
 *
 * @example A missing entry reads as undefined
 * ```ts
 * import { readArrayCache } from "./cache.ts";
 * import { equal } from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * equal(await readArrayCache(`${dir}/none`, {}), undefined);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readArrayCache(
  dir: string,
  source: Record<string, unknown>,
  check?: (entry: CacheEntry) => void,
): Promise<CacheEntry | undefined> {
  const manifestPath = joinPath(dir, MANIFEST);
  let raw = await readFileIfExists(manifestPath);
  let marked = await exists(joinPath(dir, MARKER));
  if (raw === undefined) {
    if (!(await exists(dir))) return undefined;
    // a writer may have renamed a complete entry into place since the manifest was read
    raw = await readFileIfExists(manifestPath);
    marked = await exists(joinPath(dir, MARKER));
  }
  if (raw === undefined) {
    if (!marked) throw notOurs(dir, `it has no ${MANIFEST}`);
    await removeIfExists(dir);
    return undefined;
  }
  const corrupt = async (path: string, why: string): Promise<never> => {
    await removeIfExists(dir);
    throw new DataError(
      `Cannot read cached data ${path}: ${why}; removed the cache entry ${dir} (the next load rebuilds it)`,
      path,
    );
  };
  let manifest: unknown;
  try {
    manifest = JSON.parse(new TextDecoder().decode(raw));
  } catch (error) {
    const why = `invalid JSON (${(error as Error).message})`;
    if (!marked) throw notOurs(dir, `its ${MANIFEST} is ${why}`);
    return corrupt(manifestPath, why);
  }
  if (!isOurManifest(manifest)) {
    const why = "not a masokit array-cache manifest (version 1)";
    if (!marked) throw notOurs(dir, `its ${MANIFEST} is ${why}`);
    return corrupt(manifestPath, why);
  }
  if (!sameJson(manifest.source, source)) {
    await removeIfExists(dir);
    return undefined;
  }
  const arrays = new Map<string, CachedArray>();
  for (const item of manifest.arrays) {
    if (typeof item?.file !== "string" || !/^[A-Za-z0-9_-]+\.u8$/.test(item.file)) {
      return corrupt(manifestPath, `bad array record ${JSON.stringify(item)}`);
    }
    const path = joinPath(dir, item.file);
    const data = await readFileIfExists(path);
    if (data === undefined) return corrupt(path, "file is missing");
    if (data.length !== item.byteLength) {
      return corrupt(
        path,
        `${data.length} bytes, manifest says ${item.byteLength}${
          data.length < item.byteLength ? " (truncated)" : ""
        }`,
      );
    }
    const sum = await sha256Hex(data);
    if (sum !== item.sha256) {
      return corrupt(path, `SHA-256 is ${sum}, manifest says ${item.sha256}`);
    }
    arrays.set(item.name, { shape: item.shape, data });
  }
  const entry = { source: manifest.source, meta: manifest.meta ?? {}, arrays };
  try {
    check?.(entry);
  } catch (error) {
    return corrupt(manifestPath, (error as Error).message);
  }
  return entry;
}
