/**
 * Change without downtime, with real main.ts processes over TLS: a reload under load touches
 * only what changed, a broken file is refused while the node runs on, rotated certificates reach
 * new connections only, a peer behind two hubs survives losing one, and a stopping node lets
 * its requests in flight finish while its neighbours learn at once that it left.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import tls from "node:tls";
import { genCerts } from "../src/pki/mod.ts";
import { startFakeTasmota } from "./fakes/tasmota.ts";
import {
  type Child,
  deadPort,
  device,
  http,
  iot,
  mainArgs,
  makeCertDir,
  modNode,
  nodeReady,
  peer,
  startNode,
  stopAll,
  within,
  writeIni,
} from "./kit/mod.ts";

/** One answer of the load, stamped with when it was asked and answered. */
interface Sample {
  readonly t0: number;
  readonly t1: number;
  readonly status: number;
  readonly error: string;
}

/** `workers` loops asking `path` of an API until stopped; every answer is kept. */
class Load {
  readonly samples: Sample[] = [];
  #running = true;
  readonly #loops: Promise<void>[];

  constructor(api: number, path: string, workers = 4, init: RequestInit = {}) {
    this.#loops = Array.from({ length: workers }, async () => {
      // Bounded: each loop ends when stopped, each request within 5 s.
      for (let i = 0; this.#running && i < 100_000; i++) {
        const t0 = performance.now();
        let status = 0;
        let error = "";
        try {
          const r = await fetch(`http://127.0.0.1:${api}/api${path}`, {
            ...init,
            signal: AbortSignal.timeout(5_000),
          });
          const body = await r.json();
          status = r.status;
          error = body?.error ?? "";
        } catch (e) {
          error = String(e);
        }
        this.samples.push({ t0, t1: performance.now(), status, error });
      }
    });
  }

  /** Answers counted from `since` (performance.now()) on. */
  after(since: number): Sample[] {
    return this.samples.filter((s) => s.t0 >= since);
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
  }
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function api(port: number, path: string, init: RequestInit = {}) {
  const r = await fetch(`http://127.0.0.1:${port}/api${path}`, init);
  return { status: r.status, body: await r.json() };
}

/** Runs `fn` with a fresh certificate directory for `names` and the nodes it starts; cleans up. */
async function withCluster(
  names: string[],
  fn: (dir: string, start: (name: string, ini: string) => Child) => Promise<void>,
): Promise<void> {
  const dir = await makeCertDir(names);
  const nodes: Child[] = [];
  try {
    await fn(dir, (name, ini) => {
      const child = startNode(name, ini);
      nodes.push(child);
      return child;
    });
  } finally {
    await stopAll(nodes, { graceMs: 8_000 });
    await Deno.remove(dir, { recursive: true });
  }
}

const QUICK = { ping_interval: "500ms", ping_max_missed: 2 };
const RECONNECT = { reconnect_initial: "100ms", reconnect_max: "300ms" };

