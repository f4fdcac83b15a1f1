/**
 * `deno task demo` (scripts/demo.ts) as a user runs it without a terminal: real nodes, the
 * tour's routed answers, and nothing left behind — after a normal run, a failure, a signal, and
 * with --keep (where the nodes must outlive the demo until stopped as it says).
 */
import assert from "node:assert/strict";

/** The permissions of deno.json's `demo` task. */
const DEMO_FLAGS = ["--allow-run", "--allow-read", "--allow-write", "--allow-net=127.0.0.1"];
const DEMO_TS = new URL("../scripts/demo.ts", import.meta.url).pathname;
/** Guard only: a demo run takes a few seconds. */
const GUARD_MS = 60_000;

/** A running demo whose output lines can be awaited. */
class DemoRun {
  readonly out: string[] = [];
  readonly err: string[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #pumps: Promise<void>;
  readonly #guard: ReturnType<typeof setTimeout>;
  #wake: (() => void)[] = [];
  #ended = false;
  readonly startedAt = performance.now();

  constructor(args: string[] = []) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...DEMO_FLAGS, DEMO_TS, ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#guard = setTimeout(() => this.kill("SIGKILL"), GUARD_MS);
    this.#pumps = Promise.all([
      this.#read(this.#child.stdout, this.out),
      this.#read(this.#child.stderr, this.err),
    ]).then(() => {
      this.#ended = true;
      this.#notify();
    });
  }

  async #read(stream: ReadableStream<Uint8Array>, into: string[]): Promise<void> {
    let rest = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      rest += text;
      let nl;
      while ((nl = rest.indexOf("\n")) >= 0) {
        into.push(rest.slice(0, nl));
        rest = rest.slice(nl + 1);
        this.#notify();
      }
    }
    if (rest !== "") into.push(rest);
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = [];
    for (const w of wake) w();
  }

  /** The first stdout line matching `re` (the demo's own deadlines bound the wait). */
  async line(re: RegExp): Promise<RegExpExecArray> {
    while (true) {
      for (const l of this.out) {
        const m = re.exec(l);
        if (m) return m;
      }
      if (this.#ended) throw new Error(`no line matching ${re} in:\n${this.text}`);
      await new Promise<void>((r) => this.#wake.push(r));
    }
  }

  kill(sig: Deno.Signal): void {
    try {
      this.#child.kill(sig);
    } catch {
      // Already exited.
    }
  }

  /** Waits for the exit; all output read. */
  async finish(): Promise<{ code: number; ms: number }> {
    const status = await this.#child.status;
    await this.#pumps;
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
function outputOf(lines: string[], header: string): string[] {
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
