/** FairGate and sourceOf: fair admission of connections that have not proved anything yet. */
import assert from "node:assert/strict";
import { FairGate, sourceOf } from "../src/transport/gate.ts";

Deno.test("FairGate.admit() refuses a source at its bound and admits other sources", () => {
  const gate = new FairGate<string>({ perSource: 2, total: 10 });
  assert.equal(gate.admit("a", "a1").kind, "admitted");
  assert.equal(gate.admit("a", "a2").kind, "admitted");
  const third = gate.admit("a", "a3");
  assert.equal(third.kind, "refused");
  assert.match(third.kind === "refused" ? third.reason : "", /a already holds 2/);
  assert.equal(gate.admit("b", "b1").kind, "admitted");
  assert.equal(gate.size, 3);
  gate.release("a", "a1");
  gate.release("a", "a1");
  assert.equal(gate.countOf("a"), 1);
  assert.equal(gate.admit("a", "a4").kind, "admitted");
});

Deno.test("FairGate.admit() when full sheds the newest of the source holding the most", () => {
  const gate = new FairGate<string>({ perSource: 10, total: 5 });
  for (const id of ["x1", "x2", "x3", "x4"]) gate.admit("x", id);
  gate.admit("y", "y1");
  const v = gate.admit("z", "z1");
  assert.deepEqual(v, { kind: "admitted", shed: "x4", shedSource: "x" });
  assert.equal(gate.size, 5);
  assert.equal(gate.countOf("x"), 3);
  // y holds 1 and z holds 1: a second z would make z the biggest, so x gives way again.
  assert.equal(gate.admit("z", "z2").kind, "admitted");
  assert.equal(gate.countOf("x"), 2);
  // Now x, z hold 2 each and y 1: a newcomer from x holds as many as anyone and is refused.
  const refused = gate.admit("x", "x5");
  assert.equal(refused.kind, "refused");
  assert.equal(gate.size, 5);
});

Deno.test("FairGate: a flood from one address never refuses a newcomer from another", () => {
  const gate = new FairGate<number>({ perSource: 64, total: 1024 });
  let refused = 0;
  for (let i = 0; i < 1100; i++) if (gate.admit("127.0.0.2", i).kind === "refused") refused++;
  assert.equal(refused, 1100 - 64);
  assert.equal(gate.admit("127.0.0.1", -1).kind, "admitted");
  // Many flooding addresses fill the gate; a fresh address still gets in by shedding.
  const many = new FairGate<string>({ perSource: 64, total: 1024 });
  for (let s = 0; s < 40; s++) for (let i = 0; i < 64; i++) many.admit(`10.0.${s}.1`, `${s}/${i}`);
  assert.equal(many.size, 1024);
  const fresh = many.admit("127.0.0.1", "peer");
  assert.equal(fresh.kind, "admitted");
  assert.ok(fresh.kind === "admitted" && fresh.shed !== null);
});

Deno.test("FairGate.victimFor() names nobody when the newcomer's source holds the most", () => {
  const gate = new FairGate<string>({ perSource: 5, total: 5 });
  gate.admit("a", "a1");
  gate.admit("b", "b1");
  gate.admit("b", "b2");
  assert.deepEqual(gate.victimFor("a"), { source: "b", item: "b2" });
  assert.equal(gate.victimFor("b"), null);
});

Deno.test("sourceOf() keys IPv4 by address, IPv6 by /64 and strips ports and zones", () => {
  assert.equal(sourceOf("127.0.0.2"), "127.0.0.2");
  assert.equal(sourceOf("127.0.0.2:54321"), "127.0.0.2");
  assert.equal(sourceOf("::ffff:10.1.2.3"), "10.1.2.3");
  assert.equal(sourceOf("[2001:db8:1:2:a:b:c:d]:9090"), "2001:db8:1:2::/64");
  assert.equal(sourceOf("2001:db8:1:2::1"), "2001:db8:1:2::/64");
  assert.equal(sourceOf("2001:0db8:0001:0002:ffff::"), "2001:db8:1:2::/64");
  assert.equal(sourceOf("fe80::1%eth0"), "fe80:0:0:0::/64");
  assert.equal(sourceOf("::1"), "0:0:0:0::/64");
});