Deno.test("processes: SIGHUP under load adds a device and a peer, fails nothing, keeps the hub link", async () => {
  await withCluster(["hub", "factory", "office", "depot"], async (dir, start) => {
    const hub = start(
      "hub",
      await writeIni(dir, "hub", modNode("hub", { extra: QUICK }), http("off")),
    );
    const hubPort = (await nodeReady(hub)).federation!;
    const depot = start("depot", await writeIni(dir, "depot", modNode("depot"), http("off")));
    const depotPort = (await nodeReady(depot)).federation!;
    start(
      "factory",
      await writeIni(
        dir,
        "factory",
        modNode("factory", { listenPort: "off", extra: RECONNECT }),
        peer("hub", { port: hubPort }),
        http("off"),
      ),
    );
    const officeParts = [
      modNode("office", { listenPort: "off", extra: RECONNECT }),
      peer("hub", { port: hubPort }),
      peer("factory", { hub: "hub" }),
      http(),
      iot({ poll_interval: "1h" }),
      device("lamp", { driver: "sim" }),
    ];
    const officeIni = await writeIni(dir, "office", ...officeParts);
    const office = start("office", officeIni);
    const officeApi = (await nodeReady(office)).api!;
    await office.waitFor(/factory is reachable via hub/, "office to see factory");

    const load = new Load(officeApi, "/node/factory/health");
    await pause(400);
    const mark = office.log.count;
    await writeIni(
      dir,
      "office",
      ...officeParts,
      device("fan", { driver: "sim" }),
      peer("depot", { port: depotPort }),
    );
    office.signal("SIGHUP");
    const line = await office.waitFor(/configuration reloaded/, "the reload", 10_000, mark);
    assert.match(line, /peers_added=depot/);
    assert.match(line, /devices_added=fan/);
    await office.waitFor(/authenticated peer=depot/, "office to link to depot", 10_000, mark);
    await pause(400);
    await load.stop();

    const failed = load.samples.filter((s) => s.status !== 200);
    assert.deepEqual(failed, [], `${failed.length} of ${load.samples.length} failed`);
    assert.ok(load.after(0).length > 20, `only ${load.samples.length} requests`);
    const after = office.log.since(mark);
    assert.deepEqual(after.filter((l) => /peer=hub\b/.test(l)), []);
    assert.equal(office.log.lines.filter((l) => /authenticated peer=hub/.test(l)).length, 1);
    const peers = (await api(officeApi, "/node/peers")).body as { name: string; status: string }[];
    assert.equal(peers.find((p) => p.name === "depot")?.status, "connected");
    assert.equal(peers.find((p) => p.name === "hub")?.status, "connected");
    const devices = (await api(officeApi, "/iot/devices")).body as { id: string }[];
    assert.deepEqual(devices.map((d) => d.id), ["lamp", "fan"]);
    assert.equal((await api(officeApi, "/node/depot/health")).status, 200);
  });
});

Deno.test("processes: a broken node.ini is refused with FILE:LINE and the node runs on; portal reload applies a good one", async () => {
  await withCluster(["office"], async (dir, start) => {
    const parts = [modNode("office", { listenPort: "off" }), http("127.0.0.1:0", { token: "t1" })];
    const ini = await writeIni(dir, "office", ...parts);
    const office = start("office", ini);
    const port = (await nodeReady(office)).api!;
    const auth = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

    const text = await Deno.readTextFile(ini);
    await Deno.writeTextFile(ini, text.replace("listen_host", "listen_hots"));
    const mark = office.log.count;
    office.signal("SIGHUP");
    await office.waitFor(/ERROR .*reload refused/, "the refusal", 10_000, mark);
    const where = await office.waitFor(/ERROR .*office\.ini:\d+: /, "FILE:LINE", 10_000, mark);
    assert.match(where, /unknown key 'listen_hots'/);
    assert.ok(office.running);
    assert.equal((await api(port, "/health", auth("t1"))).status, 200);

    // The same file through the API and the CLI: 400 and exit 1, with the same line.
    const reload = (token: string) =>
      new Deno.Command(Deno.execPath(), {
        args: mainArgs([
          "reload",
          "--url",
          `http://127.0.0.1:${port}`,
          "--token",
          token,
        ]),
        stdout: "piped",
        stderr: "piped",
      }).output();
    const refused = await reload("t1");
    assert.equal(refused.code, 1);
    assert.match(new TextDecoder().decode(refused.stderr), /office\.ini:\d+: unknown key/);

    await Deno.writeTextFile(ini, text.replace("token = t1", "token = t2"));
    const applied = await reload("t1");
    assert.equal(applied.code, 0, new TextDecoder().decode(applied.stderr));
    assert.match(new TextDecoder().decode(applied.stdout), /reloaded .*office\.ini/);
    assert.equal((await api(port, "/health", auth("t1"))).status, 401);
    assert.equal((await api(port, "/health", auth("t2"))).status, 200);
    const again = await api(port, "/node/reload", { method: "POST", ...auth("t2") });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.deepEqual(again.body.peers.added, []);
    const status = await office.stop();
    assert.equal(status.code, 0);
  });
});

/** The SHA-256 fingerprint of the certificate a TLS listener presents now. */
function presented(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, ca, servername: "localhost" }, () => {
      const der = socket.getPeerCertificate(true).raw;
      socket.destroy();
      resolve(new X509Certificate(der).fingerprint256);
    });
    socket.once("error", reject);
  });
}

