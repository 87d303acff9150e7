/**
 * How long Deno's WebGPU takes to report submitted work done (`onSubmittedWorkDone`,
 * `mapAsync`), and whether a script can shorten it: an empty submit; `n` submits of a kernel
 * of known length (the wait is what exceeds `n` times its length); and while waiting,
 * submitting empty command buffers, or having started another wait earlier. Medians of 11.
 * `deno run -A bench/submit_wait_bench.ts`
 *
 * @module
 */
const adapter = await navigator.gpu.requestAdapter();
if (adapter === null) throw new Error("no WebGPU adapter");
const device = await adapter.requestDevice();
const q = device.queue;

async function median(fn: () => Promise<unknown>): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < 11; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return ms.sort((a, b) => a - b)[5];
}

const module = device.createShaderModule({
  code: `@group(0) @binding(0) var<storage, read_write> a: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  var s = a[g.x];
  for (var i = 0u; i < 2000u; i++) { s = fma(s, 1.0001, 0.5); }
  a[g.x] = s;
}`,
});
const pipeline = device.createComputePipeline({
  layout: "auto",
  compute: { module, entryPoint: "main" },
});
const storage = device.createBuffer({ size: 4 * 65536, usage: GPUBufferUsage.STORAGE });
const bindGroup = device.createBindGroup({
  layout: pipeline.getBindGroupLayout(0),
  entries: [{ binding: 0, resource: { buffer: storage } }],
});
const work = () => {
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(1024);
  pass.end();
  q.submit([enc.finish()]);
};
const empty = () => q.submit([device.createCommandEncoder().finish()]);
const readBuffer = device.createBuffer({
  size: 16,
  usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
});
const source = device.createBuffer({ size: 16, usage: GPUBufferUsage.COPY_SRC });

console.log(`adapter: ${(adapter as GPUAdapter & { info?: GPUAdapterInfo }).info?.description}`);
const wait = await median(async () => {
  empty();
  await q.onSubmittedWorkDone();
});
console.log(`empty submit, then onSubmittedWorkDone: ${wait.toFixed(2)} ms`);
console.log(
  `copy of 16 bytes, then mapAsync: ${
    (await median(async () => {
      const enc = device.createCommandEncoder();
      enc.copyBufferToBuffer(source, 0, readBuffer, 0, 16);
      q.submit([enc.finish()]);
      await readBuffer.mapAsync(GPUMapMode.READ);
      readBuffer.unmap();
    })).toFixed(2)
  } ms`,
);
const times: number[] = [];
for (const n of [1, 2, 4, 8]) {
  times.push(
    await median(async () => {
      for (let i = 0; i < n; i++) work();
      await q.onSubmittedWorkDone();
    }),
  );
}
// t(n) = n·kernel + wait: the kernel's length from the slope, the wait from the intercept
const kernel = (times[3] - times[0]) / 7;
console.log(
  `n kernels then one wait, n = 1, 2, 4, 8: ${times.map((t) => t.toFixed(1)).join(", ")} ms — ` +
    `a kernel ${kernel.toFixed(1)} ms, the wait after it ${(times[0] - kernel).toFixed(1)} ms`,
);
const spin = await median(async () => {
  work();
  let done = false;
  const p = q.onSubmittedWorkDone().then(() => done = true);
  while (!done) {
    empty();
    await new Promise((r) => setTimeout(r, 0));
  }
  await p;
});
console.log(`one kernel, empty submits while waiting: ${spin.toFixed(1)} ms`);
let ticking = true;
(async () => {
  while (ticking) {
    q.onSubmittedWorkDone();
    await new Promise((r) => setTimeout(r, 1));
  }
})();
const early = await median(async () => {
  work();
  await q.onSubmittedWorkDone();
});
ticking = false;
console.log(`one kernel, another wait started every millisecond: ${early.toFixed(1)} ms`);
