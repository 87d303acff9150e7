import { assertRejects } from "../_assert.ts";
import { exportFigures } from "../../lib/plot/export.ts";
import { lineFigure } from "../../lib/plot/lines.ts";

const fig = lineFigure({
  name: "audit_empty_dir",
  title: "t",
  x: [1, 2],
  series: [{ label: "a", y: [3, 4] }],
  xTitle: "x",
  yTitle: "y",
});

// No write permission: before the fix "" + "/audit_empty_dir.html" was written into the file
// system's root (here it stops at the permission check instead, without the message below).
Deno.test({
  name: "exportFigures() refuses an empty dir instead of writing into /",
  permissions: { read: true, env: true, write: false },
  async fn() {
    for (const formats of [["html"], ["png"]] as const) {
      await assertRejects(
        () => exportFigures([fig], { dir: "", formats: [...formats] }),
        (e: Error) =>
          e instanceof TypeError &&
          e.message === `Cannot export figures: options.dir is "", expected a folder path`,
      );
    }
  },
});
