/**
 * The models the geometry benchmarks measure, trained the same way in each: on tfjs-wasm, on
 * 2,000 MNIST training images, an MLP 784-64-64-10 (3 epochs) and smallCNN with batch-norm
 * (2 epochs), both seed 1.
 *
 * @module
 */
import { fromLayersModel, loadDataset, mlp, selectBackend, smallCNN, train } from "../mod.ts";

/** MNIST (2,000 train, 200 test images), its test labels, and the two trained networks. */
export async function mnistBenchModels() {
  await selectBackend({ prefer: "wasm" });
  const mnist = await loadDataset("mnist", {
    trainSize: 2000,
    testSize: 200,
    cacheDir: "data/cache",
  });
  const labels = Array.from(mnist.test.y.dataSync());
  const m = mlp({
    inputShape: [28, 28, 1],
    hidden: [64, 64],
    batchNorm: false,
    classes: 10,
    seed: 1,
  });
  await train(m, mnist, { epochs: 3, silent: true });
  const cnn = smallCNN({ inputShape: [28, 28, 1], classes: 10, seed: 1 });
  await train(cnn, mnist, { epochs: 2, silent: true });
  return { mnist, labels, mlpNet: fromLayersModel(m), cnnNet: fromLayersModel(cnn) };
}
