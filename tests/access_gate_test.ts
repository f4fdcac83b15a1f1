/**
 * The access gate (PORTAL02.md §11): signatures, [acl], the local caller's role and the audit
 * trail, in front of a real router, with real certificates, signer, verifier and audit file.
 */
import assert from "node:assert/strict";
import { AccessGate, type AccessGateOptions } from "../src/access/gate.ts";
import { AuditLog } from "../src/access/audit_log.ts";
import { registerAuditPath } from "../src/access/paths.ts";
import { AccessPolicy } from "../src/auth/acl.ts";
import { RequestSigner } from "../src/auth/signature.ts";
import { RequestVerifier } from "../src/auth/verify.ts";
import type { AclConfig, AclMethod, RequireSigned } from "../src/config/types.ts";
import { memoryLogger } from "../src/log/logger.ts";
import { generateCa, issueNodeCert } from "../src/pki/mod.ts";
import { ok, type PathRequest, PathRouter } from "../src/paths/mod.ts";
import type { Method } from "../src/wire/constants.ts";
import type { JsonObject } from "../src/wire/messages.ts";
import { FakeClock } from "./kit/mod.ts";

const ca = await generateCa();
const officeCert = await issueNodeCert(ca, { name: "office", hosts: ["127.0.0.1"] });
const hubCert = await issueNodeCert(ca, { name: "hub", hosts: ["127.0.0.1"] });
const office = new RequestSigner({ certPem: officeCert.certPem, keyPem: officeCert.keyPem });
const hub = new RequestSigner({ certPem: hubCert.certPem, keyPem: hubCert.keyPem });

function acl(lines: Record<string, string>): AclConfig {
  return {
    entries: Object.entries(lines).map(([origin, value], i) => ({
      origin,
      line: i + 2,
      rules: value.split(",").map((s) => s.trim()).map((text) => {
        const [method, pattern] = text.split(/\s+/);
        return { method: method as AclMethod, pattern, text };
      }),
    })),
  };
}

interface Setup {
  readonly gate: AccessGate;
  readonly audit: AuditLog;
  readonly path: string;
  /** Paths the router served, with the audit file's lines at that moment. */
  readonly ran: { path: string; linesAtRun: Record<string, unknown>[] }[];
  readonly logger: ReturnType<typeof memoryLogger>;
  readonly router: PathRouter;
  close(): Promise<void>;
}

