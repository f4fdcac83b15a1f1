/** The grown CONFIG.md: identity and signing keys, hub lists, tokens, [acl], reserved names, warnings. */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type Config,
  ConfigError,
  type ConfigIssue,
  describeConfig,
  formatIssue,
  formatWarning,
  loadConfig,
  parseConfigText,
} from "../src/config/mod.ts";
import { generateCa, issueNodeCert } from "../src/pki/mod.ts";
import { makeFifo } from "./kit/mod.ts";

const CWD = "/srv/portal";

/** A valid [mod_node] with TLS off: lines 1-4. */
const BASE = `[mod_node]
name = office
federation_key = a-long-shared-secret
tls = false
`;

/** A TLS node whose files are relative to the config: tls_* on lines 4-6. */
const TLS_NODE = `[mod_node]
name = hub
federation_key = a-long-shared-secret
tls_cert = certs/hub.pem
tls_key = certs/hub.key
tls_ca = certs/ca.pem
`;

function parse(text: string): Config {
  return parseConfigText(text, "node.ini", { cwd: CWD });
}

function issuesOf(text: string): ConfigIssue[] {
  try {
    parse(text);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return [...err.issues];
  }
  assert.fail("expected a ConfigError");
}

/** The one issue `text` has, checked for code, line and (optionally) key and message. */
function theIssue(
  text: string,
  want: { code: string; line: number; key?: string; match?: RegExp },
): ConfigIssue {
  const issues = issuesOf(text);
  assert.equal(issues.length, 1, issues.map(formatIssue).join("\n"));
  const [issue] = issues;
  assert.equal(issue.code, want.code, formatIssue(issue));
  assert.equal(issue.line, want.line, formatIssue(issue));
  if (want.key !== undefined) assert.equal(issue.key, want.key);
  if (want.match) assert.match(issue.message, want.match);
  return issue;
}

/** The warnings of a valid config as `LINE: message`. */
function warningsOf(text: string): string[] {
  return parse(text).warnings.map((w) => `${w.line}: ${w.message}`);
}

// --- [mod_node]: limits, identity, signing, audit, drain -----------------------------------

Deno.test("parseConfigText() reads max_connections, audit_log and drain_timeout", () => {
  const node = parse(`${BASE}max_connections = 500\naudit_log = logs/audit.jsonl
drain_timeout = 30s\n`).node;
  assert.equal(node.maxConnections, 500);
  assert.equal(node.auditLog, "/srv/portal/logs/audit.jsonl");
  assert.equal(node.drainTimeoutMs, 30_000);
  assert.equal(parse(`${BASE}drain_timeout = 0\n`).node.drainTimeoutMs, 0);
  theIssue(`${BASE}max_connections = 0\n`, { code: "bad_value", line: 5, key: "max_connections" });
  theIssue(`${BASE}audit_log = ~/audit\n`, { code: "bad_value", line: 5, key: "audit_log" });
});

Deno.test("parseConfigText() reads tls_client_auth, require_signed and sign", () => {
  const node = parse(`${TLS_NODE}tls_client_auth = require\nrequire_signed = ALL\nsign = all\n`)
    .node;
  assert.equal(node.tlsClientAuth, "require");
  assert.equal(node.requireSigned, "all");
  assert.equal(node.sign, "all");
  theIssue(`${TLS_NODE}require_signed = calls\n`, {
    code: "bad_value",
    line: 7,
    key: "require_signed",
    match: /expected one of none, call, all \(did you mean 'call'\?\)/,
  });
});

Deno.test("parseConfigText() signs CALLs by default only when the node has a certificate and key", () => {
  assert.equal(parse(TLS_NODE).node.sign, "call");
  assert.equal(
    parse("[mod_node]\nname = a\nfederation_key = a-long-shared-secret\nlisten_port = off\n")
      .node.sign,
    "off",
  );
  assert.equal(parse(`${BASE}`).node.sign, "off");
  assert.equal(parse(`${TLS_NODE}sign = off\n`).node.sign, "off");
});

