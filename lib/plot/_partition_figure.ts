/**
 * The options that the figures of a slice's and a line's partition share, checked once.
 *
 * @module
 */
import { levelIndex } from "../geometry/_level_index.ts";
import { checkOptionKeys } from "../util/options.ts";
import { checkFigureName, type PlotlyTrace } from "./figure.ts";

/** Options of the partition figures, less their own marked points. */
export interface PartitionFigureOptions {
  /** File-name-safe figure name. */
  name: string;
  /** Figure title. */
  title: string;
  /** The level drawn (index into the partition's `levels`); default the last. */
  level?: number;
  /** Class names for the legend; default `class 0`, `class 1`, … */
  classNames?: readonly string[];
}

/**
 * Checks a partition figure's options against the partition: known keys (and `points`), a
 * file-name-safe name, a level in range, enough class names.
 *
 * @param options The options.
 * @param levels How many levels the partition has.
 * @param outputs How many outputs (classes).
 * @param what What failed, for messages.
 * @returns The level to draw, and each class's name.
 */
export function checkPartitionFigure(
  options: PartitionFigureOptions,
  levels: number,
  outputs: number,
  what: string,
): { level: number; className: (c: number) => string } {
  checkOptionKeys(
    options,
    { name: true, title: true, level: true, classNames: true, points: true },
    what,
  );
  checkFigureName(options.name, what);
  const level = levelIndex(options.level, levels, what);
  const names = options.classNames;
  if (names !== undefined && names.length < outputs) {
    throw new RangeError(`${what}: ${names.length} class names for ${outputs} outputs`);
  }
  return { level, className: (c) => names?.[c] ?? `class ${c}` };
}

/**
 * Checks marked points: each coordinate named in `keys` a finite number.
 *
 * @param points The points, or `undefined`.
 * @param keys The coordinates of a point (`["t"]` on a line, `["u", "v"]` on a slice).
 * @param what What failed, for messages.
 */
export function checkPoints<P extends object>(
  points: readonly P[] | undefined,
  keys: readonly (keyof P & string)[],
  what: string,
): void {
  points?.forEach((p, i) => {
    for (const k of keys) {
      const v = p[k];
      if (typeof v !== "number" || !Number.isFinite(v)) {
        throw new RangeError(`${what}: points[${i}].${k} is ${v}, expected a finite number`);
      }
    }
  });
}

/**
 * The trace of marked points, labelled above each marker.
 *
 * @param x Their horizontal coordinates.
 * @param y Their vertical coordinates.
 * @param text Their labels.
 * @param symbol The marker (`"x"` on a slice, `"triangle-down"` above a line's outputs).
 * @returns A plotly scatter trace named "points".
 */
export function pointsTrace(
  x: number[],
  y: number[],
  text: string[],
  symbol: string,
): PlotlyTrace {
  return {
    type: "scatter",
    mode: "markers+text",
    x,
    y,
    text,
    textposition: "top center",
    marker: { size: 9, color: "black", symbol },
    name: "points",
  };
}
