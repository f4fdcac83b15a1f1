/**
 * A hostile relay between two real main.ts nodes over TLS (PORTAL02.md §11): office's CALLs
 * for factory go through a "hub" the test controls. Altering a signed CALL's path or args,
 * replaying it, or forging one in office's name is refused by factory with 401, audited, and
 * switches nothing; the genuine CALL runs.
 */
import assert from "node:assert/strict";
import { RequestSigner } from "../src/auth/signature.ts";
import { MsgType } from "../src/wire/mod.ts";
import {
  type Child,
  device,
  http,
  iot,
  mainArgs,
  makeCertDir,
  modNode,
  nodeReady,
  peer,
  runCommand,
  startNode,
  stopAll,
  TEST_KEY,
  writeIni,
} from "./kit/mod.ts";
import { RawTlsLink } from "./helpers/raw_relay.ts";

const AUDIT = "factory-audit.log";

Deno.test("a relay that alters, replays or forges office's CALLs gets 401 from factory; nothing switches", async () => {
  const dir = await makeCertDir(["hub", "office", "factory"]);
  const nodes: Child[] = [];
  const links: RawTlsLink[] = [];
  try {
    const factory = startNode(
      "factory",
      await writeIni(
        dir,
        "factory",
        modNode("factory", { extra: { require_signed: "call", audit_log: AUDIT } }),
        peer("hub"),
        http(),
        iot({ poll_interval: "1h" }),
        device("plug-001", { driver: "sim", label: "Press line plug" }),
        device("valve-001", { driver: "sim", label: "Coolant valve" }),
      ),
    );
    nodes.push(factory);
    const office = startNode(
      "office",
      await writeIni(
        dir,
        "office",
        modNode("office"),
        peer("hub"),
        peer("factory", { hub: "hub" }),
        http(),
      ),
    );
    nodes.push(office);
    const [fp, op] = await Promise.all([nodeReady(factory), nodeReady(office)]);
    const ca = await Deno.readTextFile(`${dir}/ca.pem`);
    // The relay joins both as "hub" (both have [peer:hub]) and tells office it reaches factory.
    const toFactory = await RawTlsLink.join(fp.federation!, ca, "hub", TEST_KEY);
    links.push(toFactory);
    const toOffice = await RawTlsLink.join(op.federation!, ca, "hub", TEST_KEY);
    links.push(toOffice);
    await toOffice.announce("hub", "office", ["factory"]);
    await office.waitFor(/factory is reachable via hub/, "office to route factory via the hub");

    const officeApi = `http://127.0.0.1:${op.api}/api`;
    const factoryApi = `http://127.0.0.1:${fp.api}/api`;
    const call = (path: string, args: Record<string, unknown> = {}) =>
      fetch(`${officeApi}/node/factory${path}`, { method: "POST", body: JSON.stringify(args) })
        .then(async (r) => ({ status: r.status, body: await r.json() }));
    const deviceOn = async (id: string) => {
      const r = await fetch(`${factoryApi}/iot/devices/${id}`);
      return (await r.json()).on;
    };
    /** office's next CALL as it reaches the relay, and the way back for factory's answer. */
    const intercept = async (pending: Promise<unknown>) => {
      const req = await toOffice.next(MsgType.Request, "office's CALL at the relay");
      return { req, pending };
    };
    /** Sends `req` on to factory and carries factory's answer back to office. */
    const carry = async (req: Record<string, unknown>) => {
      await toFactory.send(MsgType.Request, req);
      const res = await toFactory.next(
        MsgType.Response,
        `factory's answer to ${req.id}`,
        (m) => m.id === req.id,
      );
      await toOffice.send(MsgType.Response, res);
      return res;
    };

    // 1. The path altered: plug-001 becomes valve-001.
    {
      const { req, pending } = await intercept(call("/iot/devices/plug-001/on"));
      assert.equal(req.src, "office");
      assert.equal(typeof req.sig, "object", "office signs its CALLs");
      const res = await carry({ ...req, path: "/iot/devices/valve-001/on" });
      assert.equal(res.status, 401);
      assert.match(
        String(res.error),
        /signature of CALL \/iot\/devices\/valve-001\/on from office is refused \(bad_signature\)/,
      );
      const seen = await pending as { status: number; body: { error: string } };
      assert.equal(seen.status, 401);
      assert.equal(await deviceOn("valve-001"), false);
      assert.equal(await deviceOn("plug-001"), false);
    }
    // 2. The args altered.
    {
      const { req, pending } = await intercept(call("/iot/devices/plug-001/on"));
      const res = await carry({ ...req, args: { force: true } });
      assert.equal(res.status, 401);
      assert.match(String(res.error), /\(bad_signature\)/);
      await pending;
      assert.equal(await deviceOn("plug-001"), false);
    }
    // 3. Carried faithfully: it runs. Then switched off at factory, and replayed by the relay.
    let genuine: Record<string, unknown>;
    {
      const { req, pending } = await intercept(call("/iot/devices/plug-001/on"));
      genuine = req;
      const res = await carry(req);
      assert.equal(res.status, 200, String(res.error));
      assert.equal(((await pending) as { status: number }).status, 200);
      assert.equal(await deviceOn("plug-001"), true);
      const off = await fetch(`${factoryApi}/iot/devices/plug-001/off`, { method: "POST" });
      assert.equal(off.status, 200);
      await off.body?.cancel();
      await toFactory.send(MsgType.Request, genuine);
      const replay = await toFactory.next(
        MsgType.Response,
        "the replay's answer",
        (m) => m.id === genuine.id,
      );
      assert.equal(replay.status, 401);
      assert.match(String(replay.error), /\(replay\): nonce .* already used/);
      assert.equal(await deviceOn("plug-001"), false, "the replay switched nothing");
    }
    // 4. Forged in office's name: unsigned, then signed with the relay's own certificate.
    {
      const forged = {
        id: 900001,
        src: "office",
        dst: "factory",
        method: "CALL",
        path: "/iot/devices/valve-001/on",
        args: {},
        ttl: 7,
        timeout_ms: 5000,
      };
      await toFactory.send(MsgType.Request, forged);
      const unsigned = await toFactory.next(MsgType.Response, "the unsigned forgery's answer", (
        m,
      ) => m.id === forged.id);
      assert.equal(unsigned.status, 401);
      assert.match(
        String(unsigned.error),
        /^CALL \/iot\/devices\/valve-001\/on from office must be signed: factory has require_signed = call/,
      );
      const hubSigner = new RequestSigner({
        certPem: await Deno.readTextFile(`${dir}/hub.pem`),
        keyPem: await Deno.readTextFile(`${dir}/hub.key`),
      });
      const second = { ...forged, id: 900002 };
      await toFactory.send(MsgType.Request, { ...second, sig: hubSigner.sign(second) });
      const wrongName = await toFactory.next(MsgType.Response, "the signed forgery's answer", (
        m,
      ) => m.id === second.id);
      assert.equal(wrongName.status, 401);
      assert.match(
        String(wrongName.error),
        /\(wrong_name\): the certificate CN=hub does not name 'office'/,
      );
      assert.equal(await deviceOn("valve-001"), false);
    }

    // Every attempt is in factory's audit file, with the relay it came through.
    const lines = (await Deno.readTextFile(`${dir}/${AUDIT}`)).trimEnd().split("\n")
      .map((l) => JSON.parse(l));
    const decisions = lines.filter((l) => l.event === "decision" && l.origin === "office");
    assert.deepEqual(
      decisions.map((l) => [l.path, l.verdict, l.signature, l.relay, l.status]),
      [
        ["/iot/devices/valve-001/on", "bad_signature", "invalid", "hub", 401],
        ["/iot/devices/plug-001/on", "bad_signature", "invalid", "hub", 401],
        ["/iot/devices/plug-001/on", "allowed", "verified", "hub", null],
        ["/iot/devices/plug-001/on", "bad_signature", "invalid", "hub", 401],
        ["/iot/devices/valve-001/on", "unsigned", "none", "hub", 401],
        ["/iot/devices/valve-001/on", "bad_signature", "invalid", "hub", 401],
      ],
    );
    assert.deepEqual(decisions[1].args, { force: true }, "the audit shows what arrived");
    const allowed = decisions[2];
    const outcome = lines.find((l) => l.event === "outcome" && l.record === allowed.record);
    assert.equal(outcome?.status, 200);
    // The local "off" is audited too, with its role (null: this API has no token).
    assert.ok(lines.some((l) => l.origin === null && l.path === "/iot/devices/plug-001/off"));

    // The shell's `audit` on factory shows them, newest first.
    const shell = await runCommand(
      Deno.execPath(),
      mainArgs(["shell", "--url", `http://127.0.0.1:${fp.api}`, "-c", "audit 4"]),
    );
    const out = shell.stdout;
    assert.equal(shell.code, 0, shell.stderr);
    const rows = out.trimEnd().split("\n");
    assert.match(rows[0], /^TIME\s+FROM\s+PATH\s+VERDICT\s+STATUS\s+TOOK\s+WHY$/);
    assert.equal(rows.length, 5, out);
    assert.match(rows[1], /office via hub\s+\/iot\/devices\/valve-001\/on\s+bad_signature\s+401/);
    assert.match(rows[2], /office via hub\s+\/iot\/devices\/valve-001\/on\s+unsigned\s+401/);
    assert.match(rows[3], /office via hub\s+\/iot\/devices\/plug-001\/on\s+bad_signature\s+401/);
    assert.match(rows[4], /local \(full\)\s+\/iot\/devices\/plug-001\/off\s+allowed\s+200/);
  } finally {
    for (const l of links) await l.close();
    await stopAll(nodes);
    await Deno.remove(dir, { recursive: true });
  }
});
