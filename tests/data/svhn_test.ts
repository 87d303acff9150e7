import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { DataError } from "../../lib/data/data_error.ts";
import { readSvhn } from "../../lib/data/svhn.ts";
import { svhnMat } from "./_fixtures.ts";

Deno.test("readSvhn() reads column-major X into NHWC and maps label 10 to 0", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const train = await svhnMat(4, 71, [10, 1, 9, 5]);
    const test = await svhnMat(2, 72, [3, 10]);
    await Deno.writeFile(`${dir}/train_32x32.mat`, train.bytes);
    await Deno.writeFile(`${dir}/test_32x32.mat`, test.bytes);
    const raw = await readSvhn(dir);
    assertEquals([...raw.train.labels], [0, 1, 9, 5]);
    assertEquals([...raw.test.labels], [3, 0]);
    for (let n = 0; n < 4; n++) {
      for (let r = 0; r < 32; r += 5) {
        for (let c = 0; c < 32; c += 3) {
          for (let ch = 0; ch < 3; ch++) {
            // MATLAB X(r+1, c+1, ch+1, n+1), column-major.
            const expected = train.x[r + 32 * c + 1024 * ch + 3072 * n];
            assertEquals(raw.train.images[((n * 32 + r) * 32 + c) * 3 + ch], expected);
          }
        }
      }
    }
    await t.step("a label outside 1…10 is refused, naming the file", async () => {
      const bad = await svhnMat(1, 73, [11]);
      await Deno.writeFile(`${dir}/test_32x32.mat`, bad.bytes);
      await assertRejects(
        readSvhn(dir),
        (e: Error) => e instanceof DataError && e.message.includes("test_32x32.mat: y[0] is 11"),
      );
    });
    await t.step("a truncated file is refused, naming the file", async () => {
      await Deno.writeFile(`${dir}/test_32x32.mat`, test.bytes.subarray(0, 300));
      const error = await readSvhn(dir).catch((e) => e);
      assert(error instanceof DataError && error.path === `${dir}/test_32x32.mat`, String(error));
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
