/**
 * docs/operations.md, "A hub, an office and a factory from zero", followed as written: the
 * commands and node.ini files are read from the page, not copied here. Each host is a directory
 * holding what step 4 says to copy to it, and installs into its own staging root (`--prefix`);
 * the installed units' ExecStart lines are what "systemctl enable --now portal" starts.
 *
 * What the test changes, and only this, so that three nodes fit on one machine without DNS:
 * `sudo` is dropped; `portal` and `./portal` are a script that runs main.ts (a compiled
 * executable needs a download this machine may not have); `/etc/portal` and `/usr/local/bin`
 * are inside each host's staging root; hub.example.com is 127.0.0.1; the ports are chosen by
 * the nodes (port 0, read back from `node ready`), the hub listening on 127.0.0.1 only; the
 * factory's Tasmota plug is a local port where nothing answers. The shell, which finds the API
 * in node.ini, reads a copy naming the port the office picked.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  Child,
  deadPort,
  describeStatus,
  nodeReady,
  parseLogLine,
  REPO_ROOT,
  runCommand,
  stopAll,
} from "./kit/mod.ts";
import { writePortalScript } from "./helpers/portal_script.ts";

const SECTION_START = "## A hub, an office and a factory from zero";
const SECTION_END = "\n## Firewall";

/** A fenced block of the page and the prose just before it. */
interface Block {
  readonly lang: string;
  readonly text: string;
  readonly before: string;
}

function blocks(markdown: string): Block[] {
  const out: Block[] = [];
  const re = /```(\w*)\n([\s\S]*?)```/g;
  let last = 0;
  for (const m of markdown.matchAll(re)) {
    out.push({ lang: m[1], text: m[2], before: markdown.slice(last, m.index) });
    last = m.index + m[0].length;
  }
  return out;
}

/** Shell words of each command in a block: `\` continuations joined, double quotes kept together. */
function commands(text: string): string[][] {
  return text.replace(/\\\n\s*/g, " ").split("\n").map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => [...l.matchAll(/"([^"]*)"|(\S+)/g)].map((w) => w[1] ?? w[2]));
}

interface Ran {
  code: number;
  out: string;
  err: string;
}

async function exec(cmd: string, args: string[], cwd: string): Promise<Ran> {
  const o = await runCommand(cmd, args, { cwd });
  return { code: o.code, out: o.stdout, err: o.stderr };
}

async function copy(from: string, to: string): Promise<void> {
  await Deno.mkdir(to.slice(0, to.lastIndexOf("/")), { recursive: true });
  await Deno.copyFile(from, to);
  await Deno.chmod(to, (await Deno.stat(from)).mode! & 0o777);
}

async function generatedKey(): Promise<string> {
  try {
    const r = await exec("openssl", ["rand", "-base64", "32"], "/");
    if (r.code === 0) return r.out.trim();
  } catch {
    // No openssl here: the same 32 random bytes in base64.
  }
  return randomBytes(32).toString("base64");
}

