import { assertEquals, assertRejects } from "../_assert.ts";
import { parseMat } from "../../lib/data/mat.ts";
import { randomBytes } from "./_helpers.ts";
import { writeMat } from "./_mat_writer.ts";

Deno.test("parseMat() reads the variables a level-5 writer stored", async (t) => {
  const x = randomBytes(4 * 3 * 2, 21);
  const y = [1, 10, 3, 7.5, -2, 0];
  for (const compress of [false, true]) {
    for (const little of [true, false]) {
      await t.step(`compress=${compress} little=${little}`, async () => {
        const file = await writeMat([
          { name: "X", className: "uint8", dims: [4, 3, 2], values: x },
          { name: "y", className: "double", dims: [6, 1], values: y },
          {
            name: "yy",
            className: "double",
            dims: [1, 3],
            values: [10, 200, 3],
            storeAs: "miUINT8",
          },
          { name: "s", className: "single", dims: [1, 1], values: [0.5] },
          { name: "neg", className: "int16", dims: [2, 1], values: [-300, 5] },
        ], { compress, little });
        const vars = await parseMat(file);
        assertEquals([...vars.keys()], ["X", "y", "yy", "s", "neg"]);
        assertEquals(vars.get("X")!.dims, [4, 3, 2]);
        assertEquals(vars.get("X")!.data, x);
        assertEquals(vars.get("y")!.data, Float64Array.from(y));
        assertEquals(vars.get("yy")!.className, "double");
        assertEquals(vars.get("yy")!.data, Float64Array.from([10, 200, 3]));
        assertEquals([...vars.get("s")!.data], [0.5]);
        assertEquals([...vars.get("neg")!.data], [-300, 5]);
      });
    }
  }
  await t.step("a truncated file names itself", async () => {
    const file = await writeMat([{
      name: "X",
      className: "uint8",
      dims: [100, 1],
      values: randomBytes(100, 2),
    }]);
    await assertRejects(parseMat(file.subarray(0, file.length - 40), "t.mat"), /t\.mat.*truncated/);
  });
  await t.step("a truncated compressed element is reported", async () => {
    const file = await writeMat([{
      name: "X",
      className: "uint8",
      dims: [1000, 1],
      values: randomBytes(1000, 3),
    }], { compress: true });
    const cut = file.slice(0, file.length - 30);
    new DataView(cut.buffer).setUint32(132, file.length - 136 - 30, true);
    await assertRejects(parseMat(cut, "c.mat"), /c\.mat: .*(does not inflate|truncated)/);
  });
  await t.step("v7.3 (HDF5) files are refused by name", async () => {
    const hdf = new Uint8Array(200);
    hdf.set(new TextEncoder().encode("MATLAB 7.3 MAT-file"));
    await assertRejects(parseMat(hdf, "h.mat"), /h\.mat: endian indicator/);
  });
});
