/**
 * Max-pools whose windows tile their input without overlap or padding: each position lies
 * in at most one window, so the gradient through the pool is the pooled gradient placed at
 * each window's argmax — a gather that fused kernels can do on the fly.
 *
 * @module
 */
import type { MaxPool2DLayer } from "./spline_network.ts";

/**
 * True for a max-pool whose strides equal its window and that has no padding.
 *
 * @param l The max-pool.
 * @returns Whether its windows are disjoint.
 */
export function isDisjointPool(l: MaxPool2DLayer): boolean {
  return l.strides[0] === l.poolSize[0] && l.strides[1] === l.poolSize[1] &&
    l.padding.every((p) => p === 0);
}
