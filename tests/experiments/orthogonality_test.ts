import * as tf from "@tensorflow/tfjs";
import {
  assert,
  assertAllClose,
  assertEquals,
  assertMatch,
  assertRejects,
  assertThrows,
} from "../_assert.ts";
import {
  ORTHOGONALITY_PRESETS,
  orthogonalityClaims,
  type OrthogonalityResult,
  type OrthogonalityRun,
  type OrthogonalitySummary,
  pairedDifference,
  runOrthogonality,
  templateOrthogonality,
} from "../../lib/experiments/orthogonality.ts";
import { selectBackend } from "../../lib/train/backend.ts";
import { smallCNN } from "../../lib/models/small_cnn.ts";

await selectBackend({ prefer: "wasm" });

/** Mean |cos| and mean |inner| over off-diagonal pairs of rows, in plain JS. */
function pairStats(rows: number[][]): { cos: number; inner: number; norm: number } {
  const c = rows.length;
  const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);
  let cos = 0, inner = 0, norm = 0;
  for (let i = 0; i < c; i++) {
    norm += dot(rows[i], rows[i]);
    for (let j = 0; j < c; j++) {
      if (i === j) continue;
      const g = dot(rows[i], rows[j]);
      inner += Math.abs(g);
      cos += Math.abs(g) / Math.sqrt(dot(rows[i], rows[i]) * dot(rows[j], rows[j]));
    }
  }
  return { cos: cos / (c * (c - 1)), inner: inner / (c * (c - 1)), norm: norm / c };
}

Deno.test("templateOrthogonality() equals brute force from tf.grad templates", async (t) => {
  const model = smallCNN({ inputShape: [16, 16, 2], filters: [3, 4, 5], classes: 4, seed: 3 });
  const x = tf.randomNormal([3, 16, 16, 2], 0, 1, "float32", 5);
  const m = templateOrthogonality(model, x);
  // W^(L) rows are the columns of the Dense kernel [inputs, classes].
  const kernel = model.getLayer("logits").getWeights()[0].arraySync() as number[][];
  const rows = kernel[0].map((_, c) => kernel.map((r) => r[c]));
  let penalty = 0;
  const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 4; j++) if (i !== j) penalty += dot(rows[i], rows[j]) ** 2;
  }
  assertAllClose([m.penalty], [penalty], 1e-4, "penalty", 1e-8);
  assertAllClose([m.weightCosine], [pairStats(rows).cos], 1e-4, "weight cosine");
  assertAllClose([m.weightSquaredNorm], [pairStats(rows).norm], 1e-4, "weight norm", 1e-8);
  // Templates A[x]_c = ∂z_c/∂x by automatic differentiation of the tfjs model itself.
  let cos = 0, inner = 0, norm = 0;
  for (let n = 0; n < 3; n++) {
    const xn = tf.slice(x, n, 1);
    const templates: number[][] = [];
    for (let c = 0; c < 4; c++) {
      const g = tf.grad((v: tf.Tensor) =>
        tf.sum(tf.slice(model.apply(v, { training: false }) as tf.Tensor, [0, c], [1, 1]))
      )(xn);
      templates.push(Array.from(await g.data()));
    }
    const s = pairStats(templates);
    cos += s.cos / 3;
    inner += s.inner / 3;
    norm += s.norm / 3;
  }
  assertAllClose([m.templateCosine], [cos], 1e-3, "template cosine");
  assertAllClose([m.templateInner], [inner], 1e-3, "template inner", 1e-6);
  assertAllClose([m.templateSquaredNorm], [norm], 1e-3, "template norm", 1e-6);

  await t.step("no image: template measures are NaN, weight measures still computed", () => {
    const e = templateOrthogonality(model, tf.zeros([0, 16, 16, 2]));
    assert(Number.isNaN(e.templateCosine) && Number.isNaN(e.templateInner));
    assertEquals(e.penalty, m.penalty);
  });
  await t.step("rejects a non-model and a model without Dense layer", () => {
    assertThrows(() => templateOrthogonality({} as tf.LayersModel, x), TypeError);
    const noDense = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [2, 2] })] });
    assertThrows(() => templateOrthogonality(noDense, tf.zeros([1, 2, 2])), /no built Dense layer/);
  });
});

