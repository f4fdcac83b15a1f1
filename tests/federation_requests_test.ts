/**
 * Requests in flight (PORTAL02.md §8): 502 at once when the link is lost, 504 at the deadline,
 * unique ids, 404 for an unknown node, 502 for a configured peer without a route. The requesting
 * node runs on a FakeClock, so "at once" means "before any fake time passed".
 */
import assert from "node:assert/strict";
import type { PathResponse } from "../src/paths/mod.ts";
import { type JsonObject, MsgType } from "../src/wire/mod.ts";
import {
  KEY,
  linked,
  nodeConfig,
  peerConfig,
  startTestNode,
  type TestNode,
} from "./helpers/nodes.ts";
import { RawClient } from "./helpers/raw_client.ts";
import { deadPort, FakeClock, settled, within } from "./kit/mod.ts";

/** An office node on a fake clock with a [peer:factory] that only dials in. */
function officeWithFactory(clock: FakeClock, requestTimeoutMs = 10_000): TestNode {
  return startTestNode(
    nodeConfig("office", { requestTimeoutMs }),
    [peerConfig("factory", { host: null, autoConnect: false })],
    { clock },
  );
}

/** A raw client that dials `office` and authenticates as "factory". */
async function rawFactory(office: TestNode): Promise<RawClient> {
  const c = await RawClient.connect(office.port);
  try {
    const verdict = await within(c.authenticate("factory", KEY), "factory's authentication");
    assert.equal(verdict.status, 200);
    assert.equal(verdict.node, "office");
  } catch (e) {
    c.close();
    throw e;
  }
  assert.ok(office.fed.peer("factory")?.link, "office has a link to factory");
  return c;
}

function isSentence(s: unknown): boolean {
  return typeof s === "string" && s.length > 20 && /\s/.test(s);
}

Deno.test("Federation.request() fails at once with 502 when the link dies while it is pending", async () => {
  const clock = new FakeClock();
  const office = officeWithFactory(clock);
  const clients: RawClient[] = [];
  try {
    const c = await rawFactory(office);
    clients.push(c);
    const pending = office.fed.request("factory", "CALL", "/iot/devices/plug-001/on", {
      reason: "test",
    });
    const req = await within(c.json(), "the request at factory");
    assert.deepEqual(req, {
      id: req.id,
      src: "office",
      dst: "factory",
      method: "CALL",
      path: "/iot/devices/plug-001/on",
      args: { reason: "test" },
      ttl: 8,
      timeout_ms: 10_000,
    });
    assert.equal(typeof req.id, "number");

    c.close(); // factory read the request, then went away
    const t0 = performance.now();
    const res = await within(pending, "502 after the link died", 2000);
    const tookMs = performance.now() - t0;
    assert.equal(res.status, 502, JSON.stringify(res));
    assert.equal(res.body, undefined);
    assert.match(String(res.error), /connection to factory was lost before factory answered/);
    assert.equal(clock.now(), 0, "no fake time passed: this is not the 10 s deadline");
    assert.ok(tookMs < 1000, `took ${tookMs} ms of real time`);
    assert.ok(office.log.some((l) => l.includes("requests failed on a lost connection")));

    // At-most-once: after factory comes back the old request is not sent again.
    const c2 = await rawFactory(office);
    clients.push(c2);
    const next = office.fed.request("factory", "GET", "/health");
    const req2 = await within(c2.json(), "the first frame after reconnecting");
    assert.equal(req2.path, "/health", "the lost CALL was not re-sent");
    await c2.sendJson(MsgType.Response, {
      id: req2.id,
      src: "factory",
      dst: "office",
      status: 200,
      body: { status: "ok" },
    });
    assert.deepEqual(await within(next, "answer after reconnecting"), {
      status: 200,
      body: { status: "ok" },
    });
  } finally {
    for (const c of clients) c.close();
    await office.fed.stop();
  }
});

Deno.test("Federation.request() fails with 504 at request_timeout when nobody answers", async () => {
  const clock = new FakeClock();
  const office = officeWithFactory(clock);
  let c: RawClient | null = null;
  try {
    c = await rawFactory(office);
    const pending = office.fed.request("factory", "GET", "/iot/devices");
    const req = await within(c.json(), "the request at factory");
    await clock.advanceAsync(9_999);
    assert.equal(await settled(pending), false, "still pending at 9.999 s");
    assert.equal(clock.nextDelay(), 1, "the deadline is due at exactly 10 s");
    clock.advance(1);
    const res = await within(pending, "504");
    assert.equal(res.status, 504, JSON.stringify(res));
    assert.equal(res.error, "factory did not answer within 10s");
    assert.ok(office.fed.peer("factory")?.link, "a timeout does not close the link");

    // The late answer matches nothing any more: dropped and counted, never delivered.
    const droppedBefore = office.fed.counters.dropped;
    await c.sendJson(MsgType.Response, {
      id: req.id,
      src: "factory",
      dst: "office",
      status: 200,
      body: { late: true },
    });
    // Frames on one link are handled in order: once this is answered, the late one was seen.
    await c.sendJson(MsgType.Request, {
      id: 1,
      src: "factory",
      dst: "office",
      method: "GET",
      path: "/health",
    });
    const health = await within(c.json(), "office's /health answer");
    assert.equal(health.status, 200);
    assert.equal(office.fed.counters.dropped, droppedBefore + 1);
    assert.ok(
      office.log.some((l) =>
        l.includes(`response ${req.id} from factory matches no pending request`)
      ),
    );
  } finally {
    c?.close();
    await office.fed.stop();
  }
});

