import assert from "node:assert/strict";
import { hostPortText, parseHost, parseHostPort, urlHost } from "../src/util/host.ts";

/** The parsed host, or a failed assertion naming the input. */
function host(input: string, options?: Parameters<typeof parseHost>[1]) {
  const r = parseHost(input, options);
  assert.ok(r.ok, `${input}: ${r.ok ? "" : r.message}`);
  return r.value;
}

/** The sentence parseHost answers for `input`. */
function refusal(input: string, options?: Parameters<typeof parseHost>[1]): string {
  const r = parseHost(input, options);
  assert.ok(!r.ok, `${input} was accepted as ${JSON.stringify(r.ok && r.value)}`);
  return r.message;
}

Deno.test("parseHost() classifies IPv4, IPv6 and DNS names", () => {
  assert.deepEqual(host("10.0.0.5"), { kind: "ipv4", value: "10.0.0.5" });
  assert.deepEqual(host("0.0.0.0"), { kind: "ipv4", value: "0.0.0.0" });
  assert.deepEqual(host("::"), { kind: "ipv6", value: "::" });
  assert.deepEqual(host("[::1]"), { kind: "ipv6", value: "::1" });
  assert.deepEqual(host("hub.example.com"), { kind: "dns", value: "hub.example.com" });
  assert.deepEqual(host("localhost"), { kind: "dns", value: "localhost" });
});

Deno.test("parseHost() makes IPv6 canonical and DNS names lower-case without a trailing dot", () => {
  assert.deepEqual(host("FE80:0:0:0:0:0:0:1"), { kind: "ipv6", value: "fe80::1" });
  assert.deepEqual(host("[2001:DB8::0001]"), { kind: "ipv6", value: "2001:db8::1" });
  assert.deepEqual(host("Hub.Example.COM."), { kind: "dns", value: "hub.example.com" });
  assert.deepEqual(host("  plug.local  "), { kind: "dns", value: "plug.local" });
});

Deno.test("parseHost() accepts hyphens and underscores inside labels", () => {
  assert.equal(host("my-plug_2.lan").value, "my-plug_2.lan");
  assert.equal(host("a").value, "a");
  assert.equal(host(`${"a".repeat(63)}.lan`).kind, "dns");
});

Deno.test("parseHost() refuses what is not a host, with a sentence saying why", () => {
  const cases: [string, RegExp][] = [
    ["", /got nothing/],
    ["my host", /no spaces/],
    ["http://10.0.0.5", /not a URL or path/],
    ["10.0.0.5/cm", /not a URL or path/],
    ["localhost:8080", /without ':PORT'/],
    ["[::1]:8080", /without ':PORT'/],
    ["1.2.3", /not a valid IPv4 address/],
    ["256.1.1.1", /not a valid IPv4 address/],
    ["01.2.3.4", /no leading zeros/],
    ["10.0.0", /not a valid IPv4 address/],
    ["host.123", /numeric label/],
    ["-plug.lan", /not starting or ending with '-'/],
    ["plug-.lan", /not starting or ending with '-'/],
    ["a..b", /not a valid host name/],
    [`${"a".repeat(64)}.lan`, /1-63 characters/],
    [`${"a.".repeat(127)}ab`, /at most 253 characters/],
    ["gr\u00fcn.lan", /ASCII \(xn--\) form/],
    ["[1.2.3.4]", /not a valid IPv6 address/],
    ["fe80::1::2", /not a valid IPv6 address/],
    ["*.example.com", /not a valid host name/],
  ];
  for (const [input, want] of cases) assert.match(refusal(input), want, input);
});

Deno.test("parseHost() allows an IPv6 zone id only when asked", () => {
  assert.match(refusal("fe80::1%eth0"), /zone id/);
  assert.deepEqual(host("fe80::1%eth0", { zone: true }), { kind: "ipv6", value: "fe80::1%eth0" });
  assert.match(refusal("fe80::1%", { zone: true }), /not a valid IPv6 zone id/);
  assert.match(refusal("fe80::1%a b", { zone: true }), /no spaces/);
});

Deno.test("parseHost() allows a leading wildcard label only for certificates", () => {
  assert.deepEqual(host("*.Example.com", { wildcard: true }), {
    kind: "dns",
    value: "*.example.com",
  });
  assert.match(refusal("*.com", { wildcard: true }), /at least two labels after '\*\.'/);
  assert.match(refusal("a.*.com", { wildcard: true }), /not a valid host name/);
});

Deno.test("parseHostPort() reads HOST:PORT and [IPv6]:PORT", () => {
  assert.deepEqual(parseHostPort("127.0.0.1:8080"), {
    ok: true,
    value: { host: { kind: "ipv4", value: "127.0.0.1" }, port: 8080 },
  });
  assert.deepEqual(parseHostPort("[::1]:9090"), {
    ok: true,
    value: { host: { kind: "ipv6", value: "::1" }, port: 9090 },
  });
  assert.deepEqual(parseHostPort("Plug.Local:80"), {
    ok: true,
    value: { host: { kind: "dns", value: "plug.local" }, port: 80 },
  });
  const zero = parseHostPort("localhost:0", { minPort: 0 });
  assert.ok(zero.ok && zero.value.port === 0);
});

Deno.test("parseHostPort() takes a bare host, bare IPv6 included, only when the port is optional", () => {
  for (
    const [input, value] of [["10.0.0.5", "10.0.0.5"], ["fe80::1", "fe80::1"], ["[::1]", "::1"]]
  ) {
    const r = parseHostPort(input, { portOptional: true });
    assert.ok(r.ok && r.value.port === null && r.value.host.value === value, input);
  }
  const missing = parseHostPort("localhost");
  assert.ok(!missing.ok && /the port is missing/.test(missing.message));
  const v6 = parseHostPort("::1:8080");
  assert.ok(!v6.ok && /IPv6 address in brackets/.test(v6.message));
});

Deno.test("parseHostPort() refuses bad ports, URLs and bad hosts with a sentence", () => {
  const cases: [string, RegExp][] = [
    ["127.0.0.1:99999", /from 1 to 65535/],
    ["127.0.0.1:0", /from 1 to 65535/],
    ["127.0.0.1:", /from 1 to 65535/],
    ["127.0.0.1:80a", /from 1 to 65535/],
    ["[::1]:x", /from 1 to 65535/],
    ["http://plug:80", /not a URL or path/],
    ["http://plug", /not a URL or path/],
    ["my host:80", /no spaces/],
    ["[zz::1]:80", /not a valid IPv6 address/],
    ["fe80::1%eth0", /zone id/],
  ];
  for (const [input, want] of cases) {
    const r = parseHostPort(input, { portOptional: true });
    assert.ok(!r.ok, `${input} was accepted`);
    assert.match(r.message, want, input);
  }
});

Deno.test("urlHost() and hostPortText() bracket IPv6 only", () => {
  assert.equal(urlHost({ kind: "ipv6", value: "::1" }), "[::1]");
  assert.equal(urlHost({ kind: "ipv6", value: "fe80::1%eth0" }), "[fe80::1%25eth0]");
  assert.equal(urlHost({ kind: "ipv4", value: "10.0.0.5" }), "10.0.0.5");
  assert.equal(urlHost({ kind: "dns", value: "plug.local" }), "plug.local");
  assert.equal(hostPortText("::1", 8080), "[::1]:8080");
  assert.equal(hostPortText("10.0.0.5", 80), "10.0.0.5:80");
});
