/**
 * Reading a result back from the GPU into JS arrays (the host side of every WebGPU result):
 * a 64 MiB buffer copied by `readBack` into a fresh float64 array (as `affineMapAsync`
 * returns for a float64 batch), one whose pages are mapped already (what is left once the
 * fresh pages are faulted in), a fresh float32 array (as for a tensor), or a new ArrayBuffer;
 * alternating in one process, medians over the rounds, the map's wait included. The host side
 * is the same on a software adapter: `deno run -A bench/readback_bench.ts [rounds]`
 *
 * @module
 */
import { webgpuContext } from "../lib/backend/webgpu/device.ts";
import { readBack, storageBuffer } from "../lib/backend/webgpu/_gpu.ts";

const ctx = await webgpuContext();
if (ctx === null) throw new Error("no WebGPU adapter");
const rounds = Number(Deno.args[0] ?? 9);
const bytes = 64 << 20, n = bytes / 4;
const values = Float32Array.from({ length: n }, (_, i) => (i % 1000) / 7);
const buffer = storageBuffer(ctx, values, "readback bench");
const written = new Float64Array(n).fill(1); // its pages mapped already
const into = {
  "a new Float64Array": () => new Float64Array(n),
  "a Float64Array already written": () => written,
  "a new Float32Array": () => new Float32Array(n),
  "a new ArrayBuffer": () => undefined,
};
const times = new Map<string, number[]>();
for (let r = 0; r < rounds; r++) {
  for (const [target, make] of Object.entries(into)) {
    const array = make();
    const t0 = performance.now();
    const [raw] = await readBack(ctx, [{ buffer, bytes, into: array }]);
    const ms = performance.now() - t0;
    const got = array ?? new Float32Array(raw);
    for (const i of [0, 12_345, n - 1]) {
      if (got[i] !== values[i]) {
        throw new Error(`${target}: value ${i} is ${got[i]}, not ${values[i]}`);
      }
    }
    times.set(target, [...(times.get(target) ?? []), ms]);
  }
}
console.log(
  `adapter: ${ctx.adapterName}; 64 MiB read back, median of ${rounds} (ms, with the map's wait):`,
);
for (const [target, ms] of times) {
  ms.sort((a, b) => a - b);
  console.log(`  into ${target}: ${ms[ms.length >> 1].toFixed(1)} (min ${ms[0].toFixed(1)})`);
}
