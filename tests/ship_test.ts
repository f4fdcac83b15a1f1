/**
 * Shipping: the systemd unit, scripts/install.sh and scripts/compile.ts.
 * Needs --allow-run (systemd-analyze, bash, deno), --allow-read, --allow-write, --allow-env.
 */
import assert from "node:assert/strict";
import {
  checkDenortBin,
  compileArgs,
  CompileError,
  isRuntimeDownloadFailure,
  outputPath,
  rewriteForSmoke,
  RUNTIME_FLAGS,
  smokeRun,
  stripAnsi,
} from "../scripts/compile.ts";
import { LIBRARY_DIRS } from "../src/transport/libc_sockets.ts";
import { VERSION } from "../src/version.ts";
import { genCerts } from "../src/pki/mod.ts";
import { within } from "./kit/async.ts";
import { REPO_ROOT, runCommand } from "./kit/child.ts";
import { http, modNode, writeIni } from "./kit/ini.ts";

const REPO = REPO_ROOT;
const UNIT = `${REPO}/config/portal.service`;
const INSTALL = `${REPO}/scripts/install.sh`;

const run = runCommand;

async function hasCommand(name: string): Promise<boolean> {
  return (await run("sh", ["-c", `command -v ${name}`])).code === 0;
}

// --- the systemd unit ----------------------------------------------------------------------

const haveSystemdAnalyze = await hasCommand("systemd-analyze");
if (!haveSystemdAnalyze) {
  console.log(
    "ship_test: systemd-analyze is not installed; the unit verification tests are skipped",
  );
}

/**
 * A copy of the unit whose ExecStart names an executable that exists here: `verify` fails
 * with "Command /usr/local/bin/portal is not executable" when the binary is not installed,
 * and `--root=DIR` is no way out (it then wants the whole unit tree, sysinit.target and all,
 * inside DIR). Everything else in the copy is the shipped unit, byte for byte.
 */
async function unitWithExistingBinary(dir: string): Promise<string> {
  const text = await Deno.readTextFile(UNIT);
  const rewritten = text.replace(
    /^ExecStart=\/usr\/local\/bin\/portal /m,
    `ExecStart=${Deno.execPath()} `,
  );
  assert.notEqual(rewritten, text, "the unit's ExecStart names /usr/local/bin/portal");
  const path = `${dir}/portal.service`;
  await Deno.writeTextFile(path, rewritten);
  return path;
}

