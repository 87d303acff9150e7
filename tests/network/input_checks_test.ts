import * as tf from "@tensorflow/tfjs";
import { SplineNetwork } from "../../lib/network/spline_network.ts";
import { forward } from "../../lib/network/forward.ts";
import type { BatchInput } from "../../lib/network/batch.ts";
import { affineMap } from "../../lib/affine/affine_map.ts";
import { templateInnerProducts } from "../../lib/affine/template_inner_products.ts";
import { closedFormFactors } from "../../lib/affine/closed_form.ts";
import { partitionCodes } from "../../lib/partition/codes.ts";
import { assertThrows } from "../_assert.ts";

await tf.setBackend("cpu");

const net = new SplineNetwork([2], [
  {
    kind: "dense",
    name: "d",
    inputShape: [2],
    outputShape: [2],
    units: 2,
    kernel: new Float64Array([1, -1, 2, 0.5]),
    bias: null,
  },
  { kind: "relu", name: "r", inputShape: [2], outputShape: [2] },
]);

Deno.test("engine entry points refuse what is not an input, saying what it is", async (t) => {
  const disposed = tf.zeros([1, 2]);
  disposed.dispose();
  const bad: [string, unknown, string][] = [
    ["null", null, "input is null"],
    ["undefined", undefined, "input is undefined"],
    ["a nested array", [[1, 2]], "input is an array"],
    ["a number", 3, "input is number"],
    ["a batch without a shape", { data: new Float64Array(2) }, "shape undefined"],
    [
      "a batch with a fractional batch size",
      { data: new Float64Array(3), shape: [1.5, 2] },
      "[1.5,2]",
    ],
    ["a batch with a negative batch size", { data: new Float64Array(0), shape: [-1, 2] }, "[-1,2]"],
    ["a disposed tensor", disposed, "disposed"],
  ];
  const calls: [string, string, (x: BatchInput) => unknown][] = [
    ["forward", "Cannot run the network", (x) => forward(net, x)],
    ["affineMap", "Cannot compute the affine map", (x) => affineMap(net, x)],
    [
      "affineMap (cpu)",
      "Cannot compute the affine map",
      (x) => affineMap(net, x, { backend: "cpu" }),
    ],
    [
      "affineMap (tfjs)",
      "Cannot compute the affine map",
      (x) => affineMap(net, x, { backend: "tfjs" }),
    ],
    [
      "templateInnerProducts",
      "Cannot compute template inner products",
      (x) => templateInnerProducts(net, x),
    ],
    [
      "templateInnerProducts (tfjs)",
      "Cannot compute template inner products",
      (x) => templateInnerProducts(net, x, { backend: "tfjs" }),
    ],
    ["partitionCodes", "Cannot compute partition codes", (x) => partitionCodes(net, x)],
    [
      "partitionCodes (tfjs)",
      "Cannot compute partition codes",
      (x) => partitionCodes(net, x, { backend: "tfjs" }),
    ],
    [
      "closedFormFactors",
      "Cannot compute the closed-form factors",
      (x) => closedFormFactors(net, x),
    ],
  ];
  for (const [name, x, says] of bad) {
    for (const [fn, what, call] of calls) {
      await t.step(`${fn} given ${name}`, () => {
        assertThrows(
          () => call(x as BatchInput),
          (e: Error) =>
            e instanceof TypeError && e.message.startsWith(`${what}: `) && e.message.includes(says),
        );
      });
    }
  }
});

Deno.test("engine option errors name the computation they stopped", () => {
  const x = { data: new Float64Array(2), shape: [1, 2] };
  assertThrows(
    () => affineMap(net, x, { backnd: "cpu" } as never),
    /^TypeError: Cannot compute the affine map: unknown option 'backnd' \(did you mean 'backend'\?\)/,
  );
  assertThrows(
    () => templateInnerProducts(net, x, { backend: "gpu" } as never),
    /^RangeError: Cannot compute template inner products: unknown engine backend 'gpu', expected "auto", "cpu" or "tfjs"/,
  );
  assertThrows(
    () => partitionCodes(net, x, { backend: "webgpu" }),
    /^RangeError: Cannot compute partition codes: engine backend 'webgpu' runs asynchronously/,
  );
});
