/**
 * The reproduction report: every paper claim, our measured number, the scale used, and
 * whether the claim held, as Markdown.
 *
 * @module
 */
import type { ExperimentResult } from "./experiment.ts";

/**
 * Renders experiment results as the Markdown report `out/report.md`.
 *
 * @param results The experiments' results, in order.
 * @param options `scale` used, `figures`: relative paths of the exported figure files per
 *   figure name, and `header` lines (machine, date, command).
 * @returns The report text.
 *
 * @example
 * ```ts
 * import { renderReport } from "./report.ts";
 * import { match } from "node:assert/strict";
 * const md = renderReport([{
 *   id: "demo", title: "Demo", scale: "tiny", seconds: 1, figures: [],
 *   claims: [{ claim: "eq. (9) holds", measured: "max error 1e-7", held: true }],
 * }], { scale: "tiny" });
 * match(md, /\| eq\. \(9\) holds \| max error 1e-7 \| yes \|/);
 * ```
 */
export function renderReport(
  results: readonly ExperimentResult[],
  options: { scale: string; figures?: Record<string, string[]>; header?: string[] },
): string {
  const cell = (s: string) => s.replaceAll("|", "\\|").replaceAll("\n", " ");
  const held = results.flatMap((r) => r.claims).filter((c) => c.held).length;
  const total = results.flatMap((r) => r.claims).length;
  const lines = [
    "# masokit: reproduction of *A Spline Theory of Deep Networks* (ICML 2018)",
    "",
    ...(options.header ?? []),
    `Scale: **${options.scale}**. Claims that held: **${held} of ${total}**.`,
    "",
  ];
  for (const r of results) {
    lines.push(
      `## ${r.title}`,
      "",
      `Scale: ${cell(r.scale)}. Time: ${r.seconds.toFixed(1)} s.`,
      "",
    );
    lines.push("| paper claim | measured | held |", "| --- | --- | --- |");
    for (const c of r.claims) {
      lines.push(`| ${cell(c.claim)} | ${cell(c.measured)} | ${c.held ? "yes" : "**no**"} |`);
    }
    lines.push("");
    const figs = r.figures.map((f) => {
      const files = options.figures?.[f.name] ?? [];
      return `- ${cell(f.title)}${
        files.length ? `: ${files.map((p) => `[${p.split(".").at(-1)}](${p})`).join(", ")}` : ""
      }`;
    });
    if (figs.length) lines.push("Figures:", "", ...figs, "");
  }
  return lines.join("\n");
}
