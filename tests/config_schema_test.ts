import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Config,
  ConfigError,
  type ConfigIssue,
  formatIssue,
  parseConfigText,
} from "../src/config/mod.ts";

const CWD = "/srv/portal";

/** A valid [mod_node] with TLS off, so no certificate is needed: lines 1-4. */
const BASE = `[mod_node]
name = office
federation_key = a-long-shared-secret
tls = false
`;

function parse(text: string, file = "node.ini"): Config {
  return parseConfigText(text, file, { cwd: CWD });
}

function issuesOf(text: string, file = "node.ini"): ConfigIssue[] {
  try {
    parse(text, file);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.code, "config_invalid");
    return [...err.issues];
  }
  assert.fail("expected a ConfigError");
}

/** The one issue `text` has. */
function theIssue(text: string): ConfigIssue {
  const issues = issuesOf(text);
  assert.equal(issues.length, 1, issues.map(formatIssue).join("\n"));
  return issues[0];
}

/** Asserts the single issue's code, `FILE:LINE: ` prefix, section and key. */
function assertIssue(
  text: string,
  want: { code: string; line: number; section?: string; key?: string; match?: RegExp },
): ConfigIssue {
  const issue = theIssue(text);
  assert.equal(issue.code, want.code, formatIssue(issue));
  assert.equal(issue.line, want.line, formatIssue(issue));
  assert.ok(formatIssue(issue).startsWith(`node.ini:${want.line}: `), formatIssue(issue));
  if (want.section !== undefined) assert.equal(issue.section, want.section);
  if (want.key !== undefined) assert.equal(issue.key, want.key);
  if (want.match) assert.match(issue.message, want.match);
  return issue;
}

// --- defaults -------------------------------------------------------------------------------

Deno.test("parseConfigText() fills every default from CONFIG.md", () => {
  const config = parse(
    "[mod_node]\nname = office\nfederation_key = a-long-shared-secret\ntls_cert = c.pem\n" +
      "tls_key = k.pem\n",
    "node.ini",
  );
  assert.deepEqual(config, {
    file: "/srv/portal/node.ini",
    node: {
      name: "office",
      federationKey: "a-long-shared-secret",
      listenPort: 9090,
      listenHost: "0.0.0.0",
      tls: true,
      tlsCert: "/srv/portal/c.pem",
      tlsKey: "/srv/portal/k.pem",
      tlsCa: null,
      workers: 4,
      queueLimit: 1024,
      requestTimeoutMs: 10_000,
      pingIntervalMs: 10_000,
      pingMaxMissed: 3,
      authTimeoutMs: 5_000,
      maxFrameBytes: 1024 * 1024,
      reconnectInitialMs: 1_000,
      reconnectMaxMs: 60_000,
      reconnectJitter: 0,
      maxConnections: null,
      tlsClientAuth: "off",
      requireSigned: "none",
      sign: "call",
      auditLog: null,
      drainTimeoutMs: 5_000,
    },
    peers: [],
    http: {
      listen: { hostname: "127.0.0.1", port: 8080 },
      token: null,
      readToken: null,
      allowedHosts: null,
    },
    iot: null,
    portal: { logLevel: "info", logFormat: "text" },
    acl: null,
    warnings: [],
  });
});

Deno.test("parseConfigText() gives peers their defaults, inheriting from [mod_node]", () => {
  const config = parse(`${BASE}workers = 8\nqueue_limit = 50\n[peer:hub]\nhost = hub.example.com
[peer:factory]\nkey = factory-only-key\nworkers = 2\nqueue_limit = 9
tls_server_name = factory.internal\ntls_verify = no\nport = 9191\nauto_connect = false\n`);
  assert.deepEqual(config.peers, [
    {
      name: "hub",
      host: "hub.example.com",
      port: 9090,
      autoConnect: false,
      hubs: [],
      key: "a-long-shared-secret",
      workers: 8,
      queueLimit: 50,
      tlsServerName: "hub.example.com",
      tlsVerify: true,
    },
    {
      name: "factory",
      host: null,
      port: 9191,
      autoConnect: false,
      hubs: [],
      key: "factory-only-key",
      workers: 2,
      queueLimit: 9,
      tlsServerName: "factory.internal",
      tlsVerify: false,
    },
  ]);
});

