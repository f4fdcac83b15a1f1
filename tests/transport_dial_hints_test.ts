/** A dial that fails for a setting says which setting: `tls` on both sides, `tls_ca`. */
import assert from "node:assert/strict";
import { tcpTlsDialer, tlsHint } from "../src/transport/mod.ts";
import { encodeFrame, MsgType } from "../src/wire/mod.ts";
import { nodeConfig, peerConfig, startTestNode } from "./helpers/nodes.ts";
import { listenLocal, portOf, within } from "./kit/mod.ts";

Deno.test("tlsHint() names tls for a plain peer and tls_ca for an unknown issuer", () => {
  assert.match(
    tlsHint("received corrupt message of type InvalidContentType", null),
    /set the same tls on both nodes/,
  );
  assert.match(tlsHint("invalid peer certificate: UnknownIssuer", null), /set tls_ca in/);
  assert.match(tlsHint("invalid peer certificate: UnknownIssuer", ["pem"]), /tls_ca does not/);
  assert.equal(tlsHint("connection reset", null), "");
});

Deno.test("a TLS dial to a plain PORTAL02 listener says to set the same tls on both nodes", async () => {
  const listener = listenLocal();
  // What a plain listener does first: send its AUTH_CHALLENGE.
  const serving = (async () => {
    const conn = await listener.accept();
    try {
      await conn.write(encodeFrame(MsgType.AuthChallenge, new Uint8Array(32)));
      await conn.read(new Uint8Array(1024)).catch(() => null);
    } finally {
      conn.close();
    }
  })();
  try {
    const dial = tcpTlsDialer({ tls: true, caCerts: null });
    const peer = peerConfig("hub", { port: portOf(listener), tlsServerName: "hub" });
    const error = await within(
      dial(peer, new AbortController().signal).then(
        (c) => {
          c.conn.close();
          return null;
        },
        (e: Error) => e,
      ),
      "the dial",
    );
    assert.ok(error !== null, "the dial must fail");
    assert.match(error.message, /TLS handshake with 127\.0\.0\.1:\d+ failed: .*same tls on both/);
  } finally {
    await serving;
    listener.close();
  }
});

Deno.test("a plain dial that hears no challenge says that tls is off here", async () => {
  const listener = listenLocal();
  // A TLS listener reading a plain dialer's silence: it closes without a word.
  const serving = (async () => {
    const conn = await listener.accept();
    conn.close();
  })();
  const office = startTestNode(nodeConfig("office", { listenPort: null }), [
    peerConfig("hub", { port: portOf(listener) }),
  ]);
  try {
    await within(
      office.fed.when(() => office.log.some((l) => l.includes("connection attempt failed"))),
      "the failed attempt",
    );
    const line = office.log.find((l) => l.includes("connection attempt failed")) ?? "";
    assert.match(line, /this node has tls = false; .*set the same tls on both nodes/);
  } finally {
    await office.fed.stop();
    await serving;
    listener.close();
  }
});
