/**
 * PNG decoding to 8-bit pixels, through the maintained `fast-png` decoder.
 *
 * @module
 */
import { decode } from "fast-png";

/** A decoded 8-bit image, row-major, channels interleaved. */
export interface PngImage {
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
  /** Channels per pixel: 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA). */
  readonly channels: number;
  /** `height × width × channels` bytes. */
  readonly data: Uint8Array;
}

/**
 * Decodes a PNG file to 8-bit pixels (palette images are expanded to RGB/RGBA).
 *
 * @param bytes The PNG file's bytes.
 * @param name The file's name, used in error messages.
 * @returns The image; throws a `RangeError` naming the file when it is not a PNG, is
 *   corrupt or truncated, or has 16-bit samples.
 *
 * @example A 1 × 2 RGB image written with fast-png
 * ```ts
 * import { decodePng } from "./png.ts";
 * import { encode } from "fast-png";
 * import { deepEqual, equal } from "node:assert/strict";
 * const png = encode({ width: 2, height: 1, channels: 3, depth: 8, data: new Uint8Array([1, 2, 3, 4, 5, 6]) });
 * const image = decodePng(png);
 * equal(image.width, 2);
 * deepEqual([...image.data], [1, 2, 3, 4, 5, 6]);
 * ```
 */
export function decodePng(bytes: Uint8Array, name = "PNG file"): PngImage {
  const signature = [137, 80, 78, 71, 13, 10, 26, 10];
  if (bytes.length < 8 || signature.some((b, i) => bytes[i] !== b)) {
    throw new RangeError(`Cannot decode ${name}: not a PNG file (bad signature)`);
  }
  let image;
  try {
    image = decode(bytes, { checkCrc: true });
  } catch (error) {
    throw new RangeError(
      `Cannot decode ${name}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const { width, height, palette } = image;
  if (palette) {
    const channels = palette[0]?.length ?? 3;
    const index = image.data as Uint8Array;
    const data = new Uint8Array(width * height * channels);
    const depth = image.depth;
    const perByte = 8 / depth;
    const rowBytes = Math.ceil((width * depth) / 8);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let k: number;
        if (depth === 8) k = index[y * width + x];
        else {
          const byte = index[y * rowBytes + Math.floor(x / perByte)];
          const shift = 8 - depth * (1 + (x % perByte));
          k = (byte >> shift) & ((1 << depth) - 1);
        }
        const color = palette[k];
        if (!color) {
          throw new RangeError(`Cannot decode ${name}: palette index ${k} is out of range`);
        }
        data.set(color, (y * width + x) * channels);
      }
    }
    return { width, height, channels, data };
  }
  if (image.depth !== 8) {
    throw new RangeError(`Cannot decode ${name}: bit depth is ${image.depth}, expected 8`);
  }
  const data = image.data as Uint8Array;
  const expected = width * height * image.channels;
  if (data.length !== expected) {
    throw new RangeError(
      `Cannot decode ${name}: decoded ${data.length} bytes, expected ${expected} (truncated)`,
    );
  }
  return { width, height, channels: image.channels, data };
}
