#!/bin/sh
# `deno test` with WebGPU aborting in its teardown (after the summary line): 8 test modules that
# only request a device and run an empty test, run RUNS times per Deno WebGPU backend (gl,
# vulkan), and the same request under `deno run`; prints the crashes (non-zero exits) of each.
# `sh bench/teardown_crash_repro.sh [RUNS]` (needs Mesa's GL and/or Vulkan drivers).
set -u
runs=${1:-12}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for k in 1 2 3 4 5 6 7 8; do
  cat > "$dir/t${k}_test.ts" <<'EOT'
const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
const device = await adapter!.requestDevice();
Deno.test("an empty test", () => void device);
EOT
done
cat > "$dir/run.ts" <<'EOT'
const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
console.log((await adapter!.requestDevice()).limits.maxBufferSize > 0);
EOT
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$dir}" NO_COLOR=1
for backend in gl vulkan; do
  t=0 r=0
  i=0
  while [ "$i" -lt "$runs" ]; do
    DENO_WEBGPU_BACKEND=$backend deno test -A "$dir"/t*_test.ts >/dev/null 2>&1 || t=$((t + 1))
    DENO_WEBGPU_BACKEND=$backend deno run -A "$dir/run.ts" >/dev/null 2>&1 || r=$((r + 1))
    i=$((i + 1))
  done
  echo "$backend: deno test crashed in $t of $runs runs, deno run in $r of $runs"
done
