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