Deno.test("parseConfigText() gives devices their defaults", () => {
  const config = parse(`${BASE}[mod_iot]\n[device:plug-001]\ndriver = sim\n
[device:sw-1]\ndriver = shelly\nhost = 192.168.1.60\nchannel = 1\ntimeout = 500ms
[device:tas]\ndriver = tasmota\nhost = tas.lan\nuser = admin\npassword = "p w"\nkind = light
label = "Hall # light"\n`);
  assert.deepEqual(config.iot, {
    pollIntervalMs: 30_000,
    devices: [
      {
        id: "plug-001",
        driver: "sim",
        host: null,
        kind: "plug",
        label: "plug-001",
        user: null,
        password: null,
        channel: 0,
        timeoutMs: 3_000,
      },
      {
        id: "sw-1",
        driver: "shelly",
        host: "192.168.1.60",
        kind: "plug",
        label: "sw-1",
        user: null,
        password: null,
        channel: 1,
        timeoutMs: 500,
      },
      {
        id: "tas",
        driver: "tasmota",
        host: "tas.lan",
        kind: "light",
        label: "Hall # light",
        user: "admin",
        password: "p w",
        channel: 0,
        timeoutMs: 3_000,
      },
    ],
  });
});

Deno.test("parseConfigText() keeps an empty [mod_iot] as an IoT config with no devices", () => {
  assert.deepEqual(parse(`${BASE}[mod_iot]\n`).iot, { pollIntervalMs: 30_000, devices: [] });
});

// --- value types ----------------------------------------------------------------------------

Deno.test("parseConfigText() reads every boolean spelling", () => {
  const cases: [string, boolean][] = [
    ["true", true],
    ["yes", true],
    ["on", true],
    ["1", true],
    ["TRUE", true],
    ["false", false],
    ["no", false],
    ["off", false],
    ["0", false],
    ["Off", false],
  ];
  for (const [raw, want] of cases) {
    const config = parse(`${BASE}[peer:hub]\nhost = h\ntls_verify = ${raw}\n`);
    assert.equal(config.peers[0].tlsVerify, want, raw);
  }
});

Deno.test("parseConfigText() reads durations with units, bare numbers as seconds", () => {
  const cases: [string, number][] = [
    ["500ms", 500],
    ["10s", 10_000],
    ["2m", 120_000],
    ["1h", 3_600_000],
    ["7", 7_000],
    ["1.5s", 1_500],
    ["0.25", 250],
    ["3 s", 3_000],
  ];
  for (const [raw, want] of cases) {
    assert.equal(parse(`${BASE}request_timeout = ${raw}\n`).node.requestTimeoutMs, want, raw);
  }
});

Deno.test("parseConfigText() reads sizes in bytes and powers of 1024", () => {
  const cases: [string, number][] = [
    ["64k", 65_536],
    ["1m", 1_048_576],
    ["1g", 1_073_741_824],
    ["2048", 2048],
    ["4K", 4096],
  ];
  for (const [raw, want] of cases) {
    assert.equal(parse(`${BASE}max_frame_bytes = ${raw}\n`).node.maxFrameBytes, want, raw);
  }
});

Deno.test("parseConfigText() reads listen_port off as a dial-only node and 0 as any port", () => {
  assert.equal(parse(`${BASE}listen_port = off\n`).node.listenPort, null);
  assert.equal(parse(`${BASE}listen_port = 0\n`).node.listenPort, 0);
  assert.equal(parse(`${BASE}listen_port = 65535\n`).node.listenPort, 65535);
});