Deno.test({
  name: "portal.service passes systemd-analyze verify without a word about it",
  ignore: !haveSystemdAnalyze,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const unit = await unitWithExistingBinary(dir);
      const r = await run("systemd-analyze", ["verify", unit]);
      // verify exits 0 even for unknown keys or bad values ("Unknown key ..., ignoring"), so
      // any line naming the unit is a failure too. Lines about other units (the host's own
      // quirks) are not ours to judge.
      const ours = `${r.stdout}\n${r.stderr}`.split("\n").filter((l) =>
        l.includes("portal.service")
      );
      assert.equal(r.code, 0, `systemd-analyze verify failed:\n${r.stderr}`);
      assert.deepEqual(ours, [], `systemd-analyze verify complained:\n${ours.join("\n")}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "systemd-analyze verify catches a mistyped directive (so the check above can fail)",
  ignore: !haveSystemdAnalyze,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const unit = await unitWithExistingBinary(dir);
      const text = await Deno.readTextFile(unit);
      await Deno.writeTextFile(unit, text.replace("ProtectSystem=", "ProtectSytem="));
      const r = await run("systemd-analyze", ["verify", unit]);
      assert.match(`${r.stdout}${r.stderr}`, /portal\.service:\d+: Unknown key/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

const haveOfflineSecurity = haveSystemdAnalyze &&
  (await run("systemd-analyze", ["security", "--offline=yes", "--help"])).code === 0;
if (haveSystemdAnalyze && !haveOfflineSecurity) {
  console.log(
    "ship_test: this systemd-analyze has no 'security --offline' (systemd < 250); skipped",
  );
}

Deno.test({
  name: "portal.service keeps systemd's exposure score below 2.0",
  ignore: !haveOfflineSecurity,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const unit = await unitWithExistingBinary(dir);
      const r = await run("systemd-analyze", ["security", "--offline=yes", "--no-pager", unit]);
      const m = `${r.stdout}${r.stderr}`.match(/Overall exposure level for \S+: ([\d.]+)/);
      assert.ok(m, `no exposure level in:\n${r.stdout}${r.stderr}`);
      // 1.3 when written: dropping a hardening line pushes it up; 2.0 leaves some slack for
      // systemd versions that weigh settings differently.
      assert.ok(Number(m[1]) < 2.0, `exposure ${m[1]}:\n${r.stdout}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("portal.service has the start-up contract the node and install.sh rely on", async () => {
  const lines = (await Deno.readTextFile(UNIT)).split("\n").map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  for (
    const want of [
      "ExecStart=/usr/local/bin/portal --config /etc/portal/node.ini",
      "Type=notify",
      "NotifyAccess=main",
      "User=portal",
      "Group=portal",
      "Restart=on-failure",
      "RestartPreventExitStatus=2",
      "KillSignal=SIGTERM",
      "TimeoutStopSec=15",
      "ExecReload=/bin/kill -HUP $MAINPID",
      "CapabilityBoundingSet=",
      "AmbientCapabilities=",
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
    ]
  ) {
    assert.ok(lines.includes(want), `missing '${want}'`);
  }
  // V8's JIT needs writable-then-executable memory; this setting kills the node.
  assert.ok(!lines.some((l) => l.startsWith("MemoryDenyWriteExecute=")));
});

// --- install.sh ----------------------------------------------------------------------------

const KEY_PEM =
  "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n";
const CERT_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

interface Staging {
  dir: string;
  root: string;
  args: string[];
}

/** A staging root and the inputs of one install: a dummy binary, a node.ini, a cert, keys. */
async function staging(): Promise<Staging> {
  const dir = await Deno.makeTempDir({ prefix: "portal-install-" });
  const inputs = `${dir}/in`;
  await Deno.mkdir(inputs);
  await Deno.writeTextFile(`${inputs}/portal`, `#!/bin/sh\necho "portal ${VERSION}"\n`, {
    mode: 0o755,
  });
  await Deno.writeTextFile(`${inputs}/node.ini`, "[mod_node]\nname = factory\n");
  await Deno.writeTextFile(`${inputs}/factory.key`, KEY_PEM);
  // A key whose name does not say so: its content must.
  await Deno.writeTextFile(`${inputs}/key.pem`, KEY_PEM);
  await Deno.writeTextFile(`${inputs}/ca.crt`, CERT_PEM);
  return {
    dir,
    root: `${dir}/root`,
    args: [
      "--prefix",
      `${dir}/root`,
      "--binary",
      `${inputs}/portal`,
      "--config",
      `${inputs}/node.ini`,
      "--file",
      `${inputs}/factory.key`,
      "--file",
      `${inputs}/key.pem`,
      "--file",
      `${inputs}/ca.crt`,
    ],
  };
}

const INSTALLED: Record<string, number> = {
  "usr/local/bin/portal": 0o755,
  "etc/systemd/system/portal.service": 0o644,
  "etc/portal": 0o750,
  "etc/portal/node.ini": 0o640,
  "etc/portal/factory.key": 0o600,
  "etc/portal/key.pem": 0o600,
  "etc/portal/ca.crt": 0o644,
};

async function snapshot(root: string): Promise<Record<string, string>> {
  const snap: Record<string, string> = {};
  for (const rel of Object.keys(INSTALLED)) {
    const st = await Deno.stat(`${root}/${rel}`);
    const content = st.isFile ? await Deno.readTextFile(`${root}/${rel}`) : "(dir)";
    snap[rel] = `${(st.mode! & 0o7777).toString(8)} ${st.mtime?.getTime()} ${content}`;
  }
  return snap;
}

async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string, rel: string) {
    for await (const e of Deno.readDir(d)) {
      const r = rel === "" ? e.name : `${rel}/${e.name}`;
      out.push(r);
      if (e.isDirectory) await walk(`${d}/${e.name}`, r);
    }
  }
  await walk(dir, "");
  return out.sort();
}

Deno.test("install.sh installs into a staging root with the right modes", async () => {
  const s = await staging();
  try {
    const r = await run("bash", [INSTALL, ...s.args]);
    assert.equal(r.code, 0, r.stderr);
    for (const [rel, mode] of Object.entries(INSTALLED)) {
      const st = await Deno.stat(`${s.root}/${rel}`);
      assert.equal((st.mode! & 0o7777).toString(8), mode.toString(8), rel);
    }
    assert.equal(
      await Deno.readTextFile(`${s.root}/etc/systemd/system/portal.service`),
      await Deno.readTextFile(UNIT),
    );
    const version = await run(`${s.root}/usr/local/bin/portal`, ["--version"]);
    assert.equal(version.stdout.trim(), `portal ${VERSION}`);
    // Nothing but what was asked for: no temporary files left behind.
    assert.deepEqual(await listTree(s.root), [
      "etc",
      "etc/portal",
      "etc/portal/ca.crt",
      "etc/portal/factory.key",
      "etc/portal/key.pem",
      "etc/portal/node.ini",
      "etc/systemd",
      "etc/systemd/system",
      "etc/systemd/system/portal.service",
      "usr",
      "usr/local",
      "usr/local/bin",
      "usr/local/bin/portal",
    ]);
    assert.match(r.stdout, /^installed +.*\/usr\/local\/bin\/portal$/m);
  } finally {
    await Deno.remove(s.dir, { recursive: true });
  }
});

Deno.test("install.sh run twice changes nothing and says so", async () => {
  const s = await staging();
  try {
    assert.equal((await run("bash", [INSTALL, ...s.args])).code, 0);
    const before = await snapshot(s.root);
    const second = await run("bash", [INSTALL, ...s.args]);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(await snapshot(s.root), before);
    // Besides the configuration check's own line (tests/install_test.ts), only "unchanged".
    const lines = second.stdout.trim().split("\n").filter((l) => !/^checked /.test(l));
    assert.equal(lines.length, Object.keys(INSTALLED).length, second.stdout);
    for (const line of lines) assert.match(line, /^unchanged /, second.stdout);
  } finally {
    await Deno.remove(s.dir, { recursive: true });
  }
});

Deno.test("install.sh never overwrites an existing node.ini, and repairs modes", async () => {
  const s = await staging();
  try {
    assert.equal((await run("bash", [INSTALL, ...s.args])).code, 0);
    const installedIni = `${s.root}/etc/portal/node.ini`;
    await Deno.writeTextFile(installedIni, "[mod_node]\nname = edited-by-operator\n");
    await Deno.chmod(`${s.root}/etc/portal/factory.key`, 0o644);
    const r = await run("bash", [INSTALL, ...s.args]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await Deno.readTextFile(installedIni), "[mod_node]\nname = edited-by-operator\n");
    assert.match(r.stdout, /^kept +.*node\.ini \(it differs from .* --replace-config\)$/m);
    assert.match(r.stdout, /^fixed mode of +.*factory\.key$/m);
    const st = await Deno.stat(`${s.root}/etc/portal/factory.key`);
    assert.equal((st.mode! & 0o777).toString(8), "600");
  } finally {
    await Deno.remove(s.dir, { recursive: true });
  }
});

Deno.test("install.sh --uninstall removes binary and unit, --purge the configuration", async () => {
  const s = await staging();
  try {
    assert.equal((await run("bash", [INSTALL, ...s.args])).code, 0);
    const r = await run("bash", [INSTALL, "--prefix", s.root, "--uninstall"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^removed +.*\/usr\/local\/bin\/portal$/m);
    assert.match(r.stdout, /^removed +.*\/etc\/systemd\/system\/portal\.service$/m);
    assert.match(r.stdout, /^kept +.*\/etc\/portal \(configuration; --purge removes it\)$/m);
    await assert.rejects(Deno.stat(`${s.root}/usr/local/bin/portal`), Deno.errors.NotFound);
    await assert.rejects(
      Deno.stat(`${s.root}/etc/systemd/system/portal.service`),
      Deno.errors.NotFound,
    );
    assert.ok((await Deno.stat(`${s.root}/etc/portal/node.ini`)).isFile);

    const again = await run("bash", [INSTALL, "--prefix", s.root, "--uninstall", "--purge"]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^absent +.*\/usr\/local\/bin\/portal$/m);
    assert.match(again.stdout, /^removed +.*\/etc\/portal$/m);
    await assert.rejects(Deno.stat(`${s.root}/etc/portal`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(s.dir, { recursive: true });
  }
});

Deno.test("install.sh refuses bad input with a sentence and touches nothing", async () => {
  const s = await staging();
  try {
    const cases: [string[], number, RegExp][] = [
      [["--prefix", s.root, "--binary", `${s.dir}/nope`], 1, /binary '.*nope' does not exist/],
      [["--prefix", s.root, "--bogus"], 2, /unknown argument '--bogus' \(see --help\)/],
      [["--prefix", s.root, "--purge"], 2, /--purge only makes sense with --uninstall/],
      [["--prefix", s.root, "--config"], 2, /option --config needs a value/],
      [
        ["--prefix", s.root, "--binary", `${s.dir}/in/portal`, "--config", `${s.dir}/none.ini`],
        1,
        /config file '.*none\.ini' does not exist/,
      ],
    ];
    for (const [args, code, message] of cases) {
      const r = await run("bash", [INSTALL, ...args]);
      assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    await Deno.writeTextFile(`${s.dir}/in/not-exec`, "x");
    const r = await run("bash", [INSTALL, "--prefix", s.root, "--binary", `${s.dir}/in/not-exec`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is not executable/);
    assert.deepEqual(await listTree(s.root), []);
    const help = await run("bash", [INSTALL, "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: install\.sh/);
  } finally {
    await Deno.remove(s.dir, { recursive: true });
  }
});

// A real install (as root, no --prefix) creates a user and changes owners. It runs inside a
// private mount namespace whose /etc is a throwaway copy and whose /usr/local and
// /run/systemd are empty, so the host is not touched (and no host systemd is reloaded).
const canUseNamespace = Deno.uid() === 0 && await hasCommand("unshare") &&
  (await run("unshare", ["-m", "--propagation", "private", "true"])).code === 0;
if (!canUseNamespace) {
  console.log(
    "ship_test: not root or no mount namespaces; the real-root install.sh test is skipped",
  );
}

Deno.test({
  name: "install.sh as root creates the portal user and hands it /etc/portal",
  ignore: !canUseNamespace,
  async fn() {
    const s = await staging();
    try {
      const inputs = s.args.filter((a) => !a.startsWith(s.root) && a !== "--prefix");
      const script = `
        set -e
        cp -a /etc "${s.dir}/etc" && mount --bind "${s.dir}/etc" /etc
        mount -t tmpfs none /usr/local
        if [ -d /run/systemd ]; then mount -t tmpfs none /run/systemd; fi
        userdel portal 2>/dev/null || true
        bash "${INSTALL}" ${inputs.map((a) => `"${a}"`).join(" ")}
        echo ==
        getent passwd portal
        stat -c '%a %U:%G %n' /usr/local/bin/portal /etc/systemd/system/portal.service \
          /etc/portal /etc/portal/node.ini /etc/portal/factory.key /etc/portal/ca.crt
        echo ==
        bash "${INSTALL}" ${inputs.map((a) => `"${a}"`).join(" ")}
      `;
      const r = await run("unshare", ["-m", "--propagation", "private", "bash", "-c", script]);
      assert.equal(r.code, 0, r.stderr);
      const [first, facts, second] = r.stdout.split("==\n");
      assert.match(first, /^created +system user portal$/m);
      assert.match(
        facts,
        /^portal:x:\d+:\d+:Portal edge node:\/nonexistent:\/usr\/sbin\/nologin$/m,
      );
      for (
        const line of [
          "755 root:root /usr/local/bin/portal",
          "644 root:root /etc/systemd/system/portal.service",
          "750 root:portal /etc/portal",
          "640 root:portal /etc/portal/node.ini",
          "600 portal:portal /etc/portal/factory.key",
          "644 root:portal /etc/portal/ca.crt",
        ]
      ) {
        assert.ok(facts.includes(`${line}\n`), `missing '${line}' in:\n${facts}`);
      }
      const changes = second.split("\n").filter((l) =>
        l !== "" && !/^(unchanged|checked|next:) /.test(l)
      );
      assert.deepEqual(changes, [], second);
    } finally {
      await Deno.remove(s.dir, { recursive: true });
    }
  },
});

// --- compile.ts ----------------------------------------------------------------------------

// What `deno compile` 2.9.6 printed here, with no route to dl.deno.land (colours kept).
const MEASURED_NO_NETWORK = `\x1b[0m\x1b[32mCheck\x1b[0m main.ts
\x1b[0m\x1b[32mCompile\x1b[0m main.ts to dist/portal
\x1b[0m\x1b[32mDownload\x1b[0m https://dl.deno.land/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip
\x1b[0m\x1b[1m\x1b[31merror\x1b[0m: Writing deno compile executable to temporary file 'dist/portal.tmp-926b72588ea56b77'

Caused by:
    0: Setting up base binary.
    1: error sending request for url (https://dl.deno.land/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip): client error (Connect): dns error: failed to lookup address information: Name or service not known
    2: client error (Connect)
    3: dns error
    4: failed to lookup address information: Name or service not known
`;

Deno.test("isRuntimeDownloadFailure() tells a denort download failure from other failures", () => {
  assert.ok(isRuntimeDownloadFailure(MEASURED_NO_NETWORK));
  assert.ok(isRuntimeDownloadFailure(
    "Download https://dl.deno.land/x/denort-x.zip\n" +
      "error: Writing deno compile executable\n\nCaused by:\n    0: Setting up base binary.\n" +
      "    1: error sending request for url (https://dl.deno.land/x): operation timed out",
  ));
  // Downloaded fine, then could not write the output: not a runtime problem.
  assert.ok(
    !isRuntimeDownloadFailure(
      "Download https://dl.deno.land/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip\n" +
        "error: Writing deno compile executable to temporary file 'dist/portal.tmp-1'\n\n" +
        "Caused by:\n    Permission denied (os error 13)",
    ),
  );
  // A type error in Portal (even one about certificates) is not either.
  assert.ok(
    !isRuntimeDownloadFailure(
      "Check main.ts\nerror: TS2322 [ERROR]: Type 'string' is not assignable to type 'number'.\n" +
        "    at file:///src/cli/certs.ts:3:7 (certificate)",
    ),
  );
});

Deno.test("checkDenortBin() rejects a missing, non-executable or wrong-architecture runtime", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const target = "x86_64-unknown-linux-gnu";
    const expectNoRuntime = async (path: string, message: RegExp) => {
      const e = await checkDenortBin(path, target).then(() => null, (e) => e);
      assert.ok(e instanceof CompileError, `${path} was accepted`);
      assert.equal(e.code, "no-runtime");
      assert.match(e.message, message);
    };
    await expectNoRuntime(`${dir}/missing`, /does not exist/);
    await expectNoRuntime(dir, /is not a file/);
    await Deno.writeTextFile(`${dir}/denort.zip`, "PK\x03\x04 not unzipped");
    await expectNoRuntime(`${dir}/denort.zip`, /is not a Linux executable/);
    // An ELF header for aarch64 (e_machine 0xb7 at offset 18).
    const elf = new Uint8Array(64);
    elf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
    elf[18] = 0xb7;
    await Deno.writeFile(`${dir}/denort-arm`, elf);
    await expectNoRuntime(`${dir}/denort-arm`, /a runtime for aarch64, but the target is x86_64/);
    await checkDenortBin(`${dir}/denort-arm`, "aarch64-unknown-linux-gnu");
    // Not Linux: the file is only checked to exist.
    await checkDenortBin(`${dir}/denort.zip`, "aarch64-apple-darwin");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compileArgs() bakes in the runtime permissions, never -A, and passes --target", () => {
  const args = compileArgs({
    output: outputPath("aarch64-unknown-linux-gnu"),
    target: "aarch64-unknown-linux-gnu",
  });
  assert.deepEqual(args.slice(0, 5), [
    "compile",
    "--output",
    "dist/portal-aarch64-unknown-linux-gnu",
    "--target",
    "aarch64-unknown-linux-gnu",
  ]);
  assert.equal(args.at(-1), "main.ts");
  for (const flag of RUNTIME_FLAGS) assert.ok(args.includes(flag));
  for (const forbidden of ["-A", "--allow-all", "--allow-run"]) {
    assert.ok(!args.some((a) => a === forbidden || a.startsWith(`${forbidden}=`)), forbidden);
  }
  // Native libraries only from the system's own directories (libc, for the listener's setsockopt).
  assert.ok(!args.includes("--allow-ffi"), "--allow-ffi without a directory list");
  assert.ok(args.includes(`--allow-ffi=${LIBRARY_DIRS.join(",")}`));
  assert.equal(outputPath(null), "dist/portal");
});

/** Every `.ts` file of the executable's own code. */
async function sourceFiles(): Promise<string[]> {
  const files = [`${REPO}/main.ts`];
  async function walk(d: string) {
    for await (const e of Deno.readDir(d)) {
      if (e.isDirectory) await walk(`${d}/${e.name}`);
      else if (e.name.endsWith(".ts")) files.push(`${d}/${e.name}`);
    }
  }
  await walk(`${REPO}/src`);
  return files;
}

Deno.test("every environment variable, OS fact and unstable API Portal uses is allowed in the executable", async () => {
  const allowed = (flag: string) =>
    RUNTIME_FLAGS.find((f) => f.startsWith(`${flag}=`))?.slice(flag.length + 1).split(",") ??
      [];
  const env = allowed("--allow-env");
  const sys = allowed("--allow-sys");
  // --ignore-env makes any other variable read as unset, so a read that is not on the list
  // would fail silently; each one must be listed.
  const envRead = [
    /Deno\.env\.(?:get|has)\(\s*["'`]([A-Z0-9_]+)["'`]/g,
    /process\.env\.([A-Z0-9_]+)/g,
    /process\.env\[\s*["'`]([A-Z0-9_]+)["'`]\s*\]/g,
    // Code that takes the environment as an injected `env(name)` function (src/cli does).
    /\benv\(\s*["'`]([A-Z0-9_]+)["'`]\s*\)/g,
  ];
  // The OS queries that need --allow-sys=NAME (node:os functions map onto the same names).
  const sysCall: [RegExp, string][] = [
    [/\b(?:Deno|os)\.hostname\(/, "hostname"],
    [/\bos\.homedir\(/, "homedir"],
    [/\bos\.(?:userInfo)\(/, "userInfo"],
    [/\b(?:Deno\.osRelease|os\.release)\(/, "osRelease"],
    [/\b(?:Deno|os)\.networkInterfaces\(/, "networkInterfaces"],
    [/\b(?:Deno\.systemMemoryInfo|os\.totalmem|os\.freemem)\(/, "systemMemoryInfo"],
    [/\b(?:Deno|os)\.loadavg\(/, "loadavg"],
    [/\bos\.cpus\(/, "cpus"],
    [/\bDeno\.uid\(/, "uid"],
    [/\bDeno\.gid\(/, "gid"],
    [/\bos\.tmpdir\(/, "TMPDIR (env)"],
  ];
  // Unstable APIs need their --unstable-* flag in the executable (or deno.json "unstable").
  const denoJson = JSON.parse(await Deno.readTextFile(`${REPO}/deno.json`));
  const unstable = [
    ...RUNTIME_FLAGS.filter((f) => f.startsWith("--unstable-")).map((f) => f.slice(11)),
    ...(denoJson.unstable ?? []),
  ];
  const unstableCall: [RegExp, string][] = [
    [/\blistenDatagram\b/, "net"],
    [/\breusePort\b/, "net"],
  ];
  const problems: string[] = [];
  for (const file of await sourceFiles()) {
    const text = await Deno.readTextFile(file);
    const rel = file.slice(REPO.length + 1);
    if (/Deno\.env\.toObject\(|\.\.\.process\.env\b/.test(text)) {
      problems.push(`${rel}: reads the whole environment; read named variables instead`);
    }
    for (const re of envRead) {
      for (const m of text.matchAll(re)) {
        if (!env.includes(m[1])) problems.push(`${rel}: reads ${m[1]}, not in --allow-env`);
      }
    }
    for (const [re, name] of unstableCall) {
      if (re.test(text) && !unstable.includes(name)) {
        problems.push(`${rel}: needs --unstable-${name} (or "unstable": ["${name}"] in deno.json)`);
      }
    }
    for (const [re, name] of sysCall) {
      if (re.test(text) && !sys.includes(name)) {
        problems.push(`${rel}: needs --allow-sys=${name} (or --allow-env for TMPDIR)`);
      }
    }
  }
  assert.deepEqual(problems, [], "scripts/compile.ts RUNTIME_FLAGS must allow these");
});

Deno.test("rewriteForSmoke() points hub.ini's certificates at the smoke run's directory", () => {
  const ini = [
    "[mod_node]",
    "name = hub",
    "tls_cert = certs/hub.crt   # leaf",
    'tls_key = "/etc/portal/hub.key"',
    "tls_ca = certs/ca.crt",
    "[peer:office]",
    "tls_cert = untouched",
  ].join("\n");
  const r = rewriteForSmoke(ini, "/tmp/x/certs");
  assert.equal(r.nodeName, "hub");
  assert.deepEqual(r.text.split("\n"), [
    "[mod_node]",
    "name = hub",
    'tls_cert = "/tmp/x/certs/hub.crt"',
    'tls_key = "/tmp/x/certs/hub.key"',
    'tls_ca = "/tmp/x/certs/ca.crt"',
    "[peer:office]",
    "tls_cert = untouched",
  ]);
  assert.throws(() => rewriteForSmoke("[mod_node]\n", "/d"), CompileError);
});

Deno.test("deno task compile without a reachable denort exits 3 with one sentence", async () => {
  const env = Deno.env.toObject();
  delete env.DENORT_BIN;
  const mtime = async () => (await Deno.stat(`${REPO}/dist/portal`).catch(() => null))?.mtime;
  const before = await mtime();
  const started = performance.now();
  const r = await run(Deno.execPath(), ["task", "compile"], { env, clearEnv: true });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (r.code === 0) {
    // denort was cached or downloadable here: then the build must be a working Portal.
    const v = await run(`${REPO}/dist/portal`, ["--version"]);
    assert.equal(v.code, 0);
    assert.ok(v.stdout.includes(VERSION), v.stdout);
    return;
  }
  // deno task echoes the task line on stderr; everything else is ours.
  const lines = stripAnsi(r.stderr).split("\n").filter((l) =>
    l.trim() !== "" && !/^Task compile /.test(l)
  );
  assert.equal(r.code, 3, `exit ${r.code} after ${seconds}s:\n${r.stderr}`);
  assert.equal(lines.length, 1, r.stderr);
  assert.match(
    lines[0],
    /could not download its denort runtime.*DENORT_BIN=\/path\/to\/denort deno task compile/,
  );
  // A failed build leaves whatever dist/portal there was (usually none) alone.
  assert.deepEqual(await mtime(), before);
});

Deno.test("the executable's permissions suffice for --version, gen-certs and check-config", async () => {
  // `deno run` with exactly the flags baked into the executable behaves as the executable
  // does, so this checks the permission set (and the smoke run itself) without denort.
  const info = await run(Deno.execPath(), ["info", "--json"]);
  const denoDir: string = JSON.parse(info.stdout).denoDir;
  const steps: string[] = [];
  await smokeRun(
    [
      Deno.execPath(),
      "run",
      "--no-prompt",
      "--config",
      `${REPO}/deno.json`,
      ...RUNTIME_FLAGS,
      `${REPO}/main.ts`,
    ],
    { env: { DENO_DIR: denoDir }, report: (line) => steps.push(line) },
  );
  assert.equal(steps.length, 3, steps.join("\n"));
  assert.match(steps[1], /ca\.key ca\.pem hub\.key hub\.pem/);
});

/** Yields the lines of a byte stream. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffered = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf("\n")) !== -1) {
      yield buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
    }
  }
  if (buffered !== "") yield buffered;
}

Deno.test("the executable's permissions let a node tell systemd READY=1 and stop on SIGTERM", async () => {
  // Plays systemd's side of Type=notify: a Unix datagram socket in $NOTIFY_SOCKET. The test
  // itself runs without --unstable-net, so a small deno child (which has it) listens.
  const dir = await Deno.makeTempDir({ prefix: "portal-notify-" });
  const sock = `${dir}/notify.sock`;
  // TLS on (the kit's default): the listener runs on node:tls, which must work under these flags too.
  await writeIni(dir, "node", modNode("smoke", { key: "smoke-key" }), http());
  await genCerts({ dir, node: "smoke", hosts: ["localhost", "127.0.0.1"] });
  const systemd = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--unstable-net",
      `const c = Deno.listenDatagram({ transport: "unixpacket", path: ${JSON.stringify(sock)} });
       console.log("bound");
       const guard = setTimeout(() => Deno.exit(3), 30000);
       for (;;) {
         const msg = new TextDecoder().decode((await c.receive())[0]);
         console.log(msg);
         if (msg.includes("STOPPING=1")) break;
       }
       clearTimeout(guard);
       c.close();`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const heard = lines(systemd.stdout);
  let node: Deno.ChildProcess | null = null;
  let nodeOutput: Promise<[string, string]> | null = null;
  try {
    assert.equal((await within(heard.next(), "notify listener", 20_000)).value, "bound");
    const info = await run(Deno.execPath(), ["info", "--json"]);
    node = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        "--config",
        `${REPO}/deno.json`,
        ...RUNTIME_FLAGS,
        `${REPO}/main.ts`,
        "--config",
        `${dir}/node.ini`,
      ],
      cwd: dir,
      clearEnv: true,
      env: {
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        HOME: dir,
        TMPDIR: dir,
        NOTIFY_SOCKET: sock,
        DENO_DIR: JSON.parse(info.stdout).denoDir,
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const n = node;
    nodeOutput = Promise.all([new Response(n.stdout).text(), new Response(n.stderr).text()]);
    const first = await within(heard.next(), "READY=1", 20_000).catch(async (e) => {
      n.kill("SIGKILL");
      const [out, err] = await nodeOutput!;
      throw new Error(`${(e as Error).message}; the node said:\n${out}${err}`);
    });
    assert.equal(first.value, "READY=1");

    const stopping = performance.now();
    node.kill("SIGTERM");
    const status = await within(node.status, "exit after SIGTERM (within TimeoutStopSec)", 10_000);
    const ms = performance.now() - stopping;
    const [out, err] = await nodeOutput;
    assert.equal(status.code, 0, `${out}${err}`);
    assert.ok(ms < 10_000, `took ${ms} ms to stop`);
    assert.equal((await within(heard.next(), "STOPPING=1", 5_000)).value, "STOPPING=1");
    assert.doesNotMatch(`${out}${err}`, /cannot notify systemd|NotCapable|Requires \w+ access/);
  } finally {
    if (node !== null) {
      try {
        node.kill("SIGKILL");
      } catch {
        // Already exited.
      }
      await node.status;
      await nodeOutput?.catch(() => {});
    }
    try {
      systemd.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await systemd.status;
    for await (const _ of heard) {
      // Drain, so the pipe is closed.
    }
    await Deno.remove(dir, { recursive: true });
  }
});