Deno.test("templateOrthogonality(): the penalty falls as s⁴ when W^(L) shrinks, the cosine not", () => {
  // The rescaling loophole of eq. (13): P(sW) = s⁴ P(W), directions unchanged.
  const model = smallCNN({ inputShape: [14, 14, 1], filters: [2, 2, 3], classes: 3, seed: 1 });
  const none = tf.zeros([0, 14, 14, 1]);
  const before = templateOrthogonality(model, none);
  const logits = model.getLayer("logits");
  const [k, ...rest] = logits.getWeights();
  logits.setWeights([tf.mul(k, 0.1), ...rest]);
  const after = templateOrthogonality(model, none);
  assert(before.penalty > 0, `penalty ${before.penalty}`);
  assertAllClose([after.penalty], [before.penalty * 1e-4], 1e-3, "penalty × s⁴", 1e-12);
  assertAllClose([after.weightCosine], [before.weightCosine], 1e-5, "cosine unchanged");
  assertAllClose([after.weightSquaredNorm], [before.weightSquaredNorm * 1e-2], 1e-4, "norm × s²");
});

Deno.test("pairedDifference(): mean and standard error of per-seed differences", () => {
  // [1, 2, 3, 6]: mean 3, sample variance (4 + 1 + 0 + 9) / 3, standard error √(14/3) / 2.
  const p = pairedDifference([1, 2, 3, 6]);
  assertEquals(p.n, 4);
  assertAllClose([p.mean, p.se], [3, Math.sqrt(14 / 3) / 2], 1e-12);
  // Pairing removes the shared per-seed offset that the independent formula counts as noise.
  const zero = [0.5, 0.6, 0.7], one = [0.51, 0.61, 0.71];
  const paired = pairedDifference(one.map((v, i) => v - zero[i]));
  assertAllClose([paired.mean, paired.se], [0.01, 0], 1e-12, "paired", 1e-12);
  assert(Number.isNaN(pairedDifference([0.1]).se), "one pair has no standard error");
  assert(Number.isNaN(pairedDifference([]).mean), "no pair has no mean");
});

Deno.test("ORTHOGONALITY_PRESETS: quick trains 3 runs × 6 epochs on 3,000 CIFAR-10 images", () => {
  const q = ORTHOGONALITY_PRESETS.quick;
  assertEquals([q.datasets, q.runs, q.epochs, q.trainSize, q.batchSize], [
    ["cifar10"],
    3,
    6,
    3000,
    10,
  ]);
  assertEquals(q.epochs * q.trainSize! / q.batchSize, 1800); // steps
});

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

/** Sample standard error of the mean of `d` (n − 1 denominator), in plain JS. */
function standardError(d: number[]): number {
  const m = mean(d);
  return Math.sqrt(d.reduce((a, v) => a + (v - m) ** 2, 0) / (d.length - 1) / d.length);
}

/** Per-seed differences f(λ=1 run) − f(λ=0 run) over the runs sharing run number and seed. */
function perSeed(runs: OrthogonalityRun[], f: (r: OrthogonalityRun) => number): number[] {
  const d: number[] = [];
  for (const z of runs.filter((r) => r.lambda === 0)) {
    const o = runs.find((r) => r.lambda === 1 && r.run === z.run && r.seed === z.seed);
    if (o) d.push(f(o) - f(z));
  }
  return d;
}

/** A synthetic finished run of smallCNN/mnist: its statistic and inference-mode accuracies. */
function fakeRun(
  lambda: number,
  seed: number,
  testAccuracy: number,
  train: number,
  test: number,
): OrthogonalityRun {
  return {
    index: 0,
    key: `smallCNN|mnist|${lambda}|${seed}|${seed}`,
    arch: "smallCNN",
    dataset: "mnist",
    lambda,
    run: seed,
    seed,
    testAccuracy,
    trainAccuracy: train,
    lastEpochs: 3,
    history: [],
    seconds: 1,
    finishedAt: "2024-01-01T00:00:00.000Z",
    inference: { train, test, trainImages: 200 },
  };
}