Deno.test("parseConfigText() reads [mod_http] listen forms", () => {
  const listen = (raw: string) => parse(`${BASE}[mod_http]\nlisten = ${raw}\n`).http.listen;
  assert.deepEqual(listen("0.0.0.0:8080"), { hostname: "0.0.0.0", port: 8080 });
  assert.deepEqual(listen("localhost:0"), { hostname: "localhost", port: 0 });
  assert.deepEqual(listen("[::1]:8080"), { hostname: "::1", port: 8080 });
  assert.equal(listen("off"), null);
});

Deno.test("parseConfigText() reads the token and [portal] settings", () => {
  const config = parse(`${BASE}[mod_http]\ntoken = "s3cret-token"\n[portal]
log_level = DEBUG\nlog_format = json\n`);
  assert.equal(config.http.token, "s3cret-token");
  assert.deepEqual(config.portal, { logLevel: "debug", logFormat: "json" });
});

Deno.test("parseConfigText() keeps a quoted federation_key with # and spaces whole", () => {
  const config = parse(`[mod_node]\nname = a\nfederation_key = "x#y z;w"   # note\ntls = off\n`);
  assert.equal(config.node.federationKey, "x#y z;w");
});

Deno.test("parseConfigText() accepts an IPv6 host and strips its brackets", () => {
  const config = parse(`${BASE}listen_host = ::\n[peer:hub]\nhost = [fe80::1]\n`);
  assert.equal(config.node.listenHost, "::");
  assert.equal(config.peers[0].host, "fe80::1");
});

// --- paths ----------------------------------------------------------------------------------

Deno.test("parseConfigText() resolves relative TLS paths against the config file's directory", () => {
  const text = `[mod_node]\nname = a\nfederation_key = k\ntls_cert = certs/a.pem
tls_key = ../keys/a.key\ntls_ca = /etc/ssl/ca.pem\n`;
  const node = parseConfigText(text, "/etc/portal/node.ini").node;
  assert.equal(node.tlsCert, "/etc/portal/certs/a.pem");
  assert.equal(node.tlsKey, "/etc/keys/a.key");
  assert.equal(node.tlsCa, "/etc/ssl/ca.pem");
});

Deno.test("parseConfigText() resolves a relative config path against opts.cwd", () => {
  const text =
    `[mod_node]\nname = a\nfederation_key = k\ntls_cert = certs/a.pem\ntls_key = a.key\n`;
  const config = parseConfigText(text, "config/hub.ini", { cwd: "/opt/portal" });
  assert.equal(config.file, "/opt/portal/config/hub.ini");
  assert.equal(config.node.tlsCert, "/opt/portal/config/certs/a.pem");
  assert.equal(config.node.tlsKey, "/opt/portal/config/a.key");
});

Deno.test("parseConfigText() refuses a path starting with ~, which is not expanded", () => {
  assertIssue(`${BASE}tls_ca = ~/ca.pem\n`, { code: "bad_value", line: 5, key: "tls_ca" });
});

// --- each error kind, with its exact FILE:LINE --------------------------------------------

Deno.test("parseConfigText() reports an unknown key with did-you-mean", () => {
  const issue = assertIssue(`${BASE}listen_prot = 9090\n`, {
    code: "unknown_key",
    line: 5,
    section: "mod_node",
    key: "listen_prot",
  });
  assert.equal(
    formatIssue(issue),
    "node.ini:5: unknown key 'listen_prot' in [mod_node] (did you mean 'listen_port'?)",
  );
});

Deno.test("parseConfigText() suggests a key whatever its case", () => {
  const issue = assertIssue(`${BASE}Listen_Port = 1\n`, { code: "unknown_key", line: 5 });
  assert.match(issue.message, /did you mean 'listen_port'\?\)$/);
});

Deno.test("parseConfigText() reports an unknown key with no near miss plainly", () => {
  const issue = assertIssue(`${BASE}colour = blue\n`, { code: "unknown_key", line: 5 });
  assert.equal(issue.message, "unknown key 'colour' in [mod_node]");
});

