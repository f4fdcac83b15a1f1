/**
 * `portal shell` and `portal call` driven with injected io against a real HTTP
 * API over a router populated here: office serves its own paths and forwards
 * `/node/factory/...` to a factory router, as the federation does.
 */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { callCommand } from "../src/cli/call.ts";
import { DEFAULT_CLIENT_TIMEOUT_MS, resolveTarget } from "../src/cli/client.ts";
import { type CliIo, HistoryFile, readLines, shellCommand } from "../src/cli/shell.ts";
import { splitCommands } from "../src/cli/shell_commands.ts";
import { loadConfig } from "../src/config/mod.ts";
import { startHttpApi } from "../src/http/mod.ts";
import { memoryLogger } from "../src/log/logger.ts";
import { fail, ok, type PathRequest, PathRouter } from "../src/paths/mod.ts";
import { deadPort } from "./kit/ports.ts";

interface Device {
  id: string;
  kind: string;
  label: string;
  driver: string;
  on: boolean | null;
  online: boolean;
}

/** One node's paths: /health, /node/peers, /node/status, /iot/devices/... */
function nodeRouter(
  name: string,
  devices: Device[],
  peers: unknown[],
  status: Record<string, number>,
  seen: string[],
): PathRouter {
  const r = new PathRouter();
  const log = (req: PathRequest) => seen.push(`${name} ${req.method} ${req.path}`);
  r.on("GET", "/health", (req) => {
    log(req);
    return ok({ status: "ok", node: name, version: "0.1.0", uptime_s: 5 });
  });
  r.on("LIST", "/node", (req) => {
    log(req);
    return ok(peers.map((p) => (p as { name: string }).name));
  });
  r.on("GET", "/node/peers", (req) => {
    log(req);
    return ok(peers);
  });
  r.on("GET", "/node/status", (req) => {
    log(req);
    return ok(status);
  });
  for (const method of ["GET", "LIST"] as const) {
    r.on(method, "/iot/devices", (req) => {
      log(req);
      return ok(devices);
    });
  }
  r.on("GET", "/iot/devices/:id", (req, p) => {
    log(req);
    const d = devices.find((x) => x.id === p.id);
    return d ? ok(d) : fail(404, `no such device: '${p.id}'`);
  });
  r.on("CALL", "/iot/devices/:id/:action", (req, p) => {
    log(req);
    const d = devices.find((x) => x.id === p.id);
    if (!d) return fail(404, `no such device: '${p.id}'`);
    if (p.action === "on") d.on = true;
    else if (p.action === "off") d.on = false;
    else if (p.action === "toggle") d.on = !d.on;
    else return fail(404, `no such action: '${p.action}'`);
    return ok(d);
  });
  return r;
}

const PEERS = [
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
    host: null,
    port: 9090,
    status: "via-hub",
    latency_ms: 3,
    via: "hub",
    direction: "out",
  },
];

function officeRouter(seen: string[], onHang: () => void): PathRouter {
  const office = nodeRouter(
    "office",
    [{ id: "lamp-1", kind: "lamp", label: "Office lamp", driver: "sim", on: false, online: true }],
    PEERS,
    {
      peers_connected: 2,
      peers_disconnected: 0,
      messages_sent: 14203,
      messages_received: 13891,
      messages_relayed: 0,
      messages_dropped: 0,
      uptime_s: 60,
    },
    seen,
  );
  const factory = nodeRouter(
    "factory",
    [
      {
        id: "plug-001",
        kind: "plug",
        label: "Press line plug",
        driver: "sim",
        on: false,
        online: true,
      },
      { id: "fan-2", kind: "relay", label: "Roof fan", driver: "shelly", on: null, online: false },
    ],
    [{
      name: "hub",
      host: "hub.example.com",
      port: 9090,
      status: "connected",
      latency_ms: 7,
      via: null,
      direction: "out",
    }],
    {
      peers_connected: 1,
      peers_disconnected: 1,
      messages_sent: 1200,
      messages_received: 1100,
      messages_relayed: 0,
      messages_dropped: 3,
      uptime_s: 60,
    },
    seen,
  );
  office.on("GET", "/hang", (req) => {
    seen.push("office GET /hang");
    onHang();
    return new Promise((resolve) => {
      req.signal!.addEventListener("abort", () => resolve(fail(504, "gave up")), { once: true });
    });
  });
  for (const method of ["GET", "LIST", "CALL"] as const) {
    office.on(method, "/node/:peer/*rest", (req, p) => {
      if (p.peer === "factory") return factory.handle({ ...req, path: p.rest, origin: "office" });
      if (p.peer === "hub") return fail(502, "node 'hub' is unreachable: no connection is open");
      return fail(404, `unknown node '${p.peer}'`);
    });
  }
  return office;
}

