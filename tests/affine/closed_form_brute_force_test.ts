import * as tf from "@tensorflow/tfjs";
import { fromLayersModel } from "../../lib/network/from_layers_model.ts";
import { forward } from "../../lib/network/forward.ts";
import { type SplineLayer, SplineNetwork } from "../../lib/network/spline_network.ts";
import {
  type ClosedFormFactor,
  closedFormFactors,
  evaluateClosedForm,
} from "../../lib/affine/closed_form.ts";
import { affineMap } from "../../lib/affine/affine_map.ts";
import { assertAllClose, assertEquals, largestMagnitude } from "../_assert.ts";
import { randomArchitecture, randomInput } from "../_random_models.ts";

await tf.setBackend("cpu");

/** Applies one factor of eq. (7) to example n's vector h, literally. */
function apply(f: ClosedFormFactor, h: Float64Array, n: number): Float64Array {
  // (float64 vectors of one example)
  switch (f.kind) {
    case "affine": {
      const { C, b } = f;
      assertEquals(C.cols, h.length, `${f.names}: C has ${C.cols} columns`);
      const y = new Float64Array(C.rows);
      for (let r = 0; r < C.rows; r++) {
        let s = b ? b[r] : 0;
        for (let j = C.rowPtr[r]; j < C.rowPtr[r + 1]; j++) s += C.val[j] * h[C.col[j]];
        y[r] = s;
      }
      return y;
    }
    case "slopes":
      return h.map((v, i) => v * f.slopes[n * h.length + i]);
    case "selection": {
      assertEquals(f.inputSize, h.length, `${f.name}: pooled size`);
      const k = outUnits(f);
      return Float64Array.from({ length: k }, (_, i) => h[f.indices[n * k + i]]);
    }
    case "residual": {
      let sum: Float64Array | null = null;
      for (const p of f.paths) {
        const y = p.reduce((v, g) => apply(g, v, n), h);
        if (!sum) sum = Float64Array.from(y);
        else {
          assertEquals(y.length, sum.length, `${f.name}: path sizes`);
          for (let i = 0; i < y.length; i++) sum[i] += y[i];
        }
      }
      return sum!;
    }
  }
}

let unitsOf = new Map<ClosedFormFactor, number>();
function outUnits(f: ClosedFormFactor): number {
  return unitsOf.get(f)!;
}

/**
 * The index of the top-level layer that ends each top-level factor (an affine factor spans
 * its layers, others one layer each), checking the names: a converted layer and its
 * activation share the tfjs layer's name, so names alone do not locate a factor.
 */
function lastLayerIndices(layers: readonly SplineLayer[], fs: readonly ClosedFormFactor[]) {
  let at = 0;
  return fs.map((f) => {
    const names = f.kind === "affine" ? f.names : [f.name];
    assertEquals(
      names,
      layers.slice(at, at + names.length).map((l) => l.name),
      `factor ${names} at layer ${at}`,
    );
    at += names.length;
    return at - 1;
  });
}

/** Records the output size of each max-pool selection from its network layer. */
function recordUnits(net: SplineNetwork, factors: readonly ClosedFormFactor[], count: number) {
  unitsOf = new Map();
  const visit = (fs: readonly ClosedFormFactor[]) => {
    for (const f of fs) {
      if (f.kind === "selection") {
        const info = net.codeLayers[f.layer];
        assertEquals(info.kind, "max-pool");
        assertEquals(f.indices.length, count * info.units, `${f.name}: indices per example`);
        unitsOf.set(f, info.units);
      } else if (f.kind === "residual") f.paths.forEach(visit);
    }
  };
  visit(factors);
}

/**
 * Checks every top-level factor against brute force: propagating x through the factors
 * reproduces the network's own activation after each factor's last layer (a prefix network
 * run by forward()), slopes match the sign of the pre-activation, selections point at each
 * window's maximum, and evaluateClosedForm() agrees with affineMap().
 */
function check(net: SplineNetwork, x: { data: Float64Array; shape: number[] }, what: string) {
  const f = closedFormFactors(net, x);
  const N = f.count, D = net.inputSize, C = net.outputSize;
  recordUnits(net, f.factors, N);
  const prefixOut = (upTo: number, n: number) => {
    const layers = net.layers.slice(0, upTo + 1);
    const sub = new SplineNetwork(net.inputShape, layers);
    return forward(sub, { data: x.data.slice(n * D, (n + 1) * D), shape: [1, ...net.inputShape] })
      .data;
  };
  for (let n = 0; n < N; n++) {
    let h: Float64Array = x.data.slice(n * D, (n + 1) * D);
    const ends = lastLayerIndices(net.layers, f.factors);
    assertEquals(ends.at(-1), net.layers.length - 1, "the factors span every layer");
    for (const [j, fac] of f.factors.entries()) {
      const at = ends[j];
      const before = h;
      h = apply(fac, h, n);
      const want = prefixOut(at, n);
      const scale = Math.max(largestMagnitude(want), 1);
      assertAllClose(h, want, 1e-10, `${what}, example ${n}, after ${net.layers[at].name}`, scale);
      const layer = net.layers[at];
      if (fac.kind === "slopes" && layer.kind !== "residual") {
        const s0 = layer.kind === "relu"
          ? 0
          : layer.kind === "abs"
          ? -1
          : "alpha" in layer
          ? layer.alpha
          : NaN;
        for (let i = 0; i < before.length; i++) {
          const expect = before[i] > 0 ? 1 : s0;
          assertEquals(fac.slopes[n * before.length + i], expect, `${what}: slope ${i}`);
        }
      }
      if (fac.kind === "selection" && layer.kind === "max-pool") {
        // the selected value is the window's maximum: the pool's own output
        const k = outUnits(fac);
        assertAllClose(
          Float64Array.from({ length: k }, (_, i) => before[fac.indices[n * k + i]]),
          want,
          1e-12,
          `${what}: selected values`,
          Math.max(largestMagnitude(want), 1),
        );
      }
    }
    const lit = evaluateClosedForm(f, { example: n });
    const { A, B } = affineMap(net, {
      data: x.data.slice(n * D, (n + 1) * D),
      shape: [1, ...x.shape.slice(1)],
    });
    assertAllClose(lit.A, A.data, 1e-9, `${what}: A`, Math.max(largestMagnitude(A.data), 1));
    assertAllClose(lit.B, B.data, 1e-9, `${what}: B`, Math.max(largestMagnitude(B.data), 1));
    assertEquals(lit.A.length, C * D);
  }
}

Deno.test("closedFormFactors() matches brute force, factor by factor, on random networks", async (t) => {
  const seeds = Number(Deno.env.get("MASOKIT_FUZZ_SEEDS") ?? 40);
  for (let seed = 0; seed < seeds; seed++) {
    const arch = randomArchitecture(seed);
    await t.step(`seed ${seed}: ${arch.description}`, () => {
      const net = fromLayersModel(arch.model);
      const xt = randomInput(arch.inputShape, 2, seed + 500);
      const x = { data: Float64Array.from(xt.dataSync()), shape: xt.shape };
      xt.dispose();
      check(net, x, `seed ${seed}`);
    });
  }
});
