/**
 * A worker of `runOrthogonality({ workers })` (see `_orthogonality_workers.ts`): starts
 * tfjs-wasm on the threads it is given, runs its shard of the sweep with the caller's options,
 * and reports progress, its end or its failure.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../train/backend.ts";
import { type OrthogonalityOptions, runOrthogonality } from "./orthogonality.ts";
import type {
  OrthogonalityWorkerMessage,
  OrthogonalityWorkerTask,
} from "./_orthogonality_workers.ts";

const say = (m: OrthogonalityWorkerMessage) => self.postMessage(m);

self.onmessage = async (e: MessageEvent<OrthogonalityWorkerTask>) => {
  const { options, threads, prod } = e.data;
  try {
    tf.env().set("PROD", prod);
    // started here first, the wasm backend keeps this thread count for the sweep's own call
    await selectBackend({ prefer: "wasm", wasmThreads: threads });
    await runOrthogonality({
      ...(options as OrthogonalityOptions),
      // the caller prefixes the experiment's name and the worker's
      onProgress: (log) => say({ log: log.replace(/^orthogonality: /, "") }),
    });
    say({ done: true });
  } catch (err) {
    say({ error: err instanceof Error ? err.message : String(err) });
  }
};
