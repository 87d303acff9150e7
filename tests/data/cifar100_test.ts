import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { DataError } from "../../lib/data/data_error.ts";
import { parseCifar100Bin, readCifar100 } from "../../lib/data/cifar100.ts";
import { cifar100Bin } from "./_fixtures.ts";

Deno.test("parseCifar100Bin() turns R, G, B planes into NHWC", async (t) => {
  const file = cifar100Bin(3, 1);
  const split = parseCifar100Bin(file.bytes);
  assertEquals(split.count, 3);
  assertEquals(split.fine, file.fine);
  assertEquals(split.coarse, file.coarse);
  for (let n = 0; n < 3; n++) {
    for (const [r, c] of [[0, 0], [5, 31], [31, 7]]) {
      for (let ch = 0; ch < 3; ch++) {
        assertEquals(
          split.images[((n * 32 + r) * 32 + c) * 3 + ch],
          file.planes[n * 3072 + ch * 1024 + r * 32 + c],
        );
      }
    }
  }
  await t.step("a truncated file is refused", () => {
    let error: unknown;
    try {
      parseCifar100Bin(file.bytes.subarray(0, 5000), "train.bin");
    } catch (e) {
      error = e;
    }
    assert(error instanceof RangeError && /train\.bin: 5000 bytes/.test(error.message));
  });
});

Deno.test("readCifar100() reads train.bin/test.bin from a folder", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const train = cifar100Bin(6, 2), test = cifar100Bin(2, 3);
    await Deno.writeFile(`${dir}/train.bin`, train.bytes);
    await Deno.writeFile(`${dir}/test.bin`, test.bytes);
    const raw = await readCifar100(dir);
    assertEquals(raw.labels.length, 100);
    assertEquals(new Set(raw.labels).size, 100);
    assertEquals([raw.labels[0], raw.labels[99]], ["apple", "worm"]);
    assertEquals(raw.train.labels, train.fine);
    const coarse = await readCifar100(dir, { labelSet: "coarse" });
    assertEquals(coarse.labels.length, 20);
    assertEquals(coarse.test.labels, test.coarse);
    await t.step("a missing file says what to provide", async () => {
      await Deno.remove(`${dir}/test.bin`);
      await assertRejects(
        readCifar100(dir),
        (e: Error) => e instanceof DataError && e.message.includes(`${dir}/test.bin not found`),
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
