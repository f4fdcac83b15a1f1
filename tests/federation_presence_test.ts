/**
 * Presence through a hub (PORTAL02.md §9): a node knows whether a peer it reaches via a hub is
 * really there, shows it in /node/peers, and fails requests for it at once when it is not.
 */
import assert from "node:assert/strict";
import { linked, nodeConfig, peerConfig, startTestNode, type TestNode } from "./helpers/nodes.ts";
import { within } from "./kit/mod.ts";

function viaHub(office: TestNode): Promise<void> {
  return within(
    office.fed.when(() =>
      office.fed.peerViews().find((v) => v.name === "factory")?.status === "via-hub"
    ),
    "factory via-hub at office",
  );
}

function gone(office: TestNode): Promise<void> {
  return within(
    office.fed.when(() =>
      office.fed.peerViews().find((v) => v.name === "factory")?.status === "disconnected"
    ),
    "factory disconnected at office",
  );
}

Deno.test("Federation shows a peer behind a hub via-hub only while the hub announces it", async () => {
  const hub = startTestNode(nodeConfig("hub"), []);
  const office = startTestNode(nodeConfig("office", { listenPort: null }), [
    peerConfig("hub", { port: hub.port }),
    peerConfig("factory", { host: null, autoConnect: false, hubs: ["hub"] }),
  ]);
  let factory: TestNode | null = startTestNode(nodeConfig("factory", { listenPort: null }), [
    peerConfig("hub", { port: hub.port }),
  ]);
  try {
    await linked(office, "hub");
    await viaHub(office);
    const view = office.fed.peerViews().find((v) => v.name === "factory");
    assert.equal(view?.via, "hub");
    assert.equal(typeof view?.latency_ms, "number");
    assert.equal((await office.fed.request("factory", "GET", "/health")).status, 200);

    await factory.fed.stop();
    factory = null;
    await gone(office);
    assert.equal(office.fed.status().peers_disconnected, 1);
    const t0 = performance.now();
    const res = await office.fed.request("factory", "GET", "/health");
    assert.equal(res.status, 502);
    assert.match(
      res.error ?? "",
      /^office: no route to factory: hub 'hub' is up, but factory is not connected to it \(gone for /,
    );
    assert.ok(performance.now() - t0 < 100);
    assert.ok(
      office.log.some((l) => l.includes("factory is not reachable")),
      office.log.join("\n"),
    );

    factory = startTestNode(nodeConfig("factory", { listenPort: null }), [
      peerConfig("hub", { port: hub.port }),
    ]);
    await viaHub(office);
    assert.equal((await office.fed.request("factory", "GET", "/health")).status, 200);
  } finally {
    await factory?.fed.stop();
    await office.fed.stop();
    await hub.fed.stop();
  }
});
