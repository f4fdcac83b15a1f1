/**
 * The two ways in, against a running three-node federation of main.ts
 * processes: every PATHS.md path over real HTTP (local and routed) and the
 * seed's shell transcript through `portal shell` with piped stdin.
 */
import assert from "node:assert/strict";
import {
  type Child,
  deadPort,
  device,
  http,
  iot,
  listenLocal,
  mainArgs,
  makeCertDir,
  modNode,
  nodeReady,
  peer,
  portOf,
  type Ran,
  runCommand,
  startNode,
  writeIni,
} from "./kit/mod.ts";

/** `portal shell --url URL` fed `input` on stdin; stdout and stderr apart. */
function shell(url: string, input: string, extra: string[] = []): Promise<Ran> {
  return runCommand(Deno.execPath(), mainArgs(["shell", "--url", url, ...extra]), { input });
}

Deno.test("HTTP API and shell against three main.ts processes", async (t) => {
  const dir = await makeCertDir(["hub", "office", "factory"]);
  // A device that accepts connections and never answers: the request deadline must win.
  const hanging = listenLocal();
  const held: Deno.Conn[] = [];
  const holding = (async () => {
    try {
      for await (const c of hanging) held.push(c);
    } catch { /* closed */ }
  })();
  const nodes: Child[] = [];
  const start = (name: string, ini: string) => {
    const node = startNode(name, ini);
    nodes.push(node);
    return node;
  };
  try {
    // The hub first, on a port of its choosing; the others' configs are written with it.
    const hub = start("hub", await writeIni(dir, "hub", modNode("hub"), http("off")));
    const hubPort = (await nodeReady(hub)).federation!;
    const factory = start(
      "factory",
      await writeIni(
        dir,
        "factory",
        modNode("factory", { listenPort: "off" }),
        peer("hub", { port: hubPort }),
        http(),
        iot({ poll_interval: "1h" }),
        device("plug-001", { driver: "sim", label: "Press line plug" }),
        device("slow-1", {
          driver: "tasmota",
          host: `127.0.0.1:${portOf(hanging)}`,
          timeout: "20s",
        }),
      ),
    );
    const office = start(
      "office",
      await writeIni(
        dir,
        "office",
        modNode("office", { listenPort: "off", extra: { request_timeout: "1500ms" } }),
        peer("hub", { host: "localhost", port: hubPort }),
        peer("factory", { port: deadPort(), hub: "hub" }),
        peer("nowhere", { port: deadPort(), autoConnect: false }),
        http(),
      ),
    );
    const [officePorts, factoryPorts] = await Promise.all([nodeReady(office), nodeReady(factory)]);
    const url = `http://127.0.0.1:${officePorts.api}`;
    const factoryApi = factoryPorts.api;
    const api = async (path: string, init?: RequestInit) => {
      const r = await fetch(`${url}/api${path}`, init);
      return { status: r.status, body: await r.json() };
    };
    await hub.waitFor(/authenticated peer=factory/, "factory's link");
    await hub.waitFor(/authenticated peer=office/, "office's link");
    await office.waitFor(/factory is reachable via hub/, "office to hear factory is at the hub");

    await t.step("every path, local on office and routed to factory", async () => {
      for (const prefix of ["", "/node/factory"]) {
        const root = await api(`${prefix}?list`);
        assert.equal(root.status, 200);
        assert.ok(
          root.body.includes("health") && root.body.includes("node"),
          JSON.stringify(root.body),
        );
        const health = await api(`${prefix}/health`);
        assert.equal(health.status, 200);
        assert.equal(health.body.node, prefix ? "factory" : "office");
        assert.equal(health.body.status, "ok");
        assert.equal(typeof health.body.uptime_s, "number");
        const names = await api(`${prefix}/node?list`);
        assert.ok(names.body.includes(prefix ? "hub" : "factory"), JSON.stringify(names.body));
        const peers = await api(`${prefix}/node/peers`);
        for (const p of peers.body) {
          for (const k of ["name", "host", "port", "status", "latency_ms", "via", "direction"]) {
            assert.ok(k in p, `${k} in ${JSON.stringify(p)}`);
          }
        }
        const status = await api(`${prefix}/node/status`);
        for (
          const k of [
            "peers_connected",
            "peers_disconnected",
            "messages_sent",
            "messages_received",
            "messages_relayed",
            "messages_dropped",
            "uptime_s",
          ]
        ) assert.equal(typeof status.body[k], "number", k);
        const missing = await api(`${prefix}/no/such/path`);
        assert.equal(missing.status, 404);
        assert.match(missing.body.error, /\/no\/such\/path/);
      }
      const devices = await api("/node/factory/iot/devices");
      assert.deepEqual(devices.body.map((d: { id: string }) => d.id), ["plug-001", "slow-1"]);
      const listed = await api("/node/factory/iot/devices?list");
      assert.equal(listed.status, 200);
      const on = await api("/node/factory/iot/devices/plug-001/on", { method: "POST" });
      assert.equal(on.status, 200);
      assert.equal(on.body.on, true);
      const one = await api("/node/factory/iot/devices/plug-001");
      assert.equal(one.body.on, true, "GET reads the switched state back");
      const toggled = await api("/node/factory/iot/devices/plug-001/toggle", {
        method: "POST",
        body: "{}",
      });
      assert.equal(toggled.body.on, false);
      const off = await fetch(`http://127.0.0.1:${factoryApi}/api/iot/devices/plug-001/off`, {
        method: "POST",
      });
      assert.equal((await off.json()).on, false);
    });

    await t.step("404 unknown node, 502 unreachable, 504 deadline all carry an error", async () => {
      const unknown = await api("/node/atlantis/health");
      assert.equal(unknown.status, 404);
      assert.match(unknown.body.error, /atlantis/);
      const unreachable = await api("/node/nowhere/health");
      assert.equal(unreachable.status, 502);
      assert.match(unreachable.body.error, /nowhere/);
      const slow = await api("/node/factory/iot/devices/slow-1/on", { method: "POST" });
      assert.equal(slow.status, 504);
      assert.match(slow.body.error, /factory/);
    });

    await t.step("the seed's shell transcript with piped stdin", async () => {
      const r = await shell(
        url,
        "node peers\nnode status\ncd /node/factory\npwd\nls /iot/devices\niot on plug-001\nnode peers\ncd ~\npwd\n",
      );
      assert.equal(r.code, 0, r.stderr);
      const out = r.stdout;
      assert.match(out, /^NAME\s+HOST\s+PORT\s+STATUS\s+LATENCY/m);
      assert.match(out, /^hub\s+localhost\s+\d+\s+connected\s+/m);
      assert.match(out, /^factory\s+127\.0\.0\.1\s+\d+\s+via-hub\s+\S+\s+hub/m);
      assert.match(out, /^Peers: \d+ connected, \d+ disconnected$/m);
      assert.match(out, /^Messages sent: [\d,]+$/m);
      assert.match(out, /^Messages received: [\d,]+$/m);
      assert.match(out, /^\/node\/factory$/m);
      assert.match(out, /^plug-001\s+plug\s+Press line plug\s+off$/m);
      assert.match(out, /^plug-001: on$/m);
      // `node peers` after cd runs on factory: its only peer is the hub.
      assert.match(out, /^hub\s+127\.0\.0\.1\s+\d+\s+connected/m);
      assert.match(out, /^\/$/m);
      assert.ok(!out.includes("portal:"), "no prompt echo without a terminal");
    });

    await t.step("a failing command makes the shell exit 1", async () => {
      const r = await shell(url, "pwd\nget /no/such/path\npwd\n");
      assert.equal(r.code, 1);
      assert.match(r.stderr, /404/);
      const one = await shell(url, "", ["-c", "node status"]);
      assert.equal(one.code, 0);
      assert.match(one.stdout, /^Peers: /m);
    });
  } finally {
    for (const n of nodes) n.signal("SIGTERM");
    await Promise.all(nodes.map((n) => n.exited()));
    hanging.close();
    await holding;
    for (const c of held) c.close();
    await Deno.remove(dir, { recursive: true });
  }
});
