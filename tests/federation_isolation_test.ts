/**
 * Worker pools (seed "Worker Pools"): each peer's requests run in that peer's own bounded pool,
 * so one peer's stuck handlers cannot hold up another's, an overflowing queue answers 503, and
 * messages only passing through (relayed) never enter a pool.
 */
import assert from "node:assert/strict";
import { PathRouter } from "../src/paths/mod.ts";
import { encodeFrame, type JsonObject, MsgType } from "../src/wire/mod.ts";
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

/** A factory (workers=2, queue_limit=2) on a fake clock whose `/stuck` never answers. */
function stuckFactory(clock: FakeClock): { node: TestNode; started: () => number } {
  let started = 0;
  const router = new PathRouter();
  router.on("GET", "/stuck", () => {
    started++;
    return new Promise(() => {});
  });
  const node = startTestNode(nodeConfig("factory", { workers: 2, queueLimit: 2 }), [], {
    clock,
    router,
  });
  return { node, started: () => started };
}

async function connectAs(node: TestNode, name: string): Promise<RawClient> {
  const c = await RawClient.connect(node.port);
  try {
    assert.equal((await within(c.authenticate(name, KEY), `${name} authenticates`)).status, 200);
  } catch (e) {
    c.close();
    throw e;
  }
  return c;
}

function request(id: number, src: string, path: string): JsonObject {
  return { id, src, dst: "factory", method: "GET", path, timeout_ms: 10_000 };
}

/** Sends a PING and waits for its PONG: every frame sent before it has been handled. */
async function pingBarrier(c: RawClient, seq: number): Promise<void> {
  const body = new Uint8Array([seq]);
  await c.send(MsgType.Ping, body);
  for (;;) {
    const f = await within(c.next(), `pong ${seq}`);
    assert.ok(f, "connection open");
    if (f.type === MsgType.Pong && f.body[0] === seq) return;
    assert.notEqual(f.type, MsgType.Response, "no answer expected before the pong");
  }
}

Deno.test("Federation answers peer B at once while peer A's workers are stuck, and A's overflow gets 503", async () => {
  const clock = new FakeClock();
  const { node: factory, started } = stuckFactory(clock);
  const clients: RawClient[] = [];
  try {
    const alpha = await connectAs(factory, "alpha");
    clients.push(alpha);
    const beta = await connectAs(factory, "beta");
    clients.push(beta);
    // Two stuck requests take both of alpha's workers, two more wait in its queue.
    for (let id = 1; id <= 4; id++) {
      await alpha.sendJson(MsgType.Request, request(id, "alpha", "/stuck"));
    }
    await pingBarrier(alpha, 1);
    const alphaPool = factory.fed.pool("alpha");
    assert.ok(alphaPool, "alpha's pool exists from its first request");
    assert.equal(started(), 2, "two handlers running");
    assert.equal(alphaPool.active, 2);
    assert.equal(alphaPool.queued, 2);

    // beta has its own pool: its /health does not wait behind alpha's work.
    const t0 = performance.now();
    await beta.sendJson(MsgType.Request, request(1, "beta", "/health"));
    const health = await within(beta.json(), "beta's /health", 1000);
    const tookMs = performance.now() - t0;
    assert.equal(health.status, 200, JSON.stringify(health));
    assert.equal(health.id, 1);
    assert.equal((health.body as { node: string }).node, "factory");
    assert.ok(tookMs < 500, `beta waited ${tookMs.toFixed(1)} ms`);
    assert.equal(clock.now(), 0, "no fake time passed");

    // alpha's fifth request finds its queue full: 503 with a sentence, at once.
    await alpha.sendJson(MsgType.Request, request(5, "alpha", "/stuck"));
    const full = await within(alpha.json(), "503 for alpha");
    assert.equal(full.id, 5);
    assert.equal(full.status, 503);
    assert.equal(full.src, "factory");
    assert.equal(full.dst, "alpha");
    assert.equal(full.body, undefined);
    assert.equal(
      full.error,
      "factory is overloaded: the queue for requests from alpha is full (2 waiting, 2 running)",
    );
    assert.equal(started(), 2, "the refused request never ran");

    // beta is still served at once, after alpha overflowed.
    await beta.sendJson(MsgType.Request, request(2, "beta", "/health"));
    const again = await within(beta.json(), "beta's second /health", 1000);
    assert.equal(again.status, 200);
    assert.equal(factory.fed.pool("beta")?.active ?? 0, 0);
  } finally {
    for (const c of clients) c.close();
    await factory.fed.stop();
  }
});

