import { webgpuContext } from "../../../lib/backend/webgpu/device.ts";
import { readBack, storageBuffer } from "../../../lib/backend/webgpu/_gpu.ts";
import { Recorder } from "../../../lib/backend/webgpu/run.ts";
import { addShader } from "../../../lib/backend/webgpu/kernels/add.ts";
import { assertEquals } from "../../_assert.ts";

const gpu = await webgpuContext();

Deno.test({
  name:
    "dispatches reuse bind groups and uniform parameters across recordings, by buffers and values",
  ignore: gpu === null,
  async fn() {
    const ctx = gpu!, n = 8;
    const filled = (f: (i: number) => number) =>
      storageBuffer(ctx, Float32Array.from({ length: 2 * n }, (_, i) => f(i)), "test");
    const a1 = filled((i) => i), a2 = filled((i) => 100 + i);
    const b1 = filled((i) => 1000 * i), b2 = filled((i) => -7 * i);
    const made: string[] = [];
    const create = ctx.device.createBindGroup.bind(ctx.device);
    ctx.device.createBindGroup = (d: GPUBindGroupDescriptor) => {
      made.push(d.label ?? "");
      return create(d);
    };
    try {
      const values = async (y: GPUBuffer) =>
        Array.from(new Float32Array((await readBack(ctx, [{ buffer: y, bytes: 8 * n }]))[0]));
      const sums = (a: (i: number) => number, b: (i: number) => number, rows: number) =>
        Array.from({ length: 2 * n }, (_, i) => i < rows * n ? a(i) + b(i) : -1);
      // each recording runs `pairs` (a, b, y, rows) of the same shader
      const record = async (pairs: [GPUBuffer, GPUBuffer, GPUBuffer, number][]) => {
        const rec = new Recorder(ctx, "test");
        for (const [a, b, y, rows] of pairs) rec.run(addShader(n), [a, b, y], { rows, perRow: n });
        rec.submit();
        rec.release();
        return await Promise.all(pairs.map(([, , y]) => values(y)));
      };
      const y1 = filled(() => -1), y2 = filled(() => -1), y3 = filled(() => -1);
      assertEquals(await record([[a1, b1, y1, 1], [a2, b2, y2, 2]]), [
        sums((i) => i, (i) => 1000 * i, 1),
        sums((i) => 100 + i, (i) => -7 * i, 2),
      ]);
      assertEquals(made.length, 2);
      // the same buffers again: no new bind group; the first two of them with a third: one
      assertEquals(await record([[a2, b2, y2, 2], [a1, b1, y3, 2]]), [
        sums((i) => 100 + i, (i) => -7 * i, 2),
        sums((i) => i, (i) => 1000 * i, 2),
      ]);
      assertEquals(made.length, 3);
      // another buffer in the last binding only, or buffers swapped between bindings: new ones
      const y4 = filled(() => -1), y5 = filled(() => -1);
      assertEquals(await record([[a1, b1, y4, 1], [b1, a1, y5, 1]]), [
        sums((i) => i, (i) => 1000 * i, 1),
        sums((i) => i, (i) => 1000 * i, 1),
      ]);
      assertEquals(made.length, 5);
      for (const b of [a1, a2, b1, b2, y1, y2, y3, y4, y5]) b.destroy();
    } finally {
      delete (ctx.device as { createBindGroup?: unknown }).createBindGroup;
    }
  },
});
