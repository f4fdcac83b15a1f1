import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ConfigError,
  describeConfig,
  formatIssue,
  loadConfig,
  type LoadConfigOptions,
  MAX_CONFIG_BYTES,
  parseConfigText,
} from "../src/config/mod.ts";
import { generateCa, issueNodeCert } from "../src/pki/mod.ts";

// Real PEM: loadConfig checks that tls_key belongs to tls_cert and that tls_cert is no CA.
const CA = await generateCa();
const LEAF = await issueNodeCert(CA, { name: "hub", hosts: ["localhost"] });
const OTHER = await issueNodeCert(CA, { name: "office", hosts: ["localhost"] });
const CERT = LEAF.certPem;
const KEY = LEAF.keyPem;

/** A listening TLS node whose files are relative to the config: tls_* on lines 4-6. */
const TLS_NODE = `[mod_node]
name = hub
federation_key = a-long-shared-secret
tls_cert = certs/hub.pem
tls_key = certs/hub.key
tls_ca = certs/ca.pem
`;

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "portal-config-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function writeCerts(dir: string, files: Record<string, string>): Promise<void> {
  await Deno.mkdir(join(dir, "certs"), { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(join(dir, "certs", name), text);
  }
}

async function loadError(path: string, opts?: LoadConfigOptions): Promise<ConfigError> {
  try {
    await loadConfig(path, opts);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("loadConfig() loads a file and resolves its certificates next to it", async () => {
  await withTempDir(async (dir) => {
    await writeCerts(dir, { "hub.pem": CERT, "hub.key": KEY, "ca.pem": CERT });
    const path = join(dir, "node.ini");
    await Deno.writeTextFile(path, TLS_NODE);
    const config = await loadConfig(path);
    assert.equal(config.file, path);
    assert.equal(config.node.name, "hub");
    assert.equal(config.node.tlsCert, join(dir, "certs", "hub.pem"));
    assert.equal(config.node.tlsKey, join(dir, "certs", "hub.key"));
    assert.equal(config.node.tlsCa, join(dir, "certs", "ca.pem"));
  });
});

Deno.test("loadConfig() accepts a file with a BOM and CRLF line endings", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "node.ini");
    await Deno.writeTextFile(
      path,
      "\uFEFF[mod_node]\r\nname = a\r\nfederation_key = k\r\ntls = off\r\n",
    );
    assert.equal((await loadConfig(path)).node.name, "a");
  });
});

Deno.test("loadConfig() reports a missing file as config_unreadable", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "nope.ini");
    const err = await loadError(path);
    assert.equal(err.code, "config_unreadable");
    assert.deepEqual(err.issues.map((i) => [i.code, i.file, i.line]), [
      ["unreadable_file", path, 0],
    ]);
    // The path is absolute, so it is not repeated after "no such file".
    assert.equal(err.message, `${path}: cannot read the config file: no such file`);
  });
});

Deno.test("loadConfig() reports a directory as config_unreadable", async () => {
  await withTempDir(async (dir) => {
    const err = await loadError(dir);
    assert.equal(err.code, "config_unreadable");
    assert.match(err.message, /it is a directory/);
  });
});

Deno.test("loadConfig() refuses a file far too large to be a node.ini", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "huge.ini");
    await Deno.writeFile(path, new Uint8Array(MAX_CONFIG_BYTES + 1).fill(0x23));
    const err = await loadError(path);
    assert.equal(err.code, "config_unreadable");
    assert.match(err.message, /larger than 1 MiB, which no node\.ini is/);
  });
});

Deno.test("loadConfig() reports the line that is not UTF-8", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "node.ini");
    const head = new TextEncoder().encode("[mod_node]\nname = a\nlabel = caf");
    await Deno.writeFile(path, new Uint8Array([...head, 0xe9, 0x0a]));
    const err = await loadError(path);
    assert.equal(err.code, "config_invalid");
    assert.deepEqual(err.issues.map((i) => [i.code, i.line]), [["syntax", 3]]);
  });
});

