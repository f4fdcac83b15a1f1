/** Which TLS listener a node starts: native where it can serve, node:tls otherwise, always one. */
import assert from "node:assert/strict";
import { memoryLogger } from "../src/log/logger.ts";
import { openTlsListener, type TlsListenerKinds } from "../src/runtime/tls_listener.ts";
import type { TlsListenOptions } from "../src/transport/admission.ts";
import { type NodeTlsListener, TransportError } from "../src/transport/types.ts";

const OPTIONS: TlsListenOptions = { hostname: "127.0.0.1", port: 0, cert: "", key: "" };

/** A listener that only says which kind it is. */
function fake(kind: string): NodeTlsListener {
  return {
    addr: { hostname: kind, port: 1 },
    accept: () => Promise.reject(new Error("not for accepting")),
    close() {},
    setCredentials() {},
  };
}

function kinds(native: () => Promise<NodeTlsListener>, why: string | null = null) {
  const opened: string[] = [];
  const k: TlsListenerKinds = {
    native: () => {
      opened.push("native");
      return native();
    },
    node: () => {
      opened.push("node");
      return Promise.resolve(fake("node"));
    },
    unavailable: () => why,
  };
  return { k, opened };
}

Deno.test("openTlsListener() opens the native listener where it can serve, saying nothing", async () => {
  const log = memoryLogger();
  const { k, opened } = kinds(() => Promise.resolve(fake("native")));
  assert.equal((await openTlsListener(OPTIONS, log, k)).addr.hostname, "native");
  assert.deepEqual(opened, ["native"]);
  assert.deepEqual(log.lines, []);
});

Deno.test("openTlsListener() uses node:tls where the native one cannot serve, with the reason at info", async () => {
  const log = memoryLogger();
  const { k, opened } = kinds(() => Promise.reject(new Error("must not be tried")), "no ffi");
  assert.equal((await openTlsListener(OPTIONS, log, k)).addr.hostname, "node");
  assert.deepEqual(opened, ["node"]);
  assert.equal(log.lines.length, 1);
  assert.match(log.lines[0], /INFO +federation listener runs on node:tls reason="no ffi"/);
});

Deno.test("openTlsListener() falls back to node:tls when the native one fails to start, with a warning", async () => {
  const log = memoryLogger();
  const { k, opened } = kinds(() =>
    Promise.reject(new TransportError("native_unavailable", "no listening socket was found"))
  );
  assert.equal((await openTlsListener(OPTIONS, log, k)).addr.hostname, "node");
  assert.deepEqual(opened, ["native", "node"]);
  assert.match(log.lines[0], /WARN +federation listener runs on node:tls reason="no listening/);
});

Deno.test("openTlsListener() passes a port in use on: node:tls would fail the same way", async () => {
  const log = memoryLogger();
  const { k, opened } = kinds(() =>
    Promise.reject(new TransportError("listen_failed", "cannot listen on 127.0.0.1:9090: in use"))
  );
  await assert.rejects(
    openTlsListener(OPTIONS, log, k),
    (e) => e instanceof TransportError && e.code === "listen_failed",
  );
  assert.deepEqual(opened, ["native"]);
});
