import { assert, assertEquals, assertMatch, assertStrictEquals } from "../_assert.ts";
import { ProgressBar } from "../../lib/util/progress.ts";

Deno.test("ProgressBar draws one terminal line with \\r and ends it on finish", async () => {
  let out = "";
  let now = 0;
  const bar = new ProgressBar(10, {
    label: "ep",
    mode: "terminal",
    width: 10,
    minIntervalMs: 100,
    write: (s) => out += s,
    now: () => now,
  });
  now = 1000;
  bar.update(5, "loss 1");
  now = 1050;
  bar.update(6); // throttled: within 100 ms
  now = 2000;
  await bar.finish("done");
  const frames = out.split("\r").filter(Boolean);
  assertStrictEquals(frames.length, 2, JSON.stringify(out));
  assertStrictEquals(frames[0], "ep [#####.....] 5/10  50% 00:01<00:01 loss 1\x1b[K");
  assertStrictEquals(frames[1], "ep [##########] 10/10 100% 00:02<00:00 done\x1b[K\n");
  assert(!out.slice(0, -1).includes("\n"));
});

Deno.test("ProgressBar updates one Jupyter display by display_id", async () => {
  const calls: { obj: Record<string, string>; opts: Record<string, unknown> }[] = [];
  const bar = new ProgressBar(3, {
    mode: "jupyter",
    minIntervalMs: 0,
    display: async (obj, opts) => {
      await new Promise((r) => setTimeout(r, 1));
      calls.push({ obj: obj as Record<string, string>, opts: opts as Record<string, unknown> });
    },
  });
  assertStrictEquals(bar.mode, "jupyter");
  bar.update(1);
  bar.update(2);
  await bar.finish();
  assertStrictEquals(calls.length, 3);
  assertEquals(calls.map((c) => c.opts.update), [false, true, true]);
  assertStrictEquals(new Set(calls.map((c) => c.opts.display_id)).size, 1);
  assert(calls.every((c) => c.opts.raw === true));
  assertMatch(calls[2].obj["text/plain"], / 3\/3 100%/);
  assertMatch(calls[2].obj["text/html"], /<progress value="100.0" max="100"/);
});

Deno.test("ProgressBar outside Jupyter falls back and silent draws nothing", async (t) => {
  await t.step("auto outside the kernel is not jupyter", () => {
    assert(new ProgressBar(1).mode !== "jupyter");
  });
  await t.step("jupyter requested without a kernel prints lines", () => {
    assertStrictEquals(new ProgressBar(1, { mode: "jupyter" }).mode, "lines");
  });
  await t.step("silent", async () => {
    let out = "";
    const bar = new ProgressBar(2, { mode: "silent", write: (s) => out += s });
    bar.update(1);
    await bar.finish("x");
    assertStrictEquals(out, "");
  });
  await t.step("lines prints once, at finish", async () => {
    let out = "";
    const bar = new ProgressBar(2, { mode: "lines", write: (s) => out += s });
    bar.update(1);
    assertStrictEquals(out, "");
    await bar.finish("ok");
    assertMatch(out, /^\[#+\] 2\/2 100% .* ok\n$/);
  });
});