interface Run {
  code: number;
  out: string;
  err: string;
}

function textStream(text: string): ReadableStream<Uint8Array> {
  return new Blob([text]).stream();
}

/** io that collects output; `input` is what a pipe would feed. */
function io(
  input = "",
  extra: Partial<CliIo> = {},
): Partial<CliIo> & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdin: () => textStream(input),
    stdout: { write: (t) => void out.push(t) },
    stderr: { write: (t) => void err.push(t) },
    isTerminal: false,
    env: () => undefined,
    ...extra,
  };
}

async function withNode(
  token: string | null,
  fn: (url: string, seen: string[], hangEntered: Promise<void>) => Promise<void>,
): Promise<void> {
  const seen: string[] = [];
  const hang = Promise.withResolvers<void>();
  const api = await startHttpApi({
    config: {
      listen: { hostname: "127.0.0.1", port: 0 },
      token,
      readToken: null,
      allowedHosts: null,
    },
    router: officeRouter(seen, hang.resolve),
    logger: memoryLogger(),
  });
  try {
    await fn(`http://127.0.0.1:${api.addr.port}`, seen, hang.promise);
  } finally {
    await api.shutdown();
  }
}

async function shell(argv: string[], input = "", extra: Partial<CliIo> = {}): Promise<Run> {
  const x = io(input, extra);
  const code = await shellCommand(argv, x);
  return { code, out: x.out.join(""), err: x.err.join("") };
}

async function call(argv: string[], extra: Partial<CliIo> = {}): Promise<Run> {
  const x = io("", extra);
  const code = await callCommand(argv, x);
  return { code, out: x.out.join(""), err: x.err.join("") };
}

Deno.test("shell on a pipe: ls prints names and aligned devices, results only, exit 0", async () => {
  await withNode(null, async (url) => {
    const r = await shell(["--url", url], "ls\nls /iot/devices\n\n# a comment\nls /node\n");
    assert.equal(r.err, "");
    assert.equal(r.code, 0);
    assert.equal(
      r.out,
      ["hang", "health", "iot", "node", "lamp-1  lamp  Office lamp  off", "hub", "factory", ""]
        .join("\n"),
    );
  });
});

Deno.test("shell: cd /node/factory puts ls, node peers and iot commands on factory; cd ~ back", async () => {
  await withNode(null, async (url, seen) => {
    const r = await shell(
      ["--url", url],
      [
        "cd /node/factory",
        "pwd",
        "ls /iot/devices",
        "node peers",
        "iot on plug-001",
        "iot status fan-2",
        "cd ~",
        "pwd",
        "iot status lamp-1",
      ].join("\n"),
    );
    assert.equal(r.err, "");
    assert.equal(r.code, 0);
    assert.equal(
      r.out,
      [
        "/node/factory",
        "plug-001  plug   Press line plug  off",
        "fan-2     relay  Roof fan         unknown  offline",
        "NAME  HOST             PORT  STATUS     LATENCY",
        "hub   hub.example.com  9090  connected  7ms",
        "plug-001: on",
        "fan-2: unknown (offline)",
        "/",
        "lamp-1: off",
        "",
      ].join("\n"),
    );
    // The node is checked first; cd verified with LIST on factory's root; module commands
    // went to factory's paths.
    assert.deepEqual(seen, [
      "office GET /health",
      "factory LIST /iot/devices",
      "factory GET /node/peers",
      "factory CALL /iot/devices/plug-001/on",
      "factory GET /iot/devices/fan-2",
      "office GET /iot/devices/lamp-1",
    ]);
  });
});

