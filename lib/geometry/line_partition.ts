/**
 * The exact partition of a line of input space: every region of the network's input-space
 * partition (Section 7) that the line crosses, as an interval, with the affine map the
 * network applies there and where its decision changes.
 *
 * @module
 */
import { poolWindows, type Windows } from "../backend/cpu/_windows.ts";
import { inactiveSlope, type SignLayer } from "../backend/cpu/activation.ts";
import { affineApply } from "../backend/cpu/run.ts";
import {
  type CodeKind,
  type MaxPool2DLayer,
  shapeSize,
  type SplineNetwork,
} from "../network/spline_network.ts";
import { SplineError } from "../util/errors.ts";
import { checkOptionKeys } from "../util/options.ts";
import {
  applyAffine,
  applyCode,
  type Frame,
  layerSteps,
  residualStep,
  type Step,
} from "./_layer_steps.ts";

/** Moves of the walk between two full passes. */
const REFRESH = 256;
import { type CheckedLine, checkLine, type InputLine } from "./input_line.ts";

/** The partition of the line by the code layers up to one of them. */
export interface LineLevel {
  /** Index of the code layer (as in `net.codeLayers`). */
  readonly layer: number;
  /** The layer's name. */
  readonly name: string;
  /** The layer's kind. */
  readonly kind: CodeKind;
  /**
   * The ends of the intervals on which the codes of this layer and all before it are
   * constant, `[lo, t₁, …, hi]`: interval `i` is `[breaks[i], breaks[i + 1]]`.
   */
  readonly breaks: Float64Array;
}

/** Where the largest output changes along the line. */
export interface LineDecision {
  /** `[lo, t₁, …, hi]`: the label of interval `i`, `[breaks[i], breaks[i + 1]]`, is `labels[i]`. */
  readonly breaks: Float64Array;
  /** The index of the largest output on each interval (the predicted class); neighbours differ. */
  readonly labels: Int32Array;
}

/** The result of {@linkcode linePartition}. */
export interface LinePartition {
  /** The line, checked, in float64. */
  readonly line: CheckedLine;
  /** One level per code layer, in the network's code-layer order. */
  readonly levels: readonly LineLevel[];
  /** The ends of the final regions (the last level's breaks; `[lo, hi]` without code layers). */
  readonly breaks: Float64Array;
  /**
   * For each break inside the line, `breaks[i + 1]`, the first code layer whose code changes
   * there: the break is one of level `l`'s exactly when `changed[i] ≤ l`.
   */
  readonly changed: Int32Array;
  /** C: the number of outputs. */
  readonly outputs: number;
  /**
   * The network's affine map on each final region as a function of `t`, `[regions, 2, C]`:
   * `z(t) = t·maps[r, 0, :] + maps[r, 1, :]`.
   */
  readonly maps: Float64Array;
  /** Where the largest output changes: the decision boundary's crossings, exactly. */
  readonly decision: LineDecision;
}

/** Options of {@linkcode linePartition}. */
export interface LinePartitionOptions {
  /** Stop with an error when there are more regions than this (default 1,000,000). */
  maxRegions?: number;
  /**
   * Regions shorter than this fraction of the interval are merged into the next (default
   * 1e-10): the resolution at which the codes are read just past each break.
   */
  minLength?: number;
}

/** A code step's state along the walk: its input, each unit's code and where that code ends. */
interface CodeState {
  /** The step's input, rows `[2, size]`: slopes, then values at `t = 0`. */
  input: Float64Array;
  readonly code: Uint8Array | Uint16Array;
  /** The first `t` past the probe where each unit's code changes (∞: never on the line). */
  readonly cross: Float64Array;
  /** The smallest of `cross` in each block of {@linkcode BLOCK} units. */
  readonly block: Float64Array;
  /** The smallest of `cross`. */
  min: number;
}

/** Units per block of a code step's crossings (a move re-reads only blocks with a crossing by then). */
const BLOCK = 64;

