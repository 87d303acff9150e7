import { assertEquals, assertThrows } from "../_assert.ts";
import { channelsFirst, channelsLast } from "../../lib/network/layout.ts";

Deno.test("channelsLast() moves the channel axis last, every value by its index", () => {
  const [N, C, H, W] = [2, 3, 4, 5];
  const data = Array.from({ length: N * C * H * W }, (_, i) => i);
  const x = channelsLast({ data, shape: [N, C, H, W] });
  assertEquals(x.shape, [N, H, W, C]);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let h = 0; h < H; h++) {
        for (let w = 0; w < W; w++) {
          assertEquals(x.data[((n * H + h) * W + w) * C + c], ((n * C + c) * H + h) * W + w);
        }
      }
    }
  }
  assertEquals([...channelsFirst(x).data], data);
  assertEquals(channelsFirst(x).shape, [N, C, H, W]);
});

Deno.test("channelsLast() keeps leading axes and empty batches, and refuses bad shapes", async (t) => {
  await t.step("leading axes", () => {
    const x = channelsFirst({ data: [1, 2, 3, 4, 5, 6, 7, 8], shape: [2, 1, 1, 2, 2] });
    assertEquals(x.shape, [2, 1, 2, 1, 2]);
    assertEquals([...x.data], [1, 3, 2, 4, 5, 7, 6, 8]);
  });
  await t.step("empty", () => {
    assertEquals(channelsLast({ data: [], shape: [0, 3, 2, 2] }).shape, [0, 2, 2, 3]);
  });
  await t.step("bad shapes", () => {
    assertThrows(
      () => channelsLast({ data: [1, 2], shape: [1, 2] }),
      /shape is \[1,2\], expected at least 3 dimensions \(…, C, H, W\)/,
    );
    assertThrows(
      () => channelsFirst({ data: [1, 2, 3], shape: [1, 2, 2] }),
      /3 values, expected 4 for shape \[1,2,2\]/,
    );
    assertThrows(
      () => channelsLast({ data: [1], shape: [1, 1, 1.5] }),
      /expected at least 3 dimensions/,
    );
  });
});
