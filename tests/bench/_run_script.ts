/**
 * Runs a benchmark script the way a GPU session does, in a process of its own.
 *
 * @module
 */

/**
 * `deno run` with `args` (permissions, the script, its options), colours off: whether it exited
 * 0, and its standard output followed by its standard error.
 */
export async function runScript(args: string[]): Promise<{ success: boolean; out: string }> {
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return { success, out: new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr) };
}
