/**
 * `deno task demo` (scripts/demo.ts) as a user runs it without a terminal: real nodes, the
 * tour's routed answers, and nothing left behind — after a normal run, a failure, a signal, and
 * with --keep (where the nodes must outlive the demo until stopped as it says).
 */
import assert from "node:assert/strict";
import { Child, LinesEnded, mainArgs } from "./kit/mod.ts";

/** The permissions of deno.json's `demo` task. */
const DEMO_FLAGS = ["--allow-run", "--allow-read", "--allow-write", "--allow-net=127.0.0.1"];
const DEMO_TS = new URL("../scripts/demo.ts", import.meta.url).pathname;
/** Guard only: a demo run takes a few seconds. */
const GUARD_MS = 60_000;

/** A running demo whose output lines can be awaited. */
class DemoRun {
  readonly child: Child;
  readonly #guard: ReturnType<typeof setTimeout>;
  readonly startedAt = performance.now();

  /** With `terminal`, the demo runs on a pseudo-terminal (`script`) whose keys `type` sends. */
  constructor(args: string[] = [], terminal?: { readonly env: Record<string, string> }) {
    const deno = [Deno.execPath(), "run", ...DEMO_FLAGS, DEMO_TS, ...args];
    this.child = new Child("demo", {
      ...(terminal
        ? {
          command: "script",
          args: ["--quiet", "--return", "--command", deno.map(shellWord).join(" "), "/dev/null"],
          stdin: "piped",
          env: terminal.env,
        }
        : { args: deno.slice(1) }),
    });
    this.#guard = setTimeout(() => this.kill("SIGKILL"), GUARD_MS);
  }

  get out(): readonly string[] {
    return this.child.out.lines;
  }

  get err(): readonly string[] {
    return this.child.err.lines;
  }

  /** The first stdout line matching `re` (the demo's own deadlines bound the wait). */
  async line(re: RegExp): Promise<RegExpExecArray> {
    try {
      return await this.child.out.match(re);
    } catch (e) {
      if (e instanceof LinesEnded) throw new Error(`no line matching ${re} in:\n${this.text}`);
      throw e;
    }
  }

  kill(sig: Deno.Signal): void {
    this.child.signal(sig);
  }

  /** Keys typed on the terminal. */
  async type(keys: string): Promise<void> {
    await this.child.send(keys);
  }

