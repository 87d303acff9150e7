/**
 * The exact partition of a 2D slice of input space, layer by layer: every region of the
 * network's input-space partition (Section 7) that the plane crosses, as a polygon, with
 * the affine map the network applies there and its decision boundary.
 *
 * @module
 */
import { affineApply } from "../backend/cpu/run.ts";
import { poolWindows } from "../backend/cpu/_windows.ts";
import type {
  AffineLayer,
  CodeKind,
  MaxPool2DLayer,
  NonlinearLayer,
  SplineNetwork,
} from "../network/spline_network.ts";
import { SplineError } from "../util/errors.ts";
import { checkOptionKeys } from "../util/options.ts";
import { argmaxPieces, liveCandidates } from "./_argmax_split.ts";
import { applyAffine, applyCode, type Frame, layerSteps, residualStep } from "./_layer_steps.ts";
import { affineRange, polygonArea } from "./_polygon.ts";
import { type CheckedSlice, checkSlice, type InputSlice } from "./input_slice.ts";

/** One region of a slice's partition: a convex polygon in `(u, v)`. */
export interface SliceRegion {
  /** Vertices `[u0, v0, u1, v1, …]`, counter-clockwise. */
  readonly polygon: Float64Array;
  /** Index of the region of the previous level that holds this one (−1 at the first level). */
  readonly parent: number;
}

/** The partition of the slice by the code layers up to one of them. */
export interface SliceLevel {
  /** Index of the code layer (as in `net.codeLayers`). */
  readonly layer: number;
  /** The layer's name. */
  readonly name: string;
  /** The layer's kind. */
  readonly kind: CodeKind;
  /** The regions on which the codes of this layer and all before it are constant. */
  readonly regions: readonly SliceRegion[];
}

/** A piece of a region on which one output is the largest (ties to the first). */
export interface DecisionPiece {
  /** Vertices `[u0, v0, …]`, counter-clockwise. */
  readonly polygon: Float64Array;
  /** The final region it lies in. */
  readonly region: number;
  /** The index of the largest output there (the predicted class). */
  readonly label: number;
}

/** The result of {@linkcode slicePartition}. */
export interface SlicePartition {
  /** The slice, checked, in float64. */
  readonly slice: CheckedSlice;
  /** One level per code layer, in the network's code-layer order. */
  readonly levels: readonly SliceLevel[];
  /** The final regions (the last level's; the whole domain for a network without code layers). */
  readonly regions: readonly SliceRegion[];
  /** C: the number of outputs. */
  readonly outputs: number;
  /**
   * The network's affine map on each final region as a function of `(u, v)`, `[regions, 3, C]`:
   * `z(u, v) = u·maps[r, 0, :] + v·maps[r, 1, :] + maps[r, 2, :]`.
   */
  readonly maps: Float64Array;
  /** The final regions split by their largest output: the decision boundary, exactly. */
  readonly decision: readonly DecisionPiece[];
}

/** Options of {@linkcode slicePartition}. */
export interface SlicePartitionOptions {
  /** Stop with an error when a level has more regions than this (default 200,000). */
  maxRegions?: number;
  /**
   * Pieces smaller than this fraction of the domain's area are not split off (default 1e-12):
   * slivers that rounding makes where a boundary passes through a vertex.
   */
  minArea?: number;
}

/** A region waiting to go on through the steps from `pc`. */
interface Task {
  readonly polygon: Float64Array;
  readonly pc: number;
  /** The activations as rows `[3, size]` (the `u`, `v` and constant parts), or, pending, a code layer's input. */
  readonly value: Float64Array;
  /** Set when the code of `pending.layer` still has to be applied to `value`. */
  readonly pending: Pending | null;
  readonly frame: Frame | null;
  readonly parent: number;
}

/** A code to apply: the units decided on the whole parent region, and this piece's own decisions. */
interface Pending {
  readonly layer: NonlinearLayer;
  readonly base: Uint8Array | Uint16Array;
  readonly decisions: Decision | null;
  readonly shared: Shared | null;
}