Deno.test("processes: rotated certificates reach new connections; links already up stay", async () => {
  await withCluster(["hub", "factory", "office", "late"], async (dir, start) => {
    const hub = start("hub", await writeIni(dir, "hub", modNode("hub", { extra: QUICK }), http()));
    const at = await nodeReady(hub);
    for (const name of ["factory", "office"]) {
      start(
        name,
        await writeIni(
          dir,
          name,
          modNode(name, { listenPort: "off", extra: RECONNECT }),
          peer("hub", { port: at.federation! }),
          http("off"),
        ),
      );
      await hub.waitFor(new RegExp(`authenticated peer=${name}`), `${name} at the hub`);
    }
    const ca = await Deno.readTextFile(`${dir}/ca.pem`);
    const old = await presented(at.federation!, ca);
    assert.equal(
      old,
      new X509Certificate(await Deno.readTextFile(`${dir}/hub.pem`)).fingerprint256,
    );

    await genCerts({ dir, node: "hub", hosts: ["localhost", "127.0.0.1"], force: true });
    const fresh = new X509Certificate(await Deno.readTextFile(`${dir}/hub.pem`)).fingerprint256;
    assert.notEqual(fresh, old);
    const mark = hub.log.count;
    hub.signal("SIGHUP");
    const line = await hub.waitFor(/configuration reloaded/, "the reload", 10_000, mark);
    assert.match(line, /certificates=replaced/);
    assert.equal(await presented(at.federation!, ca), fresh);
    await pause(1_200);
    assert.deepEqual(hub.log.since(mark).filter((l) => /disconnected/.test(l)), []);
    const peers = (await api(at.api!, "/node/peers")).body as { name: string; status: string }[];
    assert.deepEqual(peers.map((p) => p.status), ["connected", "connected"]);
    // A node that dials now is verified against the new certificate and gets in.
    const late = start(
      "late",
      await writeIni(
        dir,
        "late",
        modNode("late", { listenPort: "off" }),
        peer("hub", { port: at.federation! }),
        http("off"),
      ),
    );
    await late.waitFor(/authenticated peer=hub/, "a new dialer to get in");
  });
});

Deno.test("processes: kill -9 the first hub under load: requests move to the second within 1 s, and back", async () => {
  await withCluster(["hub-a", "hub-b", "factory", "office"], async (dir, start) => {
    const hubAIni = await writeIni(dir, "hub-a", modNode("hub-a", { extra: QUICK }), http());
    let hubA = start("hub-a", hubAIni);
    const portA = (await nodeReady(hubA)).federation!;
    // Back on the same port after the kill.
    await Deno.writeTextFile(
      hubAIni,
      (await Deno.readTextFile(hubAIni)).replace(
        "listen_port = 0",
        `listen_port = ${portA}`,
      ),
    );
    const hubB = start(
      "hub-b",
      await writeIni(dir, "hub-b", modNode("hub-b", { extra: QUICK }), http("off")),
    );
    const portB = (await nodeReady(hubB)).federation!;
    const hubs = [peer("hub-a", { port: portA }), peer("hub-b", { port: portB })];
    start(
      "factory",
      await writeIni(
        dir,
        "factory",
        modNode("factory", { listenPort: "off", extra: RECONNECT }),
        ...hubs,
        http("off"),
      ),
    );
    const office = start(
      "office",
      await writeIni(
        dir,
        "office",
        modNode("office", { listenPort: "off", extra: RECONNECT }),
        ...hubs,
        peer("factory", { hub: ["hub-a", "hub-b"] }),
        http(),
      ),
    );
    const officeApi = (await nodeReady(office)).api!;
    await office.waitFor(/factory is reachable via hub-a/, "factory via hub-a");
    const via = async () =>
      ((await api(officeApi, "/node/peers")).body as { name: string; via: string | null }[])
        .find((p) => p.name === "factory")?.via;

    const load = new Load(officeApi, "/node/factory/health");
    await pause(300);
    const killedAt = performance.now();
    hubA.signal("SIGKILL");
    await hubA.exited();
    await within(
      (async () => {
        while ((await via()) !== "hub-b") await pause(20);
      })(),
      "office to route through hub-b",
      5_000,
    );
    await pause(1_300);
    const around = load.after(killedAt - 200);
    const failed = around.filter((s) => s.status !== 200);
    // Only what was on its way through hub-a when it died fails (one per load worker at most);
    // nothing asked 1 s later does.
    assert.ok(failed.length <= 4, JSON.stringify(failed));
    for (const f of failed) assert.ok(f.t0 < killedAt + 1_000, JSON.stringify(f));
    const resumed = load.after(killedAt + 1_000);
    assert.ok(
      resumed.length > 5 && resumed.every((s) => s.status === 200),
      JSON.stringify(resumed.filter((s) => s.status !== 200).slice(0, 3)) + office.tail(),
    );

    const backMark = office.log.count;
    hubA = start("hub-a", hubAIni);
    await nodeReady(hubA);
    await office.waitFor(
      /factory is reachable via hub-a/,
      "factory back on hub-a",
      10_000,
      backMark,
    );
    assert.equal(await via(), "hub-a");
    const backAt = performance.now();
    await pause(500);
    await load.stop();
    const late = load.after(backAt);
    assert.ok(late.length > 5 && late.every((s) => s.status === 200), JSON.stringify(late));
    const relayedByA = (await api((await nodeReady(hubA)).api!, "/node/status")).body;
    assert.ok(relayedByA.messages_relayed > 0, JSON.stringify(relayedByA));
  });
});