  /** Waits for the exit; all output read. */
  async finish(): Promise<{ code: number; ms: number }> {
    const status = await this.child.exited();
    clearTimeout(this.#guard);
    return { code: status.code, ms: performance.now() - this.startedAt };
  }

  get text(): string {
    return `--- stdout\n${this.out.join("\n")}\n--- stderr\n${this.err.join("\n")}`;
  }

  /** The PIDs of the `nodes: hub=PID office=PID factory=PID` line. */
  async pids(): Promise<{ hub: number; office: number; factory: number }> {
    const m = await this.line(/^nodes: hub=(\d+) office=(\d+) factory=(\d+)$/);
    return { hub: Number(m[1]), office: Number(m[2]), factory: Number(m[3]) };
  }

  async dir(): Promise<string> {
    return (await this.line(/^ {2}directory: (\S+) /))[1];
  }
}

/** `word` quoted for `sh`. */
function shellWord(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Whether a process runs (a zombie is not running). */
function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch (e) {
    // Deno lets only --allow-all read /proc/PID; then the signal check above has the last word.
    if (e instanceof Deno.errors.NotCapable) return true;
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Lines following `header` up to the next prompt or blank line. */
function outputOf(lines: readonly string[], header: string): string[] {
  const at = lines.indexOf(header);
  assert.ok(at >= 0, `no '${header}' in:\n${lines.join("\n")}`);
  const rest = lines.slice(at + 1);
  const end = rest.findIndex((l) => l.startsWith("portal:") || l === "");
  return end < 0 ? rest : rest.slice(0, end);
}

async function assertNothingLeft(run: DemoRun): Promise<void> {
  const pids = await run.pids();
  for (const [name, pid] of Object.entries(pids)) {
    assert.ok(!alive(pid), `${name} (pid ${pid}) is still running after the demo:\n${run.text}`);
  }
  const dir = await run.dir();
  assert.ok(!(await exists(dir)), `${dir} was left behind`);
}

/** Resolves once `path` contains a line matching `re`, woken by file-system events. */
async function logLine(path: string, re: RegExp, ms: number): Promise<void> {
  const watcher = Deno.watchFs(path.slice(0, path.lastIndexOf("/")));
  const timer = setTimeout(() => watcher.close(), ms);
  try {
    if (re.test(await Deno.readTextFile(path))) return;
    for await (const _ of watcher) {
      if (re.test(await Deno.readTextFile(path))) return;
    }
    throw new Error(`no line matching ${re} in ${path} within ${ms} ms`);
  } finally {
    clearTimeout(timer);
    try {
      watcher.close();
    } catch {
      // Closed by the timer.
    }
  }
}

Deno.test("demo without a terminal shows routed answers, exits 0 and leaves nothing", async () => {
  const run = new DemoRun();
  const { code, ms } = await run.finish();
  assert.equal(code, 0, run.text);
  assert.ok(ms < 20_000, `the demo took ${ms} ms`);
  const out = run.out;

  const peers = outputOf(out, "portal:/> node peers");
  assert.match(peers[0], /^NAME\s+HOST\s+PORT\s+STATUS\s+LATENCY\s+VIA$/);
  assert.ok(
    peers.some((l) => /^factory\s+127\.0\.0\.1\s+\d+\s+via-hub\s+\S+\s+hub$/.test(l)),
    `factory via-hub in:\n${peers.join("\n")}`,
  );
  assert.ok(peers.some((l) => /^hub\s+127\.0\.0\.1\s+\d+\s+connected\b/.test(l)));
  assert.match(outputOf(out, "portal:/> node status")[0], /^Peers: 2 connected, 0 disconnected$/);
  assert.deepEqual(outputOf(out, "portal:/> cd /node/factory"), []);
  const devices = outputOf(out, "portal:/node/factory> ls /iot/devices");
  assert.match(devices.join("\n"), /^plug-001\s+plug\s+Press line plug\s+off$/m);
  assert.match(devices.join("\n"), /^plug-002\s+plug\s+Conveyor plug\s+off$/m);
  assert.deepEqual(outputOf(out, "portal:/node/factory> iot on plug-001"), ["plug-001: on"]);

  const curl = out.findIndex((l) =>
    /^\$ curl http:\/\/127\.0\.0\.1:\d+\/api\/node\/factory\/health$/.test(l)
  );
  assert.ok(curl >= 0, run.text);
  assert.match(out[curl + 1], /"node":"factory"/);
  const health = JSON.parse(out[curl + 1]);
  assert.equal(health.status, "ok");
  assert.equal(health.node, "factory");

  await assertNothingLeft(run);
});

Deno.test("demo names a node that dies, shows its log, stops the rest and exits 1", async () => {
  const run = new DemoRun();
  const pids = await run.pids();
  // A stopped hub holds the demo before its end (factory is only reached through it), so the
  // factory's death is certain to happen while the demo is still watching.
  Deno.kill(pids.hub, "SIGSTOP");
  await logLine(`${await run.dir()}/factory.log`, /node ready/, 20_000);
  Deno.kill(pids.factory, "SIGKILL");
  Deno.kill(pids.hub, "SIGCONT");
  const { code } = await run.finish();
  assert.equal(code, 1, run.text);
  assert.match(run.err.join("\n"), /^demo: factory exited early \(killed by SIGKILL\)\.$/m);
  assert.match(run.err.join("\n"), /last lines of factory's log:\n {4}\S/);
  await assertNothingLeft(run);
});

Deno.test("demo stops every node on SIGTERM, killing one that ignores it after 5 s", async () => {
  const run = new DemoRun();
  const pids = await run.pids();
  // A stopped process cannot act on SIGTERM: the demo has to fall back to SIGKILL.
  Deno.kill(pids.hub, "SIGSTOP");
  run.kill("SIGTERM");
  const { code } = await run.finish();
  assert.equal(code, 143, run.text);
  assert.match(run.err.join("\n"), /^demo: SIGTERM: stopping the nodes\.$/m);
  assert.match(run.err.join("\n"), new RegExp(`hub \\(${pids.hub}\\) did not stop within 5 s`));
  await assertNothingLeft(run);
});

Deno.test("demo --keep leaves the nodes serving and prints how to stop them", async () => {
  const run = new DemoRun(["--keep"]);
  const { code } = await run.finish();
  assert.equal(code, 0, run.text);
  const pids = await run.pids();
  const dir = await run.dir();
  try {
    for (const [name, pid] of Object.entries(pids)) {
      assert.ok(alive(pid), `${name} (pid ${pid}) stopped with the demo`);
    }
    const url =
      (await run.line(/^ {2}shell: {2}npx -y deno@2\.9\.6 task start shell --url (\S+)$/))[1];
    const res = await fetch(`${url}/api/node/factory/iot/devices/plug-001`);
    const body = await res.json();
    assert.equal(res.status, 200);
    assert.equal(body.on, true, "the tour's 'iot on plug-001' holds on the kept factory");

    // The shell line works as printed (`task start` is main.ts with the node's permissions).
    assert.ok(!run.out.some((l) => l.includes("--config")), "no hint at office.ini (port 0)");
    const shell = new Child("shell", {
      args: mainArgs(["shell", "--url", url, "-c", "node peers"]),
    });
    const status = await shell.exited();
    assert.equal(status.code, 0, shell.lines.join("\n"));
    assert.ok(
      shell.out.lines.some((l) => /^factory\s.*\svia-hub\s/.test(l)),
      shell.lines.join("\n"),
    );

    const stop = await run.line(/^ {2}stop: {3}kill ([\d ]+) && rm -rf (\S+)$/);
    assert.deepEqual(stop[1].split(" ").map(Number), [pids.hub, pids.office, pids.factory]);
    assert.equal(stop[2], dir);
    for (const pid of Object.values(pids)) Deno.kill(pid, "SIGTERM");
    await Promise.all(
      ["hub", "office", "factory"].map((n) =>
        logLine(`${dir}/${n}.log`, /INFO {2}stopped$/m, 10_000)
      ),
    );
  } finally {
    for (const pid of Object.values(pids)) if (alive(pid)) Deno.kill(pid, "SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

/** Whether `script` (util-linux) is there to give the demo a terminal. */
const hasScript = (() => {
  try {
    return new Deno.Command("script", { args: ["--version"] }).outputSync().success;
  } catch {
    return false;
  }
})();

/** The terminal's text without colour and cursor sequences. */
function plain(line: string): string {
  // deno-lint-ignore no-control-regex
  return line.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
}

Deno.test({
  name:
    "demo in a terminal: Ctrl-C in the shell clears the line, Ctrl-D ends the demo and stops all",
  ignore: !hasScript,
  fn: async () => {
    // The shell keeps a history in $HOME; Deno's cache stays where it is.
    const home = await Deno.makeTempDir({ prefix: "portal-demo-home-" });
    const info = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
    const denoDir: string = JSON.parse(new TextDecoder().decode(info.stdout)).denoDir;
    const run = new DemoRun([], { env: { HOME: home, DENO_DIR: denoDir } });
    /** The first terminal line from index `from` on that matches `re`. */
    const screen = (re: RegExp, from = 0) =>
      run.child.out.next((l) => re.exec(plain(l)) ?? undefined, from);
    try {
      const hint = await screen(/^Opening portal shell on office\. (.*)$/);
      assert.match(hint[1], /'exit' or Ctrl-D ends the demo/);
      assert.match(hint[1], /Ctrl-C in the shell only clears the line/);
      await screen(/^Connected to office /);
      // Typed ahead of the prompt: the line discipline holds it until the shell reads.
      let mark = run.child.out.count;
      await run.type("pwd\r");
      await screen(/^\/$/, mark);
      mark = run.child.out.count;
      await run.type("node sta\x03");
      await screen(/\^C$/, mark);
      mark = run.child.out.count;
      await run.type("node status\r");
      await screen(/^Peers: 2 connected, 0 disconnected$/, mark);
      const pids = await run.pids();
      for (const [name, pid] of Object.entries(pids)) {
        assert.ok(alive(pid), `${name} (pid ${pid}) stopped on Ctrl-C:\n${run.text}`);
      }
      await run.type("\x04");
      const { code } = await run.finish();
      assert.equal(code, 0, run.text);
      await screen(/^Stopped the nodes and removed /, mark);
      await assertNothingLeft(run);
    } finally {
      run.kill("SIGKILL");
      await run.finish();
      const pids = run.out.length > 0 ? await run.pids().catch(() => null) : null;
      for (const pid of Object.values(pids ?? {})) if (alive(pid)) Deno.kill(pid, "SIGKILL");
      await Deno.remove(home, { recursive: true });
    }
  },
});
