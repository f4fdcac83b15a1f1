/**
 * Change without downtime, in one process: a node that drains tells its neighbours it is
 * leaving, so they stop sending it new work at once while what is in flight completes; a peer
 * reached through two hubs moves to the second when the first goes, and back when it returns.
 */
import assert from "node:assert/strict";
import { PathRouter } from "../src/paths/mod.ts";
import {
  linked,
  nodeConfig,
  peerConfig,
  reachableVia,
  startTestNode,
  type TestNode,
} from "./helpers/nodes.ts";
import { within } from "./kit/mod.ts";

function statusOf(node: TestNode, peer: string): string | undefined {
  return node.fed.peerViews().find((v) => v.name === peer)?.status;
}

Deno.test("Federation.drain() finishes requests in flight and tells neighbours at once", async () => {
  const router = new PathRouter();
  let release = () => {};
  const started = Promise.withResolvers<void>();
  router.on("GET", "/slow", () =>
    new Promise((resolve) => {
      release = () => resolve({ status: 200, body: "done" });
      started.resolve();
    }));
  const hub = startTestNode(nodeConfig("hub"), []);
  const factory = startTestNode(nodeConfig("factory", { listenPort: null }), [
    peerConfig("hub", { port: hub.port }),
  ], { router });
  const office = startTestNode(nodeConfig("office", { listenPort: null }), [
    peerConfig("hub", { port: hub.port }),
    peerConfig("factory", { host: null, autoConnect: false, hubs: ["hub"] }),
  ]);
  try {
    await reachableVia(office, "factory", "hub");
    const inFlight = office.fed.request("factory", "GET", "/slow");
    await within(started.promise, "the slow request to start");
    const drained = factory.fed.drain(5_000);
    const t0 = performance.now();
    await within(office.fed.when(() => statusOf(office, "factory") === "disconnected"), "office");
    assert.ok(performance.now() - t0 < 1_000, "office knows at once, not after missed pings");
    const refused = await office.fed.request("factory", "GET", "/health");
    assert.equal(refused.status, 502, JSON.stringify(refused));
    release();
    assert.deepEqual(await within(inFlight, "the request in flight"), {
      status: 200,
      body: "done",
    });
    await within(drained, "the drain");
    await within(hub.fed.when(() => hub.fed.peer("factory") === undefined), "hub forgets factory");
    assert.ok(hub.log.some((l) => l.includes("peer factory is shutting down")), hub.log.join("\n"));
    const closed = hub.log.filter((l) => l.includes("disconnected peer=factory"));
    assert.ok(closed.every((l) => l.includes(" INFO ") && l.includes("shut down")), closed.join());
  } finally {
    await office.fed.stop();
    await factory.fed.stop();
    await hub.fed.stop();
  }
});

Deno.test("Federation moves a peer to its second hub when the first goes, and back when it returns", async () => {
  const hubA = startTestNode(nodeConfig("hub-a"), []);
  const hubB = startTestNode(nodeConfig("hub-b"), []);
  const portA = hubA.port;
  const factory = startTestNode(
    nodeConfig("factory", { listenPort: null, reconnectInitialMs: 100, reconnectMaxMs: 200 }),
    [peerConfig("hub-a", { port: portA }), peerConfig("hub-b", { port: hubB.port })],
  );
  const office = startTestNode(
    nodeConfig("office", { listenPort: null, reconnectInitialMs: 100, reconnectMaxMs: 200 }),
    [
      peerConfig("hub-a", { port: portA }),
      peerConfig("hub-b", { port: hubB.port }),
      peerConfig("factory", { host: null, autoConnect: false, hubs: ["hub-a", "hub-b"] }),
    ],
  );
  let hubA2: TestNode | null = null;
  try {
    await reachableVia(office, "factory", "hub-a");
    await linked(office, "hub-b");
    assert.equal((await office.fed.request("factory", "GET", "/health")).status, 200);

    await hubA.fed.drain(1_000);
    await reachableVia(office, "factory", "hub-b");
    const t0 = performance.now();
    const viaB = await office.fed.request("factory", "GET", "/health");
    assert.equal(viaB.status, 200);
    assert.ok(performance.now() - t0 < 1_000);

    hubA2 = startTestNode(nodeConfig("hub-a", { listenPort: portA }), []);
    await reachableVia(office, "factory", "hub-a");
    const before = hubA2.fed.counters.relayed;
    assert.equal((await office.fed.request("factory", "GET", "/health")).status, 200);
    assert.ok(hubA2.fed.counters.relayed > before, "traffic is back on hub-a");
  } finally {
    await office.fed.stop();
    await factory.fed.stop();
    await hubA2?.fed.stop();
    await hubA.fed.stop();
    await hubB.fed.stop();
  }
});
