/**
 * The CPU side of the on-GPU template and ⟨A_c, x⟩ calls: recording their dispatches (the
 * JavaScript that builds them and Deno's WebGPU calls: pipelines looked up, bind groups,
 * uniform parameters, encoding), without submitting — the part of a call that no GPU speeds
 * up. With a GPU's kernel choices, at the GPU benchmark's batch sizes (smallCNN templates
 * 2,048 and ⟨A_c, x⟩ 16,384; largeCNN 256 and 2,048); median of `reps` calls after one that
 * compiles the pipelines. `deno run -A bench/record_bench.ts [reps]`
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { webgpuContext } from "../lib/backend/webgpu/device.ts";
import { Recorder } from "../lib/backend/webgpu/run.ts";
import {
  chunkSize,
  recordCodesAndOffsets,
  recordInnerProducts,
  recordTemplates,
} from "../lib/backend/webgpu/passes.ts";
import { fromLayersModel } from "../lib/network/from_layers_model.ts";
import { smallCNN } from "../lib/models/small_cnn.ts";
import { largeCNN } from "../lib/models/large_cnn.ts";
import type { ShaderSource } from "../lib/backend/webgpu/_pipelines.ts";
import type { SplineNetwork } from "../lib/network/spline_network.ts";

await tf.setBackend("cpu");
const found = await webgpuContext();
if (found === null) {
  console.log("no WebGPU adapter");
  Deno.exit(0);
}
const ctx = { ...found, isFallback: false }; // a GPU's kernel choices on any adapter
const reps = Number(Deno.args[0] ?? 9);

let dispatches = 0;
class Counting extends Recorder {
  protected override encode(s: ShaderSource, b: GPUBuffer[], g: number, f: number) {
    dispatches++;
    super.encode(s, b, g, f);
  }
}
/** Ends a recording without submitting it. */
function drop(r: Recorder) {
  r.pass.end();
  r.encoder.finish();
  r.release();
}

/** Records one on-GPU call over `n` examples, as the GPU benchmark's does. */
function record(net: SplineNetwork, n: number, what: "templates" | "inner products") {
  const step = chunkSize(ctx, net, 1), slice = chunkSize(ctx, net, net.outputSize);
  for (let s = 0; s < n; s += step) {
    const m = Math.min(step, n - s);
    const rec = new Counting(ctx, what);
    const xb = rec.buffer(m * net.inputSize, "input");
    if (what === "inner products") recordInnerProducts(rec, net, xb, m);
    else {
      const { codes } = recordCodesAndOffsets(rec, net, xb, m);
      for (let first = 0; first < m; first += slice) {
        const sub = new Counting(ctx, what);
        recordTemplates(sub, net, codes, { first, count: Math.min(slice, m - first) });
        drop(sub);
      }
    }
    drop(rec);
  }
}

console.log(`${found.adapterName}, median of ${reps} calls`);
for (const [arch, n] of [["smallCNN", 2048], ["largeCNN", 256]] as const) {
  const model = arch === "smallCNN" ? smallCNN({ seed: 1 }) : largeCNN({ seed: 1 });
  const net = fromLayersModel(model);
  for (const what of ["templates", "inner products"] as const) {
    const N = what === "templates" ? n : 8 * n;
    record(net, N, what); // compiles
    const ms: number[] = [];
    for (let r = 0; r < reps; r++) {
      dispatches = 0;
      const t0 = performance.now();
      record(net, N, what);
      ms.push(performance.now() - t0);
    }
    const med = ms.sort((a, b) => a - b)[reps >> 1];
    console.log(
      `${arch} ${what}, ${N} examples: ${dispatches} dispatches recorded in ${med.toFixed(1)} ms (${
        (1000 * med / dispatches).toFixed(1)
      } µs a dispatch)`,
    );
  }
  model.dispose();
}
