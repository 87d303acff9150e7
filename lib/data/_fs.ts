/**
 * Small filesystem helpers for the data loaders (private).
 *
 * @module
 */

/** Joins path segments with `/`, dropping duplicate separators. */
export function joinPath(...parts: string[]): string {
  return parts.filter((p) => p !== "").map((p, i) =>
    i === 0 ? p.replace(/\/+$/, "") : p.replace(/^\/+|\/+$/g, "")
  )
    .join("/");
}

/** Whether an error says a path does not exist (also when a parent is a file). */
function isMissing(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory;
}

/** Reads a file, or returns `undefined` when it does not exist. */
export async function readFileIfExists(path: string): Promise<Uint8Array | undefined> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/** Whether a path exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

/** Removes a file or directory tree, ignoring a missing path. */
export async function removeIfExists(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** Lowercase hex SHA-256 of bytes. */
export async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>),
  );
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}