/** The summary row of the runs at `lambda`, with the given row and template cosines. */
function fakeRow(
  runs: OrthogonalityRun[],
  lambda: number,
  weightCosine: number,
  templateCosine: number,
): OrthogonalitySummary {
  const g = runs.filter((r) => r.lambda === lambda);
  const acc = g.map((r) => r.testAccuracy);
  const m = mean(acc);
  return {
    arch: "smallCNN",
    dataset: "mnist",
    lambda,
    runs: g.length,
    nonFinite: 0,
    mean: m,
    std: Math.sqrt(acc.reduce((a, v) => a + (v - m) ** 2, 0) / (acc.length - 1)),
    max: Math.max(...acc),
    trainMean: mean(g.map((r) => r.trainAccuracy)),
    evalTrainMean: mean(g.map((r) => r.inference!.train)),
    evalTestMean: mean(g.map((r) => r.inference!.test)),
    gap: mean(g.map((r) => r.inference!.train - r.inference!.test)),
    penalty: 10 * weightCosine,
    weightCosine,
    weightSquaredNorm: 1,
    initialWeightCosine: 0.3,
    templateCosine,
    templateInner: templateCosine,
    templateSquaredNorm: 1,
  };
}

/** Three seeds at λ = 0 (test accuracy 50/60/70%, inference gap 20/25/30 pp) and, per
 * λ > 0, test accuracies, inference (train, test) pairs and the row / template cosines. */
function fakeGrid(
  positive: {
    lambda: number;
    acc: number[];
    inference: [number, number][];
    weightCosine: number;
    templateCosine: number;
  }[],
): { rows: OrthogonalitySummary[]; runs: OrthogonalityRun[] } {
  const runs = [
    fakeRun(0, 0, 0.5, 0.9, 0.7),
    fakeRun(0, 1, 0.6, 0.95, 0.7),
    fakeRun(0, 2, 0.7, 1, 0.7),
  ];
  // listed in reverse seed order: runs pair up by seed, not by position
  for (const p of positive) {
    for (let s = p.acc.length - 1; s >= 0; s--) {
      runs.push(fakeRun(p.lambda, s, p.acc[s], ...p.inference[s]));
    }
  }
  const rows = [
    fakeRow(runs, 0, 0.4, 0.3),
    ...positive.map((p) => fakeRow(runs, p.lambda, p.weightCosine, p.templateCosine)),
  ];
  return { rows, runs };
}

