/**
 * Liveness (PORTAL02.md §6): PINGs every ping_interval, latency from the latest PONG, and a link
 * closed after ping_max_missed PINGs without a PONG. Time is a FakeClock; nothing here sleeps.
 */
import assert from "node:assert/strict";
import { Heartbeat } from "../src/peer/heartbeat.ts";
import { encodeJson, type JsonObject, MsgType } from "../src/wire/mod.ts";
import {
  KEY,
  linked,
  nodeConfig,
  peerConfig,
  startTestNode,
  type TestNode,
} from "./helpers/nodes.ts";
import { RawClient } from "./helpers/raw_client.ts";
import { FakeClock, within } from "./kit/mod.ts";

/** A Heartbeat on a fake clock that records what it sends and when it gives up. */
function beat(options: { intervalMs?: number; maxMissed?: number; slotMs?: number } = {}) {
  const clock = new FakeClock();
  const pings: { at: number; body: Uint8Array }[] = [];
  const dead: { at: number; missed: number }[] = [];
  const hb = new Heartbeat({
    clock,
    ...options,
    sendPing: (body) => pings.push({ at: clock.now(), body: body.slice() }),
    onDead: (missed) => dead.push({ at: clock.now(), missed }),
  });
  return { clock, hb, pings, dead };
}

Deno.test("Heartbeat pings at 10, 20 and 30 s and declares the link dead at 40 s, not before", () => {
  const { clock, hb, pings, dead } = beat();
  hb.start();
  clock.advance(9_999);
  assert.equal(pings.length, 0, "no ping before the first interval");
  clock.advance(1);
  clock.advance(20_000);
  assert.deepEqual(pings.map((p) => p.at), [10_000, 20_000, 30_000]);
  assert.equal(hb.missed, 3);
  assert.equal(new Set(pings.map((p) => p.body.join())).size, 3, "each ping has its own body");
  assert.ok(pings.every((p) => p.body.byteLength > 0 && p.body.byteLength <= 64));
  clock.advance(9_999);
  assert.deepEqual(dead, [], "still alive at 39.999 s");
  clock.advance(1);
  assert.deepEqual(dead, [{ at: 40_000, missed: 3 }]);
  assert.equal(pings.length, 3, "no fourth ping");
  assert.equal(clock.pending, 0, "the heartbeat stopped itself");
  clock.advance(100_000);
  assert.equal(dead.length, 1, "onDead is called once");
  assert.equal(hb.latencyMs, null, "no pong, no latency");
});

Deno.test("Heartbeat with slotMs pings at the next slot after each interval, so links share wake-ups", () => {
  const { clock, hb, pings } = beat({ intervalMs: 1_000, slotMs: 100, maxMissed: 9 });
  clock.advance(1_234);
  hb.start();
  clock.advance(2_065);
  assert.deepEqual(pings.map((p) => p.at), [2_300], "1 234 + 1 000, up to the next slot");
  clock.advance(1);
  clock.advance(1_000);
  assert.deepEqual(pings.map((p) => p.at), [2_300, 3_300, 4_300], "then exactly on the interval");
  hb.stop();
});

Deno.test("Heartbeat.peerPinged() sends ours with the PONG, then waits for the peer's next PING with a grace", () => {
  const { clock, hb, pings } = beat({ maxMissed: 9 });
  hb.start();
  clock.advance(3_000);
  hb.peerPinged();
  assert.deepEqual(pings.map((p) => p.at), [3_000], "none sent yet: ours rides along at once");
  assert.equal(hb.missed, 1, "it counts as sent");
  clock.advance(7_000);
  assert.equal(pings.length, 1, "the timer of 10 s was taken back");
  clock.advance(3_000); // the peer's next PING, 10 s after its last
  hb.peerPinged();
  assert.deepEqual(pings.map((p) => p.at), [3_000, 13_000], "rides along again");
  clock.advance(10_999); // the peer fell silent: ours goes by timer, 10 s + 1 s of grace later
  assert.equal(pings.length, 2);
  clock.advance(1);
  assert.deepEqual(pings.map((p) => p.at), [3_000, 13_000, 24_000]);
  clock.advance(10_000);
  assert.deepEqual(pings.map((p) => p.at), [3_000, 13_000, 24_000, 34_000], "then every 10 s");
  hb.stop();
});

