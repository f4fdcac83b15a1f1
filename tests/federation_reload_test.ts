/** A reload of a running federation: only what changed is touched (issue "Change without downtime"). */
import assert from "node:assert/strict";
import { linked, nodeConfig, peerConfig, startTestNode } from "./helpers/nodes.ts";
import { within } from "./kit/mod.ts";

Deno.test("Federation.reconfigure() adds, removes and redials only the peers that changed", async () => {
  const hub = startTestNode(nodeConfig("hub"), []);
  const lab = startTestNode(nodeConfig("lab"), []);
  const plant = startTestNode(nodeConfig("plant"), []);
  const node = nodeConfig("office", { listenPort: null });
  const office = startTestNode(node, [
    peerConfig("hub", { port: hub.port }),
    peerConfig("plant", { port: plant.port }),
    peerConfig("factory", { host: null, autoConnect: false, hubs: ["hub"] }),
  ]);
  try {
    await linked(office, "hub");
    await linked(office, "plant");
    const hubLink = office.fed.peer("hub")?.link;
    const report = office.fed.reconfigure({
      node: { ...node, workers: 8, requestTimeoutMs: 5_000, listenPort: 9999 },
      peers: [
        peerConfig("hub", { port: hub.port }),
        peerConfig("factory", { host: null, autoConnect: false, hubs: ["hub", "lab"] }),
        peerConfig("lab", { port: lab.port }),
      ],
    });
    assert.deepEqual(report, {
      added: ["lab"],
      removed: ["plant"],
      redialed: [],
      updated: ["factory"],
      needsRestart: ["listen_port"],
    });
    await linked(office, "lab");
    assert.equal(office.fed.peer("hub")?.link, hubLink, "the unchanged hub link is the same link");
    assert.equal(office.fed.peer("plant"), undefined);
    await within(
      plant.fed.when(() => plant.fed.peer("office")?.link == null),
      "plant's link closes",
    );
    assert.deepEqual(office.fed.peer("factory")?.config.hubs, ["hub", "lab"]);

    const moved = office.fed.reconfigure({
      node,
      peers: [
        peerConfig("hub", { port: hub.port, key: "another-key" }),
        peerConfig("lab", { port: lab.port }),
      ],
    });
    assert.deepEqual(moved.redialed, ["hub"]);
    assert.deepEqual(moved.removed, ["factory"]);
    // hub does not know the new key: the redial is refused, and office keeps trying.
    await within(
      office.fed.when(() => office.fed.peer("hub")?.state.kind === "backoff"),
      "office redials hub with the new key",
    );
    assert.ok(office.fed.peer("lab")?.link, "lab's link untouched");
  } finally {
    await office.fed.stop();
    for (const n of [hub, lab, plant]) await n.fed.stop();
  }
});