/**
 * What the pieces of one split share: the parent's activations under the base code, and
 * those carried through the affine steps that follow up to step `next`. A piece then only
 * carries the difference of its own code, which is zero but at the units it decided, through
 * those steps (the kernels skip zeros).
 */
interface Shared {
  readonly coded: Float64Array;
  readonly out: Float64Array;
  readonly next: number;
}

function pendingCode(p: Pending): Uint8Array | Uint16Array {
  const code = p.base.slice();
  for (let d = p.decisions; d; d = d.prev) code[d.unit] = d.code;
  return code;
}

/** An undecided unit of a code layer: which candidates may still win, and the code each gives. */
interface Item {
  readonly unit: number;
  readonly cand: Float64Array;
  readonly codes: Int32Array;
}

interface Decision {
  readonly unit: number;
  readonly code: number;
  readonly prev: Decision | null;
}

const SIGN_CODES = Int32Array.of(0, 1);

/** The code each unit takes on the whole polygon where it is decided, and the others as items. */
function signCodes(value: Float64Array, poly: Float64Array): { base: Uint8Array; items: Item[] } {
  const units = value.length / 3, range = new Float64Array(2);
  const base = new Uint8Array(units), items: Item[] = [];
  for (let k = 0; k < units; k++) {
    const a = value[k], b = value[units + k], c = value[2 * units + k];
    affineRange(poly, a, b, c, range);
    if (range[1] <= 0) continue;
    if (range[0] >= 0) base[k] = 1;
    else items.push({ unit: k, cand: Float64Array.of(0, 0, 0, a, b, c), codes: SIGN_CODES });
  }
  return { base, items };
}

function maxPoolCodes(
  l: MaxPool2DLayer,
  value: Float64Array,
  poly: Float64Array,
): { base: Uint16Array; items: Item[] } {
  const size = value.length / 3, C = l.inputShape[2], [OH, OW] = l.outputShape;
  const { start, pos, slot } = poolWindows(l);
  const base = new Uint16Array(OH * OW * C), items: Item[] = [];
  const window = l.poolSize[0] * l.poolSize[1], range = new Float64Array(2);
  const lo = new Float64Array(window), hi = new Float64Array(window);
  for (let o = 0; o < OH * OW; o++) {
    const k0 = start[o], m = start[o + 1] - k0;
    for (let c = 0; c < C; c++) {
      // the usual case first: one candidate at least as large everywhere (ties to the first)
      let w = 0;
      for (let j = 0; j < m; j++) {
        const i = pos[k0 + j] * C + c;
        affineRange(poly, value[i], value[size + i], value[2 * size + i], range);
        lo[j] = range[0];
        hi[j] = range[1];
        if (lo[j] > lo[w]) w = j;
      }
      let wins = true;
      for (let j = 0; j < m && wins; j++) {
        wins = j === w || (j < w ? lo[w] > hi[j] : lo[w] >= hi[j]);
      }
      const unit = o * C + c;
      if (wins) {
        base[unit] = slot[k0 + w];
        continue;
      }
      const cand = new Float64Array(3 * m);
      for (let j = 0; j < m; j++) {
        const i = pos[k0 + j] * C + c;
        cand[3 * j] = value[i];
        cand[3 * j + 1] = value[size + i];
        cand[3 * j + 2] = value[2 * size + i];
      }
      const live = liveCandidates(poly, cand);
      if (live.length === 1) {
        base[unit] = slot[k0 + live[0]];
        continue;
      }
      const sub = new Float64Array(3 * live.length), codes = new Int32Array(live.length);
      live.forEach((j, t) => {
        sub.set(cand.subarray(3 * j, 3 * j + 3), 3 * t);
        codes[t] = slot[k0 + j];
      });
      items.push({ unit, cand: sub, codes });
    }
  }
  return { base, items };
}

/**
 * Splits a polygon by every undecided item: the leaves, each with its decisions; calls
 * `tooMany` as soon as there are more than `room` leaves.
 */
