/** The audit file (CONFIG.md audit_log): group commit, rotation, read-back and failures. */
import assert from "node:assert/strict";
import { type AuditFile, AuditLog } from "../src/access/audit_log.ts";
import {
  auditArgs,
  type DecisionLine,
  MAX_ARGS_CHARS,
  mergeLines,
  type OutcomeLine,
  parseAuditLine,
} from "../src/access/record.ts";

function decision(record: string, over: Partial<DecisionLine> = {}): DecisionLine {
  return {
    time: "2025-01-02T03:04:05.678Z",
    record,
    event: "decision",
    node: "factory",
    origin: "office",
    relay: "hub",
    request_id: 7,
    role: null,
    method: "CALL",
    path: "/iot/devices/plug-001/on",
    args: {},
    verdict: "allowed",
    acl_entry: "office",
    rule: "CALL /iot/devices/plug-*",
    signature: "verified",
    signer: "AB:CD",
    reason: null,
    status: null,
    duration_ms: null,
    ...over,
  };
}

function outcome(record: string, status = 200): OutcomeLine {
  return {
    time: "2025-01-02T03:04:05.700Z",
    record,
    event: "outcome",
    status,
    duration_ms: 3.5,
    error: status === 200 ? null : "failed",
  };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "portal-audit-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function fileLines(path: string): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(path);
  assert.ok(text.endsWith("\n"), "every line ends with a newline");
  return text.trimEnd().split("\n").map((l) => JSON.parse(l));
}

/** Deno.open with every fsync counted and each write's byte count noted. */
function countingOpen(log: { syncs: number; writes: number[] }) {
  return async (path: string): Promise<AuditFile> => {
    const f = await Deno.open(path, { create: true, append: true });
    return {
      write: async (p) => {
        const n = await f.write(p);
        log.writes.push(n);
        return n;
      },
      syncData: async () => {
        log.syncs++;
        await f.syncData();
      },
      stat: () => f.stat(),
      close: () => f.close(),
    };
  };
}

Deno.test("append() resolves once the line is in the file; lines appended together share one fsync", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/audit.log`;
    const counted = { syncs: 0, writes: [] as number[] };
    const log = await AuditLog.open({ path, openFile: countingOpen(counted) });
    try {
      await log.append(decision("r-1"));
      assert.equal((await fileLines(path)).length, 1, "on disk when append resolves");
      assert.equal(counted.syncs, 1);
      // Ten CALLs decided in the same turn: one write and one fsync for all of them.
      await Promise.all(Array.from({ length: 10 }, (_, i) => log.append(decision(`r-${i + 2}`))));
      assert.equal(counted.syncs, 2);
      assert.equal(counted.writes.length, 2);
      // While one group is being written, the next ones gather behind it.
      const burst = Array.from({ length: 50 }, (_, i) => log.append(decision(`s-${i}`)));
      await Promise.all(burst);
      assert.ok(counted.syncs <= 4, `${counted.syncs} fsyncs for 61 lines`);
      const lines = await fileLines(path);
      assert.equal(lines.length, 61);
      assert.deepEqual(lines[0], decision("r-1"));
    } finally {
      await log.close();
    }
  });
});

Deno.test("latest() merges each decision with its outcome, newest first, bounded in memory", async () => {
  await withDir(async (dir) => {
    const log = await AuditLog.open({ path: `${dir}/audit.log`, memory: 3 });
    try {
      await log.append(decision("a"));
      await log.append(decision("b", { verdict: "denied", status: 403, reason: "no", rule: null }));
      await log.append(decision("c"));
      assert.deepEqual(log.latest(10).map((e) => [e.record, e.state, e.status]), [
        ["c", "pending", null],
        ["b", "done", 403],
        ["a", "pending", null],
      ]);
      await log.append(outcome("c", 200));
      await log.append(decision("d"));
      const latest = log.latest(10);
      assert.deepEqual(latest.map((e) => e.record), ["d", "c", "b"], "memory keeps 3");
      assert.equal(latest[1].state, "done");
      assert.equal(latest[1].status, 200);
      assert.equal(latest[1].duration_ms, 3.5);
      assert.equal(latest[2].error, "no");
      assert.deepEqual(log.latest(1).map((e) => e.record), ["d"]);
      assert.equal("event" in latest[0], false);
    } finally {
      await log.close();
    }
  });
});

Deno.test("open() reads the latest records back; a decision without outcome is 'unknown'", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/audit.log`;
    const first = await AuditLog.open({ path });
    await first.append(decision("old-1"));
    await first.append(outcome("old-1"));
    await first.append(decision("old-2")); // the node died before the outcome
    await first.close();
    // A torn last line (a crash mid-write) and foreign text are skipped.
    await Deno.writeTextFile(path, '{"record":"old-3","event":"deci', { append: true });
    const again = await AuditLog.open({ path });
    try {
      const entries = again.latest(10);
      assert.deepEqual(entries.map((e) => [e.record, e.state]), [
        ["old-2", "unknown"],
        ["old-1", "done"],
      ]);
      assert.match(entries[0].error!, /stopped before the CALL answered/);
      // The next line starts on a line of its own after the torn one.
      await again.append(decision("new-1"));
      const text = await Deno.readTextFile(path);
      assert.ok(text.endsWith(`\n${JSON.stringify(decision("new-1"))}\n`), text);
    } finally {
      await again.close();
    }
  });
});

