import { SplineNetwork } from "../../../lib/network/spline_network.ts";
import { forward } from "../../../lib/network/forward.ts";
import { affineMap } from "../../../lib/affine/affine_map.ts";
import { templateInnerProducts } from "../../../lib/affine/template_inner_products.ts";
import { forwardPass, maskedPass } from "../../../lib/backend/cpu/run.ts";
import { assert, assertEquals } from "../../_assert.ts";

Deno.test("the float64 engine never hands back the caller's input array", async (t) => {
  // a network of flattens alone: z(x) = x, A[x] = I, B[x] = 0
  const net = new SplineNetwork([2, 2, 1], [
    { kind: "flatten", name: "f", inputShape: [2, 2, 1], outputShape: [4] },
  ]);
  const values = [1, -2, 3, -4, 5, 6, 7, 8];
  const x = { data: Float64Array.from(values), shape: [2, 2, 2, 1] };
  await t.step("forwardPass and maskedPass return arrays of their own", () => {
    const { output, codes } = forwardPass(net, x.data, 2);
    assert(output.buffer !== x.data.buffer, "forwardPass returned its input");
    const linear = maskedPass(net, x.data, { n: 2, codes, bias: false });
    assert(linear.buffer !== x.data.buffer, "maskedPass returned its input");
  });
  await t.step("writing into results leaves the input alone", () => {
    const z = forward(net, x), ip = templateInnerProducts(net, x);
    assertEquals(Array.from(z.data), values);
    assertEquals(Array.from(ip.data), values);
    z.data.fill(0);
    ip.data.fill(0);
    assertEquals(Array.from(x.data), values);
    const { A, B } = affineMap(net, x);
    assertEquals(Array.from(B.data), new Array(8).fill(0));
    assertEquals(Array.from(A.data.subarray(0, 16)), [
      1,
      0,
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      0,
      1,
    ]);
  });
});
