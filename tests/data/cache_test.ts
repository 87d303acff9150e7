import { assert, assertEquals, assertRejects, assertStrictEquals } from "../_assert.ts";
import { readArrayCache, writeArrayCache } from "../../lib/data/cache.ts";
import { DataError } from "../../lib/data/data_error.ts";
import { randomBytes } from "./_helpers.ts";

async function exists(path: string) {
  return await Deno.lstat(path).then(() => true, () => false);
}

async function entry(dir: string) {
  const arrays = new Map([
    ["images", { shape: [10, 4, 4, 1], data: randomBytes(160, 31) }],
    ["labels", { shape: [10], data: randomBytes(10, 32) }],
  ]);
  await writeArrayCache(dir, { source: { package: "p", version: "1" }, meta: { h: 4 }, arrays });
  return arrays;
}

Deno.test("readArrayCache() returns what writeArrayCache() stored, checksummed", async (t) => {
  const root = await Deno.makeTempDir();
  try {
    const dir = `${root}/e`;
    const arrays = await entry(dir);
    const back = await readArrayCache(dir, { package: "p", version: "1" });
    assertEquals(back!.arrays.get("images")!.data, arrays.get("images")!.data);
    assertEquals(back!.arrays.get("labels")!.shape, [10]);
    assertEquals(back!.meta, { h: 4 });
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", arrays.get("labels")!.data as Uint8Array<ArrayBuffer>),
    );
    assertEquals(
      manifest.arrays[1].sha256,
      [...digest].map((b) => b.toString(16).padStart(2, "0")).join(""),
    );
    assertEquals([...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".tmp")), []);

    await t.step("a corrupted file: DataError naming it, entry removed", async () => {
      await entry(dir);
      const bytes = await Deno.readFile(`${dir}/images.u8`);
      bytes[5] ^= 1;
      await Deno.writeFile(`${dir}/images.u8`, bytes);
      const error = await readArrayCache(dir, { package: "p", version: "1" }).catch((e) => e);
      assert(error instanceof DataError);
      assertStrictEquals(error.path, `${dir}/images.u8`);
      assert(/SHA-256 is [0-9a-f]{64}, manifest says/.test(error.message), error.message);
      assert(!(await exists(dir)), "entry removed");
    });
    await t.step("a truncated file: DataError naming it, entry removed", async () => {
      await entry(dir);
      await Deno.truncate(`${dir}/labels.u8`, 4);
      await assertRejects(
        readArrayCache(dir, { package: "p", version: "1" }),
        (e: Error) =>
          e instanceof DataError &&
          /labels\.u8: 4 bytes, manifest says 10 \(truncated\)/.test(e.message),
      );
      assert(!(await exists(dir)));
    });
    await t.step("a corrupt manifest: DataError naming it, entry removed", async () => {
      await entry(dir);
      await Deno.writeTextFile(`${dir}/manifest.json`, "{ not json");
      await assertRejects(readArrayCache(dir, {}), /manifest\.json: invalid JSON/);
      assert(!(await exists(dir)));
    });
    await t.step("an interrupted write (no manifest) reads as missing and is cleaned", async () => {
      await entry(dir);
      await Deno.remove(`${dir}/manifest.json`);
      assertStrictEquals(await readArrayCache(dir, { package: "p", version: "1" }), undefined);
      assert(!(await exists(dir)));
    });
    await t.step("an entry from another source is stale", async () => {
      await entry(dir);
      assertStrictEquals(await readArrayCache(dir, { package: "p", version: "2" }), undefined);
      assert(!(await exists(dir)));
    });
    await t.step("an entry written before the marker existed is still ours", async () => {
      await entry(dir);
      await Deno.remove(`${dir}/.masokit-cache`);
      assertEquals((await readArrayCache(dir, { package: "p", version: "1" }))!.meta, { h: 4 });
      assertStrictEquals(await readArrayCache(dir, { package: "p", version: "2" }), undefined);
      assert(!(await exists(dir)));
    });
    await t.step("metadata rejected by check: DataError naming the manifest, removed", async () => {
      await entry(dir);
      const error = await readArrayCache(dir, { package: "p", version: "1" }, () => {
        throw new RangeError("meta.height is undefined");
      }).catch((e) => e);
      assert(error instanceof DataError, String(error));
      assertStrictEquals(error.path, `${dir}/manifest.json`);
      assert(/meta\.height is undefined; removed the cache entry/.test(error.message));
      assert(!(await exists(dir)));
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a directory masokit did not write is never removed or overwritten", async (t) => {
  const root = await Deno.makeTempDir();
  const arrays = new Map([["x", { shape: [1], data: new Uint8Array([1]) }]]);
  const cases: [string, Record<string, string>, RegExp][] = [
    ["no manifest", { "notes.txt": "precious" }, /it has no manifest\.json/],
    [
      "a manifest of another tool",
      { "manifest.json": '{"name": "mine"}', "notes.txt": "precious" },
      /manifest\.json is not a masokit array-cache manifest/,
    ],
    ["an invalid manifest", { "manifest.json": "{ mine" }, /manifest\.json is invalid JSON/],
  ];
  try {
    for (const [what, files, reason] of cases) {
      await t.step(what, async () => {
        const dir = `${root}/${what.replaceAll(" ", "-")}`;
        await Deno.mkdir(dir);
        for (const [name, text] of Object.entries(files)) {
          await Deno.writeTextFile(`${dir}/${name}`, text);
        }
        const isUntouched = (e: Error) =>
          e instanceof DataError && e.path === dir &&
          /left untouched; move it away or pass another cacheDir/.test(e.message);
        await assertRejects(
          readArrayCache(dir, { v: 1 }),
          (e: Error) => isUntouched(e) && reason.test(e.message),
        );
        await assertRejects(
          writeArrayCache(dir, { source: { v: 1 }, meta: {}, arrays }),
          isUntouched,
        );
        for (const [name, text] of Object.entries(files)) {
          assertStrictEquals(await Deno.readTextFile(`${dir}/${name}`), text);
        }
        assertEquals([...Deno.readDirSync(dir)].length, Object.keys(files).length);
      });
    }
    await t.step("a file in place of the entry", async () => {
      await Deno.writeTextFile(`${root}/file`, "precious");
      await assertRejects(readArrayCache(`${root}/file`, { v: 1 }), DataError);
      assertStrictEquals(await Deno.readTextFile(`${root}/file`), "precious");
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
