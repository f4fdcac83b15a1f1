/** The sending side of presence (PORTAL02.md §9): full sets, deltas beyond a bound, coalescing. */
import assert from "node:assert/strict";
import { PresenceAnnouncer } from "../src/federation/announcer.ts";
import type { Link } from "../src/peer/peer.ts";
import type { JsonObject } from "../src/wire/mod.ts";
import { FakeClock } from "./kit/mod.ts";

function link(id: number, peer: string, latencyMs: number | null = 2): Link {
  return { id, peer, conn: { isOpen: true }, heartbeat: { latencyMs } } as unknown as Link;
}

function rig(deltaAbove: number, wants?: (peer: string) => boolean) {
  const clock = new FakeClock();
  const links: Link[] = [];
  const sent: { to: string; data: JsonObject }[] = [];
  const announcer = new PresenceAnnouncer({
    name: "hub",
    clock,
    links: () => links,
    send: (l, _type, body) => {
      const ev = JSON.parse(new TextDecoder().decode(body));
      assert.equal(ev.topic, "presence");
      assert.equal(ev.src, "hub");
      assert.equal(ev.dst, l.peer);
      sent.push({ to: l.peer, data: ev.data });
    },
    deltaAbove,
    wants,
  });
  return { clock, links, sent, announcer };
}

Deno.test("PresenceAnnouncer sends each neighbour the others, coalesced, at most 10 a second", async () => {
  const r = rig(1000);
  r.links.push(link(1, "office"), link(2, "factory"));
  r.announcer.changed();
  r.announcer.changed();
  await r.clock.advanceAsync(0);
  assert.deepEqual(r.sent, [
    { to: "office", data: { full: true, nodes: [{ name: "factory", rtt_ms: 2 }] } },
    { to: "factory", data: { full: true, nodes: [{ name: "office", rtt_ms: 2 }] } },
  ]);
  r.sent.length = 0;
  r.links.pop();
  r.announcer.changed();
  await r.clock.advanceAsync(50);
  assert.equal(r.sent.length, 0, "not twice within 100 ms");
  await r.clock.advanceAsync(50);
  assert.deepEqual(r.sent, [{ to: "office", data: { full: true, nodes: [] } }]);
  r.announcer.stop();
  assert.equal(r.clock.pending, 0);
});

Deno.test("PresenceAnnouncer sends deltas beyond the bound, and only to neighbours that want them", async () => {
  const r = rig(2, (peer) => peer !== "client");
  r.links.push(link(1, "a"), link(2, "b"), link(3, "client"));
  r.announcer.changed();
  await r.clock.advanceAsync(0);
  assert.deepEqual(r.sent.map((s) => [s.to, s.data.full]), [["a", true], ["b", true]]);
  r.sent.length = 0;
  r.links.push(link(4, "c"));
  r.announcer.changed();
  await r.clock.advanceAsync(100);
  assert.deepEqual(r.sent, [
    { to: "a", data: { full: false, up: [{ name: "c", rtt_ms: 2 }], down: [] } },
    { to: "b", data: { full: false, up: [{ name: "c", rtt_ms: 2 }], down: [] } },
    {
      to: "c",
      data: {
        full: true,
        nodes: [
          { name: "a", rtt_ms: 2 },
          { name: "b", rtt_ms: 2 },
          { name: "client", rtt_ms: 2 },
        ],
      },
    },
  ]);
  r.announcer.stop();
});
