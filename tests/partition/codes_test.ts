import * as tf from "@tensorflow/tfjs";
import { fromLayersModel } from "../../lib/network/from_layers_model.ts";
import { SplineNetwork } from "../../lib/network/spline_network.ts";
import { partitionCodes } from "../../lib/partition/codes.ts";
import { assert, assertEquals } from "../_assert.ts";
import { cases } from "../_cases.ts";

/**
 * The pre-activation tfjs computes for the code layer `name`: the input of a ReLU /
 * LeakyReLU / pooling layer, or, for a Dense with a fused activation, its input times
 * its kernel plus bias (computed by tfjs ops).
 */
function tfjsInputOf(model: tf.LayersModel, name: string, x: tf.Tensor): tf.Tensor {
  const layer = model.getLayer(name);
  const sym = layer.inboundNodes[0].inputTensors[0];
  const input = tf.model({ inputs: model.inputs, outputs: sym }).predict(x) as tf.Tensor;
  if (layer.getClassName() !== "Dense") return input;
  const [k, b] = layer.getWeights(); // on the last axis
  const rows = tf.reshape(input, [-1, k.shape[0]]);
  return tf.reshape(tf.add(tf.matMul(rows, k), b), [...input.shape.slice(0, -1), k.shape[1]!]);
}

Deno.test("partitionCodes() agrees with signs and argmaxes read from tfjs intermediate outputs", async (t) => {
  for (const seed of [1, 2, 3]) {
    for (const c of cases(seed)) {
      await t.step(`${c.name}, seed ${seed}`, () => {
        const net = fromLayersModel(c.model);
        const codes = partitionCodes(net, c.x);
        assertEquals(codes.length, net.codeLayers.length);
        let compared = 0, nearTies = 0;
        for (const code of codes) {
          const pre = tfjsInputOf(c.model, code.name, c.x);
          const v = pre.dataSync();
          const N = code.count;
          if (code.kind === "max-pool") {
            const layer = net.codeLayers[code.layer].layer;
            assert(layer.kind === "max-pool");
            const [H, W, C] = layer.inputShape, [OH, OW] = layer.outputShape;
            for (let n = 0; n < N; n++) {
              for (let oy = 0; oy < OH; oy++) {
                for (let ox = 0; ox < OW; ox++) {
                  for (let ch = 0; ch < C; ch++) {
                    // brute force: first maximum in row-major window order, padding never wins
                    const vals: [number, number][] = [];
                    for (let ky = 0; ky < layer.poolSize[0]; ky++) {
                      for (let kx = 0; kx < layer.poolSize[1]; kx++) {
                        const iy = oy * layer.strides[0] + ky - layer.padding[0];
                        const ix = ox * layer.strides[1] + kx - layer.padding[2];
                        if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                        vals.push([
                          ky * layer.poolSize[1] + kx,
                          v[((n * H + iy) * W + ix) * C + ch],
                        ]);
                      }
                    }
                    const best = Math.max(...vals.map((p) => p[1]));
                    const sorted = vals.map((p) => p[1]).sort((a, b) => b - a);
                    const gap = sorted.length > 1 ? sorted[0] - sorted[1] : Infinity;
                    if (gap > 0 && gap < 1e-5) {
                      nearTies++;
                      continue;
                    }
                    const want = vals.find((p) => p[1] === best)![0];
                    const u = (oy * OW + ox) * C + ch;
                    assertEquals(code.argmax[n * code.units + u], want, `${code.name} unit ${u}`);
                    compared++;
                  }
                }
              }
            }
          } else {
            for (let n = 0; n < N; n++) {
              for (let u = 0; u < code.units; u++) {
                const p = v[n * code.units + u];
                if (p !== 0 && Math.abs(p) < 1e-5) {
                  nearTies++;
                  continue;
                }
                const bit = (code.bits[n * code.words + (u >>> 5)] >>> (u & 31)) & 1;
                assertEquals(bit, p > 0 ? 1 : 0, `${code.name} example ${n} unit ${u} (pre ${p})`);
                compared++;
              }
            }
          }
        }
        assert(nearTies <= compared / 1000, `${nearTies} near-ties skipped of ${compared}`);
      });
    }
  }
});

Deno.test("partitionCodes() conventions at kinks", async (t) => {
  await t.step("a pre-activation of exactly 0 is inactive (code 0), packing spans words", () => {
    const units = 40;
    const net = new SplineNetwork([units], [{
      kind: "relu",
      name: "r",
      inputShape: [units],
      outputShape: [units],
    }]);
    const x = new Float64Array(units);
    x[0] = 1;
    x[33] = 2;
    x[34] = 0;
    x[35] = -0;
    x[39] = 1e-300;
    const [code] = partitionCodes(net, { data: x, shape: [1, units] });
    assertEquals(code.words, 2);
    assertEquals(Array.from(code.bits), [1, (1 << 1) | (1 << 7)]);
  });
  await t.step("a max-pool tie picks the first index in row-major window order", () => {
    const net = new SplineNetwork([2, 2, 1], [{
      kind: "max-pool",
      name: "p",
      inputShape: [2, 2, 1],
      outputShape: [1, 1, 1],
      poolSize: [2, 2],
      strides: [2, 2],
      padding: [0, 0, 0, 0],
    }]);
    const [a] = partitionCodes(net, { data: new Float64Array([0, 3, 3, 1]), shape: [1, 2, 2, 1] });
    assertEquals(a.argmax[0], 1);
    const [b] = partitionCodes(net, { data: new Float64Array([0, 0, 0, 0]), shape: [1, 2, 2, 1] });
    assertEquals(b.argmax[0], 0);
  });
  await t.step("abs and leaky ReLU code the sign", () => {
    const net = new SplineNetwork([3], [
      { kind: "abs", name: "a", inputShape: [3], outputShape: [3] },
      { kind: "leaky-relu", name: "l", alpha: 0.1, inputShape: [3], outputShape: [3] },
    ]);
    const [a, l] = partitionCodes(net, { data: new Float64Array([-1, 0, 2]), shape: [1, 3] });
    assertEquals(a.bits[0], 0b100);
    assertEquals(l.bits[0], 0b101); // |−1| = 1 > 0, |0| = 0 inactive, 2 > 0
  });
  await t.step("empty batch", () => {
    const net = new SplineNetwork([3], [{
      kind: "relu",
      name: "r",
      inputShape: [3],
      outputShape: [3],
    }]);
    const [code] = partitionCodes(net, { data: new Float64Array(0), shape: [0, 3] });
    assertEquals(code.count, 0);
    assertEquals(code.bits.length, 0);
  });
});
