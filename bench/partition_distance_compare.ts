/**
 * Partition distance (eq. 15) throughput at D = 8,192 ReLU bits, masokit against the
 * naive plain-JavaScript loop and the C peer (bench/_hamming_ref.c, 2 threads, built
 * here with gcc), all in one run on the same codes. Prints a markdown table of
 * Mpairs/s and ratios for bench/RESULTS.md; checks that masokit's top-16 mismatch
 * sums equal C's.
 *
 * Run: deno run --allow-read --allow-write --allow-run --allow-env --allow-sys \
 *        bench/partition_distance_compare.ts [--quick]
 *
 * @module
 */
import type { CodeLayer } from "../lib/partition/code_layer.ts";
import { nearestNeighbors } from "../lib/partition/nearest_neighbors.ts";
import { partitionDistanceMatrix } from "../lib/partition/distance_matrix.ts";
import { mismatchTopK } from "../lib/partition/_hamming_engine.ts";
import { naiveTopK, randomWords, reluCodes } from "./_partition_distance_naive.ts";

const BITS = 8192, WORDS = BITS / 32, K = 16;
const quick = Deno.args.includes("--quick");
const configs = quick ? [[500, 5000]] : [[500, 5000], [1000, 20000]];
const NAIVE_QUERIES = 50;
const REPEATS = 3;

function layer(bits: Uint32Array): CodeLayer {
  return reluCodes(bits, BITS);
}

function best(fn: () => void): number {
  let s = Infinity;
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    fn();
    s = Math.min(s, (performance.now() - t0) / 1000);
  }
  return s;
}

interface Row {
  config: string;
  what: string;
  threads: number;
  mpairs: number;
}

async function compileC(dir: string, flags: string[], name: string): Promise<string | null> {
  const out = `${dir}/${name}`;
  const src = new URL("./_hamming_ref.c", import.meta.url).pathname;
  try {
    const { success, stderr } = await new Deno.Command("gcc", {
      args: [...flags, "-fopenmp", src, "-o", out],
    }).output();
    if (!success) {
      console.error(new TextDecoder().decode(stderr));
      return null;
    }
    return out;
  } catch {
    return null;
  }
}

async function runC(
  exe: string,
  n: number,
  m: number,
  threads: number,
  file: string,
): Promise<{ mpairs_per_s: number; checksum: number }> {
  const { success, stdout, stderr } = await new Deno.Command(exe, {
    args: [String(n), String(m), String(BITS), String(K), String(threads), file],
  }).output();
  if (!success) throw new Error(`C reference failed: ${new TextDecoder().decode(stderr)}`);
  return JSON.parse(new TextDecoder().decode(stdout));
}

const dir = await Deno.makeTempDir({ prefix: "masokit_hamming_" });
try {
  const cFlavours: [string, string[]][] = [
    ["C `-O3 -march=native` (AVX-512 vpopcntq)", ["-O3", "-march=native"]],
    ["C `-O3 -march=native -fno-tree-vectorize` (scalar popcnt)", [
      "-O3",
      "-march=native",
      "-fno-tree-vectorize",
    ]],
    ["C `-O3` (no popcnt instruction)", ["-O3"]],
  ];
  const exes: [string, string | null][] = [];
  for (const [label, flags] of cFlavours) {
    exes.push([label, await compileC(dir, flags, `ref${exes.length}`)]);
  }
  const rows: Row[] = [];
  const cpu = await new Deno.Command("sh", {
    args: ["-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
  }).output().then((o) => new TextDecoder().decode(o.stdout).trim(), () => "") || "unknown CPU";
  console.log(
    `# ${cpu}, ${navigator.hardwareConcurrency} threads; D = ${BITS} bits, top-${K}; Deno ${Deno.version.deno}`,
  );
  for (const [n, m] of configs) {
    const config = `${n} × ${m}`;
    const q = randomWords(n * WORDS, 11 + n), b = randomWords(m * WORDS, 17 + m);
    const query = layer(q), base = layer(b);
    const pairs = n * m;
    const file = `${dir}/codes_${n}_${m}.bin`;
    const bytes = new Uint8Array(q.byteLength + b.byteLength);
    bytes.set(new Uint8Array(q.buffer), 0);
    bytes.set(new Uint8Array(b.buffer), q.byteLength);
    await Deno.writeFile(file, bytes);

    if (n === configs[0][0]) {
      const qs = q.subarray(0, NAIVE_QUERIES * WORDS);
      const s = best(() => naiveTopK(qs, b, WORDS, K));
      rows.push({
        config,
        what: "plain JS popcount (naive baseline)",
        threads: 1,
        mpairs: NAIVE_QUERIES * m / s / 1e6,
      });
      const sq = layer(qs.slice());
      const sj = best(() =>
        mismatchTopK(
          { kind: "sign", count: sq.count, rowLength: WORDS, data: sq.bits },
          { kind: "sign", count: m, rowLength: WORDS, data: b },
          { k: K, backend: "js", threads: 1 },
        )
      );
      rows.push({
        config,
        what: "masokit JS fallback kernel (no WebAssembly)",
        threads: 1,
        mpairs: NAIVE_QUERIES * m / sj / 1e6,
      });
    }
    let sum = 0;
    for (const threads of [1, navigator.hardwareConcurrency]) {
      const s = best(() => {
        const { indices, distances } = nearestNeighbors(query, base, { k: K, threads });
        sum = Math.round((distances.dataSync() as Float32Array).reduce((x, y) => x + y * BITS, 0));
        indices.dispose();
        distances.dispose();
      });
      rows.push({
        config,
        what: "masokit `nearestNeighbors` (k = 16)",
        threads,
        mpairs: pairs / s / 1e6,
      });
      if (n * m <= 2.5e6) {
        const sd = best(() => partitionDistanceMatrix(query, base, { threads }));
        rows.push({
          config,
          what: "masokit `partitionDistanceMatrix` (all pairs, float64)",
          threads,
          mpairs: pairs / sd / 1e6,
        });
      }
    }
    for (const [label, exe] of exes) {
      if (exe === null) continue;
      for (const threads of label.includes("AVX") ? [1, 2] : [2]) {
        const r = await runC(exe, n, m, threads, file);
        if (r.checksum !== sum) {
          throw new Error(`top-${K} mismatch sums differ: masokit ${sum}, C ${r.checksum}`);
        }
        rows.push({ config, what: `${label}, top-16`, threads, mpairs: r.mpairs_per_s });
      }
    }
    console.log(`# ${config}: top-${K} mismatch sums agree with C (${sum})`);
  }
  const peer = (config: string) =>
    rows.find((r) => r.config === config && r.what.includes("AVX") && r.threads === 2)?.mpairs;
  console.log(
    "\n| codes (queries × base) | implementation | threads | Mpairs/s | ÷ C AVX-512, 2 threads |",
  );
  console.log("|---|---|---|---|---|");
  for (const r of rows) {
    const p = peer(r.config);
    console.log(
      `| ${r.config} | ${r.what} | ${r.threads} | ${r.mpairs.toFixed(2)} | ${
        p ? (r.mpairs / p).toFixed(3) : "–"
      } |`,
    );
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
