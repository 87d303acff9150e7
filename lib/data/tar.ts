/**
 * A small reader for (ustar/GNU/pax) tar archives, as found inside npm tarballs.
 *
 * @module
 */

/** One regular file in a tar archive. */
export interface TarEntry {
  /** Path inside the archive, e.g. `"package/data/t10k-images-idx3-ubyte"`. */
  readonly name: string;
  /** The file's bytes (a view into the archive). */
  readonly data: Uint8Array;
}

const BLOCK = 512;
const decoder = new TextDecoder();

function field(header: Uint8Array, start: number, length: number): string {
  let end = start;
  while (end < start + length && header[end] !== 0) end++;
  return decoder.decode(header.subarray(start, end));
}

function octal(header: Uint8Array, start: number, length: number, what: string): number {
  // GNU base-256 for large sizes: high bit of the first byte set.
  if (header[start] & 0x80) {
    let value = header[start] & 0x7f;
    for (let i = start + 1; i < start + length; i++) value = value * 256 + header[i];
    return value;
  }
  const text = field(header, start, length).trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) {
    throw new RangeError(`Cannot read tar archive: ${what} field is "${text}", expected octal`);
  }
  return parseInt(text, 8);
}

function parsePax(data: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  const text = decoder.decode(data);
  let i = 0;
  while (i < text.length) {
    const space = text.indexOf(" ", i);
    if (space < 0) break;
    const length = parseInt(text.slice(i, space), 10);
    if (!(length > 0)) break;
    const record = text.slice(space + 1, i + length - 1);
    const eq = record.indexOf("=");
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1));
    i += length;
  }
  return out;
}

/**
 * Lists the regular files of an uncompressed tar archive (ustar, with GNU long names and pax
 * `path`/`size` records), checking each header's checksum.
 *
 * @param archive The tar bytes (gunzip a `.tgz` first).
 * @returns The regular files in archive order; throws a `RangeError` naming the entry when a
 *   header is corrupt or the archive is truncated.
 *
 * @example Reading an archive written by hand
 * ```ts
 * import { readTar } from "./tar.ts";
 * import { equal } from "node:assert/strict";
 * const header = new Uint8Array(512);
 * const put = (text: string, at: number) => header.set(new TextEncoder().encode(text), at);
 * put("package/a.txt", 0);
 * put("0000644\0", 100);
 * put("00000000003\0", 124);
 * put("0", 156);
 * put("ustar\0", 257);
 * put("        ", 148);
 * const sum = header.reduce((s, b) => s + b, 0);
 * put(sum.toString(8).padStart(6, "0") + "\0 ", 148);
 * const body = new Uint8Array(512);
 * body.set([104, 105, 33]);
 * const archive = new Uint8Array([...header, ...body, ...new Uint8Array(1024)]);
 * const [entry] = readTar(archive);
 * equal(entry.name, "package/a.txt");
 * equal(new TextDecoder().decode(entry.data), "hi!");
 * ```
 */
export function readTar(archive: Uint8Array): TarEntry[] {
  const entries: TarEntry[] = [];
  let offset = 0;
  let longName: string | undefined;
  let pax = new Map<string, string>();
  while (offset + BLOCK <= archive.length) {
    const header = archive.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) return entries;
    const stored = octal(header, 148, 8, "checksum");
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : header[i];
    const rawName = field(header, 0, 100);
    if (sum !== stored) {
      throw new RangeError(
        `Cannot read tar archive: header at byte ${offset} ("${rawName}") has checksum ${stored}, computed ${sum}`,
      );
    }
    const type = String.fromCharCode(header[156] || 48);
    const prefix = field(header, 345, 155);
    let name = longName ?? pax.get("path") ??
      (prefix && field(header, 257, 6) === "ustar" ? `${prefix}/${rawName}` : rawName);
    const paxSize = pax.get("size");
    if (paxSize !== undefined && !/^\d+$/.test(paxSize)) {
      // a negative size would step back to an earlier header (and loop), NaN end the read
      throw new RangeError(
        `Cannot read tar archive: entry "${name}" has pax size "${paxSize}", expected a whole number of bytes`,
      );
    }
    const size = paxSize !== undefined ? Number(paxSize) : octal(header, 124, 12, "size");
    const start = offset + BLOCK;
    const end = start + size;
    if (end > archive.length) {
      throw new RangeError(
        `Cannot read tar archive: entry "${name}" needs ${size} bytes at byte ${start}, archive ends at ${archive.length} (truncated)`,
      );
    }
    const data = archive.subarray(start, end);
    offset = start + Math.ceil(size / BLOCK) * BLOCK;
    if (type === "L") {
      longName = field(data, 0, data.length);
      continue;
    }
    if (type === "x") {
      pax = parsePax(data);
      continue;
    }
    if (type === "g") continue;
    longName = undefined;
    pax = new Map();
    if (type === "0" || type === "7") {
      if (name.startsWith("./")) name = name.slice(2);
      entries.push({ name, data });
    }
  }
  if (offset < archive.length || entries.length === 0) {
    throw new RangeError(
      `Cannot read tar archive: ended at byte ${archive.length} without the closing zero blocks (truncated)`,
    );
  }
  return entries;
}
