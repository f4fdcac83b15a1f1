import assert from "node:assert/strict";
import { MsgType } from "../src/wire/mod.ts";
import { KEY, linked, nodeConfig, peerConfig, startTestNode } from "./helpers/nodes.ts";
import { RawClient } from "./helpers/raw_client.ts";
import { FakeClock, within } from "./kit/mod.ts";

Deno.test("Federation answers a wrong key with 401 and closes", async () => {
  const hub = startTestNode(nodeConfig("hub"), []);
  const c = await RawClient.connect(hub.port);
  try {
    const verdict = await c.authenticate("office", "not-the-key");
    assert.deepEqual(verdict, { id: 0, status: 401, message: "unauthorized" });
    assert.equal(await c.next(), null, "connection closed after 401");
    assert.ok(hub.log.some((l) => l.includes("auth refused") && l.includes("remote=127.0.0.1:")));
  } finally {
    c.close();
    await hub.fed.stop();
  }
});

Deno.test("Federation closes a silent connection after auth_timeout", async () => {
  const clock = new FakeClock();
  const hub = startTestNode(nodeConfig("hub", { authTimeoutMs: 5000 }), [], { clock });
  const c = await RawClient.connect(hub.port);
  try {
    const challenge = await c.next();
    assert.equal(challenge?.type, MsgType.AuthChallenge);
    assert.equal(challenge?.body.byteLength, 32);
    clock.advance(4999);
    assert.equal(hub.fed.connectionCount, 1, "still open just before the timeout");
    clock.advance(1);
    assert.equal(await within(c.next(), "close"), null);
    assert.ok(hub.log.some((l) => l.includes("no valid auth response within 5s")));
  } finally {
    c.close();
    await hub.fed.stop();
  }
});

Deno.test("Federation closes without answering on a non-auth frame before authentication", async () => {
  const hub = startTestNode(nodeConfig("hub"), []);
  const c = await RawClient.connect(hub.port);
  try {
    await c.next();
    await c.sendJson(MsgType.Request, {
      id: 1,
      src: "x",
      dst: "hub",
      method: "GET",
      path: "/health",
    });
    assert.equal(await within(c.next(), "close"), null);
  } finally {
    c.close();
    await hub.fed.stop();
  }
});

Deno.test("Federation drops and counts a message with a forged src", async () => {
  const hub = startTestNode(nodeConfig("hub"), []);
  const c = await RawClient.joined(hub.port, "mallory", KEY);
  try {
    await c.sendJson(MsgType.Request, {
      id: 1,
      src: "office",
      dst: "hub",
      method: "GET",
      path: "/health",
    });
    await c.sendJson(MsgType.Request, {
      id: 2,
      src: "mallory",
      dst: "hub",
      method: "GET",
      path: "/health",
    });
    const res = await within(c.json(), "answer to the honest request");
    assert.equal(res.id, 2, "only the honest request is answered");
    assert.equal(res.status, 200);
    assert.equal(hub.fed.counters.dropped, 1);
    assert.ok(hub.log.some((l) => l.includes("forged src")));
  } finally {
    c.close();
    await hub.fed.stop();
  }
});

Deno.test("Federation answers 508 when a relayed request's ttl is spent", async () => {
  const hub = startTestNode(nodeConfig("hub"), []);
  const factory = startTestNode(nodeConfig("factory"), [peerConfig("hub", { port: hub.port })]);
  const c = await RawClient.connect(hub.port);
  try {
    await linked(hub, "factory");
    assert.equal((await c.authenticate("mallory", KEY)).status, 200);
    await c.sendJson(MsgType.Request, {
      id: 7,
      src: "mallory",
      dst: "factory",
      method: "GET",
      path: "/health",
      ttl: 0,
    });
    const spent = await within(c.json(), "508");
    assert.equal(spent.status, 508);
    assert.equal(spent.id, 7);
    assert.equal(spent.dst, "mallory");
    assert.match(String(spent.error), /ttl/);
    await c.sendJson(MsgType.Request, {
      id: 8,
      src: "mallory",
      dst: "factory",
      method: "GET",
      path: "/health",
      ttl: 1,
    });
    const ok = await within(c.json(), "relayed answer");
    assert.equal(ok.status, 200);
    assert.equal(ok.src, "factory");
    await c.sendJson(MsgType.Request, {
      id: 9,
      src: "mallory",
      dst: "nowhere",
      method: "GET",
      path: "/",
    });
    const none = await within(c.json(), "502");
    assert.equal(none.status, 502);
  } finally {
    c.close();
    await factory.fed.stop();
    await hub.fed.stop();
  }
});