/** Recomputes block `b`'s smallest crossing. */
function blockMin(s: CodeState, b: number): void {
  let m = Infinity;
  const end = Math.min(s.cross.length, (b + 1) * BLOCK);
  for (let k = b * BLOCK; k < end; k++) if (s.cross[k] < m) m = s.cross[k];
  s.block[b] = m;
}

/** Recomputes every block's smallest crossing (`all`) or none, then the step's. */
function stepMin(s: CodeState, all: boolean): void {
  let m = Infinity;
  for (let b = 0; b < s.block.length; b++) {
    if (all) blockMin(s, b);
    if (s.block[b] < m) m = s.block[b];
  }
  s.min = m;
}

/**
 * Reads a sign unit's code at `t` (`> 0` is active, as the engine has it) and the first
 * `t' > t` where it changes, from rows `x = [2, units]`.
 */
function signUnit(x: Float64Array, units: number, k: number, t: number, s: CodeState): void {
  const a = x[k], c = x[units + k];
  const on = a * t + c > 0;
  s.code[k] = on ? 1 : 0;
  s.cross[k] = (on ? a < 0 : a > 0) ? -c / a : Infinity;
}

/**
 * Reads a max-pool unit's code at `t` (the argmax, ties to the first, as the engine has it)
 * and the first `t' > t` where it changes. Unit `u = o·C + c` of output position `o`.
 */
function poolUnit(
  win: Windows,
  x: Float64Array,
  C: number,
  u: number,
  t: number,
  s: CodeState,
): void {
  const { start, pos, slot } = win, size = x.length / 2;
  const o = (u / C) | 0, c = u - o * C;
  let w = -1, best = -Infinity;
  for (let j = start[o]; j < start[o + 1]; j++) {
    const i = pos[j] * C + c, v = x[i] * t + x[size + i];
    if (v > best) (best = v), (w = j);
  }
  s.code[u] = slot[w];
  const iw = pos[w] * C + c, aw = x[iw], cw = x[size + iw];
  let next = Infinity;
  for (let j = start[o]; j < start[o + 1]; j++) {
    const i = pos[j] * C + c, da = x[i] - aw;
    if (j !== w && da > 0) next = Math.min(next, (cw - x[size + i]) / da);
  }
  s.cross[u] = next;
}