Deno.test("orthogonalityClaims(): each claim holds on synthetic runs showing it, fails otherwise", async (t) => {
  // λ = 1 in every seed: +3/+2/+4 pp test accuracy, gap 15/21/24 pp (cut by 5/4/6 pp), row
  // cosine 0.4 → 0.2 (exactly halved), template cosine 0.3 → 0.1.
  const held = {
    lambda: 1,
    acc: [0.53, 0.62, 0.74],
    inference: [[0.85, 0.7], [0.91, 0.7], [0.94, 0.7]] as [number, number][],
    weightCosine: 0.2,
    templateCosine: 0.1,
  };
  const claimsOf = (p: typeof held[]) => {
    const { rows, runs } = fakeGrid(p);
    return orthogonalityClaims("smallCNN/mnist", rows, runs, 8);
  };

  await t.step("all four hold", () => {
    const c = claimsOf([held]);
    assertEquals(c.map((v) => v.held), [true, true, true, true]);
    assert(/^Fig\. 3a: .*\(smallCNN\/mnist;/.test(c[0].claim), c[0].claim);
    assert(/^Fig\. 3b: /.test(c[1].claim) && /on 200 fixed training images/.test(c[1].claim));
    assert(/^Eq\. 13: /.test(c[2].claim) && /rewards shrinking the rows/.test(c[2].claim));
    assert(/^Sec\. 6: /.test(c[3].claim) && /weaker/.test(c[3].claim));
    // gains 3, 2, 4 pp: mean 3 pp, standard error 1/√3 pp; the λ = 0 spread (10 pp) is not
    // the noise of a paired comparison
    assertMatch(c[0].measured, /^λ=0: 60\.0% ± 10\.0 pp \(max 70\.0%, 3 runs\); λ=1: 63\.0%/);
    assertMatch(c[0].measured, /per-seed gain \+3\.0 pp ± 0\.6 pp \(standard error, 3 seeds\)$/);
    assertMatch(
      c[1].measured,
      /^gap λ=0: 25\.0 pp \(train 95\.0%, test 70\.0%\); gap λ=1: 20\.0 pp/,
    );
    assertMatch(
      c[1].measured,
      /per-seed reduction \+5\.0 pp ± 0\.6 pp \(standard error, 3 seeds\)$/,
    );
    assertMatch(c[2].measured, /at initialisation 0\.300, λ=0 0\.400, λ=1 0\.200;/);
    assertMatch(c[3].measured, /over 8 test images: λ=0 0\.300, λ=1 0\.100$/);
  });

  await t.step("Fig. 3a fails when the mean gain is positive but below its standard error", () => {
    // gains +3, −4, +4 pp: mean +1 pp, standard error 2.5 pp
    const c = claimsOf([{ ...held, acc: [0.53, 0.56, 0.74] }]);
    assertEquals(c.map((v) => v.held), [false, true, true, true]);
    assertMatch(
      c[0].measured,
      /per-seed gain \+1\.0 pp ± 2\.5 pp \(standard error, 3 seeds\) \(within noise\)$/,
    );
  });

  await t.step("a clear loss is not called noise; one paired seed has no standard error", () => {
    // gains −2, −3, −2 pp: mean −2.3 pp, standard error 0.3 pp
    const c = claimsOf([{ ...held, acc: [0.48, 0.57, 0.68] }]);
    assertEquals(c[0].held, false);
    assertMatch(
      c[0].measured,
      /per-seed gain -2\.3 pp ± 0\.3 pp \(standard error, 3 seeds\) \(the opposite, beyond one standard error\)$/,
    );
    const { rows, runs } = fakeGrid([held]);
    const one = runs.filter((r) => r.lambda === 0 || r.seed === 0);
    const d = orthogonalityClaims("smallCNN/mnist", rows, one, 8);
    assertEquals([d[0].held, d[1].held], [false, false]);
    assertMatch(d[0].measured, /\(no standard error: fewer than 2 paired seeds\)$/);
    assertMatch(d[1].measured, /\(no standard error: fewer than 2 paired seeds\)$/);
  });

  await t.step("Fig. 3b fails when λ = 1 widens the gap", () => {
    // gaps 25/30/33 pp against 20/25/30: reductions −5, −5, −3 pp
    const inference: [number, number][] = [[0.9, 0.65], [0.95, 0.65], [1, 0.67]];
    const c = claimsOf([{ ...held, inference }]);
    assertEquals(c.map((v) => v.held), [true, false, true, true]);
    assertMatch(
      c[1].measured,
      /per-seed reduction -4\.3 pp ± 0\.7 pp \(standard error, 3 seeds\) \(the opposite, beyond one standard error\)$/,
    );
  });

  await t.step("Eq. 13 fails when the row cosine is not halved", () => {
    const c = claimsOf([{ ...held, weightCosine: 0.21 }]);
    assertEquals(c.map((v) => v.held), [true, true, false, true]);
    assertMatch(c[2].measured, /λ=0 0\.400, λ=1 0\.210;/);
  });

  await t.step("Sec. 6 fails when the template cosine is not halved", () => {
    const c = claimsOf([{ ...held, templateCosine: 0.2 }]);
    assertEquals(c.map((v) => v.held), [true, true, true, false]);
    assertMatch(c[3].measured, /λ=0 0\.300, λ=1 0\.200$/);
  });

  await t.step("Fig. 3a averages every λ > 0; the others compare the λ nearest 1", () => {
    // λ = 0.8 is held everywhere; λ = 2 loses 6 pp per seed and is worse on every measure
    const near = { ...held, lambda: 0.8, acc: [0.52, 0.62, 0.72] };
    const far = {
      lambda: 2,
      acc: [0.44, 0.54, 0.64],
      inference: [[0.99, 0.6], [0.99, 0.6], [0.99, 0.6]] as [number, number][],
      weightCosine: 0.4,
      templateCosine: 0.3,
    };
    const c = claimsOf([near, far]);
    assertEquals(c.map((v) => v.held), [false, true, true, true]);
    assertMatch(c[0].measured, /per-seed gain -2\.0 pp ± 0\.0 pp/);
    assertMatch(c[1].measured, /gap λ=0\.8: 20\.0 pp/);
    assertMatch(c[2].measured, /λ=0 0\.400, λ=0\.8 0\.200;/);
  });

  await t.step("unpaired seeds are left out; no claim without λ = 0 or λ > 0", () => {
    const { rows, runs } = fakeGrid([held]);
    const paired = runs.filter((r) => !(r.lambda === 1 && r.seed === 2));
    const c = orthogonalityClaims("smallCNN/mnist", rows, paired, 8);
    assertMatch(
      c[0].measured,
      /per-seed gain \+2\.5 pp ± 0\.5 pp \(standard error, 2 seeds; 1 seed left out \(unpaired or non-finite\)\)$/,
    );
    assertMatch(c[1].measured, /\(standard error, 2 seeds; 1 seed left out \(unpaired/);
    // a non-finite accuracy (a diverged run) is left out and counted, not averaged in
    const nan = runs.map((r) =>
      r.lambda === 1 && r.seed === 0
        ? { ...r, testAccuracy: NaN, inference: { ...r.inference!, train: NaN } }
        : r
    );
    const d = orthogonalityClaims("smallCNN/mnist", rows, nan, 8);
    assertMatch(d[0].measured, /\(standard error, 2 seeds; 1 seed left out/);
    assertMatch(d[1].measured, /\(standard error, 2 seeds; 1 seed left out/);
    assertEquals([d[0].held, d[1].held], [true, true]);
    assertEquals(orthogonalityClaims("x", rows.filter((r) => r.lambda > 0), runs, 8), []);
    assertEquals(orthogonalityClaims("x", rows.filter((r) => r.lambda === 0), runs, 8), []);
  });
});

Deno.test("runOrthogonality() at tiny scale: runs, summary, curves, claims and figures agree", async (t) => {
  const outDir = await Deno.makeTempDir();
  let result: OrthogonalityResult;
  try {
    result = await runOrthogonality({ scale: "tiny", outDir });
    assertEquals(result.id, "orthogonality");
    assert(result.seconds > 0 && result.seconds < 60, `tiny took ${result.seconds} s`);
    assertEquals(result.runs.length, 4); // λ ∈ {0, 1} × 2 runs
    for (const r of result.runs) {
      assert(r.testAccuracy >= 0 && r.testAccuracy <= 1, `test accuracy ${r.testAccuracy}`);
      assert(r.trainAccuracy >= 0 && r.trainAccuracy <= 1);
      assertEquals(r.history.length, 2);
      const o = r.orthogonality!;
      assert(
        o && [o.penalty, o.weightCosine, o.templateCosine, o.templateInner].every(Number.isFinite),
      );
      assert(
        o.weightCosine >= 0 && o.weightCosine <= 1 && o.templateCosine >= 0 &&
          o.templateCosine <= 1,
      );
      // the run's statistic is the mean of its last (here: both) epochs
      assertAllClose([r.testAccuracy], [mean(r.history.map((h) => h.testAccuracy!))], 1e-12);
      // the inference-mode accuracies: the sweep's on the training subset (checked against a
      // hand count in tests/train/sweep_test.ts) and train()'s last test evaluation
      const i = r.inference!;
      assertEquals([i.train, i.trainImages], [r.evalTrainAccuracy, 200]);
      assertEquals(i.test, r.history[1].testAccuracy);
      // the initial row cosine is that of a fresh model with the run's seed
      const fresh = smallCNN({
        inputShape: [28, 28, 1],
        classes: 10,
        seed: r.seed,
        batchNorm: true,
        filters: [8, 16, 32],
      });
      const k = fresh.getLayer("logits").getWeights()[0].arraySync() as number[][];
      fresh.dispose();
      const rows = k[0].map((_, c) => k.map((row) => row[c]));
      assertAllClose([r.initialWeightCosine!], [pairStats(rows).cos], 1e-4, "initial cosine");
    }

    await t.step("summary recomputed from the runs", () => {
      assertEquals(result.summary.map((s) => s.lambda), [0, 1]);
      for (const s of result.summary) {
        const g = result.runs.filter((r) => r.lambda === s.lambda);
        const acc = g.map((r) => r.testAccuracy);
        const m = mean(acc);
        const std = Math.sqrt(acc.reduce((a, v) => a + (v - m) ** 2, 0) / (acc.length - 1));
        assertAllClose([s.mean, s.std, s.max], [m, std, Math.max(...acc)], 1e-12);
        const gaps = g.map((r) => r.inference!.train - r.inference!.test);
        assertAllClose([s.gap], [mean(gaps)], 1e-12);
        assertAllClose([s.evalTrainMean], [mean(g.map((r) => r.inference!.train))], 1e-12);
        assertAllClose([s.penalty], [mean(g.map((r) => r.orthogonality!.penalty))], 1e-12);
        assertAllClose(
          [s.weightCosine],
          [mean(g.map((r) => r.orthogonality!.weightCosine))],
          1e-12,
        );
      }
    });

    await t.step("curves are the run-mean histories for λ = 0 and λ = 1", () => {
      const [c] = result.curves;
      assertEquals(c.curves.map((v) => v.lambda), [0, 1]);
      for (const curve of c.curves) {
        const g = result.runs.filter((r) => r.lambda === curve.lambda);
        assertEquals(curve.epochs, [1, 2]);
        assertAllClose(
          curve.trainError,
          [0, 1].map((e) => 1 - mean(g.map((r) => r.history[e].trainAccuracy))),
          1e-12,
        );
        assertAllClose(
          curve.testAccuracy,
          [0, 1].map((e) => mean(g.map((r) => r.history[e].testAccuracy!))),
          1e-12,
        );
      }
    });

    await t.step("claims follow the measured numbers; figures show the summary", () => {
      assertEquals(result.claims.length, 4);
      const [z, o] = result.summary;
      // Fig. 3a: the per-seed gain must exceed the standard error of the per-seed gains
      const gains = perSeed(result.runs, (r) => r.testAccuracy);
      assertEquals(gains.length, 2);
      assertEquals(result.claims[0].held, mean(gains) > standardError(gains));
      // Fig. 3b: the per-seed reduction of the inference-mode gap, same rule
      const cuts = perSeed(result.runs, (r) => r.inference!.test - r.inference!.train);
      assertEquals(result.claims[1].held, mean(cuts) > standardError(cuts));
      // Eq. 13: decided on the scale-free row cosine, not on the penalty value
      const cos = (l: number) =>
        mean(result.runs.filter((r) => r.lambda === l).map((r) => r.orthogonality!.weightCosine));
      assertEquals(result.claims[2].held, cos(1) <= 0.5 * cos(0));
      assertEquals(result.claims[3].held, o.templateCosine <= 0.5 * z.templateCosine);
      assert(/rewards shrinking the rows/.test(result.claims[2].claim), result.claims[2].claim);
      assert(/weaker/.test(result.claims[3].claim), result.claims[3].claim);
      assertEquals(result.figures.map((f) => f.name), [
        "fig3a_accuracy_vs_lambda_smallCNN_mnist",
        "fig3b_training_curves_smallCNN_mnist",
        "orthogonality_cosines_smallCNN_mnist",
      ]);
      const meanTrace = result.figures[0].data.find((d) => d.name === "mean")!;
      assertEquals(meanTrace.y, [z.mean, o.mean]);
      JSON.stringify(result.figures); // plain JSON
    });

    await t.step(
      "a second call on the same folder resumes: nothing retrained, same numbers",
      async () => {
        const again = await runOrthogonality({ scale: "tiny", outDir });
        assertEquals(again.summary, result.summary);
        assert(again.notes.some((n) => /4 finished runs resumed/.test(n)), again.notes.join("; "));
        assert(again.seconds < result.seconds);
      },
    );

    await t.step("a folder trained with other settings is refused", async () => {
      await assertRejects(
        () => runOrthogonality({ scale: "tiny", outDir, epochs: 3 }),
        /holds runs trained with/,
      );
    });
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
});

Deno.test("runOrthogonality() rejects bad options and skips missing user datasets", async (t) => {
  await t.step("bad scale / runs", async () => {
    await assertRejects(() => runOrthogonality({ scale: "huge" as "tiny" }), RangeError);
    await assertRejects(() => runOrthogonality({ scale: "tiny", runs: 0 }), /runs is 0/);
    await assertRejects(() => runOrthogonality({ scale: "tiny", templateImages: -1 }), RangeError);
  });
  await t.step(
    "SVHN without files is skipped with a note, and the temporary folder removed",
    async () => {
      const r = await runOrthogonality({
        scale: "tiny",
        datasets: ["svhn"],
        paths: { svhn: "/nonexistent/svhn" },
      });
      assertEquals(r.runs.length, 0);
      assert(r.notes.some((n) => n.startsWith("svhn skipped")), r.notes.join("; "));
      await assertRejects(() => Deno.stat(r.outDir), Deno.errors.NotFound);
    },
  );
});

/** A one-Dense-layer model whose class rows W_c are the columns of `kernel` ([inputs][classes]). */
function denseModel(kernel: number[][]): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [kernel.length],
        units: kernel[0].length,
        useBias: false,
        weights: [tf.tensor2d(kernel)],
      }),
    ],
  });
}

