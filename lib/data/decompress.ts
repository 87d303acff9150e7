/**
 * Gzip/zlib decompression with the web-standard `DecompressionStream`.
 *
 * @module
 */

/**
 * Decompresses bytes in the given format with the web-standard `DecompressionStream`:
 * `"gzip"` (RFC 1952, `.gz`/`.tgz`), `"deflate"` (zlib, RFC 1950, as in MATLAB's
 * `miCOMPRESSED` elements) or `"deflate-raw"` (RFC 1951).
 *
 * @param bytes The compressed bytes.
 * @param format The container format.
 * @returns The decompressed bytes; rejects with a `TypeError` on corrupt or truncated input.
 *
 * @example Round trip through CompressionStream
 * ```ts
 * import { decompress } from "./decompress.ts";
 * import { deepEqual } from "node:assert/strict";
 * const data = new Uint8Array([1, 2, 3, 4, 5, 5, 5, 5]);
 * const packed = new Uint8Array(
 *   await new Response(new Blob([data]).stream().pipeThrough(new CompressionStream("gzip")))
 *     .arrayBuffer(),
 * );
 * deepEqual(await decompress(packed, "gzip"), data);
 * ```
 */
export async function decompress(
  bytes: Uint8Array,
  format: CompressionFormat,
): Promise<Uint8Array> {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`Cannot decompress: expected a Uint8Array, got ${typeof bytes}`);
  }
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream(format),
  );
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.length;
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
