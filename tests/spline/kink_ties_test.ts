import { absMaso, leakyReluMaso, reluMaso } from "../../lib/spline/maso.ts";
import { SplineNetwork } from "../../lib/network/spline_network.ts";
import { forwardPass } from "../../lib/backend/cpu/run.ts";
import { assertEquals } from "../_assert.ts";
import { random } from "./_random.ts";

/** The engine's code (1: active) of a dense → leaky ReLU layer of weights `w` (one unit). */
function engineCode(w: number[], b: number, alpha: number, x: number[]): number {
  const D = w.length;
  const net = new SplineNetwork([D], [
    {
      kind: "dense",
      name: "d",
      inputShape: [D],
      outputShape: [1],
      units: 1,
      kernel: Float64Array.from(w),
      bias: Float64Array.from([b]),
    },
    { kind: "leaky-relu", name: "a", inputShape: [1], outputShape: [1], alpha },
  ]);
  const { codes } = forwardPass(net, Float64Array.from(x), 1);
  return codes.get(net.codeLayers[0].layer)![0];
}

Deno.test("a leaky ReLU MASO's region is the sign of its pre-activation, exactly at the kink too", async (t) => {
  // pre-activations of exactly 0 where Σ (0.3·w_d)·x_d + 0.3·b rounds below 0 (found by search)
  const exactZeros = [
    {
      w: [0.0758655052378308, -0.15517401602119207],
      x: [0.1607822235673666, -0.8402803065255284],
      b: -0.14258749437128468,
    },
    {
      w: [-0.3527197940831538, -0.29619869496673346],
      x: [1.0675966758280993, -1.954759736545384],
      b: -0.2024348032763118,
    },
    {
      w: [-0.6106228916179388, 0.4853483682963997],
      x: [-0.7585297524929047, 0.2623597737401724],
      b: -0.5905115189368622,
    },
  ];
  for (const [i, { w, x, b }] of exactZeros.entries()) {
    await t.step(`exact zero ${i}: inactive, as the engine's code`, () => {
      assertEquals(b + w[0] * x[0] + w[1] * x[1], 0);
      const S = leakyReluMaso([w], { bias: [b], alpha: 0.3 });
      assertEquals(S.regions(x), [0]);
      assertEquals(S.spline(0).region(x), 0);
      assertEquals(S.affine(x).A, [[0.3 * w[0], 0.3 * w[1]]]);
      assertEquals(engineCode(w, b, 0.3, x), 0);
    });
  }
  await t.step("near the kink, every two-piece MASO agrees with the engine's code", () => {
    const rng = random(5);
    for (let n = 0; n < 2000; n++) {
      const w = rng.vector(3), x = rng.vector(3);
      // a bias that puts the pre-activation within rounding of 0
      const b = -(w[0] * x[0] + w[1] * x[1] + w[2] * x[2]) + (n % 3 - 1) * 1e-17;
      const code = engineCode(w, b, 0.3, x);
      assertEquals(leakyReluMaso([w], { bias: [b], alpha: 0.3 }).regions(x), [code], `leaky ${n}`);
      assertEquals(reluMaso([w], [b]).regions(x), [code], `relu ${n}`);
      assertEquals(absMaso([w], [b]).regions(x), [code], `abs ${n}`);
    }
  });
});
