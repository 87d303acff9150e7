import { SplineNetwork } from "../../lib/network/spline_network.ts";
import { forward } from "../../lib/network/forward.ts";
import { assert, assertThrows } from "../_assert.ts";

/** A hand-built pool on a 2 × 3 × 1 input, then a flatten. */
function pooled(
  kind: "max-pool" | "avg-pool",
  geometry: { pool: [number, number]; strides: [number, number]; padding: number[] },
): SplineNetwork {
  const [H, W] = [2, 3], { pool, strides, padding: p } = geometry;
  const OH = Math.floor((H + p[0] + p[1] - pool[0]) / strides[0]) + 1;
  const OW = Math.floor((W + p[2] + p[3] - pool[1]) / strides[1]) + 1;
  return new SplineNetwork([H, W, 1], [
    {
      kind,
      name: "pool",
      inputShape: [H, W, 1],
      outputShape: [OH, OW, 1],
      poolSize: pool,
      strides,
      padding: p as [number, number, number, number],
    },
    { kind: "flatten", name: "flat", inputShape: [OH, OW, 1], outputShape: [OH * OW] },
  ]);
}

Deno.test("a pool whose padding leaves a window with no input is refused, naming the layer", async (t) => {
  const empty = [
    { name: "top padding of a whole window", pool: [1, 1], strides: [1, 1], padding: [1, 0, 0, 0] },
    {
      name: "left padding of a whole window",
      pool: [2, 2],
      strides: [1, 1],
      padding: [0, 0, 2, 0],
    },
    { name: "bottom padding past the input", pool: [1, 2], strides: [2, 1], padding: [0, 2, 0, 0] },
    { name: "right padding past the input", pool: [2, 1], strides: [1, 3], padding: [0, 0, 0, 3] },
  ] as const;
  for (const kind of ["max-pool", "avg-pool"] as const) {
    for (const g of empty) {
      await t.step(`${kind}: ${g.name}`, () => {
        assertThrows(
          () =>
            pooled(kind, { pool: [...g.pool], strides: [...g.strides], padding: [...g.padding] }),
          (e: Error) =>
            e instanceof RangeError && e.message.includes("layer 'pool'") &&
            e.message.includes("no input position"),
        );
      });
    }
    await t.step(`${kind}: padding that leaves every window an input runs, finite`, () => {
      const net = pooled(kind, { pool: [2, 2], strides: [1, 2], padding: [1, 1, 1, 1] });
      const z = forward(net, {
        data: new Float64Array([1, -2, 3, -4, 5, -6]),
        shape: [1, 2, 3, 1],
      });
      assert(Array.from(z.data).every(Number.isFinite), `outputs ${Array.from(z.data)}`);
    });
  }
});