async function setup(
  opts: { requireSigned?: RequireSigned; acl?: AclConfig | null; withVerifier?: boolean } = {},
  over: Partial<AccessGateOptions> = {},
): Promise<Setup> {
  const dir = await Deno.makeTempDir({ prefix: "portal-gate-" });
  const path = `${dir}/audit.log`;
  const audit = await AuditLog.open({ path });
  const router = new PathRouter();
  const ran: Setup["ran"] = [];
  router.on("CALL", "/iot/devices/:id/on", async (req) => {
    ran.push({ path: req.path, linesAtRun: await lines(path) });
    return ok({ id: req.path.split("/")[3], on: true });
  });
  router.on("GET", "/iot/devices", () => ok([]));
  const logger = memoryLogger();
  const gate = new AccessGate({
    node: "factory",
    router,
    requireSigned: opts.requireSigned ?? "none",
    verifier: opts.withVerifier === false ? null : new RequestVerifier({ caPem: ca.certPem }),
    policy: new AccessPolicy(opts.acl ?? null, { node: "factory" }),
    audit,
    logger,
    clock: new FakeClock(),
    runId: "run",
    ...over,
  });
  registerAuditPath(router, { node: "factory", audit });
  return {
    gate,
    audit,
    path,
    ran,
    logger,
    router,
    async close() {
      gate.stop();
      await audit.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function lines(path: string): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

let nextId = 100;

/** A request from `src` as serve.ts hands it over: through `relay`, signed by `signer`. */
function remote(
  method: Method,
  path: string,
  opts: {
    src?: string;
    args?: JsonObject;
    signer?: RequestSigner | null;
    relay?: string | null;
    signal?: AbortSignal;
  } = {},
): PathRequest {
  const src = opts.src ?? "office";
  const args = opts.args ?? {};
  const id = nextId++;
  const signer = opts.signer === undefined ? office : opts.signer;
  const sig = signer === null
    ? undefined
    : signer.sign({ src, dst: "factory", id, method, path, args });
  return {
    method,
    path,
    args,
    origin: src,
    signal: opts.signal ?? new AbortController().signal,
    envelope: { id, src, dst: "factory", relay: opts.relay ?? "hub", sig },
  };
}

/** The same request with fields changed on the way, its signature kept. */
function altered(req: PathRequest, change: Partial<Pick<PathRequest, "path" | "args">>) {
  return { ...req, ...change, signal: new AbortController().signal };
}

Deno.test("a signed CALL that [acl] allows runs after its decision is on disk; its outcome follows", async () => {
  const s = await setup({ acl: acl({ office: "GET *, CALL /iot/devices/plug-*" }) });
  try {
    const req = remote("CALL", "/iot/devices/plug-001/on", { args: { level: 3 } });
    const res = await s.gate.handle(req);
    assert.equal(res.status, 200, res.error);
    assert.equal(s.ran.length, 1);
    // The decision was in the file before the handler ran.
    const before = s.ran[0].linesAtRun;
    assert.equal(before.length, 1);
    assert.equal(before[0].event, "decision");
    assert.equal(before[0].verdict, "allowed");

    const [d, o] = await lines(s.path);
    assert.deepEqual(
      { ...d, time: "T", signer: typeof d.signer },
      {
        time: "T",
        record: "run-1",
        event: "decision",
        node: "factory",
        origin: "office",
        relay: "hub",
        request_id: req.envelope!.id,
        role: null,
        method: "CALL",
        path: "/iot/devices/plug-001/on",
        args: { level: 3 },
        verdict: "allowed",
        acl_entry: "office",
        rule: "CALL /iot/devices/plug-*",
        signature: "verified",
        signer: "string",
        reason: null,
        status: null,
        duration_ms: null,
      },
    );
    assert.match(String(d.signer), /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.match(String(d.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual({ ...o, time: "T" }, {
      time: "T",
      record: "run-1",
      event: "outcome",
      status: 200,
      duration_ms: 0,
      error: null,
    });
    // GETs are decided too, but only CALLs are audited.
    assert.equal((await s.gate.handle(remote("GET", "/iot/devices"))).status, 200);
    assert.equal((await lines(s.path)).length, 2);
    assert.deepEqual(s.gate.counters, { allowed: 2, refused: 0 });
  } finally {
    await s.close();
  }
});

Deno.test("require_signed = call: an unsigned CALL gets 401 with the reason and is audited; GET passes", async () => {
  const s = await setup({ requireSigned: "call" });
  try {
    const res = await s.gate.handle(
      remote("CALL", "/iot/devices/plug-001/on", { signer: null }),
    );
    assert.equal(res.status, 401);
    assert.match(
      res.error!,
      /^CALL \/iot\/devices\/plug-001\/on from office must be signed: factory has require_signed = call/,
    );
    assert.equal(s.ran.length, 0);
    const [d] = await lines(s.path);
    assert.equal(d.verdict, "unsigned");
    assert.equal(d.signature, "none");
    assert.equal(d.status, 401);
    assert.equal(d.reason, res.error);
    assert.equal(
      (await s.gate.handle(remote("GET", "/iot/devices", { signer: null }))).status,
      200,
    );
    assert.equal((await s.gate.handle(remote("CALL", "/iot/devices/plug-001/on"))).status, 200);
    assert.ok(s.logger.lines.some((l) => /request refused .*verdict=unsigned/.test(l)));
  } finally {
    await s.close();
  }
});

Deno.test("require_signed = all: an unsigned GET gets 401 too", async () => {
  const s = await setup({ requireSigned: "all" });
  try {
    const res = await s.gate.handle(remote("GET", "/iot/devices", { signer: null }));
    assert.equal(res.status, 401);
    assert.match(res.error!, /GET \/iot\/devices from office must be signed/);
    assert.equal((await s.gate.handle(remote("GET", "/iot/devices"))).status, 200);
  } finally {
    await s.close();
  }
});

Deno.test("a relay that alters, replays or forges a signed CALL gets 401 even when none is required", async () => {
  const s = await setup();
  try {
    const genuine = remote("CALL", "/iot/devices/plug-001/on", { args: { level: 1 } });
    const attempts: [string, PathRequest, RegExp][] = [
      [
        "path",
        altered(genuine, { path: "/iot/devices/valve-001/on" }),
        /\(bad_signature\): the signature does not match/,
      ],
      ["args", altered(genuine, { args: { level: 9 } }), /\(bad_signature\)/],
      [
        "forged with the hub's own certificate",
        remote("CALL", "/iot/devices/valve-001/on", { signer: hub }),
        /\(wrong_name\): the certificate CN=hub does not name 'office'/,
      ],
    ];
    for (const [what, req, reason] of attempts) {
      const res = await s.gate.handle(req);
      assert.equal(res.status, 401, what);
      assert.match(res.error!, reason, what);
    }
    assert.equal((await s.gate.handle(genuine)).status, 200, "the genuine one runs");
    const replay = await s.gate.handle({ ...genuine, signal: new AbortController().signal });
    assert.equal(replay.status, 401);
    assert.match(replay.error!, /\(replay\)/);
    assert.deepEqual(s.ran.map((r) => r.path), ["/iot/devices/plug-001/on"]);
    const decisions = (await lines(s.path)).filter((l) => l.event === "decision");
    assert.deepEqual(decisions.map((l) => [l.path, l.verdict, l.signature, l.status]), [
      ["/iot/devices/valve-001/on", "bad_signature", "invalid", 401],
      ["/iot/devices/plug-001/on", "bad_signature", "invalid", 401],
      ["/iot/devices/valve-001/on", "bad_signature", "invalid", 401],
      ["/iot/devices/plug-001/on", "allowed", "verified", null],
      ["/iot/devices/plug-001/on", "bad_signature", "invalid", 401],
    ]);
    assert.deepEqual(decisions[1].args, { level: 9 }, "the audit shows what arrived");
  } finally {
    await s.close();
  }
});

Deno.test("[acl] denials get 403 naming the entry and rules; CALL denials are audited", async () => {
  const s = await setup({
    acl: acl({ office: "GET *, LIST *, CALL /iot/devices/plug-*", "*": "GET /health" }),
  });
  try {
    const valve = await s.gate.handle(remote("CALL", "/iot/devices/valve-001/on"));
    assert.equal(valve.status, 403);
    assert.equal(
      valve.error,
      "office may not CALL /iot/devices/valve-001/on on factory: no rule of [acl] office " +
        "matches (office = GET *, LIST *, CALL /iot/devices/plug-*)",
    );
    const plant = await s.gate.handle(
      remote("CALL", "/iot/devices/plug-001/on", { src: "plant", signer: null }),
    );
    assert.equal(plant.status, 403);
    assert.match(plant.error!, /\[acl\] has no entry for plant, and no rule of \[acl\] \*/);
    const get = await s.gate.handle(remote("GET", "/iot/devices", { src: "plant", signer: null }));
    assert.equal(get.status, 403);
    assert.equal(s.ran.length, 0);
    const decisions = await lines(s.path);
    assert.deepEqual(
      decisions.map((l) => [l.origin, l.verdict, l.acl_entry, l.rule, l.status, l.signature]),
      [
        ["office", "denied", "office", null, 403, "verified"],
        ["plant", "denied", "*", null, 403, "none"],
      ],
    );
  } finally {
    await s.close();
  }
});

Deno.test("local calls: no [acl] or signature; the read-only role may not CALL; roles are audited", async () => {
  const s = await setup({ requireSigned: "all", acl: acl({ office: "GET *" }) });
  try {
    const local = (role: "full" | "read" | undefined): PathRequest => ({
      method: "CALL",
      path: "/iot/devices/plug-001/on",
      args: {},
      origin: null,
      role,
      signal: new AbortController().signal,
    });
    assert.equal((await s.gate.handle(local("full"))).status, 200);
    const read = await s.gate.handle(local("read"));
    assert.equal(read.status, 403);
    assert.match(read.error!, /read-only token \(\[mod_http\] read_token\) may only GET and LIST/);
    assert.equal((await s.gate.handle(local(undefined))).status, 200);
    const got = await s.gate.handle({ ...local("read"), method: "GET", path: "/iot/devices" });
    assert.equal(got.status, 200);
    const decisions = (await lines(s.path)).filter((l) => l.event === "decision");
    assert.deepEqual(decisions.map((l) => [l.origin, l.role, l.verdict, l.relay, l.signature]), [
      [null, "full", "allowed", null, "none"],
      [null, "read", "denied", null, "none"],
      [null, null, "allowed", null, "none"],
    ]);
  } finally {
    await s.close();
  }
});

Deno.test("a hop to this node itself is decided and audited once, on the way in", async () => {
  const s = await setup({ acl: acl({ office: "CALL /node/factory/*" }) });
  // What /node/:peer/*rest does for its own name: the same request again, same signal.
  s.router.on("CALL", "/node/factory/*rest", (req, params) =>
    s.gate.handle({
      method: req.method,
      path: params.rest,
      args: req.args,
      origin: req.origin,
      signal: req.signal,
    }));
  try {
    const res = await s.gate.handle(remote("CALL", "/node/factory/iot/devices/valve-001/on"));
    assert.equal(res.status, 200, res.error);
    assert.deepEqual(s.ran.map((r) => r.path), ["/iot/devices/valve-001/on"]);
    const all = await lines(s.path);
    assert.deepEqual(all.map((l) => [l.event, l.path ?? l.status]), [
      ["decision", "/node/factory/iot/devices/valve-001/on"],
      ["outcome", 200],
    ]);
    // Without its request's signal the hop is decided as that origin's own request.
    const bare = await s.gate.handle({
      method: "CALL",
      path: "/iot/devices/valve-001/on",
      args: {},
      origin: "office",
    });
    assert.equal(bare.status, 403);
  } finally {
    await s.close();
  }
});

Deno.test("a CALL whose decision cannot be written does not run (503); an abandoned one neither", async () => {
  const s = await setup();
  try {
    await s.audit.close(); // every append now fails
    const res = await s.gate.handle(remote("CALL", "/iot/devices/plug-001/on"));
    assert.equal(res.status, 503);
    assert.match(res.error!, /factory did not run CALL .* the audit log cannot record it/);
    assert.equal(s.ran.length, 0);
    assert.ok(s.logger.lines.some((l) => /ERROR audit line not written/.test(l)));
  } finally {
    await s.close();
  }
  const t = await setup();
  try {
    const abort = new AbortController();
    const req = remote("CALL", "/iot/devices/plug-001/on", { signal: abort.signal });
    const pending = t.gate.handle(req);
    abort.abort(); // the origin's deadline passes while the decision is being written
    const res = await pending;
    assert.equal(res.status, 504);
    assert.equal(t.ran.length, 0);
    const [, o] = await lines(t.path);
    assert.equal(o.status, 504);
    assert.match(String(o.error), /stopped waiting before CALL .* ran; not run/);
  } finally {
    await t.close();
  }
});

Deno.test("/node/audit answers the merged records newest first, bounded by limit", async () => {
  const s = await setup({ acl: acl({ office: "CALL /iot/devices/plug-*" }) });
  try {
    await s.gate.handle(remote("CALL", "/iot/devices/plug-001/on"));
    await s.gate.handle(remote("CALL", "/iot/devices/valve-001/on"));
    const get = (args: JsonObject) =>
      s.router.handle({ method: "GET", path: "/node/audit", args, origin: null });
    const all = await get({});
    assert.equal(all.status, 200);
    const records = all.body as Record<string, unknown>[];
    assert.deepEqual(records.map((r) => [r.path, r.verdict, r.status, r.state]), [
      ["/iot/devices/valve-001/on", "denied", 403, "done"],
      ["/iot/devices/plug-001/on", "allowed", 200, "done"],
    ]);
    assert.equal((await get({ limit: 1 })).body instanceof Array, true);
    assert.equal(((await get({ limit: "1" })).body as unknown[]).length, 1);
    for (const bad of [0, -1, 1.5, "x", 1001, "99999999"]) {
      const res = await get({ limit: bad });
      assert.equal(res.status, 400, String(bad));
      assert.match(res.error!, /limit must be a whole number from 1 to 1000/);
    }
  } finally {
    await s.close();
  }
  const none = new PathRouter();
  registerAuditPath(none, { node: "office", audit: null });
  const res = await none.handle({ method: "GET", path: "/node/audit", args: {}, origin: null });
  assert.equal(res.status, 404);
  assert.match(res.error!, /office keeps no audit log: set audit_log/);
});

Deno.test("a signature this node cannot check (no tls_ca) is noted, not refused", async () => {
  const s = await setup({ withVerifier: false });
  try {
    assert.equal((await s.gate.handle(remote("CALL", "/iot/devices/plug-001/on"))).status, 200);
    const [d] = await lines(s.path);
    assert.equal(d.signature, "unchecked");
  } finally {
    await s.close();
  }
});
