/**
 * Two-piece max-affine splines `max(ν·f, f)` of one affine map f with ν < 1 (the outputs of
 * the ReLU, leaky ReLU and abs MASOs), whose region is decided by the sign of f (private).
 *
 * @module
 */
import type { MaxAffineSpline } from "./max_affine_spline.ts";

/**
 * The splines whose piece 0 is ν times piece 1 (ν < 1): their region is 1 exactly where piece
 * 1's value f(x) is `> 0`. Comparing the two pieces' float64 values instead decides by
 * rounding near the kink — `Σ (ν·w_d)·x_d + ν·b` is not `ν·f(x)` — and may call a
 * pre-activation of exactly 0 active.
 */
export const kinked: WeakSet<MaxAffineSpline> = new WeakSet();