Deno.test("shell: cd .. and relative paths work as in a file system", async () => {
  await withNode(null, async (url) => {
    const r = await shell(
      ["--url", url],
      [
        "cd /node/factory/iot",
        "pwd",
        "ls devices",
        "cd ..",
        "pwd",
        "cd iot/devices",
        "pwd",
        "cd ../../..",
        "pwd",
        "cd factory",
        "pwd",
        "cd ../..",
        "pwd",
        "cd",
        "pwd",
      ].join("\n"),
    );
    assert.equal(r.err, "");
    assert.equal(
      r.out,
      [
        "/node/factory/iot",
        "plug-001  plug   Press line plug  off",
        "fan-2     relay  Roof fan         unknown  offline",
        "/node/factory",
        "/node/factory/iot/devices",
        "/node",
        "/node/factory",
        "/",
        "/",
        "",
      ].join("\n"),
    );
  });
});

Deno.test("shell: node peers shows the VIA column; node status separates thousands", async () => {
  await withNode(null, async (url) => {
    const r = await shell(["--url", url], "node peers\nnode status\n");
    assert.equal(r.code, 0);
    assert.equal(
      r.out,
      [
        "NAME     HOST             PORT  STATUS     LATENCY  VIA",
        "hub      hub.example.com  9090  connected  12ms     -",
        "factory  -                9090  via-hub    3ms      hub",
        "Peers: 2 connected, 0 disconnected",
        "Messages sent: 14,203",
        "Messages received: 13,891",
        "Messages relayed: 0",
        "Messages dropped: 0",
        "Uptime: 1m 0s",
        "",
      ].join("\n"),
    );
  });
});

Deno.test("shell: get is pretty JSON; call sends JSON args", async () => {
  await withNode(null, async (url, seen) => {
    const r = await shell(
      ["--url", url],
      "get /health\ncall /node/factory/iot/devices/plug-001/toggle {}\n",
    );
    assert.equal(r.err, "");
    assert.equal(
      r.out,
      '{\n  "status": "ok",\n  "node": "office",\n  "version": "0.1.0",\n  "uptime_s": 5\n}\n' +
        JSON.stringify(
          {
            id: "plug-001",
            kind: "plug",
            label: "Press line plug",
            driver: "sim",
            on: true,
            online: true,
          },
          null,
          2,
        ) + "\n",
    );
    // The first GET /health is the shell's check that the node is there.
    assert.deepEqual(seen, [
      "office GET /health",
      "office GET /health",
      "factory CALL /iot/devices/plug-001/toggle",
    ]);
  });
});

Deno.test("shell on a pipe: a failing command prints one error line naming its input line, the rest run, exit 1", async () => {
  await withNode(null, async (url) => {
    const r = await shell(
      ["--url", url],
      "cd /nope\npwd\nget /node/hub/health\nfrobnicate\ncall /x [1]\niot on\nls a b\npwd\n",
    );
    assert.equal(r.code, 1);
    assert.equal(r.out, "/\n/\n");
    assert.equal(
      r.err,
      [
        "error: line 1: 404: no such path: /nope",
        "error: line 3: 502: node 'hub' is unreachable: no connection is open",
        "error: line 4: unknown command 'frobnicate' — type 'help' for the list of commands",
        'error: line 5: the arguments must be a JSON object, e.g. {"level": 3}',
        "error: line 6: usage: iot on|off|toggle|status <id>",
        "error: line 7: usage: ls [path]",
        "",
      ].join("\n"),
    );
  });
});