Deno.test("Heartbeat.peerPinged() never sends ours twice within half an interval", () => {
  const { clock, hb, pings } = beat({ maxMissed: 99 });
  hb.peerPinged();
  assert.equal(pings.length, 0, "not started: nothing to send");
  hb.start();
  clock.advance(10_000);
  assert.deepEqual(pings.map((p) => p.at), [10_000]);
  for (let i = 0; i < 49; i++) {
    clock.advance(100); // a peer pinging every 100 ms
    hb.peerPinged();
  }
  assert.deepEqual(pings.map((p) => p.at), [10_000], "4.9 s after ours: none");
  clock.advance(100);
  hb.peerPinged();
  assert.deepEqual(pings.map((p) => p.at), [10_000, 15_000], "5 s after ours: it rides along");
  hb.stop();
  hb.peerPinged();
  assert.equal(pings.length, 2, "stopped: nothing to send");
  assert.equal(clock.pending, 0);
});

Deno.test("Heartbeat riding along still declares the link dead after maxMissed unanswered PINGs", () => {
  const { clock, hb, pings, dead } = beat();
  hb.start();
  for (let i = 0; i < 3; i++) {
    clock.advance(i === 0 ? 5_000 : 10_000);
    hb.peerPinged();
  }
  assert.deepEqual(pings.map((p) => p.at), [5_000, 15_000, 25_000]);
  assert.equal(hb.missed, 3);
  clock.advance(10_000);
  hb.peerPinged();
  assert.deepEqual(dead, [{ at: 35_000, missed: 3 }], "the fourth finds three unanswered");
  assert.equal(clock.pending, 0);
});

Deno.test("Heartbeat.pong() resets the missed count and sets latencyMs from the clock", () => {
  const { clock, hb, pings, dead } = beat();
  hb.start();
  clock.advance(10_000);
  clock.advance(250);
  hb.pong(pings[0].body);
  assert.equal(hb.latencyMs, 250);
  assert.equal(hb.missed, 0);

  // Two more unanswered, then a pong for the latest: the count starts over again.
  clock.advance(9_750 + 10_000); // pings at 20 s and 30 s
  assert.equal(hb.missed, 2);
  clock.advance(40);
  hb.pong(pings[2].body);
  assert.equal(hb.latencyMs, 40, "latency is the round trip of the latest pong");
  assert.equal(hb.missed, 0);

  // With the pong at 30.04 s, the link lives until three more pings go unanswered: 40, 50, 60 s.
  clock.advance(39_959);
  assert.deepEqual(dead, []);
  clock.advance(1);
  assert.deepEqual(dead, [{ at: 70_000, missed: 3 }]);
  assert.deepEqual(pings.map((p) => p.at), [10_000, 20_000, 30_000, 40_000, 50_000, 60_000]);
});

Deno.test("Heartbeat ignores pongs it did not ask for", () => {
  const { clock, hb, pings } = beat();
  hb.start();
  clock.advance(10_000);
  hb.pong(new Uint8Array(0));
  hb.pong(new Uint8Array([1, 2, 3]));
  const forged = pings[0].body.slice();
  forged[7] ^= 0xff;
  hb.pong(forged);
  assert.equal(hb.missed, 1, "unknown pong bodies change nothing");
  assert.equal(hb.latencyMs, null);
  clock.advance(5);
  hb.pong(pings[0].body);
  assert.equal(hb.latencyMs, 5);
  clock.advance(10);
  hb.pong(pings[0].body);
  assert.equal(hb.latencyMs, 5, "a repeated pong does not count again");
  hb.stop();
  assert.equal(clock.pending, 0);
});