Deno.test("parseConfigText() refuses identity settings without what they are made of", () => {
  theIssue(`${BASE}tls_client_auth = require\n`, {
    code: "conflict",
    line: 5,
    key: "tls_client_auth",
    match: /^tls_client_auth = require needs tls = true and tls_ca in \[mod_node\]/,
  });
  theIssue(
    "[mod_node]\nname = a\nfederation_key = a-long-shared-secret\ntls_cert = c\ntls_key = k\n" +
      "require_signed = call\n",
    {
      code: "conflict",
      line: 6,
      key: "require_signed",
      match: /^require_signed = call needs tls_ca in \[mod_node\]: signatures are verified/,
    },
  );
  theIssue(
    "[mod_node]\nname = a\nfederation_key = a-long-shared-secret\nlisten_port = off\n" +
      "sign = all\n",
    {
      code: "conflict",
      line: 5,
      key: "sign",
      match: /^sign = all needs tls_cert and tls_key in \[mod_node\]/,
    },
  );
  theIssue(`${BASE}tls_cert = c\ntls_key = k\nsign = call\n`, {
    code: "conflict",
    line: 7,
    key: "sign",
    match: /^sign = call needs tls = true/,
  });
});

Deno.test("parseConfigText() warns that tls_client_auth does nothing on a dial-only node", () => {
  const text = "[mod_node]\nname = a\nfederation_key = a-long-shared-secret\nlisten_port = off\n" +
    "tls_ca = ca.pem\ntls_client_auth = require\n";
  assert.deepEqual(warningsOf(text), [
    "6: tls_client_auth = require has no effect: this node does not listen (listen_port = off)",
  ]);
});

// --- [peer:NAME] hub lists -------------------------------------------------------------------

Deno.test("parseConfigText() reads a hub list, tried in order", () => {
  const config = parse(`${BASE}[peer:hub1]\nhost = a\n[peer:hub2]\nhost = b
[peer:factory]\nhub = hub2, hub1   # failover\n`);
  assert.deepEqual(config.peers.map((p) => [p.name, p.hubs]), [
    ["hub1", []],
    ["hub2", []],
    ["factory", ["hub2", "hub1"]],
  ]);
});

Deno.test("parseConfigText() checks every hub of a list", () => {
  const issues = issuesOf(
    `${BASE}[peer:hub1]\nhost = a\n[peer:factory]\nhub = hub1, hub3, factory, office\n`,
  );
  assert.deepEqual(issues.map((i) => [i.code, i.line, i.key]), [
    ["unknown_hub", 8, "hub"],
    ["bad_value", 8, "hub"],
    ["unknown_hub", 8, "hub"],
  ]);
  assert.match(
    issues[0].message,
    /^hub 'hub3' in \[peer:factory\] names no \[peer:hub3\] section \(did you mean 'hub1'\?\)/,
  );
  assert.match(issues[1].message, /names itself as its hub/);
  assert.match(issues[2].message, /\('office' is this node\)/);
  theIssue(`${BASE}[peer:hub1]\nhost = a\n[peer:f]\nhub = hub1, hub1\n`, {
    code: "bad_value",
    line: 8,
    match: /'hub1' is listed twice/,
  });
  theIssue(`${BASE}[peer:hub1]\nhost = a\n[peer:f]\nhub = hub1,\n`, {
    code: "bad_value",
    line: 8,
    match: /an empty item in the list/,
  });
});

// --- reserved names ---------------------------------------------------------------------------

Deno.test("parseConfigText() refuses reserved node names: they would shadow paths", () => {
  for (const name of [".", "..", "peers", "status", "audit"]) {
    const own = theIssue(
      `[mod_node]\nname = ${name}\nfederation_key = a-long-shared-secret\ntls = no\n`,
      {
        code: "bad_value",
        line: 2,
        key: "name",
      },
    );
    assert.match(
      own.message,
      new RegExp(`would shadow the path /node/${name.replace(/\./g, "\\.")} `),
    );
    const peer = theIssue(`${BASE}[peer:${name}]\n`, { code: "bad_name", line: 5 });
    assert.match(peer.message, /is reserved: a node of that name would shadow the path/);
  }
});

