/**
 * A worker of `sweep.ts run --workers N` (see `_sweep_cli_workers.ts`): imports the registry
 * module it is given, runs the command line (its part of the shard), and reports its lines and
 * exit code.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { sweepMain } from "./_sweep_cli.ts";
import type { SweepWorkerMessage, SweepWorkerTask } from "./_sweep_cli_workers.ts";

const say = (m: SweepWorkerMessage) => self.postMessage(m);

self.onmessage = async (e: MessageEvent<SweepWorkerTask>) => {
  const { args, registryModule } = e.data;
  let code = 2;
  try {
    const mod = await import(registryModule);
    if (!mod.registry) throw new TypeError(`${registryModule} does not export 'registry'`);
    code = await sweepMain(args, {
      registry: mod.registry,
      env: {},
      print: (print) => say({ print }),
      error: (log) => say({ log }),
    });
  } catch (err) {
    say({ log: err instanceof Error ? err.message : String(err) });
  }
  say({ code });
};