Deno.test("templateOrthogonality(): cosines by hand, zero rows and NaN weights", async (t) => {
  await t.step("a zero row has no cosine: it is left out, not counted as orthogonal", () => {
    // W_0 = (0, 0), W_1 = (1, 0), W_2 = (1, 1): the only defined pairs are (1, 2) and
    // (2, 1), with |cos| = 1/√2; counting the four pairs with W_0 as 0 would give 0.2357.
    const model = denseModel([[0, 1, 1], [0, 0, 1]]);
    const x = tf.tensor2d([[1, 2], [-3, 0.5]]);
    const m = templateOrthogonality(model, x);
    assertAllClose([m.weightCosine], [Math.SQRT1_2], 1e-6, "row cosine");
    // One Dense layer: A[x] = W for every x, so the templates are the rows.
    assertAllClose([m.templateCosine], [Math.SQRT1_2], 1e-6, "template cosine");
    model.dispose();
    x.dispose();
  });
  await t.step("all rows zero: no cosine at all (NaN), not 0", () => {
    const model = denseModel([[0, 0], [0, 0]]);
    const m = templateOrthogonality(model, tf.zeros([0, 2]));
    assert(Number.isNaN(m.weightCosine), `weightCosine ${m.weightCosine}`);
    model.dispose();
  });
  await t.step("a NaN weight makes the row cosine NaN, never 'orthogonal' (0)", () => {
    // W_0 = (NaN, 0), W_1 = (1, 0), W_2 = (0, 1): W_1 ⊥ W_2, and the pairs with W_0 are NaN.
    const model = denseModel([[NaN, 1, 0], [0, 0, 1]]);
    const m = templateOrthogonality(model, tf.zeros([0, 2]));
    assert(Number.isNaN(m.weightCosine), `weightCosine ${m.weightCosine}`);
    model.dispose();
  });
  await t.step("no zero row: the plain mean over the C(C − 1) ordered pairs", () => {
    // W_0 = (1, 0), W_1 = (1, 1), W_2 = (0, 2): |cos| 1/√2, 0, 1/√2 for (0,1), (0,2), (1,2).
    const model = denseModel([[1, 1, 0], [0, 1, 2]]);
    const m = templateOrthogonality(model, tf.zeros([0, 2]));
    assertAllClose([m.weightCosine], [(2 * Math.SQRT1_2) / 3], 1e-6, "row cosine");
    assertEquals(Number.isNaN(m.templateCosine), true); // no image
    model.dispose();
  });
});

