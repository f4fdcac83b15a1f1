/**
 * A node facing hostile input: files that are not files (real processes), a peer flooding
 * malformed messages, dialers whose certificate does not name them, the open-file limit, and
 * journald's priorities.
 */
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import tls from "node:tls";
import { parseConfigText } from "../src/config/mod.ts";
import type { Config } from "../src/config/types.ts";
import { memoryLogger } from "../src/log/logger.ts";
import { generateCa, issueNodeCert } from "../src/pki/mod.ts";
import { planConnections, probeDescriptors } from "../src/runtime/limits.ts";
import { StartError, startNode as startInProcess } from "../src/runtime/run.ts";
import { NodeSocketStream } from "../src/transport/node_socket.ts";
import { MsgType } from "../src/wire/mod.ts";
import { RawClient } from "./helpers/raw_client.ts";
import {
  Child,
  http,
  iniText,
  mainArgs,
  makeCertDir,
  makeFifo,
  modNode,
  portal,
  TEST_KEY,
  within,
  writeIni,
} from "./kit/mod.ts";

/** Runs `main.ts --config ini` to its exit; its status, output and how long it took. */
async function runToExit(ini: string): Promise<{ code: number; out: string; ms: number }> {
  const t0 = performance.now();
  const child = new Child("node", { args: mainArgs(["--config", ini]) });
  const status = await within(child.exited(), "the node to exit", 20_000);
  return { code: status.code, out: child.lines.join("\n"), ms: performance.now() - t0 };
}

