/** `portal reload`: its command line, a file it refuses without asking, and a node that reloads. */
import assert from "node:assert/strict";
import { describeReload, reloadCommand } from "../src/cli/reload.ts";
import { loadConfig } from "../src/config/mod.ts";
import { memoryLogger } from "../src/log/logger.ts";
import { startNode } from "../src/runtime/run.ts";
import { http, makeCertDir, modNode, writeIni } from "./kit/mod.ts";

/** Runs `portal reload ARGS`; its exit status and what it wrote. */
async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await reloadCommand(args, {
    stdout: { write: (t: string) => void (out += t) },
    stderr: { write: (t: string) => void (err += t) },
    env: () => undefined,
  });
  return { code, out, err };
}

Deno.test("reloadCommand() refuses command lines without a target or with two", async () => {
  const none = await run([]);
  assert.equal(none.code, 2);
  assert.match(none.err, /which node\?/);
  const both = await run(["--pid", "12", "--url", "http://127.0.0.1:1"]);
  assert.equal(both.code, 2);
  assert.match(both.err, /not both/);
  const pid = await run(["--pid", "12x"]);
  assert.equal(pid.code, 2);
  assert.match(pid.err, /--pid wants a process id/);
});

Deno.test("reloadCommand() --config with mistakes prints them with FILE:LINE and asks no node", async () => {
  const dir = await Deno.makeTempDir({ prefix: "portal-test-" });
  try {
    const ini = await writeIni(dir, "node", modNode("node", { tls: false }) + "listen_prot = 9\n");
    const r = await run(["--config", ini]);
    assert.equal(r.code, 1);
    assert.match(r.err, /node\.ini:\d+: unknown key 'listen_prot'/);
    assert.match(r.err, /not reloaded; the node keeps running as it was/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reloadCommand() --url reloads a running node and prints what it applied", async () => {
  const dir = await makeCertDir(["node"]);
  const ini = await writeIni(dir, "node", modNode("node", { listenPort: "off" }), http());
  const node = await startNode(await loadConfig(ini), {
    logger: memoryLogger(),
    descriptors: null,
  });
  try {
    const r = await run(["--url", `http://127.0.0.1:${node.http!.addr.port}`]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^reloaded .*node\.ini\n {2}peers: added none; removed none;/);
    assert.match(r.out, /certificates: unchanged; log level: info/);
  } finally {
    await node.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("describeReload() names what changed and what needs a restart", () => {
  const text = describeReload({
    file: "/etc/portal/node.ini",
    peers: { added: ["depot"], removed: [], redialed: ["hub"], updated: [] },
    devices: { added: [], removed: ["fan"], changed: [] },
    certificates: "replaced",
    log_level: "debug",
    needs_restart: ["listen_port"],
  });
  assert.equal(
    text,
    [
      "reloaded /etc/portal/node.ini",
      "  peers: added depot; removed none; redialed hub; updated none",
      "  devices: added none; removed fan; changed none",
      "  certificates: replaced; log level: debug",
      "  needs a restart to change: listen_port (kept as running)",
    ].join("\n"),
  );
});