Deno.test("orthogonalityClaims(): the halving claims' numbers never show the other verdict", async (t) => {
  const claims = (zero: [number, number], one: [number, number]) =>
    orthogonalityClaims("smallCNN/mnist", [fakeRow([], 0, ...zero), fakeRow([], 1, ...one)], [], 8);
  await t.step("0.02703 is not half of 0.05405; 3 digits would print 0.0270 against 0.0541", () => {
    const [, , eq13, sec6] = claims([0.05405, 0.05405], [0.02703, 0.02703]);
    assertEquals([eq13.held, sec6.held], [false, false]);
    assert(eq13.measured.includes("λ=0 0.05405, λ=1 0.02703;"), eq13.measured);
    assert(sec6.measured.endsWith("λ=0 0.05405, λ=1 0.02703"), sec6.measured);
  });
  await t.step("0.02705 is half of 0.0541; 3 digits would print 0.0271 against 0.0541", () => {
    const [, , eq13, sec6] = claims([0.0541, 0.0541], [0.02705, 0.02705]);
    assertEquals([eq13.held, sec6.held], [true, true]);
    assert(eq13.measured.includes("λ=0 0.05410, λ=1 0.02705;"), eq13.measured);
    assert(sec6.measured.endsWith("λ=0 0.05410, λ=1 0.02705"), sec6.measured);
  });
  await t.step("clear cases keep 3 digits; NaN never holds", () => {
    const [, , eq13, sec6] = claims([0.4, 0.3], [0.2, 0.1]);
    assertEquals([eq13.held, sec6.held], [true, true]);
    assert(eq13.measured.includes("λ=0 0.400, λ=1 0.200;"), eq13.measured);
    assert(sec6.measured.endsWith("λ=0 0.300, λ=1 0.100"), sec6.measured);
    const nan = claims([0.4, 0.3], [NaN, NaN]);
    assertEquals([nan[2].held, nan[3].held], [false, false]);
    assert(nan[2].measured.includes("λ=1 n/a;"), nan[2].measured);
  });
});

