import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { DataError } from "../../lib/data/data_error.ts";
import { parseSvhnMat, readSvhn } from "../../lib/data/svhn.ts";
import { writeMat } from "./_mat_writer.ts";

/** An SVHN-like MAT-file whose X is `double` with the given values (column-major). */
function doubleSvhn(values: ArrayLike<number>, labels: number[]): Promise<Uint8Array> {
  return writeMat([
    { name: "X", className: "double", dims: [32, 32, 3, labels.length], values },
    { name: "y", className: "double", dims: [labels.length, 1], values: labels },
  ]);
}

Deno.test("parseSvhnMat() refuses a double X that is not whole 0…255 pixels", async (t) => {
  await t.step("X scaled to [0, 1] (im2double) is not silently truncated to zeros", async () => {
    const x = Float64Array.from({ length: 3072 * 2 }, (_, i) => (i % 7) / 7);
    await assertRejects(
      () => doubleSvhn(x, [1, 2]).then((b) => parseSvhnMat(b, "train_32x32.mat")),
      (e: Error) =>
        e instanceof RangeError &&
        e.message ===
          `Cannot parse train_32x32.mat: X is double and X(2) is ${
            1 / 7
          }, expected uint8 pixels (whole numbers 0…255)`,
    );
  });
  await t.step("a value above 255 does not wrap", async () => {
    const x = new Float64Array(3072).fill(7);
    x[100] = 300;
    await assertRejects(
      () => doubleSvhn(x, [3]).then((b) => parseSvhnMat(b, "t.mat")),
      /X is double and X\(101\) is 300/,
    );
  });
  await t.step("readSvhn names the file in a DataError", async () => {
    const dir = await Deno.makeTempDir();
    try {
      const bad = await doubleSvhn(new Float64Array(3072).fill(0.5), [4]);
      await Deno.writeFile(`${dir}/train_32x32.mat`, bad);
      await Deno.writeFile(`${dir}/test_32x32.mat`, bad);
      const error = await readSvhn(dir).catch((e) => e);
      assert(error instanceof DataError, String(error));
      assertEquals(error.path, `${dir}/train_32x32.mat`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
  await t.step("a double X holding whole 0…255 values is read as before", async () => {
    const x = Float64Array.from({ length: 3072 }, (_, i) => i % 256);
    const split = await parseSvhnMat(await doubleSvhn(x, [10]), "ok.mat");
    assertEquals(split.count, 1);
    assertEquals([...split.labels], [0]);
    // pixel (r 0, c 1) of channel 0 is X(1, 2, 1) = x[32]
    assertEquals(split.images[3], 32);
  });
});