Deno.test("parseConfigText() refuses '.' and '..' as device ids", () => {
  theIssue(`${BASE}[mod_iot]\n[device:..]\ndriver = sim\n`, {
    code: "bad_name",
    line: 6,
    match: /'\.\.' cannot be a path segment under \/iot\/devices/,
  });
});

// --- [mod_http] tokens and hosts -------------------------------------------------------------

Deno.test("parseConfigText() reads read_token and allowed_hosts", () => {
  const http = parse(`${BASE}[mod_http]\ntoken = full-access-token\nread_token = read-only-token
allowed_hosts = Portal.Example.com, 10.0.0.5, [::1]\n`).http;
  assert.equal(http.readToken, "read-only-token");
  assert.deepEqual(http.allowedHosts, ["portal.example.com", "10.0.0.5", "::1"]);
  assert.deepEqual(parse(BASE).http.allowedHosts, null);
  theIssue(`${BASE}[mod_http]\nallowed_hosts = portal:8080\n`, {
    code: "bad_value",
    line: 6,
    key: "allowed_hosts",
    match: /'portal:8080': expected a host without ':PORT'/,
  });
});

Deno.test("parseConfigText() refuses a read_token equal to token, or without token", () => {
  const same = theIssue(`${BASE}[mod_http]\ntoken = same-token\nread_token = same-token\n`, {
    code: "conflict",
    line: 7,
    key: "read_token",
    match: /is the same as token/,
  });
  assert.ok(!formatIssue(same).includes("same-token"));
  theIssue(`${BASE}[mod_http]\nread_token = only-this\n`, {
    code: "conflict",
    line: 6,
    key: "read_token",
    match: /needs token/,
  });
});

Deno.test("parseConfigText() warns that allowed_hosts does nothing while token is set", () => {
  assert.deepEqual(warningsOf(`${BASE}[mod_http]\ntoken = t0ken\nallowed_hosts = portal\n`), [
    "7: allowed_hosts in [mod_http] has no effect while token is set " +
    "(the token already keeps other web pages out)",
  ]);
});

// --- [acl] -------------------------------------------------------------------------------------

Deno.test("parseConfigText() reads the [acl] of CONFIG.md", () => {
  const config = parse(`${BASE}[acl]
office-2 = GET *, LIST *, CALL /iot/devices/plug-*
*      = get /health, LIST /
`);
  assert.deepEqual(config.acl, {
    entries: [
      {
        origin: "office-2",
        line: 6,
        rules: [
          { method: "GET", pattern: "*", text: "GET *" },
          { method: "LIST", pattern: "*", text: "LIST *" },
          { method: "CALL", pattern: "/iot/devices/plug-*", text: "CALL /iot/devices/plug-*" },
        ],
      },
      {
        origin: "*",
        line: 7,
        rules: [
          { method: "GET", pattern: "/health", text: "GET /health" },
          { method: "LIST", pattern: "/", text: "LIST /" },
        ],
      },
    ],
  });
  assert.equal(parse(BASE).acl, null);
});

Deno.test("parseConfigText() reports each bad [acl] rule at its line", () => {
  const issues = issuesOf(`${BASE}[acl]
factory = GET /health, PUT /iot, CALL, LIST iot, GETT /x
`);
  assert.deepEqual(issues.map((i) => [i.code, i.line, i.key]), [
    ["bad_value", 6, "factory"],
    ["bad_value", 6, "factory"],
    ["bad_value", 6, "factory"],
    ["bad_value", 6, "factory"],
  ]);
  assert.deepEqual(issues.map((i) => i.message), [
    "bad rule for 'factory' in [acl]: 'PUT /iot': unknown method 'PUT', expected GET, LIST, CALL or *",
    "bad rule for 'factory' in [acl]: 'CALL': a rule is METHOD PATTERN, such as 'GET /health' or " +
    "'CALL /iot/devices/plug-*'",
    "bad rule for 'factory' in [acl]: 'LIST iot': the pattern is an absolute path such as " +
    "/iot/devices/* ('*' matches any run of characters; '*' alone matches every path)",
    "bad rule for 'factory' in [acl]: 'GETT /x': unknown method 'GETT', expected GET, LIST, CALL " +
    "or * (did you mean 'GET'?)",
  ]);
  assert.ok(formatIssue(issues[0]).startsWith("node.ini:6: "));
});

