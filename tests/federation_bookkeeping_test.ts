/** Bounded bookkeeping of the federation: round trips, relayed requests, link ids. */
import assert from "node:assert/strict";
import { RelayedRequests } from "../src/federation/relayed.ts";
import { PresenceBook } from "../src/federation/presence.ts";
import { PendingRequests } from "../src/federation/pending.ts";
import { RouteTable } from "../src/federation/route_table.ts";
import { systemClock } from "../src/util/clock.ts";
import type { Link } from "../src/peer/peer.ts";
import { linked, nodeConfig, peerConfig, startTestNode } from "./helpers/nodes.ts";
import { FakeClock } from "./kit/mod.ts";

Deno.test("RouteTable keeps at most maxEntries round trips and forgets those of a lost neighbour", () => {
  const routes = new RouteTable({
    name: "office",
    configs: [],
    linkOf: () => null,
    maxEntries: 100,
    presence: new PresenceBook({ clock: systemClock }),
    clock: systemClock,
  });
  assert.equal(
    routes.noRouteSentence("factory"),
    "office: no route to factory: factory is not connected to office",
    "a node without a section here: the sentence names who decided",
  );
  for (let i = 0; i < 1000; i++) routes.recordRtt(`node-${i}`, i);
  assert.equal(routes.rttEntries, 100);
  assert.equal(routes.rtt("node-0"), null, "the oldest went first");
  assert.equal(routes.rtt("node-999"), 999);
  routes.learn("node-999", "hub");
  routes.forgetNeighbour("hub");
  assert.equal(routes.rtt("node-999"), null, "measured through hub, forgotten with it");
  assert.equal(routes.hasLearned("node-999"), false);
});

Deno.test("RouteTable routes direct first, then the hubs in order, then the learned route", () => {
  const open = (peer: string, id: number) => ({ id, peer, conn: { isOpen: true } }) as Link;
  const links = new Map<string, Link>();
  const routes = new RouteTable({
    name: "office",
    configs: [{
      name: "factory",
      host: null,
      port: 9090,
      autoConnect: false,
      hubs: ["hub-a", "hub-b"],
      key: "k",
      workers: 4,
      queueLimit: 8,
      tlsServerName: null,
      tlsVerify: true,
    }],
    linkOf: (n) => links.get(n) ?? null,
    presence: new PresenceBook({ clock: systemClock }),
    clock: systemClock,
  });
  assert.equal(routes.route("factory", null), null);
  assert.equal(
    routes.noRouteSentence("factory"),
    "office: no route to factory: factory is not connected to office, and none of its hubs " +
      "('hub-a', 'hub-b') is",
  );
  routes.learn("factory", "lab");
  links.set("lab", open("lab", 1));
  assert.equal(routes.route("factory", null)?.peer, "lab");
  links.set("hub-b", open("hub-b", 2));
  assert.equal(routes.route("factory", null)?.peer, "hub-b");
  links.set("hub-a", open("hub-a", 3));
  assert.equal(routes.route("factory", null)?.peer, "hub-a");
  assert.equal(routes.indirect("factory"), "hub-a");
  assert.equal(routes.route("factory", links.get("hub-a") ?? null)?.peer, "hub-b", "never back");
  links.set("factory", open("factory", 4));
  assert.equal(routes.route("factory", null)?.peer, "factory");
  assert.equal(routes.indirect("factory"), null);
});

Deno.test("RelayedRequests prunes every expired entry, even behind one with a later deadline", () => {
  const relayed = new RelayedRequests();
  relayed.add(1, { src: "office", id: 1, dst: "factory", expiresAt: 60_000 }, 0);
  relayed.add(1, { src: "office", id: 2, dst: "factory", expiresAt: 1_000 }, 0);
  relayed.add(2, { src: "lab", id: 3, dst: "factory", expiresAt: 2_000 }, 0);
  relayed.add(2, { src: "lab", id: 4, dst: "factory", expiresAt: 90_000 }, 5_000);
  assert.equal(relayed.size, 2, "ids 2 and 3 expired although id 1 was added before them");
  assert.deepEqual(relayed.takeLink(2, 5_000).map((e) => e.id), [4]);
  relayed.prune(60_000);
  assert.equal(relayed.size, 0);
});

Deno.test("RelayedRequests stays bounded and evicts the oldest entry when full", () => {
  const relayed = new RelayedRequests(10);
  for (let i = 0; i < 1000; i++) {
    relayed.add(i % 2, { src: "o", id: i, dst: "f", expiresAt: 1e9 - i }, 0);
  }
  assert.equal(relayed.size, 10);
  assert.deepEqual(relayed.takeLink(1, 0).map((e) => e.id), [991, 993, 995, 997, 999]);
  for (let i = 990; i < 1000; i += 2) relayed.answered(0, "o", i);
  assert.equal(relayed.size, 0, "answers remove their entries");
});

Deno.test("Link ids are counted per node, not per process", async () => {
  const a = startTestNode(nodeConfig("alpha"), []);
  const b = startTestNode(nodeConfig("beta"), [peerConfig("alpha", { port: a.port })]);
  try {
    await linked(b, "alpha");
    await linked(a, "beta");
    assert.equal(a.fed.peer("beta")?.link?.id, 1);
    assert.equal(b.fed.peer("alpha")?.link?.id, 1);
  } finally {
    await b.fed.stop();
    await a.fed.stop();
  }
});

Deno.test("PendingRequests draws ids from its random source, skipping 0 and ids still pending", () => {
  const clock = new FakeClock();
  // A source that repeats itself: 0, 7, 7, 9, then 7 again.
  const words = [0, 7, 7, 9, 7, 11];
  let at = 0;
  const random = (out: Uint8Array) => {
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    for (let i = 0; i + 4 <= out.byteLength; i += 4) {
      view.setUint32(i, words[Math.min(at++, words.length - 1)], true);
    }
    return out;
  };
  const pending = new PendingRequests(clock, random);
  const a = pending.open("factory", 1, 1000);
  const b = pending.open("factory", 1, 1000);
  assert.deepEqual([a.id, b.id], [7, 9], "0 is the auth verdict's; 7 was pending");
  const real = new PendingRequests(clock);
  const ids = new Set(Array.from({ length: 1000 }, () => real.open("x", 1, 1000).id));
  assert.equal(ids.size, 1000);
  assert.ok(![...ids].every((id) => id < 1000), "not a counter from 1");
  pending.failAll("done");
  real.failAll("done");
  assert.equal(clock.pending, 0);
});
