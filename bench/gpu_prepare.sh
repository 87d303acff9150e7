#!/bin/sh
# Prepares .gpu/ (git-ignored, excluded from tests) for a run on the lent GPU machine,
# which has no Deno, no npm and no Vulkan loader (shared/PEERS.md, the device README):
# the Deno binary (xz), standalone bundles of the GPU benchmarks and of the WebGPU tests, and
# the loader packages.
#
#   sh bench/gpu_prepare.sh
#
# then, with the `device` tool: carry [".gpu"] and the command `sh bench/gpu_run.sh`, which runs
#   for f in .gpu/*.deb; do dpkg -x $f /; done; ldconfig;
#   xz -dc .gpu/deno.xz > /tmp/deno; chmod +x /tmp/deno;
#   /tmp/deno test -A --no-config /tmp/gpu-tests/   # the WebGPU tests on the real GPU
#   /tmp/deno run -A .gpu/webgpu_bench.bundle.js;
#   /tmp/deno run -A .gpu/train_step.bundle.js --backend=webgpu --no-bn;
#   python3 bench/_peer_gpu.py   # the PyTorch peers, same machine, same run
#   /tmp/deno run -A .gpu/gemm_sweep.bundle.js --budget=180   # the products' tile shapes
#   /tmp/deno run -A .gpu/conv_taps.bundle.js 480   # the transpose to RGB: taps vs col2im
#   /tmp/deno run -A .gpu/real_data_agreement.bundle.js --sample=.gpu/real_images.json --engines=webgpu
# (if no driver is found, first export
#  VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json).
set -eu
cd "$(dirname "$0")/.."
mkdir -p .gpu
deno_bin=$(readlink -f "$(command -v deno || echo node_modules/.bin/deno)")
if [ ! -f .gpu/deno.xz ]; then
  xz -T0 -c "$deno_bin" > .gpu/deno.xz.tmp
  mv .gpu/deno.xz.tmp .gpu/deno.xz
fi
"$deno_bin" bundle bench/webgpu_bench.ts -o .gpu/webgpu_bench.bundle.js
"$deno_bin" bundle bench/train_step_bench.ts -o .gpu/train_step.bundle.js
"$deno_bin" bundle bench/gemm_sweep.ts -o .gpu/gemm_sweep.bundle.js
"$deno_bin" bundle bench/conv_taps_bench.ts -o .gpu/conv_taps.bundle.js
"$deno_bin" bundle bench/real_data_agreement.ts -o .gpu/real_data_agreement.bundle.js
# 16 images of each dataset for it (the GPU machine has no datasets and no network)
"$deno_bin" run --allow-read --allow-write=data,.gpu --allow-net \
  bench/real_data_agreement.ts --write-sample=.gpu/real_images.json
# the WebGPU tests, one bundle per test module (each runs in its own isolate, as in CI),
# compressed together (their shared tfjs code compresses ≈ 50×)
rm -rf .gpu/tests && mkdir -p .gpu/tests
for f in tests/backend/webgpu/*_test.ts tests/partition/nearest_neighbors_test.ts \
  tests/train/webgpu_kernels_test.ts tests/train/train_webgpu_test.ts; do
  name=$(echo "$f" | sed 's|^tests/||; s|/|_|g; s|\.ts$|.js|')
  "$deno_bin" bundle "$f" -o ".gpu/tests/$name" >/dev/null
done
tar -C .gpu/tests -cJf .gpu/tests.tar.xz.tmp . && mv .gpu/tests.tar.xz.tmp .gpu/tests.tar.xz
rm -rf .gpu/tests
if ! ls .gpu/libvulkan1_*.deb >/dev/null 2>&1; then
  mkdir -p /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  # shellcheck disable=SC2086
  apt-get $o update >/dev/null
  # shellcheck disable=SC2086
  (cd .gpu && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
du -sh .gpu