Deno.test("parseConfigText() refuses [acl] keys that cannot be an origin", () => {
  theIssue(`${BASE}[acl]\noffice = GET *\n`, {
    code: "conflict",
    line: 6,
    key: "office",
    match: /is this node itself; requests made through this node's own API/,
  });
  theIssue(`${BASE}[acl]\nstatus = GET *\n`, { code: "bad_name", line: 6, match: /reserved/ });
  theIssue(`${BASE}[acl]\nfact*ry = GET *\n`, {
    code: "bad_name",
    line: 6,
    match: /neither a node name nor '\*'/,
  });
  theIssue(`${BASE}[acl]\nhub = GET *\nhub = LIST /\n`, {
    code: "duplicate_key",
    line: 7,
    match: /put all of an origin's rules on one line/,
  });
  theIssue(`${BASE}[acl]\nhub =\n`, { code: "bad_value", line: 6, match: /empty value for 'hub'/ });
  theIssue(`${BASE}[acl]\nhub = GET /a,, LIST /\n`, {
    code: "bad_value",
    line: 6,
    match: /an empty rule/,
  });
  theIssue(`${BASE}[ACL]\n`, { code: "unknown_section", line: 5, match: /did you mean \[acl\]\?/ });
  theIssue(`${BASE}[acl]\n[acl]\n`, { code: "duplicate_section", line: 6 });
});

Deno.test("parseConfigText() warns that an empty [acl] refuses every other node", () => {
  const config = parse(`${BASE}[acl]\n`);
  assert.deepEqual(config.acl, { entries: [] });
  assert.deepEqual(warningsOf(`${BASE}[acl]\n`), [
    "5: [acl] has no entries, so every request from another node is refused (403); add rules, " +
    "or remove the section to allow everything",
  ]);
});

// --- papercuts ---------------------------------------------------------------------------------

Deno.test("parseConfigText() refuses single-quoted values with a hint, never echoing them", () => {
  const issue = theIssue(
    "[mod_node]\nname = a\nfederation_key = 'secret-value-x'\ntls = no\n",
    { code: "syntax", line: 3, key: "federation_key" },
  );
  assert.match(issue.message, /single quotes are not quotes in node\.ini .* use double quotes/);
  assert.ok(!issue.message.includes("secret-value-x"), issue.message);
  // A quote inside a value, or a double-quoted one, is fine.
  assert.equal(
    parse(`${BASE}[mod_iot]\n[device:d]\ndriver = sim\nlabel = Bob's plug\n`)
      .iot?.devices[0].label,
    "Bob's plug",
  );
  assert.equal(
    parse(`${BASE}[mod_iot]\n[device:d]\ndriver = sim\nlabel = "'quoted'"\n`)
      .iot?.devices[0].label,
    "'quoted'",
  );
});

Deno.test("parseConfigText() warns that tls = false leaves the certificate unused", () => {
  assert.deepEqual(warningsOf(`${BASE}tls_cert = a.pem\ntls_key = a.key\n`), [
    "4: tls = false, so tls_cert, tls_key are not used: the federation runs over plain TCP and " +
    "nothing is signed",
  ]);
  assert.deepEqual(warningsOf(BASE), []);
});

Deno.test("parseConfigText() puts weak and example keys in Config.warnings", () => {
  const config = parse(`[mod_node]\nname = a\nfederation_key = change-me-to-a-long-random-secret
tls = no\n[peer:hub]\nkey = short\n[peer:f]\nkey = change-me-too-long-enough\n`);
  assert.deepEqual(config.warnings.map(formatWarning), [
    "node.ini:3: federation_key is still the example value; replace it with a long random secret",
    "node.ini:6: key in [peer:hub] is shorter than 16 characters",
    "node.ini:8: key in [peer:f] is still the example value; replace it with a long random secret",
  ]);
  assert.deepEqual(config.warnings[0], {
    file: "node.ini",
    line: 3,
    section: "mod_node",
    key: "federation_key",
    message: "federation_key is still the example value; replace it with a long random secret",
  });
});

