import assert from "node:assert/strict";
import { linked, nodeConfig, peerConfig, reachableVia, startTestNode } from "./helpers/nodes.ts";
import { deadPort } from "./kit/mod.ts";

Deno.test("Federation routes office → hub → factory when factory's direct address is dead", async () => {
  const hub = startTestNode(nodeConfig("hub"), []);
  const factory = startTestNode(nodeConfig("factory"), [peerConfig("hub", { port: hub.port })]);
  const office = startTestNode(nodeConfig("office"), [
    peerConfig("hub", { port: hub.port }),
    peerConfig("factory", { port: deadPort(), hubs: ["hub"] }),
  ]);
  try {
    await linked(office, "hub");
    await linked(hub, "factory");
    await reachableVia(office, "factory", "hub");
    const res = await office.router.handle({
      method: "GET",
      path: "/node/factory/health",
      args: {},
      origin: null,
    });
    assert.equal(res.status, 200, JSON.stringify(res));
    assert.equal((res.body as { node: string }).node, "factory");
    const peers = await office.router.handle({
      method: "GET",
      path: "/node/peers",
      args: {},
      origin: null,
    });
    const views = peers.body as {
      name: string;
      status: string;
      via: string | null;
      latency_ms: unknown;
    }[];
    const hubView = views.find((v) => v.name === "hub") as { status: string; latency_ms: unknown };
    assert.equal(hubView.status, "connected");
    assert.equal(typeof hubView.latency_ms, "number", "the handshake's round trip seeds latency");
    const f = views.find((v) => v.name === "factory");
    assert.equal(f?.status, "via-hub");
    assert.equal(f?.via, "hub");
    assert.ok(hub.fed.counters.relayed >= 2, "hub relayed request and response");
  } finally {
    await office.fed.stop();
    await factory.fed.stop();
    await hub.fed.stop();
  }
});
