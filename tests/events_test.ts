/** Subscriptions across the federation: the publisher's bounds and leases, the hub's sharing and renewal. */
import assert from "node:assert/strict";
import { createEvents, EventHub, type HubEvent, Publisher } from "../src/events/mod.ts";
import { memoryLogger } from "../src/log/logger.ts";
import type { PathResponse } from "../src/paths/mod.ts";
import {
  linked,
  nodeConfig,
  peerConfig,
  reachableVia,
  startTestNode,
  type TestNode,
} from "./helpers/nodes.ts";
import { FakeClock, within } from "./kit/mod.ts";

Deno.test("Publisher sends events under a subscribed prefix, within the subscriber's rate", async () => {
  const clock = new FakeClock();
  const sent: [string, string][] = [];
  const pub = new Publisher({
    clock,
    send: (dst, topic) => (sent.push([dst, topic]), true),
    ratePerSecond: 10,
    queueLimit: 5,
    mayRead: (origin, topic) => origin !== "guest" || !topic.includes("secret"),
  });
  assert.equal(pub.subscribe("office", "/iot", 60_000), 60_000);
  pub.subscribe("guest", "/", 10_000);
  pub.publish("/iot/devices/plug-001", { on: true });
  pub.publish("/node/peers/hub", {});
  pub.publish("/iotx", {});
  pub.publish("/secret/x", {});
  assert.deepEqual(sent, [
    ["office", "/iot/devices/plug-001"],
    ["guest", "/iot/devices/plug-001"],
    ["guest", "/node/peers/hub"],
    ["guest", "/iotx"],
  ]);
  // 20 more at once. office has 9 tokens left: 9 go, 5 wait, 6 push the oldest out; guest
  // (everything, 7 tokens left) drops 8 the same way.
  sent.length = 0;
  for (let i = 0; i < 20; i++) pub.publish(`/iot/devices/d${i}`, i);
  const office = () => sent.filter(([d]) => d === "office").map(([, t]) => t);
  assert.equal(office().length, 9);
  await clock.advanceAsync(1000);
  assert.deepEqual(office().slice(9), [
    "/iot/devices/d15",
    "/iot/devices/d16",
    "/iot/devices/d17",
    "/iot/devices/d18",
    "/iot/devices/d19",
  ]);
  assert.equal(pub.counters.dropped, 6 + 8, "oldest dropped for each subscriber, counted");
  // guest's lease (10 s) runs out; office's does not.
  await clock.advanceAsync(9_000);
  assert.deepEqual(pub.list().map((s) => s.subscriber), ["office"]);
  assert.equal(pub.counters.expired, 1);
  assert.ok(pub.unsubscribe("office", "/iot"));
  assert.equal(pub.size, 0);
  pub.stop();
  assert.equal(clock.pending, 0);
});

Deno.test("EventHub shares one remote subscription per node and prefix, renews it, and drops it with its last listener", async () => {
  const clock = new FakeClock();
  const calls: string[] = [];
  const hub = new EventHub({
    name: "office",
    clock,
    logger: memoryLogger(),
    leaseMs: 30_000,
    request: (dst, _m, path, args) => {
      calls.push(`${dst} ${path} ${args.prefix}`);
      return Promise.resolve({ status: 200, body: {} } as PathResponse);
    },
  });
  const a: HubEvent[] = [];
  const b: HubEvent[] = [];
  const stopA = hub.listen("/node/factory/iot", (e) => a.push(e));
  const stopB = hub.listen("/node/factory/iot/devices/plug-001", (e) => b.push(e));
  const stopLocal = hub.listen("/iot", (e) => a.push(e));
  assert.deepEqual(calls, [
    "factory /events/subscribe /iot",
    "factory /events/subscribe /iot/devices/plug-001",
  ]);
  hub.remote("factory", "/iot/devices/plug-001", { on: true });
  hub.remote("factory", "/iot/devices/valve-1", { on: false });
  hub.local("/iot/devices/sim-1", { on: true });
  assert.deepEqual(a.map((e) => e.topic), [
    "/node/factory/iot/devices/plug-001",
    "/node/factory/iot/devices/valve-1",
    "/iot/devices/sim-1",
  ]);
  assert.deepEqual(b.map((e) => e.topic), ["/node/factory/iot/devices/plug-001"]);
  await clock.advanceAsync(10_000);
  assert.equal(
    calls.filter((c) => c === "factory /events/subscribe /iot").length,
    2,
    "renewed at a third",
  );
  stopA();
  stopB();
  stopLocal();
  await clock.advanceAsync(0);
  assert.ok(calls.includes("factory /events/unsubscribe /iot"));
  assert.equal(clock.pending, 0);
  hub.stop();
});

