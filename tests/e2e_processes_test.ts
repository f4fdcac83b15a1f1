import assert from "node:assert/strict";
import { freePort, makeCertDir, modNode, NodeProcess, writeIni } from "./helpers/cluster.ts";

Deno.test("three main.ts processes: factory via hub, kill -9 gives 502 at once, restart recovers", async () => {
  const dir = await makeCertDir(["hub", "office", "factory"]);
  const hubPort = freePort();
  const apiPort = freePort();
  const dead = freePort();
  const hubIni = await writeIni(dir, "hub", modNode("hub", hubPort) + "[mod_http]\nlisten = off\n");
  const factoryIni = await writeIni(
    dir,
    "factory",
    modNode("factory", "off", "reconnect_initial = 200ms\nreconnect_max = 1s") +
      `[peer:hub]\nhost = 127.0.0.1\nport = ${hubPort}\nauto_connect = true\n` +
      "[mod_http]\nlisten = off\n",
  );
  const officeIni = await writeIni(
    dir,
    "office",
    modNode("office", "off", "request_timeout = 20s") +
      `[peer:hub]\nhost = localhost\nport = ${hubPort}\nauto_connect = true\n` +
      `[peer:factory]\nhost = 127.0.0.1\nport = ${dead}\nauto_connect = true\nhub = hub\n` +
      `[mod_http]\nlisten = 127.0.0.1:${apiPort}\n`,
  );
  const api = `http://127.0.0.1:${apiPort}/api`;
  const get = async (path: string) => {
    const r = await fetch(api + path);
    return { status: r.status, body: await r.json() };
  };
  const hub = new NodeProcess("hub", hubIni);
  let factory = new NodeProcess("factory", factoryIni);
  const office = new NodeProcess("office", officeIni);
  try {
    await hub.waitFor(/authenticated peer=factory/);
    await hub.waitFor(/authenticated peer=office/);
    await office.waitFor(/node ready/);
    await office.waitFor(/factory is reachable via hub/);

    const health = await get("/node/factory/health");
    assert.equal(health.status, 200);
    assert.equal(health.body.node, "factory");
    const peers = await get("/node/peers");
    const byName = Object.fromEntries(peers.body.map((p: { name: string }) => [p.name, p]));
    assert.equal(byName.hub.status, "connected");
    assert.equal(byName.factory.status, "via-hub");
    assert.equal(byName.factory.via, "hub");

    const mark = hub.lines.length;
    factory.kill("SIGKILL");
    await factory.exited();
    await hub.waitFor(/disconnected peer=factory/, 20_000, mark);
    const t0 = performance.now();
    const lost = await get("/node/factory/health");
    const took = performance.now() - t0;
    assert.equal(lost.status, 502);
    assert.match(lost.body.error, /factory/);
    assert.ok(took < 2000, `502 took ${took} ms; request_timeout is 20 s`);

    const mark2 = hub.lines.length;
    const officeMark = office.lines.length;
    factory = new NodeProcess("factory", factoryIni);
    await hub.waitFor(/authenticated peer=factory/, 20_000, mark2);
    await office.waitFor(/factory is reachable via hub/, 20_000, officeMark);
    const back = await get("/node/factory/health");
    assert.equal(back.status, 200);
    assert.equal(back.body.node, "factory");
  } finally {
    const t0 = performance.now();
    for (const p of [office, factory, hub]) p.kill("SIGTERM");
    const statuses = await Promise.all([office, factory, hub].map((p) => p.exited()));
    const stopMs = performance.now() - t0;
    await Deno.remove(dir, { recursive: true });
    for (const s of statuses) assert.equal(s.code, 0, `SIGTERM exits 0: ${JSON.stringify(s)}`);
    assert.ok(stopMs < 5000, `stopped in ${stopMs} ms`);
  }
});
