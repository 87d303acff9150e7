/**
 * CIFAR-100 (Krizhevsky 2009) from the official binary version the user provides
 * (`cifar-100-binary/train.bin` and `test.bin`): each record is 1 coarse-label byte, 1
 * fine-label byte, then 3072 bytes of 32 × 32 R, G and B planes.
 *
 * @module
 */
import { DataError } from "./data_error.ts";
import { joinPath, readFileIfExists } from "./_fs.ts";
import { validateRaw } from "./_validate.ts";
import type { RawDataset, RawSplit } from "./types.ts";

const RECORD = 2 + 3072;

const FINE =
  ("apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge " +
    "bus butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach " +
    "couch crab crocodile cup dinosaur dolphin elephant flatfish forest fox girl hamster house " +
    "kangaroo keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree motorcycle " +
    "mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree " +
    "plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew " +
    "skunk skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table tank " +
    "telephone television tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf " +
    "woman worm").split(" ");

const COARSE = ("aquatic_mammals fish flowers food_containers fruit_and_vegetables " +
  "household_electrical_devices household_furniture insects large_carnivores " +
  "large_man-made_outdoor_things large_natural_outdoor_scenes " +
  "large_omnivores_and_herbivores medium_mammals non-insect_invertebrates people reptiles " +
  "small_mammals trees vehicles_1 vehicles_2").split(" ");

/** A parsed CIFAR-100 binary file: NHWC images and both label sets. */
export interface Cifar100Split {
  /** `count × 32 × 32 × 3` bytes, NHWC. */
  readonly images: Uint8Array;
  /** Fine labels, 0…99. */
  readonly fine: Uint8Array;
  /** Coarse (superclass) labels, 0…19. */
  readonly coarse: Uint8Array;
  /** Number of records. */
  readonly count: number;
}

/**
 * Parses a CIFAR-100 binary file (`train.bin`/`test.bin`): records of coarse label, fine
 * label, then R, G, B planes of 32 × 32 bytes, turned into NHWC.
 *
 * @param bytes The file's bytes.
 * @param name The file's name, used in error messages.
 * @returns Images and labels; throws a `RangeError` naming the file when its length is not a
 *   whole number of 3074-byte records or a label is out of range.
 *
 * @example One record
 * ```ts
 * import { parseCifar100Bin } from "./cifar100.ts";
 * import { deepEqual, equal } from "node:assert/strict";
 * const record = new Uint8Array(3074);
 * record[0] = 4; // coarse
 * record[1] = 30; // fine
 * record[2] = 200; // R of pixel (0, 0)
 * record[2 + 1024] = 100; // G of pixel (0, 0)
 * const split = parseCifar100Bin(record);
 * equal(split.fine[0], 30);
 * deepEqual([...split.images.subarray(0, 3)], [200, 100, 0]);
 * ```
 */
export function parseCifar100Bin(bytes: Uint8Array, name = "CIFAR-100 file"): Cifar100Split {
  if (bytes.length === 0 || bytes.length % RECORD !== 0) {
    throw new RangeError(
      `Cannot parse ${name}: ${bytes.length} bytes is not a whole number of ${RECORD}-byte records (truncated or not CIFAR-100 binary)`,
    );
  }
  const count = bytes.length / RECORD;
  const images = new Uint8Array(count * 3072);
  const fine = new Uint8Array(count);
  const coarse = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    const base = n * RECORD;
    coarse[n] = bytes[base];
    fine[n] = bytes[base + 1];
    if (coarse[n] >= 20 || fine[n] >= 100) {
      throw new RangeError(
        `Cannot parse ${name}: record ${n} has coarse label ${coarse[n]} and fine label ${
          fine[n]
        }, expected 0…19 and 0…99`,
      );
    }
    const out = n * 3072;
    for (let p = 0; p < 1024; p++) {
      images[out + 3 * p] = bytes[base + 2 + p];
      images[out + 3 * p + 1] = bytes[base + 2 + 1024 + p];
      images[out + 3 * p + 2] = bytes[base + 2 + 2048 + p];
    }
  }
  return { images, fine, coarse, count };
}

async function labelNames(dir: string, file: string, fallback: string[]): Promise<string[]> {
  const bytes = await readFileIfExists(joinPath(dir, file));
  if (!bytes) return fallback;
  const names = new TextDecoder().decode(bytes).split(/\r?\n/).map((s) => s.trim()).filter((s) =>
    s !== ""
  );
  return names.length === fallback.length ? names : fallback;
}

/**
 * Reads CIFAR-100 from a folder holding the official binary files `train.bin` and `test.bin`
 * (and, optionally, `fine_label_names.txt`/`coarse_label_names.txt`).
 *
 * @param path The folder, e.g. `"data/cifar-100-binary"`.
 * @param options `labelSet`: `"fine"` (100 classes, default) or `"coarse"` (20 superclasses).
 * @returns The dataset; rejects with a {@link DataError} naming the missing or bad file.
 *
 * @example A missing folder gives a clear error
 * ```ts
 * import { readCifar100 } from "./cifar100.ts";
 * import { rejects } from "node:assert/strict";
 * await rejects(readCifar100("no/such/dir"), /no\/such\/dir\/train\.bin/);
 * ```
 */
export async function readCifar100(
  path: string,
  options: { labelSet?: "fine" | "coarse" } = {},
): Promise<RawDataset> {
  const labelSet = options.labelSet ?? "fine";
  if (labelSet !== "fine" && labelSet !== "coarse") {
    throw new RangeError(
      `Cannot read CIFAR-100: labelSet is "${labelSet}", expected "fine" or "coarse"`,
    );
  }
  const split = async (file: string): Promise<RawSplit> => {
    const full = joinPath(path, file);
    const bytes = await readFileIfExists(full);
    if (!bytes) {
      throw new DataError(
        `Cannot load CIFAR-100: ${full} not found. Download the official "CIFAR-100 binary version" (cifar-100-binary.tar.gz), extract it, and pass its folder (holding train.bin and test.bin) as path, or copy train.bin and test.bin into ${path}/`,
        full,
      );
    }
    try {
      const parsed = parseCifar100Bin(bytes, full);
      return {
        images: parsed.images,
        labels: labelSet === "fine" ? parsed.fine : parsed.coarse,
        count: parsed.count,
      };
    } catch (error) {
      throw new DataError((error as Error).message, full);
    }
  };
  const [train, test] = [await split("train.bin"), await split("test.bin")];
  const labels = labelSet === "fine"
    ? await labelNames(path, "fine_label_names.txt", FINE)
    : await labelNames(path, "coarse_label_names.txt", COARSE);
  return validateRaw({ name: "cifar100", height: 32, width: 32, channels: 3, labels, train, test });
}
