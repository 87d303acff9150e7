import { assertEquals, assertStrictEquals, assertThrows } from "../_assert.ts";
import { parseSchedule, sweepMain } from "../../lib/train/_sweep_cli.ts";
import { toyRegistry } from "../../lib/train/_toy_registry.ts";

/** `sweep.ts plan` on the toy pair with one extra flag: the exit code and the last line. */
async function plan(flag: string): Promise<{ code: number; last: string }> {
  const lines: string[] = [];
  const print = (s: string) => lines.push(s);
  const args = ["plan", "--archs", "mlp", "--datasets", "blobs", "--runs", "1"];
  const code = await sweepMain([...args, flag], {
    registry: toyRegistry,
    env: {},
    print,
    error: print,
  });
  return { code, last: lines.at(-1) ?? "" };
}

Deno.test("sweep.ts refuses a number flag that is empty or not decimal", async (t) => {
  // Number("") is 0: `--lr=$LR` with LR unset swept at learning rate 0, `--epochs=` ran
  // 0 epochs and recorded every run as done; "0x2" read as 2
  const cases: [string, string][] = [
    ["--lr=", "Cannot parse --lr '': not a number"],
    ["--epochs=", "Cannot parse --epochs '': not a number"],
    ["--seed= ", "Cannot parse --seed ' ': not a number"],
    ["--runs=0x2", "Cannot parse --runs '0x2': not a number"],
    ["--batch-size=", "Cannot parse --batch-size '': not a number"],
    ["--lambdas=", "Cannot parse --lambdas '': expected numbers ≥ 0"],
    ["--lambdas=0,,1", "Cannot parse --lambdas '0,,1': expected numbers ≥ 0"],
    ["--schedule=step:60,,120:0.2", "Cannot parse --schedule 'step:60,,120:0.2'"],
    ["--schedule=exp:.", "Cannot parse --schedule 'exp:.'"],
    // `--checkpoints=$DIR` with DIR unset ran without checkpoints
    ["--checkpoints=", "--checkpoints is empty"],
  ];
  for (const [flag, message] of cases) {
    await t.step(flag, async () => {
      const { code, last } = await plan(flag);
      assertStrictEquals(code, 2, last);
      assertStrictEquals(last.split("\n")[0].startsWith(message), true, last);
    });
  }
  await t.step("well-formed values still parse", async () => {
    for (const flag of ["--lr=1e-3", "--lambdas=0, 0.5,1e-1", "--seed=-3", "--epochs=+2"]) {
      const { code, last } = await plan(flag);
      assertStrictEquals(code, 0, `${flag}: ${last}`);
    }
    assertEquals(parseSchedule("step:60,120,160:0.2"), {
      kind: "step",
      epochs: [60, 120, 160],
      factor: 0.2,
    });
    assertEquals(parseSchedule("exp:0.95"), { kind: "exponential", rate: 0.95 });
  });
  await t.step("a trailing comma is not a boundary at epoch 0", () => {
    assertThrows(() => parseSchedule("step:60,:0.2"), RangeError);
  });
});

Deno.test("sweep.ts merge refuses an empty --out instead of not writing it", async () => {
  const lines: string[] = [];
  const f = await Deno.makeTempFile({ suffix: ".jsonl" });
  try {
    await Deno.writeTextFile(f, JSON.stringify({ key: "k", testAccuracy: 0.5 }) + "\n");
    const code = await sweepMain(["merge", f, "--out="], {
      registry: toyRegistry,
      env: {},
      print: (s) => lines.push(s),
      error: (s) => lines.push(s),
    });
    assertStrictEquals(code, 2);
    assertStrictEquals(lines.at(-1)!.split("\n")[0], "--out is empty");
  } finally {
    await Deno.remove(f);
  }
});