Deno.test("processes: SIGTERM on factory under load: requests in flight complete, office knows at once", async () => {
  const lamp = await startFakeTasmota();
  try {
    await withCluster(["hub", "factory", "office"], async (dir, start) => {
      const hub = start(
        "hub",
        await writeIni(dir, "hub", modNode("hub", { extra: QUICK }), http("off")),
      );
      const hubPort = (await nodeReady(hub)).federation!;
      const factory = start(
        "factory",
        await writeIni(
          dir,
          "factory",
          modNode("factory", { listenPort: "off", extra: { ...RECONNECT, drain_timeout: "3s" } }),
          peer("hub", { port: hubPort }),
          http("off"),
          iot({ poll_interval: "1h" }),
          ...["a", "b", "c"].map((id) =>
            device(`slow-${id}`, { driver: "tasmota", host: lamp.host, timeout: "5s" })
          ),
        ),
      );
      const office = start(
        "office",
        await writeIni(
          dir,
          "office",
          modNode("office", { listenPort: "off" }),
          peer("hub", { port: hubPort }),
          peer("factory", { port: deadPort(), hub: "hub", autoConnect: false }),
          http(),
        ),
      );
      const officeApi = (await nodeReady(office)).api!;
      await office.waitFor(/factory is reachable via hub/, "office to see factory");
      const load = new Load(officeApi, "/node/factory/health", 2);
      // Each device was read once at start; the commands come after those.
      await within(lamp.received(3), "the first polls");
      const polls = lamp.requests.length;
      lamp.behaviour = "hang";
      const inFlight = ["a", "b", "c"].map((id) =>
        api(officeApi, `/node/factory/iot/devices/slow-${id}/on`, { method: "POST" })
      );
      await within(lamp.received(polls + 3), "the device to get three commands");
      const mark = office.log.count;
      factory.signal("SIGTERM");
      const stopping = await factory.waitFor(/stopping signal=SIGTERM/, "factory to stop");
      assert.match(stopping, /drain_timeout=3s/);
      const t0 = performance.now();
      await within(
        (async () => {
          for (;;) {
            const peers = (await api(officeApi, "/node/peers")).body as {
              name: string;
              status: string;
            }[];
            if (peers.find((p) => p.name === "factory")?.status === "disconnected") return;
            await pause(20);
          }
        })(),
        "office to mark factory disconnected",
        5_000,
      );
      const knewAfter = performance.now() - t0;
      assert.ok(knewAfter < 1_000, `office knew after ${knewAfter.toFixed(0)} ms`);
      assert.ok(factory.running, `factory still finishing what is in flight\n${factory.tail()}`);
      lamp.behaviour = "normal";
      lamp.answerHanging();
      const answers = await within(Promise.all(inFlight), "the commands in flight");
      assert.deepEqual(answers.map((a) => a.status), [200, 200, 200], JSON.stringify(answers));
      assert.equal((await factory.exited()).code, 0);
      await load.stop();
      assert.ok(office.log.since(mark).some((l) => /factory is not reachable/.test(l)));
      // New requests are refused at once (502), never left to time out.
      for (const s of load.samples) assert.ok(s.t1 - s.t0 < 2_000, JSON.stringify(s));
    });
  } finally {
    await lamp.close();
  }
});
