/**
 * Atomic file writes: write a temporary file next to the target, flush it to
 * disk, then rename it over the target, so a reader (or a run restarted after
 * a kill) sees either the old file or the new one, never a torn one.
 *
 * @module
 */

/**
 * Writes `data` to `path` atomically (temp file in the same directory + rename).
 *
 * @param path Target file.
 * @param data Bytes or text (UTF-8).
 * @returns A promise that resolves once the file is in place.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  try {
    let off = 0;
    while (off < bytes.length) off += await file.write(bytes.subarray(off));
    await file.syncData();
  } catch (e) {
    file.close();
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  file.close();
  try {
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/**
 * Appends one complete line to a file with a single `write` on a file opened
 * in append mode (O_APPEND), so concurrent appenders on a local file system
 * never interleave within a line. If the file ends with a torn line (a writer
 * was killed mid-write), a newline is written first so that the new line stays
 * parseable.
 *
 * @param path Target file (created if missing).
 * @param line The line, without its trailing newline.
 * @returns A promise that resolves once the line is written and flushed.
 */
export async function appendLine(path: string, line: string): Promise<void> {
  if (line.includes("\n")) {
    throw new RangeError(`Cannot append a line to ${path}: the text contains a newline`);
  }
  let prefix = "";
  try {
    const stat = await Deno.stat(path);
    if (stat.size > 0) {
      const f = await Deno.open(path, { read: true });
      try {
        await f.seek(-1, Deno.SeekMode.End);
        const last = new Uint8Array(1);
        await f.read(last);
        if (last[0] !== 10) prefix = "\n";
      } finally {
        f.close();
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const bytes = new TextEncoder().encode(`${prefix}${line}\n`);
  const file = await Deno.open(path, { append: true, create: true });
  try {
    const n = await file.write(bytes);
    if (n !== bytes.length) {
      // Practically never for a regular file; finish the line rather than leave it torn.
      let off = n;
      while (off < bytes.length) off += await file.write(bytes.subarray(off));
    }
    await file.syncData();
  } finally {
    file.close();
  }
}
