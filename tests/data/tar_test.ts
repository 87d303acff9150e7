import { assertEquals, assertRejects, assertThrows } from "../_assert.ts";
import { decompress } from "../../lib/data/decompress.ts";
import { readTar } from "../../lib/data/tar.ts";
import { makeTgz, randomBytes } from "./_helpers.ts";

Deno.test("readTar() lists the files the system tar wrote, byte for byte", async (t) => {
  const files: Record<string, Uint8Array> = {
    "package/a.bin": randomBytes(1000, 1),
    "package/empty": new Uint8Array(0),
    "package/exact512": randomBytes(512, 2),
    [`package/${"long_dir_name/".repeat(8)}deep.bin`]: randomBytes(70000, 3),
  };
  const tar = await decompress(await makeTgz(files), "gzip");
  const entries = readTar(tar);
  assertEquals(entries.map((e) => e.name).sort(), Object.keys(files).sort());
  for (const e of entries) assertEquals(e.data, files[e.name], e.name);

  await t.step("a truncated archive names the entry", () => {
    const cut = tar.subarray(0, 512 + 600);
    assertThrows(() => readTar(cut), /truncated/);
  });
  await t.step("a corrupted header fails its checksum", () => {
    const bad = tar.slice();
    bad[10] ^= 0xff;
    assertThrows(() => readTar(bad), /checksum/);
  });
  await t.step("a truncated gzip stream rejects", async () => {
    const tgz = await makeTgz({ "package/x": randomBytes(5000, 4) });
    await assertRejects(decompress(tgz.subarray(0, tgz.length - 20), "gzip"));
  });
  await t.step("gunzip matches the system gzip", async () => {
    const data = randomBytes(100000, 5);
    const proc = new Deno.Command("gzip", { args: ["-c"], stdin: "piped", stdout: "piped" })
      .spawn();
    const writer = proc.stdin.getWriter();
    await writer.write(data);
    await writer.close();
    const out = await proc.output();
    assertEquals(await decompress(out.stdout, "gzip"), data);
  });
});
