/**
 * Worker pools per origin (PORTAL02.md §10): two origins behind the same hub never share a
 * queue, so one flooding factory gets 503s while the other is served as usual.
 */
import assert from "node:assert/strict";
import { PathRouter } from "../src/paths/mod.ts";
import { linked, nodeConfig, peerConfig, reachableVia, startTestNode } from "./helpers/nodes.ts";
import { within } from "./kit/mod.ts";

Deno.test("Federation gives each origin behind a hub its own pool: one floods, the other is served", async () => {
  const router = new PathRouter();
  const stuck: (() => void)[] = [];
  let started = Promise.withResolvers<void>();
  router.on("GET", "/stuck", () =>
    new Promise((resolve) => {
      stuck.push(() => resolve({ status: 200 }));
      if (stuck.length === 2) started.resolve();
    }));
  const hub = startTestNode(nodeConfig("hub"), []);
  const factory = startTestNode(
    nodeConfig("factory", { listenPort: null, workers: 2, queueLimit: 2 }),
    [peerConfig("hub", { port: hub.port })],
    { router },
  );
  const offices = ["office", "office2"].map((name) =>
    startTestNode(nodeConfig(name, { listenPort: null }), [
      peerConfig("hub", { port: hub.port }),
      peerConfig("factory", { host: null, autoConnect: false, hubs: ["hub"] }),
    ])
  );
  const [office, office2] = offices;
  try {
    await linked(hub, "factory");
    for (const o of offices) await reachableVia(o, "factory", "hub");
    const flood = Array.from({ length: 10 }, () => office.fed.request("factory", "GET", "/stuck"));
    const refused = flood.slice(4);
    for (const r of refused) {
      const res = await within(r, "503 for the flood");
      assert.equal(res.status, 503);
      assert.match(res.error ?? "", /the queue for requests from office is full/);
    }
    // office2's own pool has the same bounds: it sends within them, four at a time.
    const served = [];
    for (let i = 0; i < 5; i++) {
      const batch = Array.from(
        { length: 4 },
        () => office2.fed.request("factory", "GET", "/health"),
      );
      served.push(...await within(Promise.all(batch), "office2's requests"));
    }
    assert.deepEqual(served.map((r) => r.status), served.map(() => 200));
    assert.equal(factory.fed.pool("office")?.active, 2);
    assert.equal(factory.fed.pool("office")?.queued, 2);
    assert.equal(factory.fed.pool("office2")?.active, 0);
    started = Promise.withResolvers<void>();
    for (const release of stuck.splice(0)) release();
    // The two queued ones run now and are released in turn.
    await within(started.promise, "the two queued requests to start");
    for (const release of stuck.splice(0)) release();
    const first = await within(Promise.all(flood.slice(0, 4)), "the flood's accepted four");
    assert.deepEqual(first.map((r) => r.status), [200, 200, 200, 200]);
  } finally {
    for (const release of stuck.splice(0)) release();
    for (const o of offices) await o.fed.stop();
    await factory.fed.stop();
    await hub.fed.stop();
  }
});
