/**
 * Checks on decoded raw datasets (private).
 *
 * @module
 */
import type { RawDataset, RawSplit } from "./types.ts";

/** Throws a RangeError when a raw dataset's arrays do not match its declared sizes. */
export function validateRaw(raw: RawDataset): RawDataset {
  const pixels = raw.height * raw.width * raw.channels;
  for (const [split, data] of [["train", raw.train], ["test", raw.test]] as [string, RawSplit][]) {
    if (data.images.length !== data.count * pixels) {
      throw new RangeError(
        `Cannot use dataset "${raw.name}": ${split} images have ${data.images.length} bytes, expected ${data.count} × ${raw.height} × ${raw.width} × ${raw.channels}`,
      );
    }
    if (data.labels.length !== data.count) {
      throw new RangeError(
        `Cannot use dataset "${raw.name}": ${split} has ${data.labels.length} labels for ${data.count} images`,
      );
    }
    for (let i = 0; i < data.count; i++) {
      if (data.labels[i] >= raw.labels.length) {
        throw new RangeError(
          `Cannot use dataset "${raw.name}": ${split} label ${i} is ${data.labels[i]}, expected 0…${
            raw.labels.length - 1
          }`,
        );
      }
    }
  }
  return raw;
}