Deno.test("Heartbeat honours ping_interval and ping_max_missed", () => {
  const { clock, hb, pings, dead } = beat({ intervalMs: 1000, maxMissed: 1 });
  hb.start();
  hb.start(); // idempotent: still one timer
  assert.equal(clock.pending, 1);
  clock.advance(1000);
  assert.equal(pings.length, 1);
  clock.advance(999);
  assert.equal(dead.length, 0);
  clock.advance(1);
  assert.deepEqual(dead, [{ at: 2000, missed: 1 }]);
});

/** A GET /health from a raw client, answered: every frame sent before it has been processed. */
async function barrier(c: RawClient, id: number): Promise<void> {
  await c.sendJson(MsgType.Request, {
    id,
    src: "alpha",
    dst: "factory",
    method: "GET",
    path: "/health",
  });
  const res = await within(c.json(), `answer to barrier request ${id}`);
  assert.equal(res.id, id);
  assert.equal(res.status, 200);
}

Deno.test("Federation closes a peer that never answers PINGs after interval × (max_missed + 1)", async () => {
  const clock = new FakeClock();
  const factory = startTestNode(nodeConfig("factory"), [], { clock });
  const c = await RawClient.connect(factory.port);
  try {
    assert.equal((await c.authenticate("alpha", KEY)).status, 200);
    assert.ok(factory.fed.peer("alpha")?.link, "alpha is linked once the verdict is sent");
    for (let i = 1; i <= 3; i++) {
      clock.advance(10_000);
      const f = await within(c.next(), `ping ${i}`);
      assert.equal(f?.type, MsgType.Ping, `frame ${i} is a PING`);
    }
    clock.advance(9_999);
    assert.ok(factory.fed.peer("alpha")?.link, "still open at 39.999 s");
    assert.equal(factory.fed.connectionCount, 1);
    clock.advance(1);
    assert.equal(await within(c.next(), "close at 40 s"), null, "closed, no fourth PING");
    assert.equal(clock.now(), 40_000);
    assert.equal(factory.fed.peer("alpha"), undefined, "an unconfigured peer is forgotten");
    assert.ok(
      factory.log.some((l) => l.includes("dead peer: 3 pings without a pong")),
      factory.log.join("\n"),
    );
  } finally {
    c.close();
    await factory.fed.stop();
  }
});

Deno.test("Federation keeps a peer that answers PINGs and reports its latency", async () => {
  const clock = new FakeClock();
  const factory = startTestNode(nodeConfig("factory"), [], { clock });
  const c = await RawClient.connect(factory.port);
  try {
    assert.equal((await c.authenticate("alpha", KEY)).status, 200);
    const link = factory.fed.peer("alpha")?.link;
    assert.ok(link);
    for (let i = 1; i <= 6; i++) {
      clock.advance(i * 10_000 - clock.now()); // to the i-th PING
      const ping = await within(c.next(), `ping ${i}`);
      assert.equal(ping?.type, MsgType.Ping);
      clock.advance(120); // the round trip, in fake time
      await c.send(MsgType.Pong, ping.body);
      await barrier(c, i);
      assert.equal(link.heartbeat.missed, 0, `pong ${i} counted`);
      assert.equal(link.heartbeat.latencyMs, 120);
    }
    assert.equal(clock.now(), 60_120, "well past 40 s of fake time");
    assert.equal(factory.fed.peer("alpha")?.link, link, "the same link is still up");
    const peers = await factory.router.handle({
      method: "GET",
      path: "/node/peers",
      args: {},
      origin: null,
    });
    const alpha = (peers.body as { name: string; latency_ms: number | null }[])
      .find((p) => p.name === "alpha");
    assert.equal(alpha?.latency_ms, 120);
  } finally {
    c.close();
    await factory.fed.stop();
  }
});