Deno.test("orthogonalityClaims(): a per-seed mean above its standard error never prints equal to it", () => {
  // Seeds 0, 1: test accuracy +0.01 and +2 points; gap cut by 0.01 and 2 points. Mean
  // 1.005 pp, standard error √(((0.995)² · 2) / 1 / 2) = 0.995 pp: held, and "1.0 ± 1.0"
  // at one decimal.
  const runs = [
    fakeRun(0, 0, 0.5, 0.9, 0.7),
    fakeRun(0, 1, 0.5, 0.9, 0.7),
    fakeRun(1, 0, 0.5001, 0.8999, 0.7),
    fakeRun(1, 1, 0.52, 0.88, 0.7),
  ];
  const [fig3a, fig3b] = orthogonalityClaims(
    "smallCNN/mnist",
    [fakeRow(runs, 0, 0.4, 0.3), fakeRow(runs, 1, 0.2, 0.1)],
    runs,
    8,
  );
  assertEquals([fig3a.held, fig3b.held], [true, true]);
  assert(
    fig3a.measured.endsWith("per-seed gain +1.01 pp ± 1.00 pp (standard error, 2 seeds)"),
    fig3a.measured,
  );
  assert(
    fig3b.measured.endsWith("per-seed reduction +1.01 pp ± 1.00 pp (standard error, 2 seeds)"),
    fig3b.measured,
  );
});
