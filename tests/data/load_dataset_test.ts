import * as tf from "@tensorflow/tfjs";
import { assert, assertAllClose, assertEquals, assertRejects } from "../_assert.ts";
import { loadDataset } from "../../lib/data/load_dataset.ts";
import { preprocessPaper } from "../../lib/data/preprocess.ts";
import { cifar100Bin, svhnMat } from "./_fixtures.ts";
import { offlineFetch } from "./_helpers.ts";

Deno.test("loadDataset() makes float32 NHWC in [0, 1] and int32 labels", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const train = cifar100Bin(400, 5), test = cifar100Bin(50, 6);
    await Deno.writeFile(`${dir}/train.bin`, train.bytes);
    await Deno.writeFile(`${dir}/test.bin`, test.bytes);
    const data = await loadDataset("cifar100", { path: dir });
    assertEquals(data.train.x.shape, [400, 32, 32, 3]);
    assertEquals(data.train.x.dtype, "float32");
    assertEquals(data.train.y.dtype, "int32");
    assertEquals([...data.train.y.dataSync()], [...train.fine]);
    assertEquals(data.classes, 100);
    const x = data.test.x.dataSync();
    // Pixel (r=2, c=9, ch=1) of image 7, from the planes.
    assertAllClose([x[((7 * 32 + 2) * 32 + 9) * 3 + 1]], [
      test.planes[7 * 3072 + 1024 + 2 * 32 + 9] / 255,
    ], 1e-7);

    await t.step("subsets are class-balanced, reproducible and seed-dependent", async () => {
      const coarse = await loadDataset("cifar100", {
        path: dir,
        labelSet: "coarse",
        trainSize: 40,
        seed: 3,
      });
      const counts = new Array(20).fill(0);
      for (const y of coarse.train.y.dataSync()) counts[y]++;
      assertEquals(counts, new Array(20).fill(2));
      const again = await loadDataset("cifar100", {
        path: dir,
        labelSet: "coarse",
        trainSize: 40,
        seed: 3,
      });
      assertEquals([...again.train.x.dataSync()], [...coarse.train.x.dataSync()]);
      const other = await loadDataset("cifar100", {
        path: dir,
        labelSet: "coarse",
        trainSize: 40,
        seed: 4,
      });
      assert([...other.train.x.dataSync()].some((v, i) => v !== coarse.train.x.dataSync()[i]));
      // 45 of 20 classes: 2 or 3 each.
      const odd = await loadDataset("cifar100", { path: dir, labelSet: "coarse", trainSize: 45 });
      const c2 = new Array(20).fill(0);
      for (const y of odd.train.y.dataSync()) c2[y]++;
      assert(c2.every((c) => c === 2 || c === 3) && c2.reduce((a, b) => a + b) === 45, String(c2));
    });
    await t.step("grayscale agrees with tf.image.rgbToGrayscale", async () => {
      const gray = await loadDataset("cifar100", { path: dir, grayscale: true, testSize: 10 });
      const color = await loadDataset("cifar100", { path: dir, testSize: 10 });
      assertEquals(gray.test.x.shape, [10, 32, 32, 1]);
      assertAllClose(
        gray.test.x.dataSync(),
        tf.image.rgbToGrayscale(color.test.x).dataSync(),
        1e-5,
      );
    });
    await t.step("preprocess 'paper' equals preprocessPaper of the [0, 1] images", async () => {
      const plain = await loadDataset("cifar100", { path: dir, testSize: 20 });
      const paper = await loadDataset("cifar100", { path: dir, testSize: 20, preprocess: "paper" });
      assertAllClose(paper.test.x.dataSync(), preprocessPaper(plain.test.x).dataSync(), 1e-6);
    });
    await t.step("bad options are refused by value", async () => {
      await assertRejects(loadDataset("cifar100", { path: dir, trainSize: 0 }), /trainSize is 0/);
      await assertRejects(
        loadDataset("cifar100", { path: dir, testSize: 51 }),
        /testSize is 51, but the split has only 50/,
      );
      await assertRejects(loadDataset("cifar100", { path: dir, seed: 1.5 }), /seed is 1\.5/);
      await assertRejects(
        loadDataset("cifar100", { path: dir, preprocess: "zca" as "none" }),
        /preprocess is "zca"/,
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadDataset('svhn') reads the user's MAT-files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/train_32x32.mat`, (await svhnMat(3, 81, [10, 2, 3])).bytes);
    await Deno.writeFile(`${dir}/test_32x32.mat`, (await svhnMat(2, 82, [4, 10])).bytes);
    const data = await loadDataset("svhn", { path: dir });
    assertEquals([...data.train.y.dataSync()], [0, 2, 3]);
    assertEquals(data.labels, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    assertEquals(data.test.x.shape, [2, 32, 32, 3]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadDataset() refuses bad subset sizes before any download or read", async () => {
  const cacheDir = await Deno.makeTempDir();
  try {
    const offline = offlineFetch();
    for (const [option, value] of [["trainSize", 0], ["testSize", 2.5], ["trainSize", NaN]]) {
      await assertRejects(
        loadDataset("mnist", { cacheDir, fetch: offline.fetch, [option]: value }),
        (e: Error) =>
          e instanceof RangeError &&
          e.message ===
            `Cannot load dataset "mnist": ${option} is ${value}, expected an integer ≥ 1`,
      );
    }
    await assertRejects(
      loadDataset("cifar100", { path: `${cacheDir}/missing`, testSize: -1 }),
      /testSize is -1, expected an integer ≥ 1/,
    );
    assertEquals(offline.calls, 0);
    assertEquals([...Deno.readDirSync(cacheDir)], []);
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});
