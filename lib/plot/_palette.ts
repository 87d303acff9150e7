/**
 * plotly.js's default colour cycle, shared by the figures so that a class or a series has
 * the same colour in each.
 *
 * @module
 */

/** plotly.js's default colour cycle. */
export const PALETTE = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
];

/** A `#rrggbb` colour as `rgba(r,g,b,alpha)` (any other string is returned as it is). */
export function rgba(hex: string, alpha: number): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) return hex;
  return `rgba(${parseInt(m[1], 16)},${parseInt(m[2], 16)},${parseInt(m[3], 16)},${alpha})`;
}
