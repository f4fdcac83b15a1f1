/** LogLimiter, limitRemoteLines and journald output of the logger. */
import assert from "node:assert/strict";
import { fstatSync } from "node:fs";
import { limitRemoteLines, LogLimiter } from "../src/log/limiter.ts";
import { createLogger, memoryLogger, stderrIsJournal } from "../src/log/logger.ts";
import { FakeClock } from "./kit/mod.ts";

Deno.test("limitRemoteLines() writes 5 'dropped message' lines per peer and window, then one summary", () => {
  const clock = new FakeClock();
  const root = memoryLogger();
  const limiter = new LogLimiter({ logger: root, clock });
  const log = limitRemoteLines(root, limiter);
  for (let i = 0; i < 200_000; i++) log.warn("dropped message", { reason: `bad ${i}`, peer: "x" });
  log.warn("dropped message", { reason: "other", peer: "y" });
  log.warn("something else", { peer: "x" });
  log.warn("something else", { peer: "x" });
  assert.equal(root.lines.length, 5 + 1 + 2);
  assert.equal(limiter.suppressed, 200_000 - 5);
  clock.advance(60_000);
  const summary = root.lines.at(-1)!;
  assert.match(summary, /199995 more 'dropped message' lines suppressed in the last 60s/);
  assert.match(summary, /source=x/);
  // A new window writes again.
  log.warn("dropped message", { reason: "again", peer: "x" });
  assert.match(root.lines.at(-1)!, /reason=again/);
  limiter.stop();
  assert.equal(clock.pending, 0);
});

Deno.test("limitRemoteLines() counts a remote by its address without the port, through with()", () => {
  const clock = new FakeClock();
  const root = memoryLogger();
  const limiter = new LogLimiter({ logger: root, clock });
  const log = limitRemoteLines(root, limiter);
  for (let port = 1000; port < 1100; port++) {
    log.warn("auth refused", { remote: `127.0.0.2:${port}`, reason: "timeout" });
    log.warn("auth refused", { remote: `[::1]:${port}`, reason: "timeout" });
  }
  assert.equal(root.lines.length, 10, root.lines.join("\n"));
  root.lines.length = 0;
  const peerLog = log.with({ peer: "factory" });
  for (let i = 0; i < 50; i++) {
    peerLog.info("peer factory: connected -> disconnected", { why: "eof" });
    peerLog.warn("disconnected", { reason: "eof" });
  }
  const lines = root.lines.slice();
  assert.equal(lines.filter((l) => l.includes("connected -> disconnected")).length, 10);
  assert.equal(lines.filter((l) => /WARN {2}disconnected /.test(l)).length, 10);
  assert.ok(lines.every((l) => l.includes("peer=factory")));
  limiter.stop();
  assert.match(root.lines.at(-1)!, /more '(peer state|disconnected)' lines suppressed/);
});

Deno.test("createLogger({journal}) prefixes the syslog priority and leaves the timestamp to journald", () => {
  const lines: string[] = [];
  const log = createLogger({ journal: true, level: "debug", sink: (l) => lines.push(l) });
  log.error("boom", { a: 1 });
  log.warn("careful");
  log.info("hello");
  log.debug("detail");
  assert.deepEqual(lines, [
    "<3>ERROR boom a=1",
    "<4>WARN  careful",
    "<6>INFO  hello",
    "<7>DEBUG detail",
  ]);
  const json: string[] = [];
  createLogger({ journal: true, format: "json", sink: (l) => json.push(l) }).warn("x", { b: 2 });
  assert.deepEqual(json, ['<4>{"level":"warn","msg":"x","b":2}']);
  const plain: string[] = [];
  createLogger({ sink: (l) => plain.push(l), now: () => new Date(0) }).warn("x");
  assert.deepEqual(plain, ["1970-01-01T00:00:00.000Z WARN  x"]);
});

Deno.test("stderrIsJournal() holds only when JOURNAL_STREAM names this process's stderr", () => {
  const st = fstatSync(2);
  assert.equal(stderrIsJournal(`${st.dev}:${st.ino}`), true);
  assert.equal(stderrIsJournal(`${st.dev}:${st.ino + 1}`), false);
  assert.equal(stderrIsJournal("garbage"), false);
  assert.equal(stderrIsJournal(""), false);
});

Deno.test("limitRemoteLines() bounds a kind over all sources and sums it up in one line", () => {
  const clock = new FakeClock();
  const root = memoryLogger();
  const limiter = new LogLimiter({ logger: root, clock });
  const log = limitRemoteLines(root, limiter);
  for (let a = 0; a < 2000; a++) {
    log.warn("connection refused", { remote: `10.0.${a >> 8}.${a & 255}:4000`, reason: "full" });
    log.warn("TLS handshake failed", { remote: `10.0.${a >> 8}.${a & 255}:4000`, reason: "x" });
  }
  assert.equal(root.lines.filter((l) => l.includes("connection refused")).length, 1);
  assert.equal(root.lines.filter((l) => l.includes("TLS handshake failed")).length, 20);
  clock.advance(60_000);
  const summaries = root.lines.filter((l) => l.includes("suppressed"));
  assert.equal(summaries.length, 2, summaries.join("\n"));
  assert.match(summaries[0], /1999 more 'connection refused' lines suppressed .*sources=\d+/);
  assert.match(summaries[1], /1980 more 'TLS handshake failed' lines suppressed/);
  limiter.stop();
});