Deno.test("parseConfigText() says which section an out-of-place key belongs in", () => {
  const issue = assertIssue(`${BASE}token = abc\n`, { code: "unknown_key", line: 5, key: "token" });
  assert.equal(issue.message, "unknown key 'token' in [mod_node] (it belongs in [mod_http])");
  const peerKey = assertIssue(`${BASE}auto_connect = true\n`, { code: "unknown_key", line: 5 });
  assert.match(peerKey.message, /it belongs in \[peer:NAME\]/);
});

Deno.test("parseConfigText() reports an unknown section with did-you-mean", () => {
  const issue = assertIssue(`${BASE}[mod_htp]\n`, {
    code: "unknown_section",
    line: 5,
    section: "mod_htp",
  });
  assert.equal(
    formatIssue(issue),
    "node.ini:5: unknown section [mod_htp] (did you mean [mod_http]?)",
  );
});

Deno.test("parseConfigText() suggests [peer:NAME] for near misses of named sections", () => {
  const plural = assertIssue(`${BASE}[peers:hub]\n`, { code: "unknown_section", line: 5 });
  assert.match(plural.message, /did you mean \[peer:hub\]\?/);
  const spaced = assertIssue(`${BASE}[device plug-1]\n`, { code: "unknown_section", line: 5 });
  assert.match(spaced.message, /did you mean \[device:plug-1\]\?/);
  const bare = assertIssue(`${BASE}[peer]\n`, { code: "unknown_section", line: 5 });
  assert.match(bare.message, /needs a name, as in \[peer:NAME\]/);
});

Deno.test("parseConfigText() reports a duplicate section and still checks its keys", () => {
  const issues = issuesOf(`${BASE}[peer:hub]\nhost = a\n[peer:hub]\nhots = b\n`);
  assert.deepEqual(issues.map(formatIssue), [
    "node.ini:7: duplicate section [peer:hub] (first on line 5)",
    "node.ini:8: unknown key 'hots' in [peer:hub] (did you mean 'host'?)",
  ]);
  assert.deepEqual(issues.map((i) => i.code), ["duplicate_section", "unknown_key"]);
});

Deno.test("parseConfigText() reports a duplicate [mod_node] using [mod_node]'s keys", () => {
  const issues = issuesOf(`${BASE}[mod_node]\nname = other\n`);
  assert.deepEqual(issues.map((i) => [i.code, i.line]), [["duplicate_section", 5]]);
});

Deno.test("parseConfigText() reports a duplicate key at its second line", () => {
  const issue = assertIssue(`${BASE}workers = 2\nworkers = 3\n`, {
    code: "duplicate_key",
    line: 6,
    section: "mod_node",
    key: "workers",
  });
  assert.equal(issue.message, "duplicate key 'workers' in [mod_node] (first set on line 5)");
});

Deno.test("parseConfigText() reports a missing name at the section header's line", () => {
  const issue = assertIssue("# comment\n[mod_node]\nfederation_key = k\ntls = no\n", {
    code: "missing_key",
    line: 2,
    section: "mod_node",
    key: "name",
  });
  assert.equal(issue.message, "missing 'name' in [mod_node]");
});

Deno.test("parseConfigText() reports a missing federation_key at the section header's line", () => {
  assertIssue("\n\n[mod_node]\nname = a\ntls = no\n", {
    code: "missing_key",
    line: 3,
    key: "federation_key",
  });
});

Deno.test("parseConfigText() reports a missing [mod_node] section at line 1", () => {
  const issue = assertIssue("[portal]\nlog_level = info\n", {
    code: "missing_section",
    line: 1,
  });
  assert.match(formatIssue(issue), /^node\.ini:1: missing \[mod_node\] section/);
});

Deno.test("parseConfigText() reports an empty file as a missing [mod_node]", () => {
  assertIssue("", { code: "missing_section", line: 1 });
});

