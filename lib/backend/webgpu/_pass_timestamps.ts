/**
 * GPU times of compute passes from timestamps written at the start and end of each: the way
 * the tile tuner and the benchmarks time single dispatches (where the device has
 * `timestamp-query`).
 *
 * @module
 */

/**
 * Records `n` compute passes in one command buffer, each between two timestamps, submits it
 * and returns each pass's GPU time in milliseconds.
 *
 * @param device A device with the `timestamp-query` feature.
 * @param n Passes.
 * @param encode Records pass `i`'s work into `pass` (the pass is begun and ended here).
 * @returns Milliseconds, pass by pass.
 */
export async function passTimes(
  device: GPUDevice,
  n: number,
  encode: (i: number, pass: GPUComputePassEncoder) => void,
): Promise<Float64Array> {
  const querySet = device.createQuerySet({ type: "timestamp", count: 2 * n });
  const resolved = device.createBuffer({ size: 16 * n, usage: 0x200 | 0x04 }); // QUERY_RESOLVE | COPY_SRC
  const read = device.createBuffer({ size: 16 * n, usage: 0x01 | 0x08 }); // MAP_READ | COPY_DST
  try {
    const enc = device.createCommandEncoder();
    for (let i = 0; i < n; i++) {
      const pass = enc.beginComputePass({
        timestampWrites: {
          querySet,
          beginningOfPassWriteIndex: 2 * i,
          endOfPassWriteIndex: 2 * i + 1,
        },
      });
      encode(i, pass);
      pass.end();
    }
    enc.resolveQuerySet(querySet, 0, 2 * n, resolved, 0);
    enc.copyBufferToBuffer(resolved, 0, read, 0, 16 * n);
    device.queue.submit([enc.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const t = new BigUint64Array(read.getMappedRange().slice(0));
    read.unmap();
    return Float64Array.from({ length: n }, (_, i) => Number(t[2 * i + 1] - t[2 * i]) / 1e6);
  } finally {
    querySet.destroy();
    resolved.destroy();
    read.destroy();
  }
}