Deno.test("Federation frees a worker whose handler outlives the request deadline", async () => {
  const clock = new FakeClock();
  const { node: factory, started } = stuckFactory(clock);
  let alpha: RawClient | null = null;
  try {
    const c = await connectAs(factory, "alpha");
    alpha = c;
    for (let id = 1; id <= 4; id++) {
      await c.sendJson(MsgType.Request, request(id, "alpha", "/stuck"));
    }
    await pingBarrier(c, 1);
    const pool = factory.fed.pool("alpha");
    assert.ok(pool);
    assert.deepEqual([pool.active, pool.queued, started()], [2, 2, 2]);

    // At the 10 s deadline the two running ones are given up; the queued ones have no time
    // left either and are dropped, so the pool is free again without anybody answering.
    clock.advance(10_000);
    await pingBarrier(c, 2);
    assert.deepEqual([pool.active, pool.queued, started()], [0, 0, 2]);
    assert.ok(factory.log.some((l) => l.includes("outlived its deadline")));
    assert.ok(factory.log.some((l) => l.includes("expired in the queue")));

    await c.sendJson(MsgType.Request, request(6, "alpha", "/health"));
    const res = await within(c.json(), "alpha's /health once the pool is free");
    assert.equal(res.id, 6, "no answer was sent for the abandoned requests");
    assert.equal(res.status, 200);
  } finally {
    alpha?.close();
    await factory.fed.stop();
  }
});

Deno.test("Federation relays requests through a hub without using the sender's worker pool", async () => {
  // Every neighbour of the hub inherits workers=1, queue_limit=1: a pool would refuse the third.
  const hub = startTestNode(nodeConfig("hub", { workers: 1, queueLimit: 1 }), []);
  const factory = startTestNode(nodeConfig("factory"), [peerConfig("hub", { port: hub.port })]);
  let alpha: RawClient | null = null;
  const N = 30;
  try {
    await linked(hub, "factory");
    const c = await connectAs(hub, "alpha");
    alpha = c;
    // All requests in one write, so the hub handles them in one go.
    const frames = Array.from(
      { length: N },
      (_, i) =>
        encodeFrame(
          MsgType.Request,
          new TextEncoder().encode(JSON.stringify(request(i + 1, "alpha", "/health"))),
        ),
    );
    const all = new Uint8Array(frames.reduce((n, f) => n + f.byteLength, 0));
    frames.reduce((off, f) => (all.set(f, off), off + f.byteLength), 0);
    await c.conn.write(all);

    const statuses = new Map<number, number>();
    for (let i = 0; i < N; i++) {
      const res = await within(c.json(), `relayed answer ${i + 1}`);
      assert.equal(res.src, "factory", JSON.stringify(res));
      statuses.set(res.id as number, res.status as number);
    }
    assert.equal(statuses.size, N, "every request answered once");
    assert.deepEqual([...new Set(statuses.values())], [200], "no 503 on the relay path");
    assert.ok(hub.fed.counters.relayed >= 2 * N, `relayed ${hub.fed.counters.relayed}`);
    assert.equal(hub.fed.pool("alpha")?.active ?? 0, 0, "alpha's pool at the hub was never used");
    assert.equal(hub.fed.pool("alpha")?.queued ?? 0, 0);
  } finally {
    alpha?.close();
    await factory.fed.stop();
    await hub.fed.stop();
  }
});
