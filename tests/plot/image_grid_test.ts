import { assert, assertEquals, assertStrictEquals, assertThrows } from "../_assert.ts";
import { DIVERGING_COLORSCALE, imageGridFigure } from "../../lib/plot/image_grid.ts";
import { mulberry32 } from "./_random.ts";

Deno.test("imageGridFigure() shows gray images as 0-centred heatmaps, RGB as 0..255 images", async (t) => {
  const rand = mulberry32(3);
  const gray = { title: "class 0", height: 4, width: 5, channels: 1, data: new Float32Array(20) };
  gray.data.forEach((_, i) => gray.data[i] = rand() * 2 - 1.5);
  const rgb = { title: "class 1", height: 3, width: 2, channels: 3, data: [] as number[] };
  for (let i = 0; i < 18; i++) rgb.data.push(rand() * 10 - 3);
  const fig = imageGridFigure({
    name: "templates",
    title: "Templates",
    images: [gray, rgb, { ...gray, title: "class 2" }],
    columns: 2,
  });
  assertStrictEquals(fig.data.length, 3);
  await t.step("heatmap z is the image row by row, colour range ±max|z| around 0", () => {
    const h = fig.data[0];
    assertStrictEquals(h.type, "heatmap");
    assertStrictEquals(h.z.length, 4);
    let absMax = 0;
    for (let r = 0; r < 4; r++) {
      assertStrictEquals(h.z[r].length, 5);
      for (let c = 0; c < 5; c++) {
        assertStrictEquals(h.z[r][c], gray.data[r * 5 + c]);
        absMax = Math.max(absMax, Math.abs(gray.data[r * 5 + c]));
      }
    }
    assertEquals([h.zmin, h.zmid, h.zmax], [-absMax, 0, absMax]);
    assertEquals(h.colorscale, DIVERGING_COLORSCALE);
    assertStrictEquals(fig.layout[`yaxis`].autorange, "reversed", "row 0 at the top");
  });
  await t.step("RGB z[row][col] is [r, g, b] rescaled from the image's min..max to 0..255", () => {
    const im = fig.data[1];
    assertStrictEquals(im.type, "image");
    const min = Math.min(...rgb.data), max = Math.max(...rgb.data);
    // Channel-planar walk (independent of the builder's pixel-major loop).
    for (let k = 0; k < 3; k++) {
      for (let p = 0; p < 6; p++) {
        const r = Math.floor(p / 2), c = p % 2;
        const expected = (255 * (rgb.data[p * 3 + k] - min)) / (max - min);
        assert(Math.abs(im.z[r][c][k] - expected) < 1e-9, `pixel ${r},${c},${k}`);
      }
    }
    const flat = im.z.flat(2);
    assertStrictEquals(Math.min(...flat), 0);
    assertStrictEquals(Math.max(...flat), 255);
  });
  await t.step("each image has its own square axes in a 2-column grid, titled", () => {
    assertEquals(fig.data.map((d) => [d.xaxis, d.yaxis]), [["x", "y"], ["x2", "y2"], ["x3", "y3"]]);
    const xd = (s: string) => fig.layout[`xaxis${s}`].domain as number[];
    const yd = (s: string) => fig.layout[`yaxis${s}`].domain as number[];
    assert(xd("")[1] <= xd("2")[0], "image 2 right of image 1");
    assertEquals(xd("3"), xd(""), "image 3 below image 1");
    assert(yd("3")[1] <= yd("")[0]);
    for (const s of ["", "2", "3"]) {
      const [a, b] = xd(s), [c, d] = yd(s);
      assert(0 <= a && a < b && b <= 1 && 0 <= c && c < d && d <= 1);
      assertStrictEquals(fig.layout[`yaxis${s}`].scaleanchor, `x${s}`);
    }
    assertEquals(fig.layout.annotations.map((a: { text: string }) => a.text), [
      "class 0",
      "class 1",
      "class 2",
    ]);
    assertEquals([fig.layout.width, fig.layout.height], [2 * 160 + 40, 2 * 160 + 80]);
  });
});

Deno.test("imageGridFigure() edge cases", async (t) => {
  const base = { name: "g", title: "g", columns: 3 };
  await t.step("a constant RGB image is mid-gray; an all-zero heatmap keeps a range", () => {
    const fig = imageGridFigure({
      ...base,
      images: [
        { title: "c", height: 1, width: 1, channels: 3, data: [4, 4, 4] },
        { title: "z", height: 1, width: 2, channels: 1, data: [0, 0] },
      ],
    });
    assertEquals(fig.data[0].z, [[[127.5, 127.5, 127.5]]]);
    assertEquals([fig.data[1].zmin, fig.data[1].zmax], [-1, 1]);
    assertEquals([fig.layout.width], [2 * 160 + 40], "columns capped at the image count");
  });
  await t.step("bad shapes, channels, values and columns are rejected with the values", () => {
    const img = { title: "a", height: 2, width: 2, channels: 1, data: [1, 2, 3, 4] };
    assertThrows(
      () => imageGridFigure({ ...base, images: [{ ...img, data: [1, 2, 3] }] }),
      (e) => e instanceof RangeError && e.message.includes("has 3 values, expected 4 (2×2×1)"),
    );
    assertThrows(
      () => imageGridFigure({ ...base, images: [{ ...img, channels: 2, data: new Array(8) }] }),
      /image 0 has 2 channels, expected 1 or 3/,
    );
    assertThrows(
      () => imageGridFigure({ ...base, images: [{ ...img, data: [1, NaN, 3, 4] }] }),
      /value NaN at index 1/,
    );
    assertThrows(() => imageGridFigure({ ...base, images: [img], columns: 0 }), /columns 0/);
    assertThrows(() => imageGridFigure({ ...base, images: [] }), /images is empty/);
  });
});