Deno.test("loadConfig() reports an unreadable tls_cert at the key's line", async () => {
  await withTempDir(async (dir) => {
    await writeCerts(dir, { "hub.key": KEY, "ca.pem": CERT });
    const path = join(dir, "node.ini");
    await Deno.writeTextFile(path, TLS_NODE);
    const err = await loadError(path);
    assert.equal(err.code, "config_invalid");
    assert.deepEqual(err.issues.map((i) => [i.code, i.line, i.section, i.key]), [
      ["unreadable_file", 4, "mod_node", "tls_cert"],
    ]);
    assert.ok(
      formatIssue(err.issues[0]).startsWith(
        `${path}:4: cannot read tls_cert 'certs/hub.pem' (${join(dir, "certs", "hub.pem")}): ` +
          "no such file",
      ),
      err.message,
    );
  });
});

Deno.test("loadConfig() reports every unreadable certificate file", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "node.ini");
    await Deno.writeTextFile(path, TLS_NODE);
    const err = await loadError(path);
    assert.deepEqual(err.issues.map((i) => [i.line, i.key]), [
      [4, "tls_cert"],
      [5, "tls_key"],
      [6, "tls_ca"],
    ]);
  });
});

Deno.test("loadConfig() reports a certificate path that is a directory", async () => {
  await withTempDir(async (dir) => {
    await writeCerts(dir, { "hub.key": KEY, "ca.pem": CERT });
    await Deno.mkdir(join(dir, "certs", "hub.pem"));
    const path = join(dir, "node.ini");
    await Deno.writeTextFile(path, TLS_NODE);
    const err = await loadError(path);
    assert.deepEqual(err.issues.map((i) => [i.code, i.line]), [["unreadable_file", 4]]);
    assert.match(err.message, /it is a directory/);
  });
});

Deno.test("loadConfig() reports swapped tls_cert and tls_key", async () => {
  await withTempDir(async (dir) => {
    await writeCerts(dir, { "hub.pem": KEY, "hub.key": CERT, "ca.pem": CERT });
    const path = join(dir, "node.ini");
    await Deno.writeTextFile(path, TLS_NODE);
    const err = await loadError(path);
    assert.deepEqual(err.issues.map((i) => [i.code, i.line, i.key]), [
      ["bad_file", 4, "tls_cert"],
      ["bad_file", 5, "tls_key"],
    ]);
    assert.match(err.issues[0].message, /are tls_cert and tls_key swapped\?/);
  });
});

Deno.test("loadConfig() reports a CA file that holds no certificate", async () => {
  await withTempDir(async (dir) => {
    await writeCerts(dir, { "hub.pem": CERT, "hub.key": KEY, "ca.pem": "not a pem\n" });
    const path = join(dir, "node.ini");
    await Deno.writeTextFile(path, TLS_NODE);
    const err = await loadError(path);
    assert.deepEqual(err.issues.map((i) => [i.code, i.line, i.key]), [["bad_file", 6, "tls_ca"]]);
  });
});

Deno.test("loadConfig() checks a dial-only node's certificate and key too: it signs with them", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "node.ini");
    await Deno.writeTextFile(path, `${TLS_NODE}listen_port = off\n`);
    const err = await loadError(path);
    assert.deepEqual(err.issues.map((i) => [i.line, i.key]), [
      [4, "tls_cert"],
      [5, "tls_key"],
      [6, "tls_ca"],
    ]);
    await writeCerts(dir, { "ca.pem": CERT, "hub.pem": CERT, "hub.key": KEY });
    const config = await loadConfig(path);
    assert.equal(config.node.listenPort, null);
    assert.equal(config.node.sign, "call");
  });
});