Deno.test("Federation answers a PING with a PONG echoing its body", async () => {
  const factory = startTestNode(nodeConfig("factory"), []);
  const c = await RawClient.connect(factory.port);
  try {
    assert.equal((await c.authenticate("alpha", KEY)).status, 200);
    const body = new Uint8Array(64).map((_, i) => i * 3);
    await c.send(MsgType.Ping, body);
    const pong = await within(c.next(), "pong");
    assert.equal(pong?.type, MsgType.Pong);
    assert.deepEqual(pong?.body, body);
  } finally {
    c.close();
    await factory.fed.stop();
  }
});

Deno.test("Federation sends its PING with the PONG for the peer's, and waits for the peer's next one", async () => {
  const clock = new FakeClock();
  const factory = startTestNode(nodeConfig("factory"), [], { clock });
  const c = await RawClient.connect(factory.port);
  try {
    assert.equal((await c.authenticate("alpha", KEY)).status, 200);
    const heartbeat = factory.fed.peer("alpha")?.link?.heartbeat;
    assert.ok(heartbeat);
    const body = new Uint8Array([1, 2, 3]);
    /** alpha pings; factory answers, and its own PING comes with the PONG. */
    const pingAndRide = async (what: string) => {
      await c.send(MsgType.Ping, body);
      const pong = await within(c.next(), `${what}: pong`);
      assert.equal(pong?.type, MsgType.Pong);
      assert.deepEqual(pong?.body, body);
      const ping = await within(c.next(), `${what}: factory's ping`);
      assert.equal(ping?.type, MsgType.Ping, `${what}: factory's PING rides along`);
      await c.send(MsgType.Pong, ping!.body);
      // A barrier: factory reads the PONG above before it answers this.
      clock.advance(4_000);
      await c.send(MsgType.Ping, body);
      assert.equal((await within(c.next(), `${what}: barrier`))?.type, MsgType.Pong);
      assert.equal(heartbeat.missed, 0, `${what}: answered`);
    };
    clock.advance(2_000);
    await pingAndRide("at 2 s");
    clock.advance(6_000); // 12 s
    await pingAndRide("at 12 s");
    clock.advance(6_999); // 22.999 s: alpha fell silent; factory's timer is 10 s + 1 s of grace
    assert.equal(heartbeat.missed, 0, "no PING since 12 s");
    clock.advance(1);
    assert.equal(heartbeat.missed, 1, "one PING at 23 s");
    assert.equal((await within(c.next(), "the timer's ping"))?.type, MsgType.Ping);
  } finally {
    c.close();
    await factory.fed.stop();
  }
});

Deno.test("Federation keeps a link between two nodes alive with PINGs on the fake clock", async () => {
  const factory = startTestNode(nodeConfig("factory"), []);
  const clock = new FakeClock();
  const office = startTestNode(nodeConfig("office"), [
    peerConfig("factory", { port: factory.port }),
  ], {
    clock,
  });
  try {
    await linked(office, "factory");
    const link = office.fed.peer("factory")?.link;
    assert.ok(link);
    for (let i = 1; i <= 5; i++) {
      clock.advance(i * 10_000 - clock.now()); // office queues a PING; its write runs later
      assert.equal(link.heartbeat.missed, 1);
      clock.advance(35); // fake round trip
      // The answer to a request sent after the PING comes back after its PONG.
      const res = await within(office.fed.request("factory", "GET", "/health"), `barrier ${i}`);
      assert.equal(res.status, 200);
      assert.equal(link.heartbeat.missed, 0, `pong ${i} arrived`);
      assert.equal(link.heartbeat.latencyMs, 35);
    }
    assert.equal(office.fed.peer("factory")?.link, link, "no reconnect happened");
    const view = office.fed.peerViews().find((v) => v.name === "factory");
    assert.equal(view?.status, "connected");
    assert.equal(view?.latency_ms, 35);
  } finally {
    await office.fed.stop();
    await factory.fed.stop();
  }
});

