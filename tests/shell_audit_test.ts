/** The shell's `audit [N]`: its count and its table. */
import assert from "node:assert/strict";
import { auditCount, DEFAULT_AUDIT_COUNT, formatAudit } from "../src/cli/audit.ts";

const RECORDS = [
  {
    time: "2025-01-02T03:04:06.000Z",
    origin: "plant",
    relay: "hub",
    path: "/iot/devices/plug-001/off",
    verdict: "denied",
    acl_entry: null,
    rule: null,
    signature: "verified",
    reason: "plant may not CALL /iot/devices/plug-001/off on factory: [acl] has no entry for plant",
    status: 403,
    duration_ms: 0.4,
    state: "done",
  },
  {
    time: "2025-01-02T03:04:05.000Z",
    origin: "office",
    relay: null,
    path: "/iot/devices/plug-001/on",
    verdict: "allowed",
    acl_entry: "office",
    rule: "CALL /iot/devices/plug-*",
    signature: "verified",
    reason: null,
    status: null,
    duration_ms: null,
    state: "pending",
  },
  {
    time: "2025-01-02T03:04:04.000Z",
    origin: null,
    role: "full",
    path: "/iot/devices/valve-001/on",
    verdict: "allowed",
    signature: "none",
    status: null,
    duration_ms: null,
    state: "unknown",
  },
];

Deno.test("auditCount() reads N from 1 to 1000, default 20", () => {
  assert.equal(auditCount([]), DEFAULT_AUDIT_COUNT);
  assert.equal(auditCount(["5"]), 5);
  assert.equal(auditCount(["1000"]), 1000);
  for (const bad of [["0"], ["1001"], ["x"], ["-1"], ["1", "2"], ["2.5"]]) {
    assert.throws(() => auditCount(bad), /usage: audit \[N\] \(N from 1 to 1000, default 20\)/);
  }
});

Deno.test("formatAudit() prints one aligned row per CALL: who, what, verdict, status and why", () => {
  assert.equal(
    formatAudit(RECORDS, 10),
    [
      "TIME                      FROM           PATH                       VERDICT  STATUS   TOOK   WHY",
      "2025-01-02T03:04:06.000Z  plant via hub  /iot/devices/plug-001/off  denied   403      0.4ms  " +
      "plant may not CALL /iot/devices/plug-001/off on factory: [acl] has no entry for plant",
      "2025-01-02T03:04:05.000Z  office         /iot/devices/plug-001/on   allowed  running  -      " +
      "[acl] office: CALL /iot/devices/plug-*; signed",
      "2025-01-02T03:04:04.000Z  local (full)   /iot/devices/valve-001/on  allowed  unknown  -      " +
      "local API",
    ].join("\n"),
  );
  assert.equal(formatAudit(RECORDS, 1).split("\n").length, 2);
  assert.equal(formatAudit([], 20), "no CALL audited yet");
  assert.equal(formatAudit({ odd: 1 }, 20), '{\n  "odd": 1\n}');
});