Deno.test("parseConfigText() says where the port goes for HOST:PORT, with no follow-on issue", () => {
  const issue = theIssue(`${BASE}[peer:hub]\nhost = localhost:19090\nauto_connect = true\n`, {
    code: "bad_value",
    line: 6,
    key: "host",
  });
  assert.equal(
    issue.message,
    "bad value 'localhost:19090' for 'host' in [peer:hub]: expected a host without ':PORT'; " +
      "write localhost here and port = 19090",
  );
  theIssue(`${BASE}listen_host = 0.0.0.0:9090\n`, {
    code: "bad_value",
    line: 5,
    match: /write 0\.0\.0\.0 here and listen_port = 9090$/,
  });
  theIssue(`${BASE}[mod_iot]\n[device:d]\ndriver = shelly\nhost = http://10.0.0.5\n`, {
    code: "bad_value",
    line: 8,
    match: /not a URL or path/,
  });
});

Deno.test("parseConfigText() keeps device hosts canonical for their URLs", () => {
  const hosts = (h: string) =>
    parse(`${BASE}[mod_iot]\n[device:d]\ndriver = shelly\nhost = ${h}\n`).iot!.devices[0].host;
  assert.equal(hosts("Plug.Local:8080"), "plug.local:8080");
  assert.equal(hosts("fe80::1"), "fe80::1");
  assert.equal(hosts("[::1]:8080"), "[::1]:8080");
  theIssue(`${BASE}[mod_iot]\n[device:d]\ndriver = shelly\nhost = [fe80::1%eth0]\n`, {
    code: "bad_value",
    line: 8,
    match: /zone id/,
  });
});

// --- files: one bounded reader, never a FIFO or a device -------------------------------------

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "portal-contract-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function loadIssues(path: string): Promise<{ err: ConfigError; ms: number }> {
  const started = performance.now();
  try {
    await loadConfig(path);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return { err, ms: performance.now() - started };
  }
  assert.fail("expected a ConfigError");
}

const CA = await generateCa();
const LEAF = await issueNodeCert(CA, { name: "hub", hosts: ["localhost"] });

Deno.test("loadConfig() refuses a FIFO as tls_key and /dev/urandom as tls_ca within a second", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "certs"));
    await Deno.writeTextFile(join(dir, "certs", "hub.pem"), LEAF.certPem);
    await makeFifo(join(dir, "certs", "hub.key"));
    const path = join(dir, "node.ini");
    await Deno.writeTextFile(path, TLS_NODE.replace("certs/ca.pem", "/dev/urandom"));
    const { err, ms } = await loadIssues(path);
    assert.ok(ms < 1000, `took ${ms}ms`);
    assert.deepEqual(err.issues.map((i) => [i.code, i.line, i.key]), [
      ["unreadable_file", 5, "tls_key"],
      ["unreadable_file", 6, "tls_ca"],
    ]);
    assert.equal(
      formatIssue(err.issues[0]),
      `${path}:5: cannot read tls_key 'certs/hub.key' (${join(dir, "certs", "hub.key")}): ` +
        "it is a named pipe (FIFO), not a regular file",
    );
    assert.equal(
      formatIssue(err.issues[1]),
      `${path}:6: cannot read tls_ca '/dev/urandom': it is a character device, not a regular file`,
    );
  });
});

Deno.test("loadConfig() refuses a FIFO or a device as the config file within a second", async () => {
  await withTempDir(async (dir) => {
    const fifo = join(dir, "node.ini");
    await makeFifo(fifo);
    for (const path of [fifo, "/dev/urandom"]) {
      const { err, ms } = await loadIssues(path);
      assert.ok(ms < 1000, `took ${ms}ms`);
      assert.equal(err.code, "config_unreadable");
      assert.match(err.message, /not a regular file; give the path of the \.ini file$/);
    }
  });
});

Deno.test("loadConfig() refuses a certificate file over 4 MiB", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "certs"));
    await Deno.writeTextFile(join(dir, "certs", "hub.pem"), LEAF.certPem);
    await Deno.writeTextFile(join(dir, "certs", "hub.key"), LEAF.keyPem);
    await Deno.writeFile(join(dir, "certs", "ca.pem"), new Uint8Array(4 * 1024 * 1024 + 1));
    const path = join(dir, "node.ini");
    await Deno.writeTextFile(path, TLS_NODE);
    const { err } = await loadIssues(path);
    assert.deepEqual(err.issues.map((i) => [i.code, i.line]), [["bad_file", 6]]);
    assert.match(err.issues[0].message, /it is larger than 4 MiB$/);
  });
});

