/**
 * Plain-JavaScript versions of the mismatch kernels of `_hamming_wasm.ts`, with the
 * same calling convention over an `ArrayBuffer` (byte addresses, zero-padded rows).
 * Used where WebAssembly is unavailable (e.g. `--jitless`), and as a second
 * implementation the tests compare against.
 *
 * @module
 */

/** A mismatch kernel: `(q, nq, b, nb, out, outStride)`, all byte addresses/strides. */
export type MismatchKernel = (
  q: number,
  nq: number,
  b: number,
  nb: number,
  out: number,
  outStride: number,
) => void;

/**
 * A JS sign kernel (SWAR popcount of XOR-ed 32-bit words) over `buffer`.
 *
 * @param buffer The memory holding rows and output.
 * @param stride Row stride in bytes (a multiple of 4).
 * @returns The kernel.
 */
export function jsSignKernel(buffer: ArrayBufferLike, stride: number): MismatchKernel {
  const u32 = new Uint32Array(buffer);
  const words = stride >>> 2;
  return (q, nq, b, nb, out, outStride) => {
    for (let i = 0; i < nq; i++) {
      const qi = (q >>> 2) + i * words;
      const orow = (out >>> 2) + i * (outStride >>> 2);
      for (let j = 0; j < nb; j++) {
        const bj = (b >>> 2) + j * words;
        let c = 0;
        for (let w = 0; w < words; w++) {
          let x = u32[qi + w] ^ u32[bj + w];
          x -= (x >>> 1) & 0x55555555;
          x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
          c += Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
        }
        u32[orow + j] = c;
      }
    }
  };
}

/**
 * A JS argmax kernel (count of unequal u16 entries) over `buffer`.
 *
 * @param buffer The memory holding rows and output.
 * @param stride Row stride in bytes (a multiple of 2).
 * @returns The kernel.
 */
export function jsArgmaxKernel(buffer: ArrayBufferLike, stride: number): MismatchKernel {
  const u16 = new Uint16Array(buffer);
  const u32 = new Uint32Array(buffer);
  const len = stride >>> 1;
  return (q, nq, b, nb, out, outStride) => {
    for (let i = 0; i < nq; i++) {
      const qi = (q >>> 1) + i * len;
      const orow = (out >>> 2) + i * (outStride >>> 2);
      for (let j = 0; j < nb; j++) {
        const bj = (b >>> 1) + j * len;
        let c = 0;
        for (let u = 0; u < len; u++) if (u16[qi + u] !== u16[bj + u]) c++;
        u32[orow + j] = c;
      }
    }
  };
}
