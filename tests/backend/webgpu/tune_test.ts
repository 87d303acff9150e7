/**
 * Per-conv plans of the WebGPU engine and tuneWebGpu(): every algorithm a plan can choose
 * agrees with the float64 CPU reference and really runs (the float32 results of different
 * algorithms differ in their last bits); tuning times each conv's algorithms, keeps the
 * fastest, and the tuned engine still agrees; clearing the plans restores the rules.
 */
import * as tf from "@tensorflow/tfjs";
import { fromLayersModel } from "../../../lib/network/from_layers_model.ts";
import { setWebGpuAdapterSource, webgpuContext } from "../../../lib/backend/webgpu/device.ts";
import {
  clearConvPlans,
  type ConvAlgorithm,
  type ConvPlan,
  convPlan,
  plannedConvs,
  setConvPlan,
} from "../../../lib/backend/webgpu/conv_plan.ts";
import { tuneWebGpu } from "../../../lib/backend/webgpu/tune.ts";
import { Recorder } from "../../../lib/backend/webgpu/run.ts";
import { recordCodesAndOffsets, recordTemplates } from "../../../lib/backend/webgpu/passes.ts";
import { affineMapAsync } from "../../../lib/affine/affine_map_async.ts";
import { templateInnerProductsAsync } from "../../../lib/affine/template_inner_products_async.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../../_assert.ts";
import type { Conv2DLayer } from "../../../lib/network/spline_network.ts";
import { cases } from "../../_cases.ts";
import { assertAffineAgrees } from "./_affine_agrees.ts";

await tf.setBackend("cpu");
const gpu = await webgpuContext();
const batch = (t: tf.Tensor) => ({ data: Float64Array.from(t.dataSync()), shape: t.shape });

/** A recorder that counts its dispatches. */
class Counting extends Recorder {
  dispatches = 0;
  protected override encode(...args: Parameters<Recorder["encode"]>) {
    this.dispatches++;
    super.encode(...args);
  }
}

const differs = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.prototype.some.call(a, (v: number, i: number) => v !== b[i]);

Deno.test({
  name: "every conv algorithm a plan chooses agrees with the reference and runs",
  ignore: gpu === null,
  async fn() {
    // the wide CNN case: 3×3 convs of 16+ channels, a conv → leaky ReLU → max-pool block
    const c = cases(21).at(-1)!;
    const net = fromLayersModel(c.model);
    const x = batch(c.x);
    const all = plannedConvs(net);
    const plan = (p: { forward?: ConvAlgorithm; transpose?: ConvAlgorithm }) =>
      all.forEach((conv) => setConvPlan(gpu!, conv, p));
    try {
      const ip = new Map<ConvAlgorithm, Float32Array | Float64Array>();
      for (const forward of ["product", "winograd2", "winograd4"] as const) {
        plan({ forward });
        const got = await templateInnerProductsAsync(net, x, { backend: "webgpu" });
        ip.set(forward, got.data);
        await assertAffineAgrees(net, x, `forward ${forward}`, 1e-5);
      }
      assert(differs(ip.get("product")!, ip.get("winograd4")!), "forward: F(4) vs product");
      assert(differs(ip.get("winograd2")!, ip.get("winograd4")!), "forward: F(2) vs F(4)");
      const A = new Map<ConvAlgorithm, Float32Array | Float64Array>();
      const transposes = ["window-tiles", "winograd2", "winograd4", "product", "layers"] as const;
      for (const transpose of transposes) {
        plan({ forward: "product", transpose });
        A.set(transpose, await assertAffineAgrees(net, x, `transpose ${transpose}`, 1e-5));
      }
      for (let i = 0; i < transposes.length; i++) {
        for (let j = i + 1; j < transposes.length; j++) {
          const [a, b] = [transposes[i], transposes[j]];
          if (a === "product" && b === "layers") continue; // the same sums, in other passes
          assert(differs(A.get(a)!, A.get(b)!), `transpose: ${a} vs ${b}`);
        }
      }
      // "layers" runs the sign layer and max-pool after each conv in passes of their own
      const dispatches = (transpose: ConvAlgorithm) => {
        plan({ forward: "product", transpose });
        const rec = new Counting(gpu!, "count");
        const xb = rec.upload(Float32Array.from(x.data), "input");
        const { codes } = recordCodesAndOffsets(rec, net, xb, x.shape[0]);
        const before = rec.dispatches;
        recordTemplates(rec, net, codes, { first: 0, count: x.shape[0] });
        rec.submit();
        rec.release();
        return rec.dispatches - before;
      };
      assert(dispatches("layers") > dispatches("product"), "layers: passes of their own");
    } finally {
      clearConvPlans(gpu!, net);
    }
    assertEquals(all.map((conv) => convPlan(gpu!, conv)), all.map(() => ({})));
  },
});

