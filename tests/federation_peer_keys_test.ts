/**
 * Per-peer keys (CONFIG.md `[peer:NAME] key`, PORTAL02.md §3): one key per site, used the same
 * whichever side dials, and the federation_key is no longer enough for a peer that has its own.
 */
import assert from "node:assert/strict";
import { KEY, linked, nodeConfig, peerConfig, startTestNode } from "./helpers/nodes.ts";
import { RawClient } from "./helpers/raw_client.ts";

const OFFICE_KEY = "office-site-key-4b1d9e0c7a";
const PLANT_KEY = "plant-site-key-93ab61f0d2";

Deno.test("a hub with a key per site admits each site by its own key only", async () => {
  const hub = startTestNode(nodeConfig("hub"), [
    peerConfig("office", { host: null, autoConnect: false, key: OFFICE_KEY }),
    peerConfig("plant", { host: null, autoConnect: false, key: PLANT_KEY }),
  ]);
  const office = startTestNode(nodeConfig("office", { listenPort: null }), [
    peerConfig("hub", { port: hub.port, key: OFFICE_KEY }),
  ]);
  try {
    await linked(office, "hub");
    await linked(hub, "office");
    // plant with office's key, with the federation key, then with its own.
    for (const [key, status] of [[OFFICE_KEY, 401], [KEY, 401], [PLANT_KEY, 200]] as const) {
      const c = await RawClient.connect(hub.port);
      try {
        const verdict = await c.authenticate("plant", key);
        assert.equal(verdict.status, status, `plant with ${key}`);
      } finally {
        c.close();
      }
    }
  } finally {
    await office.fed.stop();
    await hub.fed.stop();
  }
});

Deno.test("the same per-peer key works when the hub dials the site; the site checks it too", async () => {
  const office = startTestNode(nodeConfig("office"), [
    peerConfig("hub", { host: null, autoConnect: false, key: OFFICE_KEY }),
  ]);
  const hub = startTestNode(nodeConfig("hub", { listenPort: null }), [
    peerConfig("office", { port: office.port, key: OFFICE_KEY }),
  ]);
  try {
    await linked(hub, "office");
    await linked(office, "hub");
    const [res, back] = await Promise.all([
      hub.fed.request("office", "GET", "/health"),
      office.fed.request("hub", "GET", "/health"),
    ]);
    assert.equal(res.status, 200);
    assert.equal(back.status, 200, "both ways over the one link");
  } finally {
    await hub.fed.stop();
    await office.fed.stop();
  }

  // office as the listener checks a dialer calling itself hub against [peer:hub] key.
  const site = startTestNode(nodeConfig("office"), [
    peerConfig("hub", { host: null, autoConnect: false, key: OFFICE_KEY }),
  ]);
  try {
    for (const [key, status] of [[PLANT_KEY, 401], [KEY, 401], [OFFICE_KEY, 200]] as const) {
      const c = await RawClient.connect(site.port);
      try {
        assert.equal((await c.authenticate("hub", key)).status, status, `hub with ${key}`);
      } finally {
        c.close();
      }
    }
  } finally {
    await site.fed.stop();
  }
});
