/** [acl] authorization (PORTAL02 §11, CONFIG.md). */
import assert from "node:assert/strict";
import { type AccessDecision, AccessPolicy } from "../src/auth/acl.ts";
import type { AclConfig, AclMethod } from "../src/config/types.ts";

/** An AclConfig as the config loader makes it, from `origin: "METHOD PATTERN, ..."` lines. */
function acl(lines: Record<string, string>): AclConfig {
  return {
    entries: Object.entries(lines).map(([origin, value], i) => ({
      origin,
      line: i + 2,
      rules: value.split(",").map((s) => s.trim()).filter((s) => s !== "").map((text) => {
        const [method, pattern] = text.split(/\s+/);
        return { method: method as AclMethod, pattern, text };
      }),
    })),
  };
}

/** The CONFIG.md example. */
const EXAMPLE = acl({
  office: "GET *, LIST *, CALL /iot/devices/plug-*",
  "*": "GET /health, LIST /",
});

function allowed(d: AccessDecision, rule: string): void {
  assert.equal(d.allowed, true, d.allowed ? "" : d.reason);
  if (d.allowed) assert.equal(d.rule, rule);
}

function denied(d: AccessDecision, reason: string | RegExp): void {
  assert.equal(d.allowed, false, "expected a denial");
  if (d.allowed) return;
  if (typeof reason === "string") assert.equal(d.reason, reason);
  else assert.match(d.reason, reason);
}

Deno.test("decide() without [acl] allows everything", () => {
  const policy = new AccessPolicy(null, { node: "factory" });
  assert.equal(policy.enabled, false);
  assert.deepEqual(policy.decide("anyone", "CALL", "/iot/devices/valve-001"), {
    allowed: true,
    entry: null,
    rule: null,
  });
});

Deno.test("decide() applies the origin's own entry: CALL plug-001 yes, valve-001 no", () => {
  const policy = new AccessPolicy(EXAMPLE, { node: "factory" });
  assert.equal(policy.enabled, true);
  allowed(policy.decide("office", "CALL", "/iot/devices/plug-001"), "CALL /iot/devices/plug-*");
  allowed(policy.decide("office", "GET", "/iot/devices/valve-001"), "GET *");
  allowed(policy.decide("office", "LIST", "/"), "LIST *");
  const d = policy.decide("office", "CALL", "/iot/devices/valve-001");
  denied(
    d,
    "office may not CALL /iot/devices/valve-001 on factory: no rule of [acl] office matches " +
      "(office = GET *, LIST *, CALL /iot/devices/plug-*)",
  );
  assert.equal(d.entry, "office");
  // Its own entry replaces '*' entirely: what '*' allows is not added to it.
  denied(policy.decide("office", "CALL", "/health"), /no rule of \[acl\] office matches/);
});

Deno.test("decide() sends another node to the '*' entry", () => {
  const policy = new AccessPolicy(EXAMPLE, { node: "factory" });
  const ok = policy.decide("hub", "GET", "/health");
  allowed(ok, "GET /health");
  assert.equal(ok.entry, "*");
  allowed(policy.decide("hub", "LIST", "/"), "LIST /");
  denied(
    policy.decide("hub", "LIST", "/iot/devices"),
    "hub may not LIST /iot/devices on factory: [acl] has no entry for hub, and no rule of " +
      "[acl] * matches (* = GET /health, LIST /)",
  );
  denied(policy.decide("hub", "CALL", "/health"), /no rule of \[acl\] \* matches/);
});

Deno.test("decide() denies a node with no entry when there is no '*' entry", () => {
  const policy = new AccessPolicy(acl({ office: "* *" }));
  allowed(policy.decide("office", "CALL", "/anything/at/all"), "* *");
  const d = policy.decide("stranger", "GET", "/health");
  denied(
    d,
    "stranger may not GET /health on this node: [acl] has no entry for stranger and no '*' entry",
  );
  assert.equal(d.entry, null);
  // An [acl] with no entries at all denies every node.
  denied(new AccessPolicy({ entries: [] }).decide("office", "GET", "/"), /no '\*' entry/);
  denied(new AccessPolicy(acl({ office: "" })).decide("office", "GET", "/"), /lists no rules/);
});

Deno.test("decide() takes the first matching rule and matches METHOD exactly or '*'", () => {
  const policy = new AccessPolicy(acl({
    office: "GET /iot/*, * /iot/devices/*, CALL /core/*",
  }));
  allowed(policy.decide("office", "GET", "/iot/devices/plug-1"), "GET /iot/*");
  allowed(policy.decide("office", "CALL", "/iot/devices/plug-1"), "* /iot/devices/*");
  allowed(policy.decide("office", "LIST", "/iot/devices/x"), "* /iot/devices/*");
  denied(policy.decide("office", "LIST", "/iot/other"), /no rule/);
  denied(policy.decide("office", "GET", "/core/x"), /no rule/);
});

Deno.test("patterns: '*' spans '/', everything else is literal", () => {
  const policy = new AccessPolicy(acl({
    a: "GET /iot/*/state, GET /a.b, GET /x(y)+[z]?, GET /p/*-*-*/q, GET /exact",
  }));
  const yes = ["/iot/devices/plug-1/state", "/iot/a/b/state", "/a.b", "/x(y)+[z]?", "/p/1-2-3/q"];
  for (const path of yes) assert.equal(policy.decide("a", "GET", path).allowed, true, path);
  const no = [
    "/iot/state",
    "/iot//state",
    "/iot/devices/plug-1/state/more",
    "/aXb",
    "/xy",
    "/p/1-2/q",
    "/exact/more",
    "/exac",
    "/prefix/exact",
  ];
  for (const path of no) assert.equal(policy.decide("a", "GET", path).allowed, false, path);
  // A pattern of many '*'s against a long path answers at once (no backtracking).
  const stars = new AccessPolicy(acl({ a: `GET /${"*a".repeat(40)}b` }));
  const started = performance.now();
  assert.equal(stars.decide("a", "GET", `/${"a".repeat(20_000)}`).allowed, false);
  assert.ok(performance.now() - started < 200);
});

Deno.test("paths and patterns compare as the router sees them: '//' and a trailing '/' ignored", () => {
  const policy = new AccessPolicy(acl({
    office: "GET /health, LIST /iot/devices/, CALL /iot/devices/plug-*",
  }));
  allowed(policy.decide("office", "GET", "//health/"), "GET /health");
  allowed(policy.decide("office", "LIST", "/iot//devices"), "LIST /iot/devices/");
  // Nothing else is rewritten: %-escapes and '..' stay as they are, so they can only be denied.
  denied(policy.decide("office", "CALL", "/iot/devices/%70lug-1"), /no rule/);
  denied(policy.decide("office", "GET", "/iot/../health"), /no rule/);
  // A long path is clipped in the sentence.
  const d = policy.decide("office", "GET", `/${"x".repeat(500)}`);
  assert.ok(!d.allowed && d.reason.length < 400);
});
