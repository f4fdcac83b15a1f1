/** The test kit itself: if a guard, a clock or a port helper lied, every test built on it would. */
import assert from "node:assert/strict";
import { parseConfigText } from "../src/config/load.ts";
import {
  Child,
  ChildExited,
  comment,
  deadPort,
  device,
  FakeClock,
  http,
  iniText,
  iot,
  LineLog,
  LinesEnded,
  listenLocal,
  logMatcher,
  modNode,
  mulberry32,
  nodeReady,
  parseLogLine,
  peer,
  portal,
  portOf,
  settle,
  settled,
  stopAll,
  TimedOut,
  within,
} from "./kit/mod.ts";

Deno.test("FakeClock.advance() fires due timers in time order, ties in the order set", () => {
  const clock = new FakeClock();
  const fired: string[] = [];
  clock.setTimeout(() => fired.push(`b@${clock.now()}`), 20);
  clock.setTimeout(() => fired.push(`a@${clock.now()}`), 10);
  clock.setTimeout(() => fired.push(`c@${clock.now()}`), 20);
  const late = clock.setTimeout(() => fired.push("never"), 30);
  clock.advance(25);
  assert.deepEqual(fired, ["a@10", "b@20", "c@20"]);
  assert.equal(clock.now(), 25);
  assert.equal(clock.nextDelay(), 5);
  clock.clear(late);
  clock.advance(100);
  assert.equal(clock.pending, 0);
  assert.equal(fired.length, 3);
});

Deno.test("FakeClock.advanceAsync() runs a timer's async work, and the timers it sets, in the advance", async () => {
  const clock = new FakeClock();
  const seen: string[] = [];
  const step = async (name: string) => {
    await Promise.resolve();
    await null;
    seen.push(`${name}@${clock.now()}`);
  };
  // The second timer exists only once the first one's async work has run.
  clock.setTimeout(() => {
    step("first").then(() => clock.setTimeout(() => step("second"), 5));
  }, 10);

  const sync = new FakeClock();
  const syncSeen: number[] = [];
  sync.setTimeout(
    () => Promise.resolve().then(() => sync.setTimeout(() => syncSeen.push(1), 5)),
    10,
  );
  sync.advance(20);
  assert.deepEqual(syncSeen, [], "advance() returns before the timer's async work ran");

  await clock.advanceAsync(20);
  assert.deepEqual(seen, ["first@10", "second@15"]);
  assert.equal(clock.now(), 20);
  assert.equal(clock.pending, 0);
});

Deno.test("FakeClock.advanceAsync() gives up on a timer that re-arms itself at 0 ms", async () => {
  const clock = new FakeClock();
  const again = () => clock.setTimeout(again, 0);
  again();
  await assert.rejects(clock.advanceAsync(1), /re-arming itself at 0 ms/);
});

Deno.test("settle() lets a long promise chain finish; settled() tells pending from done", async () => {
  let n = 0;
  (async () => {
    for (let i = 0; i < 1000; i++) {
      await null;
      n++;
    }
  })();
  await settle();
  assert.equal(n, 1000);
  assert.equal(await settled(new Promise(() => {})), false);
  assert.equal(await settled(Promise.reject(new Error("x"))), true);
  assert.equal(await settled(Promise.resolve(1)), true);
});

Deno.test("within() passes a value through, and names what it waited for when time runs out", async () => {
  assert.equal(await within(Promise.resolve(7), "seven"), 7);
  const err = await within(new Promise(() => {}), "the answer", 10).catch((e) => e);
  assert.ok(err instanceof TimedOut);
  assert.equal(err.message, "timed out waiting for the answer (10 ms)");
  await assert.rejects(
    within(new Promise(() => {}), "x", 10, { onTimeout: () => new RangeError("late") }),
    RangeError,
  );
  const died = Promise.reject(new Error("the node died"));
  await assert.rejects(
    within(new Promise(() => {}), "x", 10_000, { also: [died] }),
    /the node died/,
  );
});

Deno.test("LineLog splits lines across feeds, strips CR, and waits from an index", async () => {
  const log = new LineLog({ keep: 3 });
  log.feed("one\r\ntw");
  assert.deepEqual(log.lines, ["one"]);
  const later = log.match(/^t(\w+)$/, log.count);
  log.feed("o\nthree\nfour\nfive");
  assert.equal((await later)[1], "wo");
  assert.deepEqual(log.lines, ["two", "three", "four"], "only the last 3 are kept");
  assert.equal(log.count, 4);
  assert.deepEqual(log.since(3), ["four"]);
  const never = log.match(/^six$/);
  log.end();
  assert.deepEqual(log.tail(2), ["four", "five"], "the unterminated line counts at the end");
  await assert.rejects(never, LinesEnded);
});

Deno.test("parseLogLine() reads text and JSON lines; logMatcher() matches message and fields", () => {
  const text =
    '2026-01-01T00:00:00.000Z INFO  node ready node=office federation=off api=127.0.0.1:8081 why="a b=c"';
  assert.deepEqual(parseLogLine(text), {
    level: "INFO",
    msg: "node ready",
    fields: { node: "office", federation: "off", api: "127.0.0.1:8081", why: "a b=c" },
  });
  assert.deepEqual(parseLogLine('{"time":"t","level":"warn","msg":"dialing","peer":"hub"}'), {
    level: "WARN",
    msg: "dialing",
    fields: { peer: "hub" },
  });
  assert.equal(parseLogLine("error: Uncaught (in promise) TypeError"), null);
  assert.equal(parseLogLine("{not json"), null);
  const auth = logMatcher("authenticated", { peer: "factory" });
  assert.ok(auth("2026-01-01T00:00:00.000Z INFO  authenticated peer=factory direction=in"));
  assert.ok(!auth("2026-01-01T00:00:00.000Z INFO  authenticated peer=office"));
});

