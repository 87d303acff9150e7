import { assertEquals, assertThrows } from "../_assert.ts";
import { decodePng } from "../../lib/data/png.ts";
import { randomBytes } from "./_helpers.ts";

/** CRC-32 (PNG), computed independently of the decoder. */
function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** A minimal PNG encoder: 8-bit RGB/gray, filter 0 rows, zlib via CompressionStream. */
async function encodePng(width: number, height: number, channels: 1 | 3, data: Uint8Array) {
  const colorType = channels === 3 ? 2 : 0;
  const raw = new Uint8Array(height * (1 + width * channels));
  for (let y = 0; y < height; y++) {
    raw.set(
      data.subarray(y * width * channels, (y + 1) * width * channels),
      y * (1 + width * channels) + 1,
    );
  }
  const z = new Uint8Array(
    await new Response(new Blob([raw]).stream().pipeThrough(new CompressionStream("deflate")))
      .arrayBuffer(),
  );
  const chunk = (type: string, body: Uint8Array) => {
    const out = new Uint8Array(12 + body.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, body.length);
    out.set(new TextEncoder().encode(type), 4);
    out.set(body, 8);
    view.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
    return out;
  };
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr.set([8, colorType, 0, 0, 0], 8);
  const parts = [
    new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk("IHDR", ihdr),
    chunk("IDAT", z),
    chunk("IEND", new Uint8Array(0)),
  ];
  return new Uint8Array(parts.flatMap((p) => [...p]));
}

Deno.test("decodePng() returns the pixels an independent encoder wrote", async (t) => {
  const pixels = randomBytes(64 * 5 * 3, 11);
  const image = decodePng(await encodePng(64, 5, 3, pixels));
  assertEquals([image.width, image.height, image.channels], [64, 5, 3]);
  assertEquals(image.data, pixels);

  await t.step("gray images", async () => {
    const gray = randomBytes(7 * 3, 12);
    const img = decodePng(await encodePng(7, 3, 1, gray));
    assertEquals(img.channels, 1);
    assertEquals(img.data, gray);
  });
  await t.step("not a PNG", () => {
    assertThrows(() => decodePng(new Uint8Array(20), "x.png"), /x\.png: not a PNG/);
  });
  await t.step("a corrupted chunk fails its CRC", async () => {
    const png = await encodePng(4, 4, 3, randomBytes(48, 13));
    png[40] ^= 0xff;
    assertThrows(() => decodePng(png, "bad.png"), /Cannot decode bad\.png/);
  });
});