Deno.test("parseConfigText() reports an empty value", () => {
  const issue = assertIssue(`${BASE}[peer:hub]\nhost =\n`, {
    code: "bad_value",
    line: 6,
    key: "host",
  });
  assert.match(issue.message, /^empty value for 'host' in \[peer:hub\]; remove the line/);
});

Deno.test("parseConfigText() reports a federation_key emptied by an unquoted '#'", () => {
  const issue = assertIssue("[mod_node]\nname = a\nfederation_key = #abc\ntls = no\n", {
    code: "bad_value",
    line: 3,
    key: "federation_key",
  });
  assert.match(issue.message, /must be quoted/);
});

Deno.test("parseConfigText() reports values of the wrong type with the key's line", () => {
  const cases: [string, string, RegExp][] = [
    ["listen_port = 70000", "listen_port", /0 to 65535/],
    ["listen_port = nine", "listen_port", /or 'off'/],
    ["workers = 0", "workers", /from 1 to 1024/],
    ["workers = -1", "workers", /whole number/],
    ["queue_limit = 0", "queue_limit", /from 1 to 1000000/],
    ["request_timeout = 10 sec", "request_timeout", /expected a duration/],
    ["request_timeout = 0", "request_timeout", /at least 1ms/],
    ["ping_interval = 30d", "ping_interval", /expected a duration/],
    ["auth_timeout = 600h", "auth_timeout", /at most 24 days/],
    ["ping_max_missed = 0", "ping_max_missed", /from 1 to 1000/],
    ["max_frame_bytes = 1t", "max_frame_bytes", /expected a size/],
    ["max_frame_bytes = 10", "max_frame_bytes", /from 1k to 1g/],
    ["reconnect_jitter = 1.5", "reconnect_jitter", /fraction from 0 to 1/],
    ["reconnect_jitter = -0.1", "reconnect_jitter", /fraction from 0 to 1/],
    ["listen_host = 0.0.0.0:9090", "listen_host", /without ':PORT'/],
    ["listen_host = http://x", "listen_host", /not a URL/],
  ];
  for (const [line, key, match] of cases) {
    const issue = assertIssue(`${BASE}${line}\n`, { code: "bad_value", line: 5, key, match });
    assert.equal(issue.section, "mod_node");
  }
});

Deno.test("parseConfigText() reports a boolean it cannot read", () => {
  assertIssue("[mod_node]\nname = a\nfederation_key = k\ntls = maybe\nlisten_port = off\n", {
    code: "bad_value",
    line: 4,
    key: "tls",
    match: /expected true\/false, yes\/no, on\/off or 1\/0/,
  });
});

Deno.test("parseConfigText() echoes a bad value but never a secret", () => {
  const shown = theIssue(`${BASE}workers = many\n`);
  assert.equal(
    shown.message,
    "bad value 'many' for 'workers' in [mod_node]: expected a whole number from 1 to 1024",
  );
  const hidden = theIssue(`${BASE}[mod_http]\ntoken = "two words"\n`);
  assert.equal(hidden.code, "bad_value");
  assert.ok(!hidden.message.includes("two words"), hidden.message);
});

Deno.test("parseConfigText() reports bad [mod_http] listen values", () => {
  const cases: [string, RegExp][] = [
    ["8080", /write 127\.0\.0\.1:8080/],
    ["localhost", /expected HOST:PORT/],
    ["::1:8080", /IPv6 address in brackets/],
    ["127.0.0.1:99999", /0 to 65535/],
    ["my host:80", /expected HOST:PORT/],
  ];
  for (const [raw, match] of cases) {
    assertIssue(`${BASE}[mod_http]\nlisten = ${raw}\n`, {
      code: "bad_value",
      line: 6,
      section: "mod_http",
      key: "listen",
      match,
    });
  }
});

