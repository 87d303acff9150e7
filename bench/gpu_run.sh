#!/bin/sh
# The GPU measurement, run on the lent GPU machine (`device` tool) after `sh bench/gpu_prepare.sh`
# here: carry [".gpu"], command `sh bench/gpu_run.sh` (`WEBGPU_ARGS=--profile` adds the kernel
# profile, `TRAIN_LIMIT=0` skips the training step). Each step has its own time limit, so that
# one slow step cannot take the others' results with it; everything is logged to $OUT/gpu.log.
set -u
cd "$(dirname "$0")/.."
log=${OUT:-/tmp}/gpu.log
for f in .gpu/*.deb; do dpkg -x "$f" /; done
ldconfig
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd"; fi
xz -dc .gpu/deno.xz > /tmp/deno && chmod +x /tmp/deno
export NO_COLOR=1 PYTHONUNBUFFERED=1
step() { # step <seconds> <command...>
  limit=$1; shift
  echo "== $(date -u +%H:%M:%S) $*" | tee -a "$log"
  timeout "$limit" "$@" 2>&1 | tee -a "$log"
}
{ nvidia-smi -L; uname -r; python3 -c 'import torch; print("torch", torch.__version__)'; } 2>&1 | tee -a "$log"
# shellcheck disable=SC2086
step "${WEBGPU_LIMIT:-300}" /tmp/deno run -A .gpu/webgpu_bench.bundle.js ${WEBGPU_ARGS:-}
step "${PEER_LIMIT:-150}" python3 bench/_peer_gpu.py
[ "${TRAIN_LIMIT:-120}" = 0 ] ||
  step "${TRAIN_LIMIT:-120}" /tmp/deno run -A .gpu/train_step.bundle.js --backend=webgpu --no-bn
echo "== $(date -u +%H:%M:%S) done" | tee -a "$log"