function splitItems(
  poly: Float64Array,
  items: Item[],
  limits: { minArea: number; room: number; tooMany: () => never },
) {
  const { minArea, room } = limits;
  const leaves: { polygon: Float64Array; decisions: Decision | null }[] = [];
  const work: { polygon: Float64Array; next: number; decisions: Decision | null }[] = [
    { polygon: poly, next: 0, decisions: null },
  ];
  while (work.length > 0) {
    let { polygon, next, decisions } = work.pop()!;
    let leaf = true;
    for (; next < items.length; next++) {
      const it = items[next];
      const pieces = argmaxPieces(polygon, it.cand, minArea);
      if (pieces.length === 1) {
        decisions = { unit: it.unit, code: it.codes[pieces[0].winner], prev: decisions };
        polygon = pieces[0].polygon;
        continue;
      }
      for (let p = pieces.length - 1; p >= 0; p--) {
        work.push({
          polygon: pieces[p].polygon,
          next: next + 1,
          decisions: { unit: it.unit, code: it.codes[pieces[p].winner], prev: decisions },
        });
      }
      leaf = false;
      break;
    }
    if (leaf && leaves.push({ polygon, decisions }) > room) limits.tooMany();
  }
  return leaves;
}

/**
 * The exact partition of a 2D slice of input space by a network's code layers (Section 7):
 * the plane `x(u, v) = origin + u·d₁ + v·d₂` over a convex domain, cut layer after layer
 * wherever a unit's pre-activation changes sign (ReLU, leaky ReLU, abs; exactly 0 is inactive)
 * or a max-pool window's argmax changes (ties to the first), through residual sums too. On the
 * slice every activation is affine in `(u, v)` inside a region, so each cut is a straight line
 * and every region a convex polygon; the computation is float64 throughout. Each level lists
 * the regions on which the codes of its layer and every layer before it are constant (the
 * partition of eq. (7)'s factors up to that layer), each final region carries the network's
 * affine map `z = A[x]·x(u, v) + B[x]` as a function of `(u, v)`, and the decision pieces split
 * the final regions where the largest output changes: the decision boundary.
 *
 * @param net The network.
 * @param slice The slice (see {@linkcode sliceThrough} for the plane through three inputs).
 * @param options `maxRegions`, `minArea`.
 * @returns The levels, final regions, their affine maps and the decision pieces.
 *
 * @example
 * ```ts
 * import { SplineNetwork } from "../network/spline_network.ts";
 * import { slicePartition } from "./slice_partition.ts";
 * import { equal } from "node:assert/strict";
 * // |u − 0.5| + |v − 0.5| on the unit square: four regions, one per quadrant
 * const net = new SplineNetwork([2], [
 *   { kind: "abs", name: "a", inputShape: [2], outputShape: [2] },
 *   { kind: "dense", name: "d", inputShape: [2], outputShape: [1], units: 1,
 *     kernel: Float64Array.of(1, 1), bias: null },
 * ]);
 * const p = slicePartition(net, { origin: [-0.5, -0.5], directions: [[1, 0], [0, 1]] });
 * equal(p.regions.length, 4);
 * ```
 */
