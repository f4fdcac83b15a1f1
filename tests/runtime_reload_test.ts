/**
 * Reloads in one process: what a reload applies and reports, a refused file changing nothing,
 * reloads one at a time, CALL /node/reload for local full-access callers only, the log level
 * that follows the file, and the certificate expiry warning.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../src/config/mod.ts";
import { createLogger, LogLevelSwitch, memoryLogger } from "../src/log/logger.ts";
import { genCerts, generateCa, issueNodeCert } from "../src/pki/mod.ts";
import { watchCertificateExpiry } from "../src/runtime/cert_watch.ts";
import { NodeCredentials } from "../src/runtime/tls_files.ts";
import { openNodeTlsListener } from "../src/transport/node_tls.ts";
import { nodeConfig, peerConfig } from "./helpers/nodes.ts";
import { type RunningNode, startNode } from "../src/runtime/run.ts";
import {
  device,
  FakeClock,
  http,
  iot,
  makeCertDir,
  modNode,
  peer,
  portal,
  writeIni,
} from "./kit/mod.ts";

/** A node started in this process from `DIR/node.ini`; stopped and removed by the caller. */
async function withNode(
  parts: string[],
  fn: (n: RunningNode, ini: string, lines: string[], level: LogLevelSwitch) => Promise<void>,
): Promise<void> {
  const dir = await makeCertDir(["node"]);
  const ini = await writeIni(dir, "node", ...parts);
  const lines: string[] = [];
  const level = new LogLevelSwitch("info");
  const logger = createLogger({ level, sink: (l) => lines.push(l) });
  const node = await startNode(await loadConfig(ini), {
    logger,
    logLevel: level,
    descriptors: null,
  });
  try {
    await fn(node, ini, lines, level);
  } finally {
    await node.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

const base = [
  modNode("node", { listenPort: "off" }),
  http("127.0.0.1:0", { token: "one" }),
  iot({ poll_interval: "1h" }),
  device("lamp", { driver: "sim" }),
];

Deno.test("RunningNode.reload() applies peers, devices, tokens and log level, and names what needs a restart", async () => {
  await withNode(base, async (node, ini, lines, level) => {
    const port = node.http!.addr.port;
    const health = async (token: string) => {
      const r = await fetch(`http://127.0.0.1:${port}/api/health`, {
        headers: { authorization: `Bearer ${token}` },
      });
      await r.body?.cancel();
      return r.status;
    };
    await writeIni(
      ini.replace(/\/node\.ini$/, ""),
      "node",
      modNode("node", { listenPort: "off", extra: { listen_host: "127.0.0.2" } }),
      http("127.0.0.1:1", { token: "two" }),
      iot({ poll_interval: "1h" }),
      device("lamp", { driver: "sim" }),
      device("fan", { driver: "sim" }),
      peer("depot", { port: 1, autoConnect: false }),
      portal({ log_level: "debug" }),
    );
    const outcome = await node.reload("test");
    assert.equal(outcome.kind, "applied", JSON.stringify(outcome));
    if (outcome.kind !== "applied") return;
    const r = outcome.report;
    assert.deepEqual(r.peers.added, ["depot"]);
    assert.deepEqual(r.devices.added, ["fan"]);
    assert.equal(r.log_level, "debug");
    assert.equal(level.level, "debug");
    assert.equal(r.certificates, "unchanged");
    assert.deepEqual(r.needs_restart, ["listen_host", "[mod_http] listen"]);
    assert.equal(node.config.node.listenHost, "127.0.0.1", "the running value stays");
    assert.ok(node.federation.peer("depot"));
    assert.deepEqual(node.iot!.devices().map((d) => d.id), ["lamp", "fan"]);
    assert.equal(await health("one"), 401);
    assert.equal(await health("two"), 200);
    const info = lines.filter((l) => l.includes("configuration reloaded"));
    assert.equal(info.length, 1);
    assert.match(info[0], /INFO .*peers_added=depot .*devices_added=fan/);
    assert.ok(
      lines.some((l) => /WARN .*reload cannot change listen_host/.test(l)),
      lines.join("\n"),
    );
  });
});

Deno.test("RunningNode.reload() refuses a broken file with FILE:LINE and changes nothing", async () => {
  await withNode(base, async (node, ini, lines) => {
    const good = await Deno.readTextFile(ini);
    await Deno.writeTextFile(ini, good.replace("[device:lamp]", "[device:lamp]\ndriver = sim"));
    const outcome = await node.reload("test");
    assert.equal(outcome.kind, "refused");
    if (outcome.kind !== "refused") return;
    assert.match(outcome.errors.join("\n"), /node\.ini:\d+: .*driver/);
    assert.ok(lines.some((l) => /ERROR .*reload refused/.test(l)));
    assert.ok(lines.some((l) => /ERROR .*node\.ini:\d+: /.test(l)));
    assert.deepEqual(node.iot!.devices().map((d) => d.id), ["lamp"]);
    assert.equal(node.config.http.token, "one");
  });
});

Deno.test("RunningNode.reload() runs one at a time; callers during one share the next", async () => {
  await withNode(base, async (node, _ini, lines) => {
    const [a, b, c] = [node.reload("one"), node.reload("two"), node.reload("three")];
    assert.notEqual(a, b);
    assert.equal(b, c);
    const outcomes = await Promise.all([a, b, c]);
    assert.deepEqual(outcomes.map((o) => o.kind), ["applied", "applied", "applied"]);
    const starts = lines.filter((l) => l.includes("reloading the configuration"));
    assert.deepEqual(starts.map((l) => /source=(\w+)/.exec(l)?.[1]), ["one", "two"]);
    const order = lines.filter((l) => /reloading the configuration|configuration reloaded/.test(l));
    assert.deepEqual(order.map((l) => l.includes("reloaded")), [false, true, false, true]);
  });
});

Deno.test("CALL /node/reload answers this node's full-access callers only", async () => {
  await withNode(base, async (node) => {
    const call = (origin: string | null, role?: "full" | "read") =>
      node.router.handle({ method: "CALL", path: "/node/reload", args: {}, origin, role });
    const remote = await call("office", "full");
    assert.equal(remote.status, 403);
    assert.match(remote.error ?? "", /office may not reload/);
    assert.equal((await call(null, "read")).status, 403);
    assert.equal((await call(null)).status, 403);
    const local = await call(null, "full");
    assert.equal(local.status, 200, JSON.stringify(local));
    assert.match(String((local.body as { file: string }).file), /node\.ini$/);
  });
});

Deno.test("createLogger() with a LogLevelSwitch: every child follows a level change", () => {
  const lines: string[] = [];
  const level = new LogLevelSwitch("warn");
  const root = createLogger({ level, sink: (l) => lines.push(l), now: () => new Date(0) });
  const child = root.with({ component: "x" });
  child.info("hidden");
  level.level = "debug";
  child.debug("shown");
  root.info("also");
  level.level = "error";
  child.warn("hidden again");
  assert.deepEqual(lines.map((l) => l.split(/\s+/)[2]), ["shown", "also"]);
  assert.equal(memoryLogger("info").lines.length, 0);
});

Deno.test("watchCertificateExpiry() warns at start and every day from 30 days before, errors once expired", async () => {
  const now = Date.UTC(2030, 0, 1);
  const ca = await generateCa({ now: new Date(now - 86_400_000) });
  const leaf = await issueNodeCert(ca, {
    name: "n1",
    hosts: ["127.0.0.1"],
    days: 12,
    now: new Date(now - 86_400_000),
  });
  const clock = new FakeClock();
  const logger = memoryLogger("info");
  let wall = now;
  const watch = watchCertificateExpiry(leaf.certPem, "/etc/portal/n1.pem", {
    logger,
    clock,
    now: () => wall,
  });
  try {
    assert.equal(logger.lines.length, 1);
    assert.match(logger.lines[0], /WARN .*tls_cert expires soon .*days_left=11/);
    wall += 86_400_000;
    clock.advance(86_400_000);
    assert.equal(logger.lines.length, 2);
    assert.match(logger.lines[1], /days_left=10/);
    wall += 20 * 86_400_000;
    clock.advance(86_400_000);
    assert.match(logger.lines[2], /ERROR .*tls_cert has expired .*days_left=-/);
    // A reload brought a certificate good for years: no more lines.
    const fresh = await issueNodeCert(ca, {
      name: "n1",
      hosts: ["127.0.0.1"],
      days: 365,
      now: new Date(wall),
    });
    watch.check(fresh.certPem, "/etc/portal/n1.pem");
    clock.advance(86_400_000);
    assert.equal(logger.lines.length, 3);
  } finally {
    watch.stop();
  }
});

Deno.test("RunningNode.reload() re-reads the certificate: metrics and the expiry warning follow it", async () => {
  await withNode(base, async (node, ini, lines) => {
    const expirySeconds = () => {
      const m = /portal_certificate_expiry_seconds\{key="tls_cert"[^}]*\} (\d+)/.exec(
        node.metrics.render(),
      );
      return Number(m?.[1]);
    };
    assert.ok(expirySeconds() > 300 * 86_400);
    const dir = ini.replace(/\/node\.ini$/, "");
    await genCerts({ dir, node: "node", hosts: ["localhost", "127.0.0.1"], days: 10, force: true });
    const outcome = await node.reload("test");
    assert.equal(outcome.kind, "applied", JSON.stringify(outcome));
    if (outcome.kind !== "applied") return;
    assert.equal(outcome.report.certificates, "replaced");
    assert.ok(expirySeconds() <= 10 * 86_400, String(expirySeconds()));
    assert.ok(
      lines.some((l) => /WARN .*tls_cert expires soon .*days_left=(9|10)\b/.test(l)),
      lines.join("\n"),
    );
  });
});

Deno.test("NodeCredentials: dials after install() present the new certificate and trust the new CA", async () => {
  const oldCa = await generateCa();
  const newCa = await generateCa();
  const hosts = ["localhost", "127.0.0.1"];
  const oldLeaf = await issueNodeCert(oldCa, { name: "office", hosts });
  const newLeaf = await issueNodeCert(newCa, { name: "office", hosts });
  const hub = await issueNodeCert(newCa, { name: "hub", hosts });
  // The hub trusts only the new CA, and asks dialers for their certificate.
  const listener = await openNodeTlsListener({
    hostname: "127.0.0.1",
    port: 0,
    cert: hub.certPem,
    key: hub.keyPem,
    clientCa: newCa.certPem,
  });
  const node = nodeConfig("office", { tls: true, listenPort: null });
  const creds = new NodeCredentials(node, {
    ca: oldCa.certPem,
    pair: { cert: oldLeaf.certPem, key: oldLeaf.keyPem },
  });
  const target = peerConfig("hub", { port: listener.addr.port, tlsServerName: "localhost" });
  try {
    await assert.rejects(creds.dialer(target, new AbortController().signal));
    const changed = creds.install({
      ca: newCa.certPem,
      pair: { cert: newLeaf.certPem, key: newLeaf.keyPem },
    }, false);
    assert.equal(changed, true);
    const [dialed, accepted] = await Promise.all([
      creds.dialer(target, new AbortController().signal),
      listener.accept(),
    ]);
    assert.deepEqual(accepted.certNames?.[0], "office");
    dialed.conn.close();
    accepted.conn.close();
  } finally {
    listener.close();
  }
});