Deno.test("shell: exit stops reading; help lists every command", async () => {
  await withNode(null, async (url) => {
    const r = await shell(["--url", url], "help\nexit\nget /nope\n");
    assert.equal(r.code, 0);
    assert.equal(r.err, "");
    for (
      const c of [
        "ls [path]",
        "cd [path]",
        "pwd",
        "get <path>",
        "call <path> [json]",
        "node peers",
        "node status",
        "iot on|off|toggle <id>",
        "iot status <id>",
        "help",
        "exit",
      ]
    ) {
      assert.ok(r.out.includes(c), c);
    }
  });
});

Deno.test("shell -c runs one command and exits with its status", async () => {
  await withNode(null, async (url) => {
    const good = await shell(["--url", url, "-c", "iot toggle lamp-1"]);
    assert.deepEqual(good, { code: 0, out: "lamp-1: on\n", err: "" });
    const bad = await shell(["--url", url, "-c", "get /nope"]);
    assert.deepEqual(bad, { code: 1, out: "", err: "error: 404: no such path: /nope\n" });
  });
});

Deno.test("shell: the token comes from --token or $PORTAL_TOKEN; a wrong one fails with 401", async () => {
  await withNode("tok", async (url) => {
    assert.equal((await shell(["--url", url, "--token", "tok", "-c", "pwd"])).code, 0);
    assert.equal(
      (await shell(["--url", url, "-c", "ls"], "", {
        env: (n) => n === "PORTAL_TOKEN" ? "tok" : undefined,
      })).code,
      0,
    );
    const wrong = await shell(["--url", url, "--token", "nope", "-c", "ls"]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.err, /^error: 401: wrong token/);
  });
});

Deno.test("shell: an unreachable node gives one sentence on stderr and exit 1", async () => {
  const port = deadPort();
  const sentence =
    `error: cannot reach the node at http://127.0.0.1:${port}: connection refused — ` +
    "is portal running? check [mod_http] listen\n";
  const piped = await shell(["--url", `http://127.0.0.1:${port}`], "ls\nls\npwd\n");
  assert.deepEqual(piped, { code: 1, out: "", err: sentence });
  const one = await shell(["--url", `http://127.0.0.1:${port}`, "-c", "node peers"]);
  assert.deepEqual(one, { code: 1, out: "", err: sentence });
  const term = await shell(["--url", `http://127.0.0.1:${port}`], "", { isTerminal: true });
  assert.deepEqual(term, { code: 1, out: "", err: sentence });
});

Deno.test("shell: usage errors exit 2", async () => {
  const unknown = await shell(["--frob"]);
  assert.equal(unknown.code, 2);
  assert.equal(
    unknown.err,
    "portal shell: unknown option '--frob'; portal shell takes --config FILE, --url URL, " +
      "--token TOKEN, --timeout DURATION, -c COMMAND and --help\n",
  );
  const both = await shell(["--url", "http://x", "--config", "n.ini"]);
  assert.equal(both.code, 2);
  assert.match(both.err, /either --config or --url/);
  const badUrl = await shell(["--url", "ftp://x"]);
  assert.equal(badUrl.code, 2);
  const help = await shell(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.out, /^usage: portal shell/);
});