Deno.test("parseConfigText() reports log_level and log_format values", () => {
  const level = assertIssue(`${BASE}[portal]\nlog_level = warning\n`, {
    code: "bad_value",
    line: 6,
    key: "log_level",
  });
  assert.match(level.message, /expected one of debug, info, warn, error \(did you mean 'warn'\?\)/);
  assertIssue(`${BASE}[portal]\nlog_format = xml\n`, {
    code: "bad_value",
    line: 6,
    key: "log_format",
    match: /one of text, json/,
  });
});

Deno.test("parseConfigText() reports an invalid node name", () => {
  assertIssue("[mod_node]\nname = my node\nfederation_key = k\ntls = no\n", {
    code: "bad_value",
    line: 2,
    key: "name",
    match: /1-64 characters/,
  });
  assertIssue(`[mod_node]\nname = ${"n".repeat(65)}\nfederation_key = k\ntls = no\n`, {
    code: "bad_value",
    line: 2,
    key: "name",
  });
});

Deno.test("parseConfigText() reports an invalid peer name at its header", () => {
  assertIssue(`${BASE}\n[peer:fac/tory]\n`, {
    code: "bad_name",
    line: 6,
    section: "peer:fac/tory",
    match: /invalid peer name 'fac\/tory'/,
  });
  assertIssue(`${BASE}[peer:]\n`, { code: "bad_name", line: 5 });
});

Deno.test("parseConfigText() reports a peer named as this node", () => {
  assertIssue(`${BASE}[peer:office]\nhost = x\n`, {
    code: "bad_name",
    line: 5,
    section: "peer:office",
    match: /names this node itself/,
  });
});

Deno.test("parseConfigText() reports a hub naming no [peer:...] section", () => {
  const issue = assertIssue(`${BASE}[peer:hub]\nhost = h\n[peer:factory]\nhub = hubb\n`, {
    code: "unknown_hub",
    line: 8,
    section: "peer:factory",
    key: "hub",
  });
  assert.equal(
    formatIssue(issue),
    "node.ini:8: hub 'hubb' in [peer:factory] names no [peer:hubb] section (did you mean 'hub'?)",
  );
});

Deno.test("parseConfigText() reports a hub naming this node", () => {
  assertIssue(`${BASE}[peer:factory]\nhub = office\n`, {
    code: "unknown_hub",
    line: 6,
    key: "hub",
    match: /'office' is this node/,
  });
});

Deno.test("parseConfigText() reports a peer that is its own hub", () => {
  assertIssue(`${BASE}[peer:factory]\nhub = factory\n`, {
    code: "bad_value",
    line: 6,
    key: "hub",
    match: /names itself as its hub/,
  });
});

Deno.test("parseConfigText() reports auto_connect without a host", () => {
  assertIssue(`${BASE}[peer:hub]\nauto_connect = yes\n`, {
    code: "conflict",
    line: 6,
    key: "auto_connect",
    match: /needs 'host'/,
  });
});

Deno.test("parseConfigText() reports tls with a listener but no tls_cert/tls_key", () => {
  const issues = issuesOf("[mod_node]\nname = a\nfederation_key = k\n");
  assert.deepEqual(issues.map((i) => [i.code, i.line, i.key]), [
    ["missing_key", 1, "tls_cert"],
    ["missing_key", 1, "tls_key"],
  ]);
  const keyOnly = issuesOf("[mod_node]\nname = a\nfederation_key = k\ntls_cert = c.pem\n");
  assert.deepEqual(keyOnly.map((i) => [i.code, i.line, i.key]), [["missing_key", 1, "tls_key"]]);
});

Deno.test("parseConfigText() needs no certificate for a dial-only node or with tls off", () => {
  parse("[mod_node]\nname = a\nfederation_key = k\nlisten_port = off\n");
  parse("[mod_node]\nname = a\nfederation_key = k\ntls = off\n");
});

