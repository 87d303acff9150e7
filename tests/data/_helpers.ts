/**
 * Test helpers for lib/data: synthetic npm tarballs made with the system `tar`, a fake
 * registry fetch, integrity strings.
 *
 * @module
 */

/** Builds a `.tgz` with the system `tar` from files given as path → bytes. */
export async function makeTgz(files: Record<string, Uint8Array>): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir();
  try {
    for (const [path, data] of Object.entries(files)) {
      const full = `${dir}/src/${path}`;
      await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
      await Deno.writeFile(full, data);
    }
    const { success, stderr } = await new Deno.Command("tar", {
      args: ["czf", `${dir}/out.tgz`, "-C", `${dir}/src`, ...Object.keys(files)],
    }).output();
    if (!success) throw new Error(`tar failed: ${new TextDecoder().decode(stderr)}`);
    return await Deno.readFile(`${dir}/out.tgz`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The SRI sha512 string of bytes. */
export async function sha512Integrity(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-512", bytes as Uint8Array<ArrayBuffer>),
  );
  return `sha512-${btoa(String.fromCharCode(...digest))}`;
}

/** A fake registry: answers metadata and tarball requests for one package, counts calls. */
export function fakeRegistry(
  name: string,
  version: string,
  tarball: Uint8Array,
  integrity: string,
): { fetch: typeof globalThis.fetch; calls: string[] } {
  const calls: string[] = [];
  const base = "https://registry.example/";
  const tarballUrl = `${base}${name}/-/${name}-${version}.tgz`;
  const fetch = (input: string | URL | Request): Promise<Response> => {
    const url = String(input instanceof Request ? input.url : input);
    calls.push(url);
    if (url === `${base}${name}/${version}`) {
      return Promise.resolve(
        Response.json({ name, version, dist: { tarball: tarballUrl, integrity } }),
      );
    }
    if (url === tarballUrl) {
      return Promise.resolve(new Response(tarball as Uint8Array<ArrayBuffer>));
    }
    return Promise.resolve(new Response("not found", { status: 404 }));
  };
  return { fetch: fetch as typeof globalThis.fetch, calls };
}

/** The registry URL `fakeRegistry` answers at. */
export const FAKE_REGISTRY = "https://registry.example/";

/** A fetch that always fails, as with no network; it counts calls. */
export function offlineFetch(): { fetch: typeof globalThis.fetch; calls: number } {
  const state = {
    calls: 0,
    fetch: (() => {
      state.calls++;
      return Promise.reject(new TypeError("error sending request: network unreachable"));
    }) as typeof globalThis.fetch,
  };
  return state;
}

/** An IDX file: uint8 values with the given shape. */
export function idxUint8(shape: number[], values: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * shape.length + values.length);
  out.set([0, 0, 8, shape.length]);
  const view = new DataView(out.buffer);
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(values, 4 + 4 * shape.length);
  return out;
}

/** Deterministic pseudo-random bytes. */
export function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 0xff;
  }
  return out;
}
