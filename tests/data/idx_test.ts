import { assertEquals, assertThrows } from "../_assert.ts";
import { parseIdx } from "../../lib/data/idx.ts";
import { idxUint8, randomBytes } from "./_helpers.ts";

Deno.test("parseIdx() reads shape and values of a uint8 file", async (t) => {
  const values = randomBytes(3 * 4 * 5, 7);
  const idx = parseIdx(idxUint8([3, 4, 5], values));
  assertEquals(idx.shape, [3, 4, 5]);
  assertEquals(idx.dtype, "uint8");
  assertEquals([...idx.data], [...values]);

  await t.step("big-endian int32 values", () => {
    const bytes = new Uint8Array(4 + 4 + 8);
    bytes.set([0, 0, 0x0c, 1]);
    const view = new DataView(bytes.buffer);
    view.setUint32(4, 2, false);
    view.setInt32(8, -5, false);
    view.setInt32(12, 70000, false);
    assertEquals([...parseIdx(bytes).data], [-5, 70000]);
  });
  await t.step("a truncated file names itself", () => {
    const bytes = idxUint8([10, 2], randomBytes(20, 1)).subarray(0, 20);
    assertThrows(() => parseIdx(bytes, "train-images"), /train-images: 20 bytes.*truncated/);
  });
  await t.step("bad magic", () => {
    assertThrows(() => parseIdx(new Uint8Array([1, 2, 3, 4])), /magic bytes are \[1,2,3,4\]/);
  });
});
