/** How the shell prints answers (seed: "Diagnostics"). */
import assert from "node:assert/strict";
import {
  formatDeviceState,
  formatError,
  formatJson,
  formatLatency,
  formatList,
  formatPeers,
  formatStatus,
  formatTable,
  formatUptime,
  thousands,
} from "../src/cli/format.ts";

Deno.test("formatPeers() prints the seed's table, aligned, latency as 12ms or -", () => {
  const text = formatPeers([
    {
      name: "hub",
      host: "hub.example.com",
      port: 9090,
      status: "connected",
      latency_ms: 12,
      via: null,
      direction: "out",
    },
    {
      name: "factory",
      host: "factory.local",
      port: 9090,
      status: "connected",
      latency_ms: 3.4,
      via: null,
      direction: "out",
    },
    {
      name: "lab",
      host: null,
      port: 9090,
      status: "disconnected",
      latency_ms: null,
      via: null,
      direction: "in",
    },
  ]);
  assert.equal(
    text,
    [
      "NAME     HOST             PORT  STATUS        LATENCY",
      "hub      hub.example.com  9090  connected     12ms",
      "factory  factory.local    9090  connected     3ms",
      "lab      -                9090  disconnected  -",
    ].join("\n"),
  );
});

Deno.test("formatPeers() adds a VIA column when any peer is reached through a hub", () => {
  const text = formatPeers([
    {
      name: "hub",
      host: "hub.example.com",
      port: 9090,
      status: "connected",
      latency_ms: 12,
      via: null,
    },
    { name: "factory", host: null, port: 9090, status: "via-hub", latency_ms: 3, via: "hub" },
  ]);
  assert.equal(
    text,
    [
      "NAME     HOST             PORT  STATUS     LATENCY  VIA",
      "hub      hub.example.com  9090  connected  12ms     -",
      "factory  -                9090  via-hub    3ms      hub",
    ].join("\n"),
  );
  assert.equal(formatPeers([]), "NAME  HOST  PORT  STATUS  LATENCY");
});

Deno.test("formatStatus() prints the seed's summary with thousands separators", () => {
  const text = formatStatus({
    peers_connected: 2,
    peers_disconnected: 0,
    messages_sent: 14203,
    messages_received: 13891,
    messages_relayed: 1234567,
    messages_dropped: 0,
    uptime_s: 93784,
  });
  assert.equal(
    text,
    [
      "Peers: 2 connected, 0 disconnected",
      "Messages sent: 14,203",
      "Messages received: 13,891",
      "Messages relayed: 1,234,567",
      "Messages dropped: 0",
      "Uptime: 1d 2h 3m 4s",
    ].join("\n"),
  );
});

Deno.test("thousands(), formatLatency() and formatUptime() edge cases", () => {
  assert.equal(thousands(0), "0");
  assert.equal(thousands(999), "999");
  assert.equal(thousands(1000), "1,000");
  assert.equal(thousands(-12345), "-12,345");
  assert.equal(thousands(null), "-");
  assert.equal(formatLatency(0), "0ms");
  assert.equal(formatLatency(undefined), "-");
  assert.equal(formatUptime(59), "59s");
  assert.equal(formatUptime(3600), "1h 0m 0s");
  assert.equal(formatUptime("x"), "-");
});

Deno.test("formatList() prints names, devices (on/off/unknown, offline) and other objects", () => {
  assert.equal(formatList(["health", "iot", "node"]), "health\niot\nnode");
  assert.equal(formatList([]), "");
  assert.equal(
    formatList([
      {
        id: "plug-001",
        kind: "plug",
        label: "Press line plug",
        driver: "sim",
        on: true,
        online: true,
      },
      { id: "lamp-2", kind: "lamp", label: "Hall", driver: "tasmota", on: false, online: true },
      { id: "fan", kind: "relay", label: "Roof fan", driver: "shelly", on: null, online: false },
    ]),
    [
      "plug-001  plug   Press line plug  on",
      "lamp-2    lamp   Hall             off",
      "fan       relay  Roof fan         unknown  offline",
    ].join("\n"),
  );
  assert.equal(formatList([{ name: "a", x: 1 }, { id: "bb" }]), 'a   {"x":1}\nbb');
  assert.equal(formatList({ not: "a list" }), '{\n  "not": "a list"\n}');
});

Deno.test("formatDeviceState(), formatJson(), formatError() and formatTable()", () => {
  assert.equal(
    formatDeviceState("plug-001", { id: "plug-001", on: true, online: true }),
    "plug-001: on",
  );
  assert.equal(
    formatDeviceState("p", { id: "p", on: null, online: false }),
    "p: unknown (offline)",
  );
  assert.equal(formatDeviceState("p", { on: false }), "p: off");
  assert.equal(formatDeviceState("p", "weird"), 'p: "weird"');
  assert.equal(formatJson({ a: [1] }), '{\n  "a": [\n    1\n  ]\n}');
  assert.equal(formatJson(undefined), "null");
  assert.equal(formatError(404, "no such path: /x"), "error: 404: no such path: /x");
  assert.equal(
    formatError(401, "wrong token"),
    "error: 401: wrong token (give it with --token, $PORTAL_TOKEN or --config)",
  );
  assert.equal(formatError(500, undefined), "error: 500: request failed with status 500");
  assert.equal(formatTable([["a", "bbb", "c"], ["dddd", "e", ""]]), "a     bbb  c\ndddd  e");
});