Deno.test("Federation keeps exactly one connection when two nodes dial each other", async () => {
  // Listeners first, so each can be told the other's port.
  const a0 = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const b0 = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const aPort = (a0.addr as Deno.NetAddr).port;
  const bPort = (b0.addr as Deno.NetAddr).port;
  a0.close();
  b0.close();
  const a = startTestNode(nodeConfig("alpha", { listenPort: aPort }), [
    peerConfig("beta", { port: bPort }),
  ], { start: false });
  const b = startTestNode(nodeConfig("beta", { listenPort: bPort }), [
    peerConfig("alpha", { port: aPort }),
  ], { start: false });
  // Both listeners open synchronously here; both dials then really cross.
  a.fed.listen();
  b.fed.listen();
  a.fed.dialAll();
  b.fed.dialAll();
  try {
    // alpha sorts first, so both keep the connection alpha dialed.
    const settled = () =>
      a.fed.peer("beta")?.link?.direction === "out" &&
      b.fed.peer("alpha")?.link?.direction === "in" &&
      a.fed.connectionCount === 1 && b.fed.connectionCount === 1;
    await within(
      Promise.race([a.fed.when(settled), b.fed.when(settled)]),
      "one connection each side",
    ).catch((e) => {
      console.log(
        a.log.join("\n"),
        "\n----\n",
        b.log.join("\n"),
        a.fed.connectionCount,
        b.fed.connectionCount,
      );
      throw e;
    });
    assert.ok(settled());
    assert.ok(
      a.log.some((l) => l.includes("cross-dial")) || b.log.some((l) => l.includes("cross-dial")),
      "the tie-break ran",
    );
    const res = await a.fed.request("beta", "GET", "/health");
    assert.equal(res.status, 200);
  } finally {
    await a.fed.stop();
    await b.fed.stop();
  }
});

Deno.test("Federation refuses a dialer using the listener's own name with 401", async () => {
  const hub = startTestNode(nodeConfig("hub"), []);
  const c = await RawClient.connect(hub.port);
  try {
    const verdict = await c.authenticate("hub", KEY);
    assert.equal(verdict.status, 401);
    assert.equal(await c.next(), null);
  } finally {
    c.close();
    await hub.fed.stop();
  }
});

Deno.test("Federation answers a request with a bad field with 400 and keeps the link", async () => {
  const hub = startTestNode(nodeConfig("hub"), []);
  const c = await RawClient.joined(hub.port, "mallory", KEY);
  try {
    await c.sendJson(MsgType.Request, {
      id: 3,
      src: "mallory",
      dst: "hub",
      method: "POKE",
      path: "/",
    });
    const bad = await within(c.json(), "400");
    assert.equal(bad.status, 400);
    assert.equal(bad.id, 3);
    assert.match(String(bad.error), /method/);
    await c.sendJson(MsgType.Request, {
      id: 4,
      src: "mallory",
      dst: "hub",
      method: "GET",
      path: "/health",
    });
    assert.equal((await within(c.json(), "200")).status, 200);
  } finally {
    c.close();
    await hub.fed.stop();
  }
});

Deno.test("Federation keeps a reconnecting peer without a section on its new link", async () => {
  const hub = startTestNode(nodeConfig("hub"), []);
  const first = await RawClient.connect(hub.port);
  const second = await RawClient.connect(hub.port);
  try {
    assert.equal((await first.authenticate("factory", KEY)).status, 200);
    // The site comes back on a new connection; the old one is half-open: it never
    // answers the hub's probe, so after 2 s the newcomer gets the name (§3).
    assert.equal((await within(second.authenticate("factory", KEY), "verdict")).status, 200);
    for (;;) {
      const f = await within(first.next(), "the old link to close");
      if (f === null) break;
      assert.equal(f.type, MsgType.Ping, "the old link only ever got the probe");
    }
    const link = hub.fed.peer("factory")?.link;
    assert.ok(link, "factory is still connected");
    assert.equal(
      link.remote.split(":").pop(),
      String((second.conn.localAddr as Deno.NetAddr).port),
    );
    const answer = hub.fed.request("factory", "GET", "/health");
    const req = await within(second.json(), "the request on the new link");
    await second.sendJson(MsgType.Response, {
      id: req.id as number,
      src: "factory",
      dst: "hub",
      status: 200,
      body: { status: "ok" },
    });
    assert.equal((await within(answer, "answer")).status, 200);
  } finally {
    first.close();
    second.close();
    await hub.fed.stop();
  }
});
