import assert from "node:assert/strict";
import { RelayedRequests } from "../src/federation/relayed.ts";
import {
  KEY,
  linked,
  nodeConfig,
  peerConfig,
  reachableVia,
  startTestNode,
} from "./helpers/nodes.ts";
import { RawClient } from "./helpers/raw_client.ts";
import { deadPort, FakeClock, within } from "./kit/mod.ts";

Deno.test("Federation fails a relayed request at once with 502 when the relay loses the destination", async () => {
  const clock = new FakeClock();
  const hub = startTestNode(nodeConfig("hub"), []);
  const office = startTestNode(nodeConfig("office"), [
    peerConfig("hub", { port: hub.port }),
    peerConfig("factory", { port: deadPort(), hubs: ["hub"], autoConnect: false }),
  ], { clock });
  const factory = await RawClient.connect(hub.port);
  try {
    assert.equal((await factory.authenticate("factory", KEY)).status, 200);
    await linked(office, "hub");
    await reachableVia(office, "factory", "hub");
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
  r.add(1, { src: "office", id: 1, dst: "factory", expiresAt: 100 }, 0);
  r.add(1, { src: "office", id: 2, dst: "factory", expiresAt: 100 }, 0);
  r.add(2, { src: "office", id: 3, dst: "plant", expiresAt: 100 }, 0);
  r.answered(1, "office", 1);
  assert.equal(r.size, 2);
  r.add(1, { src: "office", id: 4, dst: "factory", expiresAt: 100 }, 0);
  r.add(1, { src: "office", id: 5, dst: "factory", expiresAt: 100 }, 0);
  assert.equal(r.size, 3, "the oldest entry overall made room");
  assert.deepEqual(r.takeLink(1, 10).map((e) => e.id), [4, 5], "id 2 was the oldest and went");
  assert.deepEqual(r.takeLink(2, 10).map((e) => e.id), [3]);
  assert.equal(r.size, 0);
});

Deno.test("RelayedRequests evicts the oldest entry of any link, not the newest link's", () => {
  const r = new RelayedRequests(3);
  for (let id = 1; id <= 3; id++) r.add(1, { src: "a", id, dst: "x", expiresAt: 1e9 }, 0);
  r.add(2, { src: "b", id: 9, dst: "y", expiresAt: 1e9 }, 0);
  assert.deepEqual(r.takeLink(2, 0).map((e) => e.id), [9], "the fresh entry on link 2 is kept");
  assert.deepEqual(r.takeLink(1, 0).map((e) => e.id), [2, 3]);
});

Deno.test("RelayedRequests drops entries past their deadline as new ones arrive", () => {
  const r = new RelayedRequests(100);
  r.add(1, { src: "a", id: 1, dst: "x", expiresAt: 10 }, 0);
  r.add(1, { src: "a", id: 2, dst: "x", expiresAt: 20 }, 0);
  r.add(2, { src: "b", id: 3, dst: "y", expiresAt: 100 }, 15);
  assert.equal(r.size, 2, "id 1 expired at 10 and left when id 3 came at 15");
  assert.deepEqual(r.takeLink(1, 15).map((e) => e.id), [2]);
  assert.deepEqual(r.takeLink(1, 15), []);
});