/** A test node with events wired as the runtime wires them. */
function withEvents(node: TestNode) {
  const events = createEvents({
    leaseMs: 1000,
    name: node.fed.name,
    clock: {
      now: () => performance.now(),
      setTimeout: (f, ms) => setTimeout(f, ms),
      clear: (h) => clearTimeout(h as number),
    },
    logger: memoryLogger(),
    request: (dst, method, path, args) => node.fed.request(dst, method, path, args),
    send: (dst, topic, data) => node.fed.sendEvent(dst, topic, data),
  });
  events.register(node.router);
  return events;
}

Deno.test("Events from factory reach a listener at office through the hub, and stop costing when office is gone", async () => {
  const hub = startTestNode(nodeConfig("hub"), []);
  const factoryEvents: ReturnType<typeof withEvents>[] = [];
  const factory = startTestNode(nodeConfig("factory", { listenPort: null }), [
    peerConfig("hub", { port: hub.port }),
  ], {
    onEvent: (ev) => factoryEvents[0]?.hub.remote(ev.src, ev.topic, ev.data),
  });
  factoryEvents.push(withEvents(factory));
  const officeEvents: ReturnType<typeof withEvents>[] = [];
  const office = startTestNode(nodeConfig("office", { listenPort: null }), [
    peerConfig("hub", { port: hub.port }),
    peerConfig("factory", { host: null, autoConnect: false, hubs: ["hub"] }),
  ], { onEvent: (ev) => officeEvents[0]?.hub.remote(ev.src, ev.topic, ev.data) });
  officeEvents.push(withEvents(office));
  try {
    await linked(factory, "hub");
    await reachableVia(office, "factory", "hub");
    const got = Promise.withResolvers<HubEvent>();
    const stop = officeEvents[0].hub.listen("/node/factory/iot/devices", (e) => got.resolve(e));
    await within(
      (async () => {
        while (factoryEvents[0].publisher.size === 0) await new Promise((r) => setTimeout(r, 5));
      })(),
      "office's subscription to arrive",
    );
    const t0 = performance.now();
    factoryEvents[0].publish("/iot/devices/plug-001", { id: "plug-001", on: true });
    const e = await within(got.promise, "the event at office");
    assert.deepEqual(e, {
      topic: "/node/factory/iot/devices/plug-001",
      data: { id: "plug-001", on: true },
    });
    assert.ok(performance.now() - t0 < 1000);
    stop();
    // office dies without a word: factory keeps its subscription only until the lease ends.
    officeEvents[0].stop();
    await office.fed.stop();
    assert.equal(factoryEvents[0].publisher.size, 1);
    await within(
      (async () => {
        while (factoryEvents[0].publisher.size > 0) await new Promise((r) => setTimeout(r, 20));
      })(),
      "the lease to run out",
      3000,
    );
    factoryEvents[0].publish("/iot/devices/plug-001", { id: "plug-001", on: false });
    assert.equal(factoryEvents[0].publisher.counters.expired, 1);
  } finally {
    for (const e of [...officeEvents, ...factoryEvents]) e.stop();
    await office.fed.stop();
    await factory.fed.stop();
    await hub.fed.stop();
  }
});