Deno.test("Federation.request() deadline follows request_timeout", async () => {
  const clock = new FakeClock();
  const office = officeWithFactory(clock, 2500);
  let c: RawClient | null = null;
  try {
    c = await rawFactory(office);
    const pending = office.fed.request("factory", "LIST", "/iot");
    const req = await within(c.json(), "the request at factory");
    assert.equal(req.timeout_ms, 2500, "the deadline travels with the request");
    clock.advance(2500);
    const res = await within(pending, "504");
    assert.deepEqual(res, { status: 504, error: "factory did not answer within 2.5s" });
  } finally {
    c?.close();
    await office.fed.stop();
  }
});

Deno.test("Federation.request() ids are unique among pending requests and answers find their caller", async () => {
  const clock = new FakeClock();
  const office = officeWithFactory(clock);
  let c: RawClient | null = null;
  const N = 40;
  try {
    c = await rawFactory(office);
    const pending = Array.from(
      { length: N },
      (_, i) => office.fed.request("factory", "GET", `/p/${i}`),
    );
    const requests: JsonObject[] = [];
    for (let i = 0; i < N; i++) requests.push(await within(c.json(), `request ${i}`));
    const ids = requests.map((r) => r.id as number);
    assert.equal(new Set(ids).size, N, `ids repeat: ${ids.join(",")}`);
    assert.ok(ids.every((id) => Number.isSafeInteger(id) && id >= 0));

    // Answer in reverse order; each caller must get the answer to its own path.
    for (const r of [...requests].reverse()) {
      await c.sendJson(MsgType.Response, {
        id: r.id as number,
        src: "factory",
        dst: "office",
        status: 200,
        body: { path: r.path as string },
      });
    }
    const answers = await within(Promise.all(pending), "all answers");
    answers.forEach((a: PathResponse, i) =>
      assert.deepEqual(a, { status: 200, body: { path: `/p/${i}` } })
    );

    // Ids in use while earlier ones are settled stay distinct from the new ones.
    const more = [
      office.fed.request("factory", "GET", "/a"),
      office.fed.request("factory", "GET", "/b"),
    ];
    const a = await within(c.json(), "request /a");
    const b = await within(c.json(), "request /b");
    assert.notEqual(a.id, b.id);
    clock.advance(10_000);
    assert.deepEqual((await Promise.all(more)).map((r) => r.status), [504, 504]);
  } finally {
    c?.close();
    await office.fed.stop();
  }
});

Deno.test("Federation.request() to an unknown node answers 404 with a sentence", async () => {
  const clock = new FakeClock();
  const office = officeWithFactory(clock);
  try {
    const res = await within(office.fed.request("nowhere", "GET", "/health"), "404", 1000);
    assert.equal(res.status, 404);
    assert.ok(isSentence(res.error), String(res.error));
    assert.match(String(res.error), /unknown node 'nowhere'/);
    assert.match(String(res.error), /\[peer:nowhere\]/, "it says which section is missing");
    assert.equal(clock.pending, 0, "nothing was left waiting");

    // Through the path API the same answer comes back.
    const viaPath = await office.router.handle({
      method: "GET",
      path: "/node/nowhere/health",
      args: {},
      origin: null,
    });
    assert.equal(viaPath.status, 404);
    assert.equal(viaPath.error, res.error);
  } finally {
    await office.fed.stop();
  }
});

Deno.test("Federation.request() to a configured but unconnected peer answers 502 at once", async () => {
  const clock = new FakeClock();
  const office = startTestNode(nodeConfig("office"), [
    peerConfig("hub", { port: deadPort() }),
    peerConfig("factory", { port: deadPort(), hubs: ["hub"] }),
    peerConfig("lab", { port: deadPort() }),
  ], { clock });
  try {
    const t0 = performance.now();
    const viaHub = await within(office.fed.request("factory", "GET", "/health"), "502", 1000);
    const direct = await within(office.fed.request("lab", "GET", "/health"), "502", 1000);
    const tookMs = performance.now() - t0;
    assert.equal(viaHub.status, 502);
    assert.ok(isSentence(viaHub.error));
    assert.equal(
      viaHub.error,
      "office: no route to factory: factory is not connected to office, " +
        "and neither is its hub 'hub'",
    );
    assert.equal(direct.status, 502);
    assert.ok(isSentence(direct.error));
    assert.equal(
      direct.error,
      "office: no route to lab: lab is not connected to office, and office's [peer:lab] " +
        "names no hub",
    );
    assert.equal(clock.now(), 0, "no fake time passed");
    assert.ok(tookMs < 500, `took ${tookMs} ms of real time`);
  } finally {
    await office.fed.stop();
  }
});

Deno.test("a 502 decided further on names the node that decided it", async () => {
  const hub = startTestNode(nodeConfig("hub"), [
    peerConfig("factory", { port: deadPort(), autoConnect: false }),
  ]);
  const office = startTestNode(nodeConfig("office", { listenPort: null }), [
    peerConfig("hub", { port: hub.port }),
  ]);
  try {
    await linked(office, "hub");
    // The hub decides: it has no link to the factory. The office reads the hub's sentence.
    const res = await office.fed.request("hub", "GET", "/node/factory/health");
    assert.equal(res.status, 502);
    assert.equal(
      res.error,
      "hub: no route to factory: factory is not connected to hub, and hub's [peer:factory] " +
        "names no hub",
    );
  } finally {
    await office.fed.stop();
    await hub.fed.stop();
  }
});