Deno.test("the file rotates by size and keeps a bounded number of old files", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/audit.log`;
    const lineBytes = JSON.stringify(decision("x-000")).length + 1;
    const log = await AuditLog.open({ path, maxBytes: lineBytes * 3, keep: 2 });
    try {
      for (let i = 0; i < 20; i++) await log.append(decision(`x-${String(i).padStart(3, "0")}`));
    } finally {
      await log.close();
    }
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names.sort(), ["audit.log", "audit.log.1", "audit.log.2"]);
    for (const n of names) {
      const size = (await Deno.stat(`${dir}/${n}`)).size;
      assert.ok(size <= lineBytes * 3, `${n} is ${size} bytes`);
    }
    // The newest lines are in the current file, the ones before in .1, then .2.
    const current = (await fileLines(path)).map((l) => l.record);
    const one = (await fileLines(`${path}.1`)).map((l) => l.record);
    assert.deepEqual(current, ["x-018", "x-019"]);
    assert.deepEqual(one, ["x-015", "x-016", "x-017"]);
    // Read back after a restart: .1 and the current file.
    const again = await AuditLog.open({ path });
    try {
      assert.deepEqual(again.latest(100).map((e) => e.record), [
        "x-019",
        "x-018",
        "x-017",
        "x-016",
        "x-015",
      ]);
    } finally {
      await again.close();
    }
  });
});

Deno.test("a failed write rejects its lines; the log recovers on the next one", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/audit.log`;
    let failNext = false;
    const open = async (p: string): Promise<AuditFile> => {
      const f = await Deno.open(p, { create: true, append: true });
      return {
        write: async (b) => {
          if (failNext) {
            failNext = false;
            // Part of the line reaches the file before the disk fills up.
            await f.write(b.subarray(0, 10));
            throw new Error("No space left on device (os error 28)");
          }
          return await f.write(b);
        },
        syncData: () => f.syncData(),
        stat: () => f.stat(),
        close: () => f.close(),
      };
    };
    const log = await AuditLog.open({ path, openFile: open });
    try {
      failNext = true;
      await assert.rejects(
        log.append(decision("lost")),
        (e: Error & { code?: string }) =>
          e.code === "write" && /cannot write audit_log .*No space left/.test(e.message),
      );
      assert.deepEqual(log.latest(5), [], "a line not on disk is not shown either");
      await log.append(decision("kept"));
      const text = await Deno.readTextFile(path);
      const lines = text.trimEnd().split("\n");
      assert.equal(lines.length, 2, "the torn fragment stays on a line of its own");
      assert.equal(parseAuditLine(lines[0]), null);
      assert.equal(parseAuditLine(lines[1])?.record, "kept");
    } finally {
      await log.close();
    }
  });
});

Deno.test("appends beyond the queue bound are refused at once, and after close()", async () => {
  await withDir(async (dir) => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const open = async (p: string): Promise<AuditFile> => {
      const f = await Deno.open(p, { create: true, append: true });
      return {
        write: async (b) => {
          await gate;
          return await f.write(b);
        },
        syncData: () => f.syncData(),
        stat: () => f.stat(),
        close: () => f.close(),
      };
    };
    const log = await AuditLog.open({ path: `${dir}/audit.log`, maxQueued: 2, openFile: open });
    const first = log.append(decision("a")); // being written (held)
    await Promise.resolve();
    await Promise.resolve();
    const queued = [log.append(decision("b")), log.append(decision("c"))];
    await assert.rejects(
      log.append(decision("d")),
      (e: Error & { code?: string }) =>
        e.code === "busy" && /2 audit lines are already waiting/.test(e.message),
    );
    release();
    await Promise.all([first, ...queued]);
    await log.close();
    await assert.rejects(
      log.append(decision("e")),
      (e: Error & { code?: string }) => e.code === "closed",
    );
  });
});

Deno.test("open() refuses what cannot be an audit file, naming it", async () => {
  await withDir(async (dir) => {
    await assert.rejects(
      AuditLog.open({ path: `${dir}/missing/audit.log` }),
      (e: Error & { code?: string }) =>
        e.code === "open" && /cannot open audit_log .*missing\/audit\.log.*directory exist/.test(
          e.message,
        ),
    );
    await assert.rejects(
      AuditLog.open({ path: dir }),
      (e: Error & { code?: string }) => e.code === "open" && /not a regular file/.test(e.message),
    );
  });
});

Deno.test("auditArgs() keeps short args whole and clips long ones; mergeLines() pairs lines", () => {
  assert.deepEqual(auditArgs({ level: 3 }), { args: { level: 3 } });
  assert.deepEqual(auditArgs(undefined), { args: {} });
  const long = { blob: "x".repeat(MAX_ARGS_CHARS) };
  const clipped = auditArgs(long);
  assert.equal(clipped.args, null);
  assert.ok(clipped.args_clipped!.startsWith('{"blob":"xxx'));
  assert.ok(clipped.args_clipped!.length <= 1024);

  const merged = mergeLines(
    [decision("a"), outcome("zz"), decision("b"), outcome("a", 504), decision("c")],
    2,
  );
  assert.deepEqual(merged.map((e) => [e.record, e.state, e.status]), [
    ["b", "unknown", null],
    ["c", "unknown", null],
  ]);
  assert.equal(parseAuditLine("not json"), null);
  assert.equal(parseAuditLine('{"record":"a","time":"t","event":"other"}'), null);
  assert.equal(parseAuditLine(JSON.stringify(outcome("a")))?.event, "outcome");
});