Deno.test("parseConfigText() reports reconnect_initial longer than reconnect_max", () => {
  assertIssue(`${BASE}reconnect_initial = 2m\n`, {
    code: "conflict",
    line: 5,
    key: "reconnect_initial",
    match: /reconnect_initial \(2m\) is longer than reconnect_max \(1m\)/,
  });
  assertIssue(`${BASE}reconnect_max = 500ms\n`, {
    code: "conflict",
    line: 5,
    key: "reconnect_max",
  });
});

Deno.test("parseConfigText() reports the HTTP API on the federation port", () => {
  assertIssue(`${BASE}listen_port = 8080\n[mod_http]\nlisten = 127.0.0.1:8080\n`, {
    code: "conflict",
    line: 7,
    key: "listen",
  });
  assertIssue(`${BASE}listen_port = 8080\n`, { code: "conflict", line: 5, key: "listen_port" });
  parse(`${BASE}listen_host = 127.0.0.1\nlisten_port = 8080\n[mod_http]\nlisten = 10.0.0.1:8080\n`);
});

Deno.test("parseConfigText() reports [device:...] without [mod_iot]", () => {
  assertIssue(`${BASE}[device:plug-001]\ndriver = sim\n`, {
    code: "missing_section",
    line: 5,
    section: "device:plug-001",
    match: /needs a \[mod_iot\] section/,
  });
});

Deno.test("parseConfigText() reports a device without a driver", () => {
  assertIssue(`${BASE}[mod_iot]\n[device:plug-001]\nkind = plug\n`, {
    code: "missing_key",
    line: 6,
    key: "driver",
  });
});

Deno.test("parseConfigText() reports an unknown driver", () => {
  assertIssue(`${BASE}[mod_iot]\n[device:plug-001]\ndriver = tasmot\n`, {
    code: "bad_value",
    line: 7,
    key: "driver",
    match: /one of sim, tasmota, shelly \(did you mean 'tasmota'\?\)/,
  });
});

Deno.test("parseConfigText() reports a network device without host", () => {
  for (const driver of ["tasmota", "shelly"]) {
    assertIssue(`${BASE}[mod_iot]\n[device:plug-001]\ndriver = ${driver}\n`, {
      code: "missing_key",
      line: 6,
      section: "device:plug-001",
      key: "host",
    });
  }
});

Deno.test("parseConfigText() reports an invalid device id", () => {
  assertIssue(`${BASE}[mod_iot]\n[device:plug 1]\ndriver = sim\n`, {
    code: "bad_name",
    line: 6,
    match: /invalid device id 'plug 1'/,
  });
});

Deno.test("parseConfigText() reports device keys the driver does not use", () => {
  const cases: [string, string][] = [
    ["host = 10.0.0.9\ndriver = sim", "host"],
    ["timeout = 1s\ndriver = sim", "timeout"],
    ["channel = 1\ndriver = tasmota\nhost = t", "channel"],
    ["user = admin\ndriver = shelly\nhost = s", "user"],
    ["password = pw\ndriver = shelly\nhost = s", "password"],
  ];
  for (const [body, key] of cases) {
    assertIssue(`${BASE}[mod_iot]\n[device:d]\n${body}\n`, { code: "conflict", line: 7, key });
  }
});

Deno.test("parseConfigText() reports a tasmota password without a user", () => {
  assertIssue(`${BASE}[mod_iot]\n[device:d]\ndriver = tasmota\nhost = t\npassword = pw\n`, {
    code: "conflict",
    line: 9,
    key: "password",
    match: /sets 'password' without 'user'/,
  });
});

Deno.test("parseConfigText() reports a syntax error and the schema's issues together, sorted", () => {
  const issues = issuesOf(`[mod_node]
name = office
federation_key = "unterminated
tls = off
workers = zero
[mod_nod]
bogus line
`);
  assert.deepEqual(issues.map((i) => [i.line, i.code]), [
    [3, "syntax"],
    [5, "bad_value"],
    [6, "unknown_section"],
    [7, "syntax"],
  ]);
});