/** Frames over one accepted TCP connection: the test plays a listening node. */
class Wire extends RawClient {
  /** Challenges, reads the auth response, and accepts it as `name` (no key check needed here). */
  async acceptAs(name: string): Promise<JsonObject> {
    await this.send(MsgType.AuthChallenge, crypto.getRandomValues(new Uint8Array(32)));
    const res = await this.next();
    assert.equal(res?.type, MsgType.AuthResponse);
    await this.send(
      MsgType.Response,
      encodeJson({ id: 0, status: 200, message: "OK", node: name }),
    );
    return { dialer: new TextDecoder().decode(res.body.subarray(32)) };
  }
}

async function acceptWire(listener: Deno.Listener, what: string): Promise<Wire> {
  return new Wire(await within(listener.accept(), what));
}

Deno.test("Federation closes a dead dialed link after 40 s and starts the reconnect schedule", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const clock = new FakeClock();
  let office: TestNode | null = null;
  const wires: Wire[] = [];
  try {
    office = startTestNode(nodeConfig("office"), [peerConfig("factory", { port })], { clock });
    const w = await acceptWire(listener, "office's dial");
    wires.push(w);
    assert.deepEqual(await w.acceptAs("factory"), { dialer: "office" });
    await linked(office, "factory");
    for (let i = 1; i <= 3; i++) {
      clock.advance(10_000);
      const f = await within(w.next(), `ping ${i}`);
      assert.equal(f?.type, MsgType.Ping);
    }
    clock.advance(9_999);
    assert.equal(office.fed.peer("factory")?.state.kind, "connected");
    clock.advance(1);
    assert.equal(await within(w.next(), "office closes"), null);
    const state = office.fed.peer("factory")?.state;
    assert.equal(state?.kind, "backoff");
    assert.equal(state?.kind === "backoff" && state.waitMs, 1000);
    assert.ok(office.log.some((l) => l.includes("dead peer: 3 pings without a pong")));
    assert.ok(office.log.some((l) => l.includes("next retry in 1s")));

    clock.advance(1000);
    const again = await acceptWire(listener, "office's redial after 1 s");
    wires.push(again);
    assert.deepEqual(await again.acceptAs("factory"), { dialer: "office" });
    await linked(office, "factory");
    assert.equal(office.fed.peer("factory")?.link?.direction, "out");
  } finally {
    await office?.fed.stop();
    for (const w of wires) w.close();
    listener.close();
  }
});

Deno.test("Federation sends a PING on an inbound link without a Nagle stall", async () => {
  // Each round the node has just written an answer the client does not reply to, so with
  // Nagle on the PING waits for the client's delayed ACK (~40 ms on Linux). The minimum of
  // three rounds keeps a busy machine from failing the test when Nagle is off.
  const clock = new FakeClock();
  const factory = startTestNode(nodeConfig("factory"), [], { clock });
  const c = await RawClient.connect(factory.port);
  try {
    assert.equal((await c.authenticate("alpha", KEY)).status, 200);
    const delays: number[] = [];
    for (let i = 1; i <= 3; i++) {
      await barrier(c, i);
      const t0 = performance.now();
      clock.advance(10_000);
      const ping = await within(c.next(), `ping ${i}`);
      delays.push(performance.now() - t0);
      assert.equal(ping?.type, MsgType.Ping);
      await c.send(MsgType.Pong, ping.body);
    }
    assert.ok(
      Math.min(...delays) < 30,
      `PINGs took ${delays.map((d) => d.toFixed(1)).join(", ")} ms to leave: the accepted ` +
        "connection has Nagle on (no setNoDelay in openListener's accept)",
    );
  } finally {
    c.close();
    await factory.fed.stop();
  }
});