Deno.test("a FIFO, /dev/urandom, a directory or a huge file as a PEM file: exit 2 naming it, at once", async () => {
  const dir = await makeCertDir(["hub"]);
  try {
    const fifo = `${dir}/key.fifo`;
    await makeFifo(fifo);
    const huge = `${dir}/huge.pem`;
    const f = await Deno.open(huge, { write: true, create: true });
    await f.truncate(64 * 1024 * 1024);
    f.close();
    const cases: [string, Record<string, string>, RegExp][] = [
      ["fifo-key", { tls_key: fifo }, /named pipe/],
      ["urandom-cert", { tls_cert: "/dev/urandom" }, /character device/],
      ["dir-ca", { tls_ca: dir }, /directory/],
      ["huge-cert", { tls_cert: huge }, /larger than 4 MiB/],
    ];
    for (const [name, extra, why] of cases) {
      const ini = await writeIni(dir, name, modNode("hub", { extra }), http("off"));
      const { code, out, ms } = await runToExit(ini);
      assert.equal(code, 2, `${name}: ${out}`);
      const path = Object.values(extra)[0];
      assert.ok(out.includes(path), `${name} names ${path}: ${out}`);
      assert.match(out, why);
      // Deno's own start-up is most of it; the bound is what a hang or a read of /dev/urandom would break.
      assert.ok(ms < 5000, `${name} took ${ms} ms`);
    }
    // The config file itself.
    const { code, out } = await runToExit(fifo);
    assert.equal(code, 2);
    assert.match(out, /key\.fifo.*named pipe/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("startNode() refuses a PEM file swapped for a FIFO after the config check, naming it", async () => {
  const dir = await makeCertDir(["hub"]);
  try {
    const fifo = `${dir}/hub.key`;
    await Deno.remove(fifo);
    await makeFifo(fifo);
    const config = parseConfigText(iniText(modNode("hub"), http("off")), `${dir}/hub.ini`);
    const t0 = performance.now();
    const e = await startInProcess(config, { logger: memoryLogger(), descriptors: null })
      .then(() => null, (err) => err);
    assert.ok(e instanceof StartError, String(e));
    assert.equal(e.code, "tls_files");
    assert.equal(
      e.message,
      `${fifo}: cannot read tls_key: it is a named pipe (FIFO), not a regular file`,
    );
    assert.ok(performance.now() - t0 < 1000);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A started in-process node from `ini` text (plain TCP, no API). */
async function inProcess(text: string, dir: string) {
  const config: Config = parseConfigText(text, `${dir}/node.ini`);
  const logger = memoryLogger("info");
  const node = await startInProcess(config, { logger, descriptors: null });
  return { node, lines: logger.lines, port: node.federation.listenAddr!.port };
}

Deno.test("a peer flooding malformed messages: every one counted, a handful logged", async () => {
  const dir = await Deno.makeTempDir();
  const { node, lines, port } = await inProcess(
    iniText(modNode("hub", { tls: false }), http("off")),
    dir,
  );
  const peer = await RawClient.joined(port, "mallory", TEST_KEY);
  try {
    const body = new TextEncoder().encode('{"id":"x","src":"mallory","dst":"hub"}');
    const frames = 20_000;
    const batch: Uint8Array[] = [];
    for (let i = 0; i < frames; i++) batch.push(body);
    for (const b of batch) await peer.send(MsgType.Response, b);
    await within(
      node.federation.when(() => node.federation.counters.dropped >= frames),
      "every malformed message counted",
      20_000,
    );
    const deadline = Date.now() + 5000;
    while (node.federation.counters.dropped < frames && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(node.federation.counters.dropped, frames);
    const dropped = lines.filter((l) => l.includes("dropped message"));
    assert.ok(dropped.length <= 5, `${dropped.length} lines:\n${dropped.join("\n")}`);
  } finally {
    peer.close();
    await node.stop();
    await Deno.remove(dir, { recursive: true });
  }
  assert.match(lines.at(-1) ?? "", /more 'dropped message' lines suppressed|stopped|closed/);
  assert.ok(
    lines.some((l) => /19995 more 'dropped message' lines suppressed/.test(l)),
    lines.join("\n"),
  );
});

Deno.test("tls_client_auth = require: the dialer's name must be one its certificate gives", async () => {
  const dir = await Deno.makeTempDir();
  const ca = await generateCa();
  const hub = await issueNodeCert(ca, { name: "hub", hosts: ["localhost", "127.0.0.1"] });
  const office = await issueNodeCert(ca, { name: "office", hosts: ["localhost"] });
  await Deno.writeTextFile(`${dir}/ca.pem`, ca.certPem);
  await Deno.writeTextFile(`${dir}/hub.pem`, hub.certPem);
  await Deno.writeTextFile(`${dir}/hub.key`, hub.keyPem);
  const { node, lines, port } = await inProcess(
    iniText(modNode("hub", { extra: { tls_client_auth: "require" } }), http("off")),
    dir,
  );
  const dial = () =>
    new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({
        host: "127.0.0.1",
        port,
        servername: "localhost",
        ca: ca.certPem,
        cert: office.certPem,
        key: office.keyPem,
      }, () => resolve(s));
      s.once("error", reject);
    });
  try {
    for (const [name, status] of [["office", 200], ["intruder", 401]] as const) {
      const socket = await dial();
      const client = new RawClient(new NodeSocketStream(socket));
      const verdict = await within(client.authenticate(name, TEST_KEY), `${name}'s verdict`);
      assert.equal(verdict.status, status, JSON.stringify(verdict));
      client.close();
    }
    assert.ok(
      lines.some((l) => /auth refused .*claimed=intruder certificate="office, localhost"/.test(l)),
      lines.join("\n"),
    );
  } finally {
    await node.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("planConnections() leaves the federation what the free descriptors allow, and says when it is short", () => {
  const roomy = planConnections({ free: 16_704, atLeast: true }, null, true);
  assert.deepEqual([roomy.federation, roomy.http, roomy.warning], [16_384, 256, null]);
  const small = planConnections({ free: 232, atLeast: false }, null, true);
  assert.deepEqual([small.federation, small.http], [232 - 64 - 29, 29]);
  assert.match(small.warning!, /only 232 file descriptors are free, room for 139 .*LimitNOFILE=/);
  const asked = planConnections({ free: 232, atLeast: false }, 1000, true);
  assert.equal(asked.federation, 1000);
  assert.match(
    asked.warning!,
    /max_connections = 1000 needs about 1093 file descriptors but only 232 are free/,
  );
  assert.equal(planConnections({ free: 1400, atLeast: true }, 1000, true).warning, null);
  assert.deepEqual(planConnections(null, null, false), {
    descriptors: null,
    federation: 4096,
    configured: false,
    http: 0,
    warning: null,
  });
});

Deno.test("probeDescriptors() counts what can be opened, up to its cap, and closes them all", () => {
  const few = probeDescriptors(50);
  assert.deepEqual(few, { free: 50, atLeast: true });
  const again = probeDescriptors(50);
  assert.deepEqual(again, few, "nothing was left open");
});

Deno.test("with stderr on the journal, every line starts with its priority and has no timestamp", async () => {
  const dir = await makeCertDir(["hub"]);
  const log = `${dir}/journal.log`;
  await Deno.writeTextFile(log, "");
  const { dev, ino } = statSync(log);
  const ini = await writeIni(dir, "hub", modNode("hub"), http(), portal({ log_level: "info" }));
  // The kit's file output is what systemd's journal stream is to a service: the process's stderr.
  const child = new Child("hub", {
    args: mainArgs(["--config", ini]),
    output: { file: log },
    env: { JOURNAL_STREAM: `${dev}:${ino}` },
  });
  try {
    await child.waitFor(/node ready/, "node ready");
    const lines = child.lines.filter((l) => l.trim() !== "");
    assert.ok(lines.length > 0);
    for (const l of lines) assert.match(l, /^<[3467]>(ERROR|WARN |INFO |DEBUG) /, l);
    assert.ok(lines.some((l) => l.startsWith("<6>INFO  node ready")));
  } finally {
    await child.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