export function slicePartition(
  net: SplineNetwork,
  slice: InputSlice,
  options: SlicePartitionOptions = {},
): SlicePartition {
  const what = "Cannot partition the slice";
  checkOptionKeys(options, { maxRegions: true, minArea: true }, what);
  const maxRegions = options.maxRegions ?? 200_000;
  if (!Number.isInteger(maxRegions) || maxRegions < 1) {
    throw new RangeError(`${what}: maxRegions is ${maxRegions}, expected an integer ≥ 1`);
  }
  const minFraction = options.minArea ?? 1e-12;
  if (typeof minFraction !== "number" || !(minFraction >= 0 && minFraction < 1)) {
    throw new RangeError(`${what}: minArea is ${minFraction}, expected a fraction in [0, 1)`);
  }
  const s = checkSlice(net, slice, what);
  const minArea = minFraction * polygonArea(s.domain);
  const ops = layerSteps(net);
  const levels = net.codeLayers.map((c) => ({
    layer: c.index,
    name: c.name,
    kind: c.kind,
    regions: [] as SliceRegion[],
  }));
  const D = net.inputSize, C = net.outputSize;
  const start = new Float64Array(3 * D);
  start.set(s.directions[0]);
  start.set(s.directions[1], D);
  start.set(s.origin, 2 * D);
  const maps: Float64Array[] = [];
  const stack: Task[] = [
    { polygon: s.domain, pc: 0, value: start, pending: null, frame: null, parent: -1 },
  ];
  while (stack.length > 0) {
    const t = stack.pop()!;
    let { polygon, value, frame, parent } = t;
    let pc = t.pc, split = false;
    if (t.pending) {
      value = applyCode(t.pending.layer, value, pendingCode(t.pending), 3);
      const sh = t.pending.shared;
      if (sh) {
        let delta: Float64Array = new Float64Array(value.length);
        for (let i = 0; i < delta.length; i++) delta[i] = value[i] - sh.coded[i];
        for (; pc < sh.next; pc++) {
          delta = affineApply((ops[pc] as { layer: AffineLayer }).layer, delta, 3, false);
        }
        value = Float64Array.from(sh.out);
        for (let i = 0; i < value.length; i++) value[i] += delta[i];
      }
    }
    for (; pc < ops.length && !split; pc++) {
      const op = ops[pc];
      switch (op.op) {
        case "affine":
          value = applyAffine(op.layer, value, 3);
          break;
        case "enter":
        case "path":
        case "add":
        case "leave":
          ({ value, frame } = residualStep(op.op, value, frame));
          break;
        case "code": {
          const l = op.layer;
          const { base, items } = l.kind === "max-pool"
            ? maxPoolCodes(l, value, polygon)
            : signCodes(value, polygon);
          const level = levels[op.level].regions;
          const leaves = splitItems(polygon, items, {
            minArea,
            room: maxRegions - level.length,
            tooMany: () => {
              throw new SplineError(
                `${what}: layer '${l.name}' (code layer ${op.level}) has more than maxRegions = ${maxRegions} regions in the slice; pass a larger maxRegions or a smaller domain`,
              );
            },
          });
          let shared: Shared | null = null;
          let next = pc + 1;
          while (next < ops.length && ops[next].op === "affine") next++;
          if (leaves.length > 1 && next > pc + 1) {
            const coded = applyCode(l, value, base, 3);
            let out = coded;
            for (let j = pc + 1; j < next; j++) {
              out = applyAffine((ops[j] as { layer: AffineLayer }).layer, out, 3);
            }
            shared = { coded, out, next };
          }
          const tasks: Task[] = leaves.map((leaf) => {
            const id = level.push({ polygon: leaf.polygon, parent }) - 1;
            const pending = { layer: l, base, decisions: leaf.decisions, shared };
            return { polygon: leaf.polygon, pc: pc + 1, value, pending, frame, parent: id };
          });
          if (tasks.length === 1) {
            polygon = tasks[0].polygon;
            parent = tasks[0].parent;
            value = applyCode(l, value, pendingCode(tasks[0].pending!), 3);
          } else {
            for (let i = tasks.length - 1; i >= 0; i--) stack.push(tasks[i]);
            split = true;
          }
          break;
        }
      }
    }
    if (!split) maps[Math.max(parent, 0)] = value; // the last level's region (or the domain)
  }
  const finals = levels.length > 0
    ? levels[levels.length - 1].regions
    : [{ polygon: s.domain, parent: -1 }];
  const out = new Float64Array(finals.length * 3 * C);
  maps.forEach((m, r) => out.set(m, r * 3 * C));
  const decision: DecisionPiece[] = [];
  finals.forEach((region, r) => {
    const cand = new Float64Array(3 * C);
    for (let c = 0; c < C; c++) {
      cand[3 * c] = out[r * 3 * C + c];
      cand[3 * c + 1] = out[r * 3 * C + C + c];
      cand[3 * c + 2] = out[r * 3 * C + 2 * C + c];
    }
    for (const p of argmaxPieces(region.polygon, cand, minArea)) {
      decision.push({ polygon: p.polygon, region: r, label: p.winner });
    }
  });
  return { slice: s, levels, regions: finals, outputs: C, maps: out, decision };
}