Deno.test("parseConfigText() reports all issues, not just the first", () => {
  const issues = issuesOf(`[mod_node]
name = bad name
listen_prot = 1
[peer:hub]
auto_connect = yes
hub = nowhere
[mod_http]
listen = 8080
[portal]
log_format = xml
`);
  assert.deepEqual(issues.map((i) => [i.line, i.code]), [
    [1, "missing_key"],
    [1, "missing_key"],
    [1, "missing_key"],
    [2, "bad_value"],
    [3, "unknown_key"],
    [5, "conflict"],
    [6, "unknown_hub"],
    [8, "bad_value"],
    [10, "bad_value"],
  ]);
});

Deno.test("ConfigError renders one FILE:LINE line per issue with the path as given", () => {
  try {
    parseConfigText(`${BASE}listen_prot = 1\nworkers = x\n`, "./etc/node.ini", { cwd: CWD });
    assert.fail("expected a ConfigError");
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.name, "ConfigError");
    const lines = err.message.split("\n");
    assert.equal(lines.length, 2);
    assert.ok(lines[0].startsWith("./etc/node.ini:5: unknown key 'listen_prot'"));
    assert.ok(lines[1].startsWith("./etc/node.ini:6: bad value 'x' for 'workers'"));
  }
});

// --- the shipped example files ------------------------------------------------------------

const CONFIG_DIR = fileURLToPath(new URL("../config/", import.meta.url));

function example(name: string): Config {
  const path = join(CONFIG_DIR, name);
  return parseConfigText(Deno.readTextFileSync(path), path);
}

Deno.test("config/hub.ini resolves", () => {
  const config = example("hub.ini");
  assert.equal(config.node.name, "hub");
  assert.equal(config.node.listenPort, 9090);
  assert.equal(config.node.tlsCert, join(CONFIG_DIR, "certs/hub.pem"));
  assert.equal(config.node.tlsKey, join(CONFIG_DIR, "certs/hub.key"));
  assert.equal(config.node.tlsCa, join(CONFIG_DIR, "certs/ca.pem"));
  assert.deepEqual(config.peers.map((p) => [p.name, p.host]), [["office", null], [
    "factory",
    null,
  ]]);
  assert.deepEqual(config.http.listen, { hostname: "127.0.0.1", port: 8080 });
});

Deno.test("config/office.ini resolves, keeping the seed's inline comment out of hub", () => {
  const config = example("office.ini");
  assert.equal(config.node.name, "office");
  assert.equal(config.node.listenPort, 9091);
  assert.deepEqual(config.peers.map((p) => [p.name, p.host, p.port, p.autoConnect, p.hubs]), [
    ["hub", "localhost", 9090, true, []],
    ["factory", "localhost", 9092, true, ["hub"]],
  ]);
  assert.deepEqual(config.http.listen, { hostname: "127.0.0.1", port: 8081 });
  const text = Deno.readTextFileSync(join(CONFIG_DIR, "office.ini"));
  assert.ok(text.includes("hub = hub          # route through hub (NAT traversal)"));
});

Deno.test("config/factory.ini resolves with its two sim plugs", () => {
  const config = example("factory.ini");
  assert.equal(config.node.name, "factory");
  assert.equal(config.node.listenPort, 9092);
  assert.deepEqual(config.http.listen, { hostname: "127.0.0.1", port: 8082 });
  assert.deepEqual(config.iot?.devices.map((d) => [d.id, d.driver, d.label]), [
    ["plug-001", "sim", "Press line plug"],
    ["plug-002", "sim", "plug-002"],
  ]);
});

Deno.test("the example configs share one federation_key and use distinct ports", () => {
  const configs = ["hub.ini", "office.ini", "factory.ini"].map(example);
  assert.equal(new Set(configs.map((c) => c.node.federationKey)).size, 1);
  const ports = configs.flatMap((c) => [c.node.listenPort, c.http.listen?.port]);
  assert.equal(new Set(ports).size, ports.length);
});
