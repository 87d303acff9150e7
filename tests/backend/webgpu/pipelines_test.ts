import { webgpuContext } from "../../../lib/backend/webgpu/device.ts";
import { pipelineFor } from "../../../lib/backend/webgpu/_pipelines.ts";
import { addShader } from "../../../lib/backend/webgpu/kernels/add.ts";
import { assert, assertEquals, assertMatch, assertStrictEquals } from "../../_assert.ts";

const gpu = await webgpuContext();

Deno.test({
  name: "pipelineFor() caches by shader key and MASOKIT_PRINT_WGSL=1 prints labelled WGSL once",
  ignore: gpu === null,
  fn() {
    const printed: string[] = [];
    const log = console.log;
    console.log = (s: string) => printed.push(s);
    Deno.env.set("MASOKIT_PRINT_WGSL", "1");
    try {
      const shader = addShader(123457);
      const p1 = pipelineFor(gpu!, shader);
      const p2 = pipelineFor(gpu!, addShader(123457));
      assertStrictEquals(p1, p2);
      assertEquals(printed.length, 1);
      assertMatch(printed[0], /^\/\/ ---- WGSL 'add\/123457' \(key add\/123457\) ----\n/);
      assert(printed[0].includes("y[i] = a[i] + b[i];"));
    } finally {
      Deno.env.delete("MASOKIT_PRINT_WGSL");
      console.log = log;
    }
  },
});
