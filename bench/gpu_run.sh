#!/bin/sh
# The GPU measurement, run on the lent GPU machine (`device` tool) after `sh bench/gpu_prepare.sh`
# here: carry [".gpu"], command `sh bench/gpu_run.sh` (`WEBGPU_ARGS=--profile` adds the kernel
# profile; a step's `*_LIMIT` of 0 skips it: `TESTS_LIMIT`, `AGREE_LIMIT`
# (bench/real_data_agreement.ts), `TAPS_LIMIT` (bench/conv_taps_bench.ts),
# `WEBGPU_LIMIT` (with `WEBGPU_ARGS`), `PEER_LIMIT` (with `PEER_ARGS`, e.g. `--parts=largeCNN`),
# `SWEEP_LIMIT` (bench/gemm_sweep.ts, with `SWEEP_ARGS`),
# `TRAIN_LIMIT`, with `TRAIN_ARGS`, default `--no-bn`). Each step has its own
# time limit, so that one slow step cannot take the others' results with it; everything is
# logged to $OUT/gpu.log.
set -u
cd "$(dirname "$0")/.."
log=${OUT:-/tmp}/gpu.log
for f in .gpu/*.deb; do dpkg -x "$f" /; done
ldconfig
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd"; fi
xz -dc .gpu/deno.xz > /tmp/deno && chmod +x /tmp/deno
export NO_COLOR=1 PYTHONUNBUFFERED=1
step() { # step <seconds> <command...>; a limit of 0 skips the step
  limit=$1; shift
  [ "$limit" = 0 ] && return 0
  echo "== $(date -u +%H:%M:%S) $*" | tee -a "$log"
  timeout "$limit" "$@" 2>&1 | tee -a "$log"
}
{ nvidia-smi -L; uname -r; python3 -c 'import torch; print("torch", torch.__version__)'; } 2>&1 | tee -a "$log"
# the WebGPU tests first, on the real GPU (its kernels, not the software adapter's)
if [ "${TESTS_LIMIT:-240}" != 0 ]; then
  mkdir -p /tmp/gpu-tests && tar -C /tmp/gpu-tests -xJf .gpu/tests.tar.xz
  step "${TESTS_LIMIT:-240}" /tmp/deno test -A --no-config /tmp/gpu-tests/
fi
# real images' codes, templates and offsets on the GPU against the float64 reference
step "${AGREE_LIMIT:-40}" /tmp/deno run -A .gpu/real_data_agreement.bundle.js \
  --sample=.gpu/real_images.json --engines=webgpu
# largeCNN's transpose to RGB for a chunk's 480 rows: taps against the col2im product
step "${TAPS_LIMIT:-30}" /tmp/deno run -A .gpu/conv_taps.bundle.js 480
# the tile shapes of largeCNN's products, swept first (a budget below the step's limit: it
# reports what it swept), so that the benchmark can time the best ones end to end (--tiles)
tiles=/tmp/gemm_tiles.json
rm -f "$tiles"
# shellcheck disable=SC2086
step "${SWEEP_LIMIT:-240}" /tmp/deno run -A .gpu/gemm_sweep.bundle.js \
  --budget=$((${SWEEP_LIMIT:-240} - 60)) --out="$tiles" ${SWEEP_ARGS:-}
if [ -f "$tiles" ]; then
  cp "$tiles" "${OUT:-/tmp}/" 2>/dev/null
  set -- --tiles="$tiles"
else
  set --
fi
# shellcheck disable=SC2086
step "${WEBGPU_LIMIT:-300}" /tmp/deno run -A .gpu/webgpu_bench.bundle.js ${WEBGPU_ARGS:-} "$@"
# shellcheck disable=SC2086
step "${PEER_LIMIT:-150}" python3 bench/_peer_gpu.py ${PEER_ARGS:-}
# shellcheck disable=SC2086
step "${TRAIN_LIMIT:-120}" /tmp/deno run -A .gpu/train_step.bundle.js --backend=webgpu \
  ${TRAIN_ARGS:---no-bn}
echo "== $(date -u +%H:%M:%S) done" | tee -a "$log"
