import { assertEquals, assertThrows } from "../_assert.ts";
import { readTar } from "../../lib/data/tar.ts";

/** A ustar header block with a valid checksum. */
function header(name: string, size: number, type: string): Uint8Array {
  const h = new Uint8Array(512);
  const put = (text: string, at: number) => h.set(new TextEncoder().encode(text), at);
  put(name, 0);
  put("0000644\0", 100);
  put(size.toString(8).padStart(11, "0") + "\0", 124);
  put(type, 156);
  put("ustar\0", 257);
  put("        ", 148);
  const sum = h.reduce((s, b) => s + b, 0);
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148);
  return h;
}

/** A pax record `"<len> size=<value>\n"`, its length counting itself. */
function paxRecord(value: string): string {
  const body = ` size=${value}\n`;
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len++;
  return `${len}${body}`;
}

/** A pax header setting the next entry's size to `value`, then a 3-byte file "a.txt". */
function archiveWithPaxSize(value: string): Uint8Array {
  const record = new TextEncoder().encode(paxRecord(value));
  const paxBody = new Uint8Array(512);
  paxBody.set(record);
  const fileBody = new Uint8Array(512);
  fileBody.set([104, 105, 33]);
  return new Uint8Array([
    ...header("PaxHeader/a.txt", record.length, "x"),
    ...paxBody,
    ...header("a.txt", 3, "0"),
    ...fileBody,
    ...new Uint8Array(1024),
  ]);
}

Deno.test("readTar() refuses a pax size that is not a whole number of bytes", async (t) => {
  await t.step("a well-formed pax size is used", () => {
    const [entry] = readTar(archiveWithPaxSize("2"));
    assertEquals([entry.name, entry.data.length], ["a.txt", 2]);
  });
  // -1536 stepped back onto the pax header and looped forever; -600 listed "a.txt" twice;
  // "abc" (NaN) ended the read silently with an empty "a.txt".
  // (-1536 last: before the fix it hangs the process)
  for (const bad of ["-600", "abc", "1e3", "", "-1536"]) {
    await t.step(`size=${JSON.stringify(bad)}`, () => {
      assertThrows(
        () => readTar(archiveWithPaxSize(bad)),
        (e: Error) =>
          e instanceof RangeError &&
          e.message ===
            `Cannot read tar archive: entry "a.txt" has pax size "${bad}", expected a whole ` +
              `number of bytes`,
      );
    });
  }
});
