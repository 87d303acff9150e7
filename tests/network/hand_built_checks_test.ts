import { type SplineLayer, SplineNetwork } from "../../lib/network/spline_network.ts";
import { assertThrows } from "../_assert.ts";

/** Builds a network from untyped parts, as JavaScript callers (or JSON) hand them over. */
const build = (inputShape: unknown, layers: unknown) =>
  new SplineNetwork(inputShape as number[], layers as SplineLayer[]);

Deno.test("a malformed hand-built network is refused, naming what is wrong", async (t) => {
  const cases: [string, () => unknown, RegExp][] = [
    ["no inputShape", () => build(undefined, []), /inputShape is undefined, expected a list/],
    [
      "an input of size 0",
      () => build([0], []),
      /inputShape is \[0\], expected a list of positive/,
    ],
    ["no layers", () => build([2], undefined), /layers is undefined, expected a list of layers/],
    [
      "a residual without paths",
      () => build([2], [{ kind: "residual", name: "r", inputShape: [2], outputShape: [2] }]),
      /residual 'r' has paths undefined, expected a list of lists of layers/,
    ],
    [
      "a residual path that is not a list",
      () =>
        build([2], [{
          kind: "residual",
          name: "r",
          inputShape: [2],
          outputShape: [2],
          paths: [[], null],
        }]),
      /residual 'r' has path 1 null, expected a list of lists of layers/,
    ],
    [
      "a conv without strides",
      () =>
        build([3, 3, 1], [{
          kind: "conv2d",
          name: "c",
          inputShape: [3, 3, 1],
          outputShape: [2, 2, 1],
          kernel: new Float64Array(4),
          bias: null,
          kernelSize: [2, 2],
          padding: [0, 0, 0, 0],
        }]),
      /layer 'c': strides undefined, expected positive integers/,
    ],
    [
      "a max-pool without padding",
      () =>
        build([4, 4, 1], [{
          kind: "max-pool",
          name: "p",
          inputShape: [4, 4, 1],
          outputShape: [2, 2, 1],
          poolSize: [2, 2],
          strides: [2, 2],
        }]),
      /layer 'p': padding undefined, expected 4 integers ≥ 0/,
    ],
    [
      "a pool size of one number",
      () =>
        build([4, 4, 1], [{
          kind: "avg-pool",
          name: "p",
          inputShape: [4, 4, 1],
          outputShape: [2, 2, 1],
          poolSize: [2],
          strides: [2, 2],
          padding: [0, 0, 0, 0],
        }]),
      /layer 'p': pool size \[2\], expected positive integers/,
    ],
    [
      "a float32 kernel",
      () =>
        build([2], [{
          kind: "dense",
          name: "d",
          inputShape: [2],
          outputShape: [1],
          units: 1,
          kernel: new Float32Array(2),
          bias: null,
        }]),
      /layer 'd': kernel is a Float32Array, expected a Float64Array of 2/,
    ],
  ];
  for (const [name, fn, message] of cases) {
    await t.step(name, () => {
      assertThrows(
        fn,
        (e: Error) => e.message.startsWith("Cannot build") && message.test(e.message),
      );
    });
  }
});
