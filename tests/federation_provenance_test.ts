/**
 * Provenance of answers (PORTAL02.md §10): a third node holding the key cannot answer for a
 * request it did not receive, whatever id it guesses; the relay the request left through may
 * still fail it in its own name.
 */
import assert from "node:assert/strict";
import { MsgType } from "../src/wire/mod.ts";
import { RawClient } from "./helpers/raw_client.ts";
import {
  KEY,
  linked,
  nodeConfig,
  peerConfig,
  reachableVia,
  startTestNode,
} from "./helpers/nodes.ts";
import { within } from "./kit/mod.ts";

Deno.test("Federation ignores RESPONSEs forged by a third node for every id around the real one", async () => {
  const hub = startTestNode(nodeConfig("hub"), []);
  const office = startTestNode(nodeConfig("office", { listenPort: null }), [
    peerConfig("hub", { port: hub.port }),
    peerConfig("factory", { host: null, autoConnect: false, hubs: ["hub"] }),
  ]);
  const factory = await RawClient.joined(hub.port, "factory", KEY);
  const probe = await RawClient.joined(hub.port, "probe", KEY);
  try {
    await linked(office, "hub");
    await reachableVia(office, "factory", "hub");
    const answer = office.fed.request("factory", "CALL", "/iot/devices/plug-001/on");
    const req = await within(factory.json(), "the relayed request");
    const id = req.id as number;
    const forged = (i: number, src: string) => ({
      id: i,
      src,
      dst: "office",
      status: 418,
      error: "forged",
    });
    // In its own name, in factory's, in the hub's: 200 ids either side of the real one.
    for (let i = Math.max(0, id - 200); i <= id + 200; i++) {
      await probe.sendJson(MsgType.Response, forged(i, "probe"));
      if (i % 10 === 0) await probe.sendJson(MsgType.Response, forged(i, "factory"));
      if (i % 10 === 5) await probe.sendJson(MsgType.Response, forged(i, "hub"));
    }
    // A round trip through office proves it has seen every forgery before the real answer.
    const droppedBefore = office.fed.counters.dropped;
    await probe.sendJson(MsgType.Request, {
      id: 1,
      src: "probe",
      dst: "office",
      method: "GET",
      path: "/health",
    });
    assert.equal((await within(probe.json(), "office's /health")).status, 200);
    assert.ok(office.fed.counters.dropped >= droppedBefore, "counted");
    await factory.sendJson(MsgType.Response, {
      id,
      src: "factory",
      dst: "office",
      status: 200,
      body: { on: true },
    });
    const res = await within(answer, "the real answer");
    assert.deepEqual(res, { status: 200, body: { on: true } });
    assert.ok(
      hub.log.some((l) => l.includes("forged src: 'probe' may not speak for 'factory'")),
      "the hub drops what the probe sends in factory's name",
    );

    // The relay the request left through may fail it in its own name.
    const lost = office.fed.request("factory", "GET", "/health");
    await within(factory.json(), "the second request");
    factory.close();
    const failed = await within(lost, "502 from the hub");
    assert.equal(failed.status, 502);
    assert.match(failed.error ?? "", /hub lost its connection to factory/);
  } finally {
    factory.close();
    probe.close();
    await office.fed.stop();
    await hub.fed.stop();
  }
});