Deno.test("shell --config finds [mod_http] listen and token; listen = off and bad files exit 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await withNode("from-config", async (url) => {
      const port = new URL(url).port;
      const ini = `${dir}/node.ini`;
      await Deno.writeTextFile(
        ini,
        `[mod_node]\nname = office\nfederation_key = k\nlisten_port = off\n\n` +
          `[mod_http]\nlisten = 127.0.0.1:${port}\ntoken = from-config\n`,
      );
      const r = await shell(["--config", ini, "-c", "iot status lamp-1"]);
      assert.deepEqual(r, { code: 0, out: "lamp-1: off\n", err: "" });
      const off = `${dir}/off.ini`;
      await Deno.writeTextFile(
        off,
        `[mod_node]\nname = office\nfederation_key = k\nlisten_port = off\n\n[mod_http]\nlisten = off\n`,
      );
      const offRun = await shell(["--config", off, "-c", "ls"]);
      assert.equal(offRun.code, 2);
      assert.match(offRun.err, /HTTP API of node 'office' is off \(\[mod_http\] listen = off/);
      const zero = `${dir}/zero.ini`;
      await Deno.writeTextFile(
        zero,
        `[mod_node]\nname = office\nfederation_key = k\nlisten_port = off\n\n[mod_http]\nlisten = 127.0.0.1:0\n`,
      );
      const zeroRun = await shell(["--config", zero, "-c", "ls"]);
      assert.equal(zeroRun.code, 2);
      assert.match(zeroRun.err, /listen in .*zero\.ini has port 0, .* use --url with the port/);
      const missing = await shell(["--config", `${dir}/missing.ini`, "-c", "ls"]);
      assert.equal(missing.code, 2);
      assert.match(missing.err, /^portal shell: .*missing\.ini.*\n$/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("shell with a terminal: banner, prompt, Ctrl-C, history in ~/.portal_history", async () => {
  const home = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${home}/.portal_history`, "node status\n");
    await withNode(null, async (url, _seen, hangEntered) => {
      const input = new PassThrough();
      const output = new PassThrough();
      let screen = "";
      const err: string[] = [];
      output.on("data", (d: Uint8Array) => screen += new TextDecoder().decode(d));
      const running = shell(["--url", url], "", {
        isTerminal: true,
        env: (n) => n === "HOME" ? home : undefined,
        terminal: { input, output },
        stderr: { write: (t) => void err.push(t) },
      });
      // Each wait is for output the shell writes in answer to input; the count bounds it.
      const waitFor = async (text: string) => {
        for (let i = 0; i < 200 && !screen.includes(text); i++) {
          await new Promise((r) => output.once("data", r));
        }
        assert.ok(screen.includes(text), text);
      };
      await waitFor("portal:/> ");
      input.write("cd /node/factory\r");
      await waitFor("portal:/node/factory> ");
      // Ctrl-C discards the line being typed...
      input.write("half-typed\x03");
      await waitFor("^C");
      input.write("iot on plug-001\r");
      // ...and stops a command in flight.
      input.write("get ~/hang\r");
      await hangEntered;
      input.write("\x03");
      input.write("exit\r");
      const r = await running;
      assert.equal(r.code, 0);
      assert.deepEqual(err, ["error: interrupted\n"]);
      assert.match(
        r.out,
        /^Connected to office \(portal 0\.1\.0\) at http:\/\/127\.0\.0\.1:\d+\. Type 'help'/,
      );
      assert.match(r.out, /plug-001: on\n$/);
      assert.equal(
        await Deno.readTextFile(`${home}/.portal_history`),
        "node status\ncd /node/factory\niot on plug-001\nget ~/hang\nexit\n",
      );
    });
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("HistoryFile keeps at most max lines, skips blanks and repeats", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/.portal_history`;
    await Deno.writeTextFile(
      path,
      Array.from({ length: 12 }, (_, i) => `cmd ${i}`).join("\n") + "\n",
    );
    const warnings: string[] = [];
    const h = new HistoryFile(path, 10, { write: (t) => void warnings.push(t) });
    await h.load();
    assert.equal(h.lines.length, 10);
    assert.equal(h.lines[0], "cmd 2");
    assert.equal((await Deno.readTextFile(path)).split("\n").filter(Boolean).length, 10);
    await h.add("  ");
    await h.add("cmd 11");
    await h.add("pwd");
    const lines = (await Deno.readTextFile(path)).split("\n").filter(Boolean);
    assert.equal(lines.length, 10);
    assert.deepEqual(lines.slice(-2), ["cmd 11", "pwd"]);
    assert.equal(lines[0], "cmd 3");
    assert.equal(warnings.length, 0);
    const broken = new HistoryFile(`${dir}/no/such/dir/h`, 10, {
      write: (t) => void warnings.push(t),
    });
    await broken.load();
    await broken.add("ls");
    await broken.add("pwd");
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /^warning: history file .* not kept/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readLines() splits on \\n and \\r\\n and stops at an overlong line", async () => {
  const lines: (string | null)[] = [];
  for await (const l of readLines(textStream("a\r\nb\n\nc"))) lines.push(l);
  assert.deepEqual(lines, ["a", "b", "", "c"]);
  const long: (string | null)[] = [];
  for await (const l of readLines(textStream("ok\n" + "x".repeat(50)), 10)) long.push(l);
  assert.deepEqual(long, ["ok", null]);
});

Deno.test("portal call: GET, --list and --call print pretty JSON and exit 0", async () => {
  await withNode(null, async (url, seen) => {
    const get = await call(["--url", url, "/node/factory/health"]);
    assert.equal(get.code, 0);
    assert.deepEqual(JSON.parse(get.out), {
      status: "ok",
      node: "factory",
      version: "0.1.0",
      uptime_s: 5,
    });
    assert.match(get.out, /^\{\n {2}"status"/);
    const list = await call(["--url", url, "--list", "/"]);
    assert.deepEqual(JSON.parse(list.out), ["hang", "health", "iot", "node"]);
    const act = await call(["--url", url, "--call", "/iot/devices/lamp-1/on", '{"why": "test"}']);
    assert.equal(act.code, 0);
    assert.equal(JSON.parse(act.out).on, true);
    assert.deepEqual(seen, ["factory GET /health", "office CALL /iot/devices/lamp-1/on"]);
  });
});

Deno.test("portal call: an error answer exits 1 with the error JSON on stdout and a sentence on stderr", async () => {
  await withNode(null, async (url) => {
    const r = await call(["--url", url, "/nope"]);
    assert.deepEqual(r, {
      code: 1,
      out: '{\n  "error": "no such path: /nope"\n}\n',
      err: "error: 404: no such path: /nope\n",
    });
  });
  const port = deadPort();
  const down = await call(["--url", `http://127.0.0.1:${port}`, "/health"]);
  assert.equal(down.code, 1);
  assert.equal(down.out, "");
  assert.match(
    down.err,
    /^error: cannot reach the node at .*: connection refused — is portal running\?/,
  );
});

Deno.test("portal call: usage errors exit 2", async () => {
  for (
    const argv of [
      [],
      ["health"],
      ["--list", "--call", "/x"],
      ["/x", "{}"],
      ["--call", "/x", "{bad"],
      ["--call", "/x", "[1]"],
      ["--call", "/x", "{}", "extra"],
      ["--bogus", "/x"],
    ]
  ) {
    const r = await call(argv);
    assert.equal(r.code, 2, JSON.stringify(argv));
    assert.match(r.err, /^portal call: /);
    assert.equal(r.out, "");
  }
});

Deno.test("shell -c runs ';'-separated commands in order, ';' inside JSON strings included", async () => {
  await withNode(null, async (url, seen) => {
    const r = await shell([
      "--url",
      url,
      "-c",
      'cd /node/factory; ls /iot/devices ;pwd; call /iot/devices/plug-001/on {"note": "a;b"};; # done; pwd',
    ]);
    assert.equal(r.err, "");
    assert.equal(r.code, 0);
    assert.match(r.out, /^plug-001 +plug +Press line plug +off\n/);
    assert.match(r.out, /\n\/node\/factory\n\{\n {2}"id": "plug-001"/);
    assert.equal(r.out.match(/\/node\/factory\n/g)?.length, 1, "the comment ends the line");
    assert.deepEqual(seen.slice(1), [
      "factory LIST /iot/devices",
      "factory CALL /iot/devices/plug-001/on",
    ]);
  });
});

Deno.test("shell: the first failing command of a ';' line stops the rest", async () => {
  await withNode(null, async (url, seen) => {
    // Had the cd's failure been ignored, this would have switched office's lamp.
    const r = await shell(["--url", url, "-c", "cd /node/nowhere; iot on lamp-1"]);
    assert.deepEqual(r, { code: 1, out: "", err: "error: 404: unknown node 'nowhere'\n" });
    assert.deepEqual(seen, ["office GET /health"]);
    const piped = await shell(["--url", url], "pwd; frob; pwd\npwd\n");
    assert.equal(piped.code, 1);
    assert.equal(piped.out, "/\n/\n");
    assert.match(piped.err, /^error: line 1: unknown command 'frob'/);
  });
});

Deno.test("shell: an unknown command suggests the nearest one", async () => {
  await withNode(null, async (url) => {
    const r = await shell(["--url", url, "-c", "sl /"]);
    assert.equal(r.code, 1);
    assert.equal(
      r.err,
      "error: unknown command 'sl' (did you mean 'ls'?) — type 'help' for the list of commands\n",
    );
  });
});

Deno.test("shell on a pipe or with -c against a dead node exits 1 even when no command needs it", async () => {
  const url = `http://127.0.0.1:${deadPort()}`;
  for (const input of ["", "pwd\n", "help\nexit\n", "# nothing\n"]) {
    const r = await shell(["--url", url], input);
    assert.equal(r.code, 1, JSON.stringify(input));
    assert.equal(r.out, "");
    assert.match(r.err, /^error: cannot reach the node at .*: connection refused/);
  }
  const c = await shell(["--url", url, "-c", "pwd"]);
  assert.equal(c.code, 1);
  assert.match(c.err, /^error: cannot reach the node/);
});

Deno.test("shell: clear clears a terminal's screen, does nothing on a pipe, and is in help", async () => {
  await withNode(null, async (url) => {
    const piped = await shell(["--url", url], "clear\nhelp\n");
    assert.equal(piped.code, 0);
    assert.match(piped.out, /^Commands:\n/);
    assert.match(piped.out, /\n {2}clear +clear the screen/);
    assert.match(piped.out, /separate them with ';'/);

    const input = new PassThrough();
    const output = new PassThrough();
    let screen = "";
    output.on("data", (d: Uint8Array) => screen += new TextDecoder().decode(d));
    const running = shell(["--url", url], "", {
      isTerminal: true,
      env: () => undefined,
      terminal: { input, output },
    });
    const waitFor = async (text: string, from: number) => {
      for (let i = 0; i < 200 && !screen.includes(text, from); i++) {
        await new Promise((r) => output.once("data", r));
      }
      assert.ok(screen.includes(text, from), JSON.stringify(text));
    };
    await waitFor("portal:/> ", 0);
    const before = screen.length;
    input.write("clear\r");
    // Cursor home, then erase everything below it.
    await waitFor("\x1b[1;1H", before);
    await waitFor("\x1b[0J", before);
    // Ctrl-L does the same, as in other shells.
    const typed = screen.length;
    input.write("\x0c");
    await waitFor("\x1b[1;1H", typed);
    input.write("exit\r");
    assert.equal((await running).code, 0);
  });
});

Deno.test("shell and call: --timeout bounds each request and says how to wait longer", async () => {
  await withNode(null, async (url, _seen, hangEntered) => {
    const r = await shell(["--url", url, "--timeout", "300ms", "-c", "get /hang"]);
    await hangEntered;
    assert.equal(r.code, 1);
    assert.equal(
      r.err,
      `error: the node at ${url} did not answer within 0.3 s; to wait longer, start the shell ` +
        "with --timeout (e.g. --timeout 60s)\n",
    );
    const c = await call(["--url", url, "--timeout", "300ms", "/hang"]);
    assert.equal(c.code, 1);
    assert.match(c.err, /did not answer within 0\.3 s; to wait longer, give --timeout/);
  });
  const bad = await shell(["--timeout", "soon", "-c", "pwd"]);
  assert.equal(bad.code, 2);
  assert.equal(
    bad.err,
    "portal shell: --timeout 'soon': give a duration such as 500ms, 10s, 2m or 1h " +
      "(a bare number is seconds), e.g. --timeout 30s\n",
  );
});

Deno.test("resolveTarget() waits longer than the node's own deadlines when it has read its config", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ini = `${dir}/node.ini`;
    const base = "[mod_node]\nname = office\nfederation_key = k\nlisten_port = off\n";
    await Deno.writeTextFile(ini, base + "request_timeout = 40s\n");
    const deps = {
      loadConfig: (p: string) => loadConfig(p, { checkFiles: false }),
      env: () => undefined,
    };
    assert.equal((await resolveTarget({ config: ini }, deps)).timeoutMs, 45_000);
    assert.equal((await resolveTarget({ config: ini, timeoutMs: 2_000 }, deps)).timeoutMs, 2_000);
    // The default request_timeout (10s) keeps the 15 s floor; a slow device raises it.
    await Deno.writeTextFile(
      ini,
      base + "\n[mod_iot]\n\n[device:plug]\ndriver = tasmota\nhost = 10.0.0.9\ntimeout = 20s\n",
    );
    assert.equal((await resolveTarget({ config: ini }, deps)).timeoutMs, 25_000);
    await Deno.writeTextFile(ini, base);
    assert.equal((await resolveTarget({ config: ini }, deps)).timeoutMs, DEFAULT_CLIENT_TIMEOUT_MS);
    assert.equal((await resolveTarget({}, deps)).timeoutMs, DEFAULT_CLIENT_TIMEOUT_MS);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("shell and call: command-line mistakes are one sentence saying what to type", async () => {
  const cases: [string[], string][] = [
    [
      ["ls"],
      `portal shell: unexpected argument 'ls'; to run a command, give it with -c: portal shell -c "ls"\n`,
    ],
    [["--url"], "portal shell: --url needs a value: --url URL\n"],
    [
      ["--url", "http://a", "--url", "http://b"],
      "portal shell: --url is given twice ('http://a' and 'http://b'); give it once\n",
    ],
    [["--tokn", "x"], /did you mean '--token'/.source],
  ];
  for (const [argv, expected] of cases) {
    const r = await shell(argv);
    assert.equal(r.code, 2, argv.join(" "));
    if (expected.endsWith("\n")) assert.equal(r.err, expected);
    else assert.match(r.err, new RegExp(expected));
    assert.equal(r.err.split("\n").length, 2, "one line");
  }
  const c = await call(["health"]);
  assert.equal(c.err, "portal call: the path must start with '/': portal call /health\n");
  const json = await call(["/x", "{}"]);
  assert.equal(
    json.err,
    "portal call: JSON arguments are sent only with --call: portal call --call /x …\n",
  );
});

Deno.test("splitCommands() splits at ';' outside double quotes and stops at a comment", () => {
  assert.deepEqual(splitCommands("cd /a; ls"), ["cd /a", "ls"]);
  assert.deepEqual(splitCommands(' call /x {"a": "b;c\\";d"} ; pwd'), [
    'call /x {"a": "b;c\\";d"}',
    "pwd",
  ]);
  assert.deepEqual(splitCommands(";; ls ;"), ["ls"]);
  assert.deepEqual(splitCommands("ls; # a; b"), ["ls"]);
  assert.deepEqual(splitCommands("# all comment; ls"), []);
  assert.deepEqual(splitCommands(""), []);
});