Deno.test("loadConfig() checks only tls_ca for a dial-only node without certificate", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "node.ini");
    const text = "[mod_node]\nname = a\nfederation_key = a-long-shared-secret\n" +
      "listen_port = off\ntls_ca = certs/ca.pem\n";
    await Deno.writeTextFile(path, text);
    const err = await loadError(path);
    assert.deepEqual(err.issues.map((i) => [i.line, i.key]), [[5, "tls_ca"]]);
    await writeCerts(dir, { "ca.pem": CERT });
    const config = await loadConfig(path);
    assert.equal(config.node.sign, "off");
  });
});

Deno.test("loadConfig() skips the certificate checks with checkFiles: false", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "node.ini");
    await Deno.writeTextFile(path, TLS_NODE);
    assert.equal((await loadConfig(path, { checkFiles: false })).node.name, "hub");
    await Deno.writeTextFile(path, `${TLS_NODE}workers = none\n`);
    const err = await loadError(path, { checkFiles: false });
    assert.deepEqual(err.issues.map((i) => [i.code, i.line]), [["bad_value", 7]]);
  });
});

Deno.test("loadConfig() reads no certificate when tls is off", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "node.ini");
    await Deno.writeTextFile(path, `${TLS_NODE}tls = off\n`);
    assert.equal((await loadConfig(path)).node.tls, false);
  });
});

Deno.test("loadConfig() reports certificate and schema issues together", async () => {
  await withTempDir(async (dir) => {
    await writeCerts(dir, { "hub.key": KEY, "ca.pem": CERT });
    const path = join(dir, "node.ini");
    await Deno.writeTextFile(path, `${TLS_NODE}workers = none\n`);
    const err = await loadError(path);
    assert.deepEqual(err.issues.map((i) => [i.code, i.line]), [
      ["unreadable_file", 4],
      ["bad_value", 7],
    ]);
  });
});

Deno.test("loadConfig() loads every example in config/ once its certificates exist", async () => {
  await withTempDir(async (dir) => {
    const examples = new URL("../config/", import.meta.url);
    await writeCerts(dir, { "ca.pem": CERT });
    for (const name of ["hub", "office", "factory"]) {
      await writeCerts(dir, { [`${name}.pem`]: CERT, [`${name}.key`]: KEY });
      const text = await Deno.readTextFile(new URL(`${name}.ini`, examples));
      const path = join(dir, `${name}.ini`);
      await Deno.writeTextFile(path, text);
      assert.equal((await loadConfig(path)).node.name, name);
    }
  });
});

// --- describeConfig -------------------------------------------------------------------------

const FULL = `[mod_node]
name = office
federation_key = "never-print-this-federation-key"
listen_port = 9091
tls_cert = certs/office.pem
tls_key = certs/office.key

[peer:hub]
host = hub.example.com
auto_connect = yes

[peer:factory]
hub = hub
key = never-print-this-peer-key
tls_verify = off

[mod_http]
listen = 0.0.0.0:8081
token = never-print-this-token

[mod_iot]
[device:plug-001]
driver = tasmota
host = 10.0.0.5
user = admin
password = never-print-this-password
`;

Deno.test("describeConfig() summarises the node, listener, API, peers and devices", async () => {
  const text = await describeConfig(parseConfigText(FULL, "/etc/portal/node.ini"));
  assert.equal(
    text,
    [
      "node office (/etc/portal/node.ini)",
      "  federation listener: 0.0.0.0:9091, TLS on",
      "  TLS files: cert /etc/portal/certs/office.pem, key /etc/portal/certs/office.key, " +
      "CA system roots",
      "  identity: client certificates not asked for; signs CALLs; requires signatures on nothing",
      "  HTTP API: 0.0.0.0:8081, token set",
      "  peers: 2",
      "    hub      hub.example.com:9090, auto_connect",
      "    factory  no host, no auto_connect, hub hub, own key, TLS verification OFF",
      "  devices: 1: plug-001 (tasmota 10.0.0.5); poll every 30s",
      "  acl: none ([acl] absent): every node may do everything here",
      "  log: info, text",
    ].join("\n"),
  );
});

