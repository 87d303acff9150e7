import * as tf from "@tensorflow/tfjs";

/** Runs `f` on `backend` (restoring the previous backend) and returns its outputs' values. */
export async function on(backend: string, f: () => tf.Tensor[]): Promise<Float32Array[]> {
  const previous = tf.getBackend();
  await tf.setBackend(backend);
  try {
    const outs = tf.tidy(f);
    const vals = await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
    tf.dispose(outs);
    return vals;
  } finally {
    await tf.setBackend(previous);
  }
}

/** A small deterministic generator (xorshift32) of the kernel fuzz tests' shapes and values. */
export function fuzzRng(seed: number) {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  return {
    int: (a: number, b: number) => a + Math.floor(next() * (b - a + 1)),
    pick: <T>(xs: T[]): T => xs[Math.floor(next() * xs.length)],
    /**
     * Values in `offset` + [-1, 1) with about 10% exact zeros; `ties`: the non-zero ones on a
     * grid of thirds.
     */
    values: (n: number, options: { ties?: boolean; offset?: number } = {}) =>
      Float32Array.from({ length: n }, () => {
        if (next() < 0.1) return 0;
        const v = next() * 2 - 1;
        return (options.offset ?? 0) + (options.ties ? Math.round(v * 3) / 3 : v);
      }),
  };
}

/** What {@link adamRun} returns: values after the steps, the state's names, the kernels run. */
export interface AdamRun {
  /** The variables' values, then the optimizer's state (iterations, first and second moments). */
  values: Float32Array[];
  /** The state's names, without the run's tag. */
  names: string[];
  /** The kernels that ran in the last step. */
  ran: Set<string>;
}

/**
 * Adam (lr 0.05, β 0.8 / 0.9, ε 1e-3: every term of the update matters) for `steps` steps on
 * `backend`, on a conv kernel, a bias and a dense kernel with seeded values and gradients; the
 * first step from zero moments.
 */
export async function adamRun(backend: string, steps: number, tag: string): Promise<AdamRun> {
  const r = fuzzRng(4040);
  const shapes = [[3, 3, 2, 5], [5], [45, 3]];
  const init = shapes.map((s) => r.values(s.reduce((a, b) => a * b), { offset: 0 }));
  const grads = Array.from(
    { length: steps },
    () => shapes.map((s) => r.values(s.reduce((a, b) => a * b))),
  );
  const previous = tf.getBackend();
  await tf.setBackend(backend);
  try {
    const vars = shapes.map((s, i) => tf.variable(tf.tensor(init[i], s), true, `adam${i}_${tag}`));
    const opt = tf.train.adam(0.05, 0.8, 0.9, 1e-3);
    let ran = new Set<string>();
    for (const g of grads) {
      const info = await tf.profile(() => {
        const map: Record<string, tf.Tensor> = {};
        vars.forEach((v, i) => (map[v.name] = tf.tensor(g[i], shapes[i])));
        opt.applyGradients(map as Parameters<typeof opt.applyGradients>[0]);
        tf.dispose(Object.values(map));
      });
      ran = new Set(info.kernels.map((k) => k.name));
    }
    const state = await opt.getWeights();
    const values = await Promise.all(
      [...vars, ...state.map((w) => w.tensor)].map((t) => t.data() as Promise<Float32Array>),
    );
    const names = state.map((w) => w.name.replace(`_${tag}`, ""));
    tf.dispose([...vars, ...state.map((w) => w.tensor)]);
    opt.dispose();
    return { values, names, ran };
  } finally {
    await tf.setBackend(previous);
  }
}
