import assert from "node:assert/strict";
import { join } from "node:path";
import { ReadFileError, readRegularFile, readRegularTextFile } from "../src/util/read.ts";
import { makeFifo } from "./kit/mod.ts";

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "portal-read-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The ReadFileError `p` rejects with, and how long that took. */
async function refused(p: Promise<unknown>): Promise<{ err: ReadFileError; ms: number }> {
  const started = performance.now();
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ReadFileError, String(err));
    return { err, ms: performance.now() - started };
  }
  assert.fail("expected a ReadFileError");
}

Deno.test("readRegularFile() reads a regular file whole, up to exactly its limit", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "a.pem");
    const bytes = new Uint8Array(10_000).map((_, i) => i % 251);
    await Deno.writeFile(path, bytes);
    assert.deepEqual(await readRegularFile(path, 10_000), bytes);
    await Deno.writeTextFile(path, "");
    assert.deepEqual(await readRegularFile(path, 16), new Uint8Array(0));
    await Deno.writeTextFile(path, "h\u00e9llo\n");
    assert.equal(await readRegularTextFile(path, 16), "h\u00e9llo\n");
  });
});

Deno.test("readRegularFile() refuses a file over its limit", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "big");
    await Deno.writeFile(path, new Uint8Array(4097));
    const { err } = await refused(readRegularFile(path, 4096));
    assert.equal(err.code, "too_large");
    assert.equal(err.message, "it is larger than 4 KiB");
    assert.equal(err.path, path);
  });
});

Deno.test("readRegularFile() refuses a FIFO at once instead of blocking on it", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "key.pem");
    await makeFifo(path);
    const { err, ms } = await refused(readRegularFile(path, 1024));
    assert.equal(err.code, "not_regular");
    assert.equal(err.message, "it is a named pipe (FIFO), not a regular file");
    assert.ok(ms < 1000, `took ${ms}ms`);
  });
});

Deno.test("readRegularFile() refuses /dev/urandom at once without reading it", async () => {
  const { err, ms } = await refused(readRegularFile("/dev/urandom", 4 * 1024 * 1024));
  assert.equal(err.code, "not_regular");
  assert.equal(err.message, "it is a character device, not a regular file");
  assert.ok(ms < 1000, `took ${ms}ms`);
});

Deno.test("readRegularFile() refuses a directory and a socket", async () => {
  await withTempDir(async (dir) => {
    const dirErr = (await refused(readRegularFile(dir, 1024))).err;
    assert.equal(dirErr.code, "not_regular");
    assert.equal(dirErr.message, "it is a directory, not a regular file");
    const sock = join(dir, "s.sock");
    const listener = Deno.listen({ transport: "unix", path: sock });
    try {
      const { err } = await refused(readRegularFile(sock, 1024));
      assert.equal(err.code, "not_regular");
      assert.equal(err.message, "it is a socket, not a regular file");
    } finally {
      listener.close();
    }
  });
});

Deno.test("readRegularFile() reports a missing file as not_found", async () => {
  await withTempDir(async (dir) => {
    const { err } = await refused(readRegularFile(join(dir, "nope"), 1024));
    assert.equal(err.code, "not_found");
    assert.equal(err.message, "no such file");
  });
});

Deno.test({
  name: "readRegularFile() reports an unreadable file as permission",
  // root reads every file regardless of its mode
  ignore: Deno.uid() === 0,
  fn: async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, "secret.key");
      await Deno.writeTextFile(path, "x");
      await Deno.chmod(path, 0o000);
      const { err } = await refused(readRegularFile(path, 1024));
      assert.equal(err.code, "permission");
    });
  },
});