Deno.test({
  name: "tuneWebGpu() keeps each conv's fastest algorithm; the tuned engine agrees",
  ignore: gpu === null,
  async fn() {
    const c = cases(21).at(-1)!;
    const net = fromLayersModel(c.model);
    const x = batch(c.x);
    const before = await affineMapAsync(net, x, { backend: "webgpu" });
    try {
      const timings = await tuneWebGpu(net, { examples: 20, reps: 1 });
      const all = plannedConvs(net);
      // every conv's transpose has a choice (window tiles / products / the layers after
      // it); the 3×3 convs' forward too (Winograd)
      assert(timings.some((t) => t.direction === "forward"), "a forward conv was timed");
      assertEquals(timings.filter((t) => t.direction === "transpose").length, all.length);
      for (const t of timings) {
        const conv = all.find((l) => l.name === t.layer)!;
        const ms = Object.values(t.ms) as number[];
        assert(ms.length >= 2 && ms.every((v) => Number.isFinite(v) && v >= 0), t.layer);
        assertEquals(t.ms[t.chosen], Math.min(...ms), `${t.layer} ${t.direction}`);
        assertEquals(convPlan(gpu!, conv)[t.direction], t.chosen, `${t.layer} ${t.direction}`);
      }
      await assertAffineAgrees(net, x, "tuned", 1e-5);
    } finally {
      clearConvPlans(gpu!, net);
    }
    const after = await affineMapAsync(net, x, { backend: "webgpu" });
    assertEquals(after.A.data, before.A.data); // the rules again, bit for bit
  },
});

Deno.test({
  name: "tuneWebGpu() has nothing to time without convs, refuses bad options and a missing adapter",
  ignore: gpu === null,
  async fn() {
    assertEquals(await tuneWebGpu(fromLayersModel(cases(21)[0].model)), []); // an MLP
    const net = fromLayersModel(cases(21)[1].model);
    await assertRejects(() => tuneWebGpu(net, { examples: 0 }), /examples \(0\)/);
    await assertRejects(() => tuneWebGpu(net, { reps: 1.5 }), /reps \(1\.5\)/);
    setWebGpuAdapterSource(() => Promise.resolve(null));
    try {
      await assertRejects(() => tuneWebGpu(net), /no WebGPU adapter/);
    } finally {
      setWebGpuAdapterSource(null);
    }
  },
});

Deno.test({
  name: "setConvPlan() refuses unknown algorithms and keys, and transposes' algorithms forward",
  ignore: gpu === null,
  fn() {
    const conv = plannedConvs(fromLayersModel(cases(21).at(-1)!.model))[0];
    const bad: [unknown, RegExp][] = [
      [{ forward: "fft" }, /forward algorithm 'fft', expected one of product, winograd2/],
      [{ forward: "window-tiles" }, /forward algorithm 'window-tiles'/],
      [{ transpose: "garbage" }, /transpose algorithm 'garbage'.*window-tiles, taps, layers/],
      [{ forward: "taps" }, /forward algorithm 'taps'/],
      [{ backward: "product" }, /unknown key 'backward', expected forward or transpose/],
      ["winograd4", /plan is winograd4/],
    ];
    for (const [plan, message] of bad) {
      assertThrows(() => setConvPlan(gpu!, conv, plan as ConvPlan), message);
      assertEquals(convPlan(gpu!, conv), {}); // nothing set
    }
    assertThrows(
      () => setConvPlan(gpu!, { kind: "dense", name: "d" } as unknown as Conv2DLayer, {}),
      /dense is not a conv2d layer/,
    );
    setConvPlan(gpu!, conv, { forward: "winograd2", transpose: "layers" });
    assertEquals(convPlan(gpu!, conv), { forward: "winograd2", transpose: "layers" });
    setConvPlan(gpu!, conv, null);
    assertEquals(convPlan(gpu!, conv), {});
  },
});
