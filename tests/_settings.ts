/**
 * Runs a test body with some of a kernel's settings (a switch object such as `wasmWinograd`)
 * changed, restoring them afterwards.
 *
 * @module
 */

/** Runs `fn` with `settings` assigned onto `target`, restoring `target` afterwards. */
export function withSettings<T extends object>(
  target: T,
  settings: Partial<T>,
  fn: () => void,
): void {
  const before = { ...target };
  Object.assign(target, settings);
  try {
    fn();
  } finally {
    Object.assign(target, before);
  }
}
