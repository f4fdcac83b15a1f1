/** How the shell reads a node.ini: with the node's own bounds, but without the key files. */
import assert from "node:assert/strict";
import { ConfigError, MAX_CONFIG_BYTES } from "../src/config/mod.ts";
import { defaultIo } from "../src/cli/shell.ts";

Deno.test("shell's config loader bounds the file in bytes, not UTF-16 units", async () => {
  const dir = await Deno.makeTempDir({ prefix: "portal-shell-" });
  try {
    const path = `${dir}/node.ini`;
    // Fewer characters than the bound, but more bytes: 'é' is two bytes in UTF-8.
    const comment = "# " + "é".repeat(Math.ceil(MAX_CONFIG_BYTES / 2) + 10) + "\n";
    assert.ok(comment.length < MAX_CONFIG_BYTES);
    await Deno.writeTextFile(
      path,
      `${comment}[mod_node]\nname = office\nfederation_key = k\nlisten_port = off\n`,
    );
    await assert.rejects(
      () => defaultIo().loadConfig(path),
      (e: unknown) => e instanceof ConfigError && /larger than/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("shell's config loader does not need the TLS key to be readable", async () => {
  const dir = await Deno.makeTempDir({ prefix: "portal-shell-" });
  try {
    const path = `${dir}/node.ini`;
    await Deno.writeTextFile(
      path,
      "[mod_node]\nname = office\nfederation_key = k\ntls_cert = missing.pem\n" +
        "tls_key = missing.key\n[mod_http]\nlisten = 127.0.0.1:8123\n",
    );
    const config = await defaultIo().loadConfig(path);
    assert.deepEqual(config.http.listen, { hostname: "127.0.0.1", port: 8123 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