Deno.test("describeConfig() never prints keys, tokens or passwords", async () => {
  const text = await describeConfig(parseConfigText(FULL, "/etc/portal/node.ini"));
  assert.ok(!text.includes("never-print"), text);
});

Deno.test("describeConfig() shows a dial-only node, TLS off and the API off", async () => {
  const config = parseConfigText(
    "[mod_node]\nname = a\nfederation_key = k\nlisten_port = off\ntls = no\n[mod_http]\nlisten = off\n",
    "/x/node.ini",
  );
  const text = await describeConfig(config);
  assert.match(text, /^ {2}federation listener: off \(dial-only\)$/m);
  assert.match(text, /^ {2}HTTP API: off$/m);
  assert.match(text, /^ {2}peers: 0$/m);
  assert.match(text, /^ {2}devices: none \(\[mod_iot\] off\)$/m);
  assert.doesNotMatch(text, /TLS files/);
  assert.match(text, /warning: federation_key is shorter than 16 characters/);
});

Deno.test("describeConfig() warns about an open API without a token and an example key", async () => {
  const config = parseConfigText(
    "[mod_node]\nname = a\nfederation_key = change-me-to-a-long-random-secret\ntls = no\n" +
      "[mod_http]\nlisten = [::]:8080\n",
    "/x/node.ini",
  );
  const text = await describeConfig(config);
  assert.match(text, /^ {2}federation listener: 0\.0\.0\.0:9090, TLS off \(plain TCP\)$/m);
  assert.match(text, /HTTP API: \[::\]:8080, no token \(anyone who can reach it/);
  assert.match(text, /warning: federation_key is still the example value/);
});

Deno.test("loadConfig() reports a tls_key that does not belong to tls_cert", async () => {
  await withTempDir(async (dir) => {
    await writeCerts(dir, { "hub.pem": CERT, "hub.key": OTHER.keyPem, "ca.pem": CA.certPem });
    const path = join(dir, "node.ini");
    await Deno.writeTextFile(path, TLS_NODE);
    const err = await loadError(path);
    assert.equal(err.issues.length, 1);
    assert.equal(err.issues[0].key, "tls_key");
    assert.equal(err.issues[0].line, 5);
    assert.match(
      formatIssue(err.issues[0]),
      /node\.ini:5: tls_key 'certs\/hub\.key' does not belong to tls_cert/,
    );
  });
});

Deno.test("loadConfig() refuses a CA certificate as tls_cert", async () => {
  await withTempDir(async (dir) => {
    await writeCerts(dir, { "hub.pem": CA.certPem, "hub.key": CA.keyPem, "ca.pem": CA.certPem });
    const path = join(dir, "node.ini");
    await Deno.writeTextFile(path, TLS_NODE);
    const err = await loadError(path);
    assert.equal(err.issues[0].key, "tls_cert");
    assert.equal(err.issues[0].line, 4);
    assert.match(err.issues[0].message, /is a CA certificate/);
  });
});

Deno.test("loadConfig() refuses an expired tls_cert and one not valid yet", async () => {
  const expired = await issueNodeCert(CA, {
    name: "hub",
    hosts: ["localhost"],
    days: 1,
    now: new Date(Date.now() - 10 * 86_400_000),
  });
  const future = await issueNodeCert(CA, {
    name: "hub",
    hosts: ["localhost"],
    days: 30,
    now: new Date(Date.now() + 10 * 86_400_000),
  });
  for (const [leaf, pattern] of [[expired, /expired on/], [future, /not valid before/]] as const) {
    await withTempDir(async (dir) => {
      await writeCerts(dir, {
        "hub.pem": leaf.certPem,
        "hub.key": leaf.keyPem,
        "ca.pem": CA.certPem,
      });
      const path = join(dir, "node.ini");
      await Deno.writeTextFile(path, TLS_NODE);
      const err = await loadError(path);
      assert.equal(err.issues[0].key, "tls_cert");
      assert.equal(err.issues[0].line, 4);
      assert.match(err.issues[0].message, pattern);
    });
  }
});