Deno.test("the ini builders write a node.ini the real parser accepts as meant", () => {
  const text = iniText(
    comment("a test node\n\nwith two comment lines"),
    portal({ log_format: "json" }),
    modNode("office", { listenPort: "off", extra: { request_timeout: "1500ms" } }),
    peer("hub", { host: "localhost", port: 9999 }),
    peer("factory", { hub: ["hub"] }),
    http(),
    iot({ poll_interval: "1h" }),
    device("plug-001", { driver: "sim", label: "Press line; plug #1" }),
  );
  const config = parseConfigText(text, "/nowhere/office.ini");
  assert.equal(config.node.name, "office");
  assert.equal(config.node.listenPort, null);
  assert.equal(config.node.requestTimeoutMs, 1500);
  assert.equal(config.node.tlsCert, "/nowhere/office.pem");
  const [hub, factory] = config.peers;
  assert.deepEqual([hub.name, hub.host, hub.port, hub.autoConnect], [
    "hub",
    "localhost",
    9999,
    true,
  ]);
  assert.deepEqual([factory.name, factory.autoConnect, factory.hubs], ["factory", false, ["hub"]]);
  assert.deepEqual(config.http?.listen, { hostname: "127.0.0.1", port: 0 });
  assert.equal(config.iot?.devices[0].label, "Press line; plug #1");
  assert.throws(() => device("x", { label: 'say "hi"' }), /cannot hold quotes/);
});

Deno.test("listenLocal() holds a port until closed; deadPort() refuses connections", async () => {
  const l = listenLocal();
  const port = portOf(l);
  const accepted = l.accept();
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  (await accepted).close();
  c.close();
  l.close();
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port: deadPort() }),
    Deno.errors.ConnectionRefused,
  );
});

/** A Deno child running `code`. */
function evalChild(name: string, code: string, options: { output?: { file: string } } = {}) {
  return new Child(name, { args: ["eval", code], ...options });
}

Deno.test("Child reads stdout and stderr as lines and reports an exit while waiting", async () => {
  const child = evalChild(
    "talker",
    'console.log("out 1"); console.error("err 1"); console.log("node ready x=1"); Deno.exit(3)',
  );
  assert.equal(await child.waitFor(/^err/, "stderr"), "err 1");
  const err = await child.waitFor(/never/, "a line that never comes").catch((e) => e);
  assert.ok(err instanceof ChildExited, String(err));
  assert.match(
    err.message,
    /talker ended \(exit status 3\) while waiting for a line that never comes/,
  );
  assert.match(err.message, /talker\| out 1/);
  await assert.rejects(child.died, /talker exited early \(exit status 3\)/);
  assert.equal((await child.exited()).code, 3);
});

Deno.test("nodeReady() reads the real ports from a node's 'node ready' line, text or JSON", async () => {
  const text = evalChild(
    "text",
    'console.error("2026-01-01T00:00:00.000Z INFO  node ready node=a federation=127.0.0.1:4242 api=off")',
  );
  const json = evalChild(
    "json",
    'console.error(JSON.stringify({ level: "info", msg: "node ready", federation: "off", api: "127.0.0.1:8081" }))',
  );
  try {
    assert.deepEqual(await nodeReady(text), { federation: 4242, api: null });
    assert.deepEqual(await nodeReady(json), { federation: null, api: 8081 });
  } finally {
    await Promise.all([text.exited(), json.exited()]);
  }
});

Deno.test("stopAll() kills a child that ignores SIGTERM after the grace time and says which", async () => {
  const stubborn = evalChild(
    "stubborn",
    'Deno.addSignalListener("SIGTERM", () => {}); console.log("ready"); setInterval(() => {}, 1000)',
  );
  const polite = evalChild("polite", 'console.log("ready"); setInterval(() => {}, 1000)');
  await Promise.all([stubborn.waitFor(/ready/, "ready"), polite.waitFor(/ready/, "ready")]);
  const late: string[] = [];
  await stopAll([stubborn, polite], {
    graceMs: 300,
    onLate: (l) => late.push(...l.map((c) => c.name)),
  });
  assert.deepEqual(late, ["stubborn"]);
  assert.equal((await stubborn.exited()).signal, "SIGKILL");
  assert.equal((await polite.exited()).signal, "SIGTERM");
});

Deno.test("Child with output to a file follows the file for lines", async () => {
  const dir = await Deno.makeTempDir({ prefix: "portal-kit-" });
  try {
    const file = `${dir}/child.log`;
    const child = evalChild(
      "filed",
      'console.log("first"); await new Promise((r) => setTimeout(r, 50)); console.error("second")',
      { output: { file } },
    );
    assert.equal(await child.waitFor(/second/, "the second line"), "second");
    assert.equal((await child.exited()).code, 0);
    assert.deepEqual(child.lines, ["first", "second"]);
    assert.equal(await Deno.readTextFile(file), "first\nsecond\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mulberry32() repeats its sequence for a seed and stays in [0, 1)", () => {
  const a = mulberry32(42);
  const b = mulberry32(42);
  const xs = Array.from({ length: 1000 }, () => a());
  assert.deepEqual(xs, Array.from({ length: 1000 }, () => b()));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  assert.notDeepEqual(xs.slice(0, 5), Array.from({ length: 5 }, mulberry32(43)));
});
