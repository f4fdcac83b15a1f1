import assert from "node:assert/strict";
import { PathRouter } from "../src/paths/mod.ts";
import { MsgType } from "../src/wire/mod.ts";
import { KEY, linked, nodeConfig, peerConfig, startTestNode } from "./helpers/nodes.ts";
import { RawClient } from "./helpers/raw_client.ts";
import { within } from "./kit/mod.ts";

Deno.test("Federation answers 413 locally for a request over max_frame_bytes and keeps the link", async () => {
  const hub = startTestNode(nodeConfig("hub", { maxFrameBytes: 4096 }), []);
  const office = startTestNode(nodeConfig("office", { maxFrameBytes: 4096 }), [
    peerConfig("hub", { port: hub.port }),
  ]);
  try {
    await linked(office, "hub");
    const big = await office.fed.request("hub", "CALL", "/health", { blob: "x".repeat(5000) });
    assert.equal(big.status, 413);
    assert.match(String(big.error), /max_frame_bytes/);
    const ok = await office.fed.request("hub", "GET", "/health");
    assert.equal(ok.status, 200, "the link survived");
  } finally {
    await office.fed.stop();
    await hub.fed.stop();
  }
});

Deno.test("Federation sends 413 instead of an answer over max_frame_bytes", async () => {
  const router = new PathRouter();
  router.on("GET", "/big", () => ({ status: 200, body: "y".repeat(5000) }));
  const hub = startTestNode(nodeConfig("hub", { maxFrameBytes: 4096 }), [], { router });
  const office = startTestNode(nodeConfig("office", { maxFrameBytes: 4096 }), [
    peerConfig("hub", { port: hub.port }),
  ]);
  try {
    await linked(office, "hub");
    const res = await office.fed.request("hub", "GET", "/big");
    assert.equal(res.status, 413);
    assert.equal((await office.fed.request("hub", "GET", "/health")).status, 200);
  } finally {
    await office.fed.stop();
    await hub.fed.stop();
  }
});

Deno.test("Federation serves a request whose timeout_ms is beyond what a timer can hold", async () => {
  const hub = startTestNode(nodeConfig("hub"), []);
  const c = await RawClient.joined(hub.port, "mallory", KEY);
  try {
    await c.sendJson(MsgType.Request, {
      id: 1,
      src: "mallory",
      dst: "hub",
      method: "GET",
      path: "/health",
      timeout_ms: 3_000_000_000,
    });
    assert.equal((await within(c.json(), "answer")).status, 200);
  } finally {
    c.close();
    await hub.fed.stop();
  }
});

Deno.test("Federation answers 400 for a path with a malformed %-escape", async () => {
  const hub = startTestNode(nodeConfig("hub"), []);
  const c = await RawClient.joined(hub.port, "mallory", KEY);
  try {
    await c.sendJson(MsgType.Request, {
      id: 2,
      src: "mallory",
      dst: "hub",
      method: "GET",
      path: "/node/%E0%A4%A/health",
    });
    const res = await within(c.json(), "answer");
    assert.equal(res.status, 400);
    assert.match(String(res.error), /%-escape/);
  } finally {
    c.close();
    await hub.fed.stop();
  }
});

Deno.test("Federation ignores a failure answer for its request from a node off the request's path", async () => {
  const router = new PathRouter();
  let release: () => void = () => {};
  router.on(
    "GET",
    "/slow",
    () => new Promise((r) => (release = () => r({ status: 200, body: "late" }))),
  );
  const hub = startTestNode(nodeConfig("hub"), [], { router });
  const office = startTestNode(nodeConfig("office"), [peerConfig("hub", { port: hub.port })]);
  const stranger = await RawClient.connect(office.port);
  try {
    await linked(office, "hub");
    assert.equal((await stranger.authenticate("mallory", KEY)).status, 200);
    const pending = office.fed.request("hub", "GET", "/slow");
    // The first request office sends has id 1: a stranger tries to fail it.
    await stranger.sendJson(MsgType.Response, {
      id: 1,
      src: "mallory",
      dst: "office",
      status: 502,
      error: "forged",
    });
    // A round trip on the stranger's link proves office has processed the forgery.
    await stranger.sendJson(MsgType.Request, {
      id: 9,
      src: "mallory",
      dst: "office",
      method: "GET",
      path: "/health",
    });
    assert.equal((await within(stranger.json(), "health")).status, 200);
    release();
    const res = await within(pending, "the real answer");
    assert.equal(res.status, 200);
    assert.equal(res.body, "late");
    assert.ok(office.log.some((l) => l.includes("matches no pending request")));
  } finally {
    stranger.close();
    await office.fed.stop();
    await hub.fed.stop();
  }
});

Deno.test("Federation ends a chain of nested /node/… forwards when the hops run out", async () => {
  // Each level of the chain holds a worker while it waits for the next, so both
  // nodes get more workers than the chain is deep.
  const hub = startTestNode(nodeConfig("hub", { workers: 16 }), []);
  const factory = startTestNode(nodeConfig("factory", { workers: 16 }), [
    peerConfig("hub", { port: hub.port, workers: 16 }),
  ]);
  try {
    await linked(hub, "factory");
    // hub → factory → hub → factory → … : each hop forwards with one hop fewer.
    const loop = "/node/factory/node/hub".repeat(10) + "/health";
    const res = await within(
      hub.fed.request("factory", "GET", loop.slice("/node/factory".length)),
      "508",
    );
    assert.equal(res.status, 508, JSON.stringify(res));
    const short = await hub.fed.request("factory", "GET", "/node/hub/node/factory/health");
    assert.equal(short.status, 200, "a few nested hops still work");
  } finally {
    await factory.fed.stop();
    await hub.fed.stop();
  }
});