Deno.test("docs/operations.md 'from zero', followed word for word, gives three working nodes", async () => {
  const page = await Deno.readTextFile(`${REPO_ROOT}/docs/operations.md`);
  const from = page.indexOf(SECTION_START);
  assert.ok(from >= 0, `operations.md has no '${SECTION_START}'`);
  const doc = blocks(page.slice(from, page.indexOf(SECTION_END, from)));
  const shBlocks = doc.filter((b) => b.lang === "sh");
  const find = (what: string, test: (b: Block) => boolean) => {
    const b = doc.find(test);
    assert.ok(b, `the section has no ${what}`);
    return b;
  };

  const work = await Deno.makeTempDir({ prefix: "portal-from-zero-" });
  const nodes: Child[] = [];
  try {
    // "portal" on the admin machine and on every host.
    const portal = await writePortalScript(`${work}/portal`);
    const admin = `${work}/admin`;
    await Deno.mkdir(admin);
    const local = (s: string) => s.replaceAll("hub.example.com", "127.0.0.1");

    // 1. Certificates.
    const certs = shBlocks.flatMap((b) => commands(b.text)).filter((c) => c[1] === "gen-certs");
    assert.ok(certs.length > 0, "step 1 has a gen-certs command");
    for (const [cmd, ...args] of certs) {
      assert.equal(cmd, "portal");
      const r = await exec(portal, args.map(local), admin);
      assert.equal(r.code, 0, `portal ${args.join(" ")}: ${r.err}`);
    }

    // 2. The federation key.
    find("openssl rand command", (b) => b.text.includes("openssl rand -base64 32"));
    const key = await generatedKey();

    // 3. The three node.ini files, with step 2's key.
    const ini = (name: string) =>
      find(`${name} block`, (b) => b.lang === "ini" && b.before.trimEnd().endsWith(`\`${name}\`:`))
        .text;
    const iniText: Record<string, string> = {};
    for (const host of ["hub", "office", "factory"]) {
      iniText[host] = local(ini(`${host}.ini`))
        .replaceAll("change-me-paste-the-generated-key", key)
        .replace(/^listen = 127\.0\.0\.1:8080$/m, "listen = 127.0.0.1:0")
        .replace(/^host = 192\.168\.1\.50$/m, `host = 127.0.0.1:${deadPort()}`);
    }
    iniText.hub = iniText.hub.replace(
      /^listen_port = 9090$/m,
      "listen_port = 0\nlisten_host = 127.0.0.1",
    );

    // 4. Install, check, start; on each host, the hub first (its port goes into the others).
    const perHost = commands(
      find("per-host check and start", (b) => b.text.includes("systemctl enable --now portal"))
        .text,
    );
    assert.deepEqual(perHost.map((c) => c.slice(0, 3)), [
      ["sudo", "portal", "check-config"],
      ["sudo", "systemctl", "enable"],
    ]);
    let hubPort = 0;
    const api: Record<string, number> = {};
    const summaries: Record<string, string> = {};
    for (const host of ["hub", "office", "factory"]) {
      const dir = `${work}/${host}`;
      const root = `${dir}/root`;
      const onHost = (s: string) =>
        s.replaceAll("/etc/portal", `${root}/etc/portal`).replaceAll(
          "/usr/local/bin",
          `${root}/usr/local/bin`,
        );
      const install = shBlocks.flatMap((b) => commands(b.text))
        .find((c) => c.includes("scripts/install.sh") && c.includes(`${host}.ini`));
      assert.ok(install, `step 4 installs ${host}`);
      assert.equal(install[0], "sudo");
      // What step 4 says to copy: the executable, install.sh and the unit in their layout,
      // the node.ini, and the files named with --file.
      await copy(portal, `${dir}/portal`);
      await copy(`${REPO_ROOT}/scripts/install.sh`, `${dir}/scripts/install.sh`);
      await copy(`${REPO_ROOT}/config/portal.service`, `${dir}/config/portal.service`);
      const text = host === "hub"
        ? iniText.hub
        : iniText[host].replace(/^port = 9090$/m, `port = ${hubPort}`);
      await Deno.writeTextFile(`${dir}/${host}.ini`, text);
      for (let i = 0; i < install.length; i++) {
        if (install[i] === "--file") {
          await copy(`${admin}/${install[i + 1]}`, `${dir}/${install[i + 1]}`);
        }
      }
      const inst = await exec(install[1], [...install.slice(2), "--prefix", root], dir);
      assert.equal(inst.code, 0, `install on ${host}: ${inst.err}`);
      assert.match(inst.out, /^checked +.*\/etc\/portal\/node\.ini/m);
      assert.doesNotMatch(inst.out, /^warning:/m, `a clean install of ${host}`);

      const [, , ...checkArgs] = perHost[0];
      const check = await exec(`${root}/usr/local/bin/portal`, checkArgs.map(onHost), dir);
      assert.equal(check.code, 0, `check-config on ${host}: ${check.err}`);
      summaries[host] = check.out.replaceAll(root, "");

      // systemctl enable --now portal: the installed unit's ExecStart.
      const unit = await Deno.readTextFile(`${root}/etc/systemd/system/portal.service`);
      const [bin, ...args] = /^ExecStart=(.*)$/m.exec(unit)![1].split(/\s+/).map(onHost);
      const node = new Child(host, { command: bin, args, cwd: dir });
      nodes.push(node);
      const ports = await nodeReady(node);
      if (host === "hub") hubPort = ports.federation!;
      api[host] = ports.api!;
    }

    // The office's summary is the page's, but for what the test changed.
    const expected = find(
      "office summary",
      (b) => b.lang === "" && b.text.startsWith("node office ("),
    ).text
      .replace("hub.example.com:9090", `127.0.0.1:${hubPort}`)
      .replace("HTTP API: 127.0.0.1:8080", "HTTP API: 127.0.0.1:0");
    assert.equal(summaries.office, expected);

    // 5. It works: the office reaches the factory through the hub.
    const [hub, office, factory] = nodes;
    await hub.waitFor(
      logLine("authenticated", { peer: "factory", direction: "in" }),
      "factory at the hub",
    );
    await hub.waitFor(
      logLine("authenticated", { peer: "office", direction: "in" }),
      "office at the hub",
    );
    const curl = shBlocks.flatMap((b) => commands(b.text)).find((c) => c[0] === "curl");
    assert.ok(curl, "step 5 has a curl command");
    assert.equal(curl.length, 2);
    const res = await fetch(curl[1].replace("127.0.0.1:8080", `127.0.0.1:${api.office}`));
    const health = await res.json();
    assert.equal(res.status, 200, JSON.stringify(health));
    assert.equal(health.status, "ok");
    assert.equal(health.node, "factory");

    const shellCmd = shBlocks.flatMap((b) => commands(b.text)).find((c) => c.includes("shell"));
    assert.ok(shellCmd, "step 5 runs the shell");
    // The shell reads the API address from node.ini, where the test wrote port 0: it reads a
    // copy of the installed file that names the port the office picked.
    const officeRoot = `${work}/office/root`;
    const officeIni = await Deno.readTextFile(`${officeRoot}/etc/portal/node.ini`);
    await Deno.writeTextFile(
      `${officeRoot}/etc/portal/shell.ini`,
      officeIni.replace("listen = 127.0.0.1:0", `listen = 127.0.0.1:${api.office}`),
    );
    const shell = await exec(
      `${officeRoot}/usr/local/bin/portal`,
      shellCmd.slice(2).map((a) =>
        a.replaceAll("/etc/portal/node.ini", `${officeRoot}/etc/portal/shell.ini`)
      ),
      `${work}/office`,
    );
    assert.equal(shell.code, 0, shell.err);
    assert.match(shell.out, /^hub +127\.0\.0\.1 +\d+ +connected/m);
    assert.match(shell.out, /^factory +- +- +via-hub +\S+ +hub$/m);

    // The factory's journal holds the page's lines (fields the page shows, values as shown).
    const journal = find("factory journal", (b) =>
      b.lang === "" && b.text.includes("node ready node=factory")).text;
    for (const line of journal.trim().split("\n")) {
      const want = parseLogLine(`T ${local(line)}`);
      assert.ok(want, `a log line: ${line}`);
      const fields = Object.fromEntries(
        Object.entries(want.fields).map(([k, v]) => [k, String(v).replace(":9090", `:${hubPort}`)]),
      );
      if (want.msg === "node ready") {
        fields.api = `127.0.0.1:${api.factory}`;
        fields.config = `${work}/factory/root/etc/portal/node.ini`;
      }
      await factory.waitFor(logLine(want.msg, fields, want.level), `'${line}'`);
    }
    assert.ok(office.running && factory.running && hub.running);
  } finally {
    await stopAll(nodes);
    for (const n of nodes) {
      const s = n.exitStatus;
      if (s !== null && s.code !== 0) console.error(`${n.name}: ${describeStatus(s)}\n${n.tail()}`);
    }
    await Deno.remove(work, { recursive: true });
  }
});

function logLine(msg: string, fields: Record<string, string>, level?: string) {
  return (line: string) => {
    const l = parseLogLine(line);
    if (l === null || l.msg !== msg || (level !== undefined && l.level !== level)) return false;
    return Object.entries(fields).every(([k, v]) => String(l.fields[k]) === v);
  };
}
