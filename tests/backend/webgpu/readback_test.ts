/**
 * Reading buffers back (`readBack`): every value lands where asked — into float64
 * (converted), float32 and uint32 arrays at an offset, or a new ArrayBuffer of the bytes asked
 * for (rounded up to whole words) — from one map of several buffers.
 */
import { webgpuContext } from "../../../lib/backend/webgpu/device.ts";
import { readBack, storageBuffer } from "../../../lib/backend/webgpu/_gpu.ts";
import { assertEquals } from "../../_assert.ts";

const gpu = await webgpuContext();

Deno.test({
  name: "readBack copies every value where asked",
  ignore: gpu === null,
  async fn() {
    const words = 70_001;
    const bits = Uint32Array.from({ length: words }, (_, i) => Math.imul(i, 2654435761) >>> 0);
    const floats = new Float32Array(bits.buffer); // the same bytes, read as float32
    const buffer = storageBuffer(gpu!, bits, "readback test");
    try {
      for (const count of [1, 7, words]) {
        const at = 3;
        const f64 = new Float64Array(count + at + 2).fill(-1);
        const f32 = new Float32Array(count + at).fill(-1);
        const u32 = new Uint32Array(count);
        const raw = await readBack(gpu!, [
          { buffer, bytes: count * 4, into: f64, at },
          { buffer, bytes: count * 4, into: f32, at },
          { buffer, bytes: count * 4, into: u32 },
          { buffer, bytes: count * 4 - 2 },
        ]);
        const want = Array.from(floats.subarray(0, count));
        const what = `${count} values`;
        assertEquals(Array.from(f64), [-1, -1, -1, ...want, -1, -1], what);
        assertEquals(Array.from(f32), [-1, -1, -1, ...want], what);
        assertEquals(u32, bits.subarray(0, count), what);
        assertEquals(raw.slice(0, 3).map((b) => b.byteLength), [0, 0, 0], what);
        assertEquals(new Uint32Array(raw[3]), bits.subarray(0, count), what);
      }
    } finally {
      buffer.destroy();
    }
  },
});
