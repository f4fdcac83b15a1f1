import assert from "node:assert/strict";
import { RelayedRequests } from "../src/federation/relayed.ts";
import { FakeClock } from "../src/util/clock.ts";
import {
  deadPort,
  KEY,
  linked,
  nodeConfig,
  peerConfig,
  startTestNode,
  within,
} from "./helpers/nodes.ts";
import { RawClient } from "./helpers/raw_client.ts";

Deno.test("Federation fails a relayed request at once with 502 when the relay loses the destination", async () => {
  const clock = new FakeClock();
  const hub = startTestNode(nodeConfig("hub"), []);
  const office = startTestNode(nodeConfig("office"), [
    peerConfig("hub", { port: hub.port }),
    peerConfig("factory", { port: deadPort(), hub: "hub", autoConnect: false }),
  ], { clock });
  const factory = await RawClient.connect(hub.port);
  try {
    assert.equal((await factory.authenticate("factory", KEY)).status, 200);
    await linked(office, "hub");
    const answer = office.fed.request("factory", "GET", "/health");
    const req = await within(factory.json(), "the relayed request");
    assert.equal(req.src, "office");
    factory.close(); // factory dies with the request in hand
    const res = await within(answer, "502");
    assert.equal(res.status, 502, JSON.stringify(res));
    assert.match(String(res.error), /hub lost its connection to factory/);
    assert.equal(clock.now(), 0, "no deadline had to pass");
  } finally {
    factory.close();
    await office.fed.stop();
    await hub.fed.stop();
  }
});

Deno.test("RelayedRequests forgets answered requests, expires old ones and stays bounded", () => {
  const r = new RelayedRequests(3);
  r.add(1, { src: "office", id: 1, dst: "factory", expiresAt: 100 });
  r.add(1, { src: "office", id: 2, dst: "factory", expiresAt: 100 });
  r.add(2, { src: "office", id: 3, dst: "plant", expiresAt: 100 });
  r.answered(1, "office", 1);
  assert.equal(r.size, 2);
  r.add(1, { src: "office", id: 4, dst: "factory", expiresAt: 5 });
  r.add(1, { src: "office", id: 5, dst: "factory", expiresAt: 100 });
  assert.equal(r.size, 3, "the oldest entry on the link made room");
  assert.deepEqual(r.takeLink(1, 10).map((e) => e.id), [5], "id 2 was evicted, id 4 expired");
  assert.equal(r.size, 1);
  assert.deepEqual(r.takeLink(1, 10), []);
});
