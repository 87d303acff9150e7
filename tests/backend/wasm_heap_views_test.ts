/**
 * `freshHeapViews` (lib/backend/_wasm_ops.ts): on the threaded build (a shared heap) tensors'
 * views and `HEAPU8` are views of the heap's current buffer; on the single-threaded build nothing
 * is changed — `memory.grow(0)` would detach the buffer its glue's own views hold, which tfjs's
 * kernels that pass arrays (`ccall`: Transpose, Slice, …) write through.
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { activeWasmBackend, heapMemory } from "../../lib/backend/_wasm_ops.ts";
import { onThreadedWasm } from "../_threads.ts";
import { assert, assertEquals } from "../_assert.ts";

// importing the wasm backend makes it the highest priority: start from tfjs-cpu explicitly
await tf.setBackend("cpu");

/** Tensors made, transposed (a `ccall` with array arguments) and read back on the active backend. */
function roundTrip(): void {
  const values = Float32Array.from({ length: 6 * 5 }, (_, i) => i * 0.5 - 3);
  const x = tf.tensor(values, [6, 5]);
  const y = tf.transpose(x);
  const back = tf.transpose(y).dataSync();
  assertEquals(Array.from(back), Array.from(values));
  tf.dispose([x, y]);
}

Deno.test("the single-threaded build's heap views are left as they are", async () => {
  await tf.setBackend("wasm");
  try {
    const backend = activeWasmBackend()!;
    const module = (backend as unknown as { wasm: object }).wasm;
    assert(!(heapMemory(backend)!.buffer instanceof SharedArrayBuffer));
    assertEquals(typeof Object.getOwnPropertyDescriptor(module, "HEAPU8")?.get, "undefined");
    roundTrip(); // tfjs's own views still valid (a grow(0) here would have detached them)
  } finally {
    await tf.setBackend("cpu");
  }
});

Deno.test("on the threaded build tensors' views and HEAPU8 view the heap's current buffer", async () => {
  await onThreadedWasm("wasm-heap-views-test", () => {
    const backend = activeWasmBackend()!;
    const memory = heapMemory(backend)!;
    const module = (backend as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm;
    assert(memory.buffer instanceof SharedArrayBuffer);
    // a growth the glue has not been told of (as one made by wasm code on another thread)
    memory.grow(1);
    assertEquals(module.HEAPU8.byteLength, memory.buffer.byteLength);
    const x = tf.tensor([1, 2, 3, 4], [2, 2]);
    const view = backend.typedArrayFromHeap(x as unknown as tf.TensorInfo);
    assert(view.buffer === memory.buffer, "a view of the current buffer");
    assertEquals(Array.from(view), [1, 2, 3, 4]);
    x.dispose();
    roundTrip();
  });
});