function sameCode(a: Uint8Array | Uint16Array, b: Uint8Array | Uint16Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function plus(a: Float64Array, b: Float64Array): Float64Array {
  const y = Float64Array.from(a);
  for (let i = 0; i < y.length; i++) y[i] += b[i];
  return y;
}

/** A residual block's difference of input and running sum of differences (null: zero). */
interface DeltaFrame {
  readonly input: Float64Array | null;
  readonly sum: Float64Array | null;
  readonly up: DeltaFrame | null;
}

/** What re-reading a code step's units gives: its output's difference (null: none), and whether a code changed. */
interface Reread {
  readonly out: Float64Array | null;
  readonly changed: boolean;
}

/**
 * Re-reads the units of a sign step that may change at `t`: those whose crossing came, and
 * those whose input changed by `d` (then `s.input` is `old + d`); marks their blocks `dirty`.
 */
function rereadSign(
  l: SignLayer,
  s: CodeState,
  old: Float64Array,
  d: Float64Array | null,
  t: number,
  dirty: Uint8Array,
): Reread {
  const x = s.input, size = x.length / 2, s0 = inactiveSlope(l);
  let out: Float64Array | null = null, changed = false;
  for (let k = 0; k < size; k++) {
    if (k % BLOCK === 0 && !d && s.block[k / BLOCK] > t) {
      k += BLOCK - 1;
      continue;
    }
    const touched = d !== null && (d[k] !== 0 || d[size + k] !== 0);
    if (!touched && s.cross[k] > t) continue;
    const was = s.code[k];
    signUnit(x, size, k, t, s);
    dirty[(k / BLOCK) | 0] = 1;
    changed ||= s.code[k] !== was;
    const a0 = was ? 1 : s0, a1 = s.code[k] ? 1 : s0;
    const e0 = a1 * x[k] - a0 * old[k], e1 = a1 * x[size + k] - a0 * old[size + k];
    if (e0 !== 0 || e1 !== 0) {
      out ??= new Float64Array(2 * size);
      out[k] = e0;
      out[size + k] = e1;
    }
  }
  return { out, changed };
}

/** {@linkcode rereadSign} for a max-pool step: a unit is touched when any entry of its window is. */
function rereadPool(
  l: MaxPool2DLayer,
  s: CodeState,
  old: Float64Array,
  d: Float64Array | null,
  t: number,
  dirty: Uint8Array,
): Reread {
  const x = s.input, size = x.length / 2, win = poolWindows(l), C = l.inputShape[2];
  const { start, pos, slot } = win, units = s.code.length;
  let out: Float64Array | null = null, changed = false;
  for (let u = 0; u < units; u++) {
    if (u % BLOCK === 0 && !d && s.block[u / BLOCK] > t) {
      u += BLOCK - 1;
      continue;
    }
    const o = (u / C) | 0, c = u - o * C;
    let touched = false;
    for (let j = start[o]; d && j < start[o + 1] && !touched; j++) {
      const i = pos[j] * C + c;
      touched = d[i] !== 0 || d[size + i] !== 0;
    }
    if (!touched && s.cross[u] > t) continue;
    const was = s.code[u];
    poolUnit(win, x, C, u, t, s);
    dirty[(u / BLOCK) | 0] = 1;
    changed ||= s.code[u] !== was;
    // the output is the selected entry: before, the old one of the old input; now, the new one
    let iOld = -1, iNew = -1;
    for (let j = start[o]; j < start[o + 1]; j++) {
      if (slot[j] === was) iOld = pos[j] * C + c;
      if (slot[j] === s.code[u]) iNew = pos[j] * C + c;
    }
    const e0 = x[iNew] - old[iOld], e1 = x[size + iNew] - old[size + iOld];
    if (e0 !== 0 || e1 !== 0) {
      out ??= new Float64Array(2 * units);
      out[u] = e0;
      out[units + u] = e1;
    }
  }
  return { out, changed };
}

/**
 * The walk along the line: the state of every code step at the current point, and the
 * network's output as rows `[2, C]` (slopes, values at `t = 0`).
 */
class LineWalk {
  readonly states: (CodeState | null)[];
  out: Float64Array;

  constructor(readonly steps: Step[], readonly start: Float64Array) {
    this.states = steps.map(() => null);
    this.out = start;
  }

  /**
   * Runs every step, reading all codes at `t`.
   *
   * @returns The first code layer whose code differs from before (`levels` if none).
   */
  full(t: number, levels: number): number {
    let value = this.start, frame: Frame | null = null, first = levels;
    this.steps.forEach((op, pc) => {
      if (op.op === "affine") value = applyAffine(op.layer, value, 2);
      else if (op.op !== "code") ({ value, frame } = residualStep(op.op, value, frame));
      else {
        const l = op.layer, pool = l.kind === "max-pool";
        const units = pool ? shapeSize(l.outputShape) : value.length / 2;
        const s: CodeState = {
          input: value,
          code: pool ? new Uint16Array(units) : new Uint8Array(units),
          cross: new Float64Array(units),
          block: new Float64Array(Math.ceil(units / BLOCK)),
          min: Infinity,
        };
        if (pool) {
          const win = poolWindows(l), C = l.inputShape[2];
          for (let u = 0; u < units; u++) poolUnit(win, value, C, u, t, s);
        } else for (let k = 0; k < units; k++) signUnit(value, units, k, t, s);
        stepMin(s, true);
        const old = this.states[pc];
        if (old && op.level < first && !sameCode(old.code, s.code)) first = op.level;
        this.states[pc] = s;
        value = applyCode(l, value, s.code, 2);
      }
    });
    this.out = value === this.start ? Float64Array.from(value) : value;
    return first;
  }

  /**
   * Moves the walk on to `t`, the code steps before `from` unchanged: re-reads the units
   * whose code ends by `t` and those whose input changed, and carries what their outputs
   * change by through the following steps (differences are sparse after a code step, and the
   * affine kernels skip zeros).
   *
   * @returns The first code layer whose code changed (`levels` if none).
   */
  update(from: number, t: number, levels: number): number {
    let d = null as Float64Array | null, frame = null as DeltaFrame | null, first = levels;
    for (let pc = from; pc < this.steps.length; pc++) {
      const op = this.steps[pc];
      switch (op.op) {
        case "affine":
          if (d && op.layer.kind !== "flatten") d = affineApply(op.layer, d, 2, false);
          break;
        case "enter":
          frame = { input: d, sum: null, up: frame };
          break;
        // a walk that starts inside a residual block finds no frame for it: the block's
        // input and its earlier paths did not change
        case "path":
          d = frame?.input ?? null;
          break;
        case "add": {
          const f: DeltaFrame = frame ?? { input: null, sum: null, up: null };
          frame = { input: f.input, sum: f.sum && d ? plus(f.sum, d) : f.sum ?? d, up: f.up };
          break;
        }
        case "leave":
          d = frame?.sum ?? null;
          frame = frame?.up ?? null;
          break;
        case "code": {
          const s = this.states[pc]!, old = s.input;
          s.input = d ? plus(old, d) : old;
          const l = op.layer, dirty = new Uint8Array(s.block.length);
          const r = l.kind === "max-pool"
            ? rereadPool(l, s, old, d, t, dirty)
            : rereadSign(l as SignLayer, s, old, d, t, dirty);
          for (let b = 0; b < dirty.length; b++) if (dirty[b]) blockMin(s, b);
          stepMin(s, false);
          if (r.changed && op.level < first) first = op.level;
          d = r.out;
          break;
        }
      }
    }
    if (d) this.out = plus(this.out, d);
    return first;
  }

  /** The first `t` past the current point where any code changes. */
  next(): number {
    let m = Infinity;
    for (const s of this.states) if (s) m = Math.min(m, s.min);
    return m;
  }
}

/**
 * The largest of `C` lines `z_c(t) = m[c]·t + m[C + c]` on `[t0, t1]`: the pieces, read just
 * past each change (`h` on), appended to `breaks` and `labels` (a piece with the label of the
 * last one extends it).
 */
function upperEnvelope(
  m: Float64Array,
  C: number,
  t0: number,
  t1: number,
  h: number,
  out: { breaks: number[]; labels: number[] },
): void {
  let t = t0;
  while (t < t1) {
    const probe = Math.min(t + h, (t + t1) / 2);
    let w = 0;
    for (let c = 1; c < C; c++) {
      if (m[c] * probe + m[C + c] > m[w] * probe + m[C + w]) w = c;
    }
    let next = t1;
    for (let c = 0; c < C; c++) {
      const da = m[c] - m[w];
      if (c !== w && da > 0) next = Math.min(next, (m[C + w] - m[C + c]) / da);
    }
    next = Math.max(next, probe);
    if (out.labels.at(-1) === w) out.breaks[out.breaks.length - 1] = next;
    else {
      out.labels.push(w);
      out.breaks.push(next);
    }
    t = next;
  }
}

/**
 * The exact partition of a line of input space by a network's code layers (Section 7): the
 * line `x(t) = origin + t·direction` over an interval of `t`, cut wherever a unit's
 * pre-activation changes sign (ReLU, leaky ReLU, abs; exactly 0 is inactive) or a max-pool
 * window's argmax changes (ties to the first), through residual sums too. Inside a region
 * every activation is affine in `t`, so the region ends at the first zero crossing (or
 * overtaking, for a max-pool) of any unit under its current codes; the computation walks the
 * line region by region in float64, re-reading only the units whose code may change there and
 * carrying what they change through the following layers as a sparse difference. The
 * final regions carry the network's affine map `z = A[x]·x(t) + B[x]` as a function of `t`;
 * the levels give the intervals of constant codes up to each layer, and the decision where
 * the largest output changes.
 *
 * @param net The network.
 * @param line The line (see {@linkcode lineThrough} for the line through two inputs).
 * @param options `maxRegions`, `minLength`.
 * @returns The levels, final regions, their affine maps and the decision along the line.
 *
 * @example
 * ```ts
 * import { SplineNetwork } from "../network/spline_network.ts";
 * import { linePartition } from "./line_partition.ts";
 * import { deepEqual } from "node:assert/strict";
 * // |t − 0.25| + |t − 0.75| on [0, 1]: breaks at 0.25 and 0.75, the map's slope −2, 0, 2
 * const net = new SplineNetwork([2], [
 *   { kind: "abs", name: "a", inputShape: [2], outputShape: [2] },
 *   { kind: "dense", name: "d", inputShape: [2], outputShape: [1], units: 1,
 *     kernel: Float64Array.of(1, 1), bias: null },
 * ]);
 * const p = linePartition(net, { origin: [-0.25, -0.75], direction: [1, 1] });
 * deepEqual(Array.from(p.breaks), [0, 0.25, 0.75, 1]);
 * deepEqual([p.maps[0], p.maps[2], p.maps[4]], [-2, 0, 2]);
 * ```
 */
export function linePartition(
  net: SplineNetwork,
  line: InputLine,
  options: LinePartitionOptions = {},
): LinePartition {
  const what = "Cannot partition the line";
  checkOptionKeys(options, { maxRegions: true, minLength: true }, what);
  const maxRegions = options.maxRegions ?? 1_000_000;
  if (!Number.isInteger(maxRegions) || maxRegions < 1) {
    throw new RangeError(`${what}: maxRegions is ${maxRegions}, expected an integer ≥ 1`);
  }
  const minLength = options.minLength ?? 1e-10;
  if (typeof minLength !== "number" || !(minLength > 0 && minLength < 0.5)) {
    throw new RangeError(`${what}: minLength is ${minLength}, expected a fraction in (0, 0.5)`);
  }
  const s = checkLine(net, line, what);
  const [lo, hi] = s.range, h = minLength * (hi - lo);
  const steps = layerSteps(net), C = net.outputSize, L = net.codeLayers.length;
  const start = new Float64Array(2 * net.inputSize);
  start.set(s.direction);
  start.set(s.origin, net.inputSize);
  const walk = new LineWalk(steps, start);
  const breaks = [lo], changed: number[] = [], maps: Float64Array[] = [];
  let t0 = lo, probe = Math.min(lo + h, (lo + hi) / 2), first = walk.full(probe, L);
  for (let moves = 1;; moves++) {
    if (maps.length === 0 || first < L) {
      if (maps.length > 0) {
        if (maps.length >= maxRegions) {
          throw new SplineError(
            `${what}: more than maxRegions = ${maxRegions} regions on the line; pass a larger maxRegions or a shorter range`,
          );
        }
        changed.push(first);
        breaks.push(t0);
      }
      maps.push(walk.out);
    }
    const t1 = Math.min(Math.max(walk.next(), probe), hi);
    if (hi - t1 <= h) break;
    t0 = t1;
    probe = t1 + h;
    // differences carried over many moves gather rounding: start afresh now and then
    if (moves % REFRESH === 0) first = walk.full(probe, L);
    else {
      const from = walk.states.findIndex((s) => s !== null && s.min <= probe);
      first = walk.update(from, probe, L);
    }
  }
  breaks.push(hi);
  const out = new Float64Array(maps.length * 2 * C);
  maps.forEach((m, r) => out.set(m, r * 2 * C));
  const levels = net.codeLayers.map((c) => ({
    layer: c.index,
    name: c.name,
    kind: c.kind,
    breaks: Float64Array.from(
      breaks.filter((_, i) => i === 0 || i === breaks.length - 1 || changed[i - 1] <= c.index),
    ),
  }));
  const decision = { breaks: [lo], labels: [] as number[] };
  for (let r = 0; r < maps.length; r++) {
    upperEnvelope(
      out.subarray(r * 2 * C, (r + 1) * 2 * C),
      C,
      breaks[r],
      breaks[r + 1],
      h,
      decision,
    );
  }
  return {
    line: s,
    levels,
    breaks: Float64Array.from(breaks),
    changed: Int32Array.from(changed),
    outputs: C,
    maps: out,
    decision: {
      breaks: Float64Array.from(decision.breaks),
      labels: Int32Array.from(decision.labels),
    },
  };
}
