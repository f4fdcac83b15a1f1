/**
 * Hops through this node itself: `/node/<own name>/…` costs a hop like any other,
 * keeps the origin the request came from, and hands the caller's abort signal on;
 * an already-aborted request never leaves.
 */
import assert from "node:assert/strict";
import { PathRouter } from "../src/paths/mod.ts";
import { RawClient } from "./helpers/raw_client.ts";
import { KEY, linked, nodeConfig, peerConfig, startTestNode } from "./helpers/nodes.ts";
import { within } from "./kit/mod.ts";

Deno.test("Federation.request() spends the hop budget across self-hops (508, not a reset)", async () => {
  const office = startTestNode(nodeConfig("office", { workers: 64 }), []);
  const factory = startTestNode(nodeConfig("factory", { workers: 64 }), [
    peerConfig("office", { port: office.port, workers: 64 }),
  ]);
  try {
    await linked(office, "factory");
    // factory → factory → office → office, six times over: 12 cross-node hops, 24 in all.
    const chain = "/node/factory/node/factory/node/office/node/office".repeat(6) + "/health";
    const res = await within(office.fed.request("office", "GET", chain), "the chain's answer");
    assert.equal(res.status, 508, JSON.stringify(res));
    const short = await office.fed.request("office", "GET", "/node/factory/node/factory/health");
    assert.equal(short.status, 200, "a few self-hops still work");
  } finally {
    await factory.fed.stop();
    await office.fed.stop();
  }
});

Deno.test("Federation.request() to itself keeps the origin and the caller's signal", async () => {
  const seen: { origin: string | null; aborted: boolean }[] = [];
  const router = new PathRouter();
  let release = () => {};
  router.on("GET", "/who", (req) => {
    return new Promise((resolve) => {
      const answer = () => {
        seen.push({ origin: req.origin, aborted: req.signal?.aborted ?? false });
        resolve({ status: 200, body: req.origin });
      };
      release = answer;
      req.signal?.addEventListener("abort", answer, { once: true });
    });
  });
  const factory = startTestNode(nodeConfig("factory"), [], { router });
  try {
    const abort = new AbortController();
    const pending = factory.fed.request("factory", "GET", "/who", {}, {
      origin: "office",
      signal: abort.signal,
      ttl: 3,
    });
    abort.abort();
    const res = await within(pending, "the self-hop's answer");
    assert.equal(res.status, 200);
    assert.deepEqual(seen, [{ origin: "office", aborted: true }]);
    release();
  } finally {
    await factory.fed.stop();
  }
});

Deno.test("Federation.request() with an already-aborted signal answers 504 and sends nothing", async () => {
  const office = startTestNode(nodeConfig("office"), [
    peerConfig("factory", { host: null, autoConnect: false }),
  ]);
  const factory = await RawClient.connect(office.port);
  try {
    assert.equal((await within(factory.authenticate("factory", KEY), "auth")).status, 200);
    await within(office.fed.when(() => office.fed.peer("factory")?.link != null), "link");
    const sentBefore = office.fed.counters.sent;
    const abort = new AbortController();
    abort.abort();
    const res = await office.fed.request("factory", "GET", "/health", {}, { signal: abort.signal });
    assert.equal(res.status, 504);
    assert.match(res.error ?? "", /stopped waiting/);
    assert.equal(office.fed.counters.sent, sentBefore, "no REQUEST left office");
  } finally {
    factory.close();
    await office.fed.stop();
  }
});