Deno.test("loadConfig() checks where audit_log goes", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "node.ini");
    await Deno.writeTextFile(path, `${BASE}audit_log = logs/audit.jsonl\n`);
    const missing = await loadIssues(path);
    assert.deepEqual(missing.err.issues.map((i) => [i.code, i.line, i.key]), [
      ["bad_file", 5, "audit_log"],
    ]);
    assert.equal(
      missing.err.issues[0].message,
      `audit_log 'logs/audit.jsonl' cannot be created: the directory ${join(dir, "logs")} ` +
        "does not exist",
    );
    await Deno.mkdir(join(dir, "logs", "audit.jsonl"), { recursive: true });
    const isDir = await loadIssues(path);
    assert.match(isDir.err.issues[0].message, /exists but is not a regular file$/);
    await Deno.remove(join(dir, "logs", "audit.jsonl"));
    assert.equal((await loadConfig(path)).node.auditLog, join(dir, "logs", "audit.jsonl"));
  });
});

Deno.test("loadConfig() warns about a certificate that expires within 30 days", async () => {
  const soon = await issueNodeCert(CA, {
    name: "hub",
    hosts: ["localhost"],
    days: 40,
    now: new Date(Date.now() - 30 * 86_400_000),
  });
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "certs"));
    await Deno.writeTextFile(join(dir, "certs", "hub.pem"), soon.certPem);
    await Deno.writeTextFile(join(dir, "certs", "hub.key"), soon.keyPem);
    await Deno.writeTextFile(join(dir, "certs", "ca.pem"), CA.certPem);
    const path = join(dir, "node.ini");
    await Deno.writeTextFile(path, TLS_NODE);
    const config = await loadConfig(path);
    assert.equal(config.warnings.length, 1);
    assert.match(
      formatWarning(config.warnings[0]),
      /node\.ini:4: tls_cert 'certs\/hub\.pem' expires on \d{4}-\d\d-\d\d, in 9 day\(s\); make a new one/,
    );
    const summary = await describeConfig(config);
    assert.match(summary, /^ {2}tls_cert: expires \d{4}-\d\d-\d\d \(9 days left\)$/m);
    assert.match(summary, /^ {2}warning: tls_cert 'certs\/hub\.pem' expires on .* \(line 4\)$/m);
  });
});

// --- check-config's summary ------------------------------------------------------------------

Deno.test("describeConfig() states the [acl], the identity settings and the warnings", async () => {
  const config = parse(`[mod_node]
name = office
federation_key = change-me-to-a-long-random-secret
tls_cert = c.pem
tls_key = k.pem
tls_ca = ca.pem
tls_client_auth = require
require_signed = call
audit_log = /var/log/portal/audit.jsonl
[mod_http]
token = full-access-token
read_token = read-only-token
[acl]
factory = GET *, CALL /iot/devices/plug-*
*       = GET /health
`);
  const text = await describeConfig(config);
  assert.match(
    text,
    /^ {2}identity: client certificates required; signs CALLs; requires signatures on CALLs$/m,
  );
  assert.match(text, /^ {2}audit log: \/var\/log\/portal\/audit\.jsonl$/m);
  assert.match(text, /^ {2}HTTP API: 127\.0\.0\.1:8080, token and read_token set$/m);
  assert.match(
    text,
    /^ {2}acl: 2 entries; anything no rule allows gets 403; origins without an entry follow '\*'$/m,
  );
  assert.match(text, /^ {4}factory {2}GET \*, CALL \/iot\/devices\/plug-\*$/m);
  assert.match(text, /^ {4}\* {8}GET \/health$/m);
  assert.match(
    text,
    /^ {2}warning: federation_key is still the example value; replace it with a long random secret \(line 3\)$/m,
  );
  assert.ok(!text.includes("full-access-token") && !text.includes("read-only-token"));
});
