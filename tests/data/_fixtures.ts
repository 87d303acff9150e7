/**
 * Test fixtures for lib/data: small files in the real CIFAR-100 and SVHN formats.
 *
 * @module
 */
import { randomBytes } from "./_helpers.ts";
import { writeMat } from "./_mat_writer.ts";

/** Writes a CIFAR-100 binary file of n records; returns it with its planes and labels. */
export function cifar100Bin(n: number, seed: number) {
  const planes = randomBytes(n * 3072, seed);
  const coarse = Uint8Array.from({ length: n }, (_, i) => (i * 3 + seed) % 20);
  const fine = Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) % 100);
  const bytes = new Uint8Array(n * 3074);
  for (let i = 0; i < n; i++) {
    bytes[i * 3074] = coarse[i];
    bytes[i * 3074 + 1] = fine[i];
    bytes.set(planes.subarray(i * 3072, (i + 1) * 3072), i * 3074 + 2);
  }
  return { bytes, planes, coarse, fine };
}

/** An SVHN-like MAT-file as MATLAB writes it: compressed, X uint8 [32,32,3,n], y double. */
export async function svhnMat(n: number, seed: number, labels: number[]) {
  const x = randomBytes(32 * 32 * 3 * n, seed);
  const bytes = await writeMat([
    { name: "X", className: "uint8", dims: [32, 32, 3, n], values: x },
    { name: "y", className: "double", dims: [n, 1], values: labels, storeAs: "miUINT8" },
  ], { compress: true });
  return { x, bytes };
}
