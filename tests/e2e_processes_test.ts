import assert from "node:assert/strict";
import {
  type Child,
  deadPort,
  http,
  makeCertDir,
  modNode,
  nodeReady,
  peer,
  startNode,
  writeIni,
} from "./kit/mod.ts";

Deno.test("three main.ts processes: factory via hub, kill -9 gives 502 at once, restart recovers", async () => {
  const dir = await makeCertDir(["hub", "office", "factory"]);
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
    const factoryIni = await writeIni(
      dir,
      "factory",
      modNode("factory", {
        listenPort: "off",
        extra: { reconnect_initial: "200ms", reconnect_max: "1s" },
      }),
      peer("hub", { port: hubPort }),
      http("off"),
    );
    const officeIni = await writeIni(
      dir,
      "office",
      modNode("office", { listenPort: "off", extra: { request_timeout: "20s" } }),
      peer("hub", { host: "localhost", port: hubPort }),
      peer("factory", { port: deadPort(), hub: "hub" }),
      http(),
    );
    let factory = start("factory", factoryIni);
    const office = start("office", officeIni);
    const api = `http://127.0.0.1:${(await nodeReady(office)).api}/api`;
    const get = async (path: string) => {
      const r = await fetch(api + path);
      return { status: r.status, body: await r.json() };
    };
    await hub.waitFor(/authenticated peer=factory/, "factory's link");
    await hub.waitFor(/authenticated peer=office/, "office's link");
    await office.waitFor(/factory is reachable via hub/, "office to hear factory is at the hub");

    const health = await get("/node/factory/health");
    assert.equal(health.status, 200);
    assert.equal(health.body.node, "factory");
    const peers = await get("/node/peers");
    const byName = Object.fromEntries(peers.body.map((p: { name: string }) => [p.name, p]));
    assert.equal(byName.hub.status, "connected");
    assert.equal(byName.factory.status, "via-hub");
    assert.equal(byName.factory.via, "hub");

    const mark = hub.log.count;
    factory.signal("SIGKILL");
    await factory.exited();
    await hub.waitFor(/disconnected peer=factory/, "the hub to see factory go", 20_000, mark);
    const t0 = performance.now();
    const lost = await get("/node/factory/health");
    const took = performance.now() - t0;
    assert.equal(lost.status, 502);
    assert.match(lost.body.error, /factory/);
    assert.ok(took < 2000, `502 took ${took} ms; request_timeout is 20 s`);

    const mark2 = hub.log.count;
    const officeMark = office.log.count;
    factory = start("factory", factoryIni);
    await hub.waitFor(/authenticated peer=factory/, "factory back", 20_000, mark2);
    await office.waitFor(
      /factory is reachable via hub/,
      "factory back at office",
      20_000,
      officeMark,
    );
    const back = await get("/node/factory/health");
    assert.equal(back.status, 200);
    assert.equal(back.body.node, "factory");
  } finally {
    const running = nodes.filter((n) => n.running);
    const t0 = performance.now();
    for (const n of running) n.signal("SIGTERM");
    const statuses = await Promise.all(running.map((n) => n.exited()));
    const stopMs = performance.now() - t0;
    await Deno.remove(dir, { recursive: true });
    for (const s of statuses) assert.equal(s.code, 0, `SIGTERM exits 0: ${JSON.stringify(s)}`);
    assert.ok(stopMs < 5000, `stopped in ${stopMs} ms`);
  }
});
