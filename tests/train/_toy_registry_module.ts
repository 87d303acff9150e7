/** The toy sweep registry as a module exporting `registry`, for `sweep.ts run --workers` tests. */
export { toyRegistry as registry } from "../../lib/train/_toy_registry.ts";
