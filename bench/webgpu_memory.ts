/**
 * Device memory of the WebGPU templates pass, smallCNN and largeCNN: the temporaries one
 * recording holds (its peak, buffers it has read being reused within it) for the codes and
 * offsets of a chunk and for one templates slice, at the adapter's chunk sizes — and, for
 * comparison, what they would hold without that reuse. Nothing is submitted, so this runs on
 * any adapter; sizes scale with the adapter's binding limit (128 MiB on llvmpipe, 256 MiB used
 * on GPUs).
 *
 * `deno run -A bench/webgpu_memory.ts`
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { webgpuContext } from "../lib/backend/webgpu/device.ts";
import { Recorder } from "../lib/backend/webgpu/run.ts";
import { chunkSize, recordCodesAndOffsets, recordTemplates } from "../lib/backend/webgpu/passes.ts";
import { fromLayersModel } from "../lib/network/from_layers_model.ts";
import { smallCNN } from "../lib/models/small_cnn.ts";
import { largeCNN } from "../lib/models/large_cnn.ts";

await tf.setBackend("cpu");
const ctx = await webgpuContext();
if (ctx === null) {
  console.log("no WebGPU adapter");
  Deno.exit(0);
}
const GiB = (b: number) => (b / 2 ** 30).toFixed(2);
console.log(
  `adapter: ${ctx.adapterName}, binding limit ${
    ctx.device.limits.maxStorageBufferBindingSize / 2 ** 20
  } MiB`,
);
/** A recorder that never reuses a buffer within the recording. */
class NoReuse extends Recorder {
  override done(): void {}
}

for (const arch of ["smallCNN", "largeCNN"] as const) {
  const model = arch === "smallCNN" ? smallCNN({ seed: 1 }) : largeCNN({ seed: 1 });
  const net = fromLayersModel(model);
  const m = chunkSize(ctx, net, 1), slice = chunkSize(ctx, net, net.outputSize);
  for (const reuse of [true, false]) {
    const make = (label: string) => reuse ? new Recorder(ctx, label) : new NoReuse(ctx, label);
    const forward = make("codes and offsets"), templates = make("slice");
    try {
      const x = forward.buffer(m * net.inputSize, "x");
      const { codes } = recordCodesAndOffsets(forward, net, x, m);
      recordTemplates(templates, net, codes, { first: 0, count: slice });
      console.log(
        `${arch}${reuse ? "" : " without reuse"}: codes and offsets of ${m} examples hold ${
          GiB(forward.heldBytes)
        } GiB, the templates of ${slice} ${GiB(templates.heldBytes)} GiB`,
      );
    } finally {
      forward.release();
      templates.release();
    }
  }
  model.dispose();
}
