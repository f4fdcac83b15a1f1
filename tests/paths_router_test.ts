/** PathRouter: one consistent answer for a method a path does not serve. */
import assert from "node:assert/strict";
import { fail, ok, PathRouter } from "../src/paths/mod.ts";
import type { Method } from "../src/wire/constants.ts";

/** Routes shaped like a node's: /health, /node (LIST), /node/peers, a forward, /iot/devices. */
function nodeRouter(): PathRouter {
  const r = new PathRouter();
  r.on("GET", "/health", () => ok({ status: "ok" }));
  r.on("LIST", "/node", () => ok(["factory"]));
  r.on("GET", "/node/peers", () => ok([]));
  r.on("GET", "/node/status", () => ok({}));
  for (const m of ["GET", "LIST", "CALL"] as const) {
    r.on(m, "/node/:peer/*rest", (_req, p) => fail(404, `unknown node '${p.peer}'`));
  }
  r.on("LIST", "/iot/devices", () => ok([]));
  r.on("GET", "/iot/devices/:id", (_req, p) => ok({ id: p.id }));
  return r;
}

const ask = (r: PathRouter, method: Method, path: string) =>
  r.handle({ method, path, args: {}, origin: null });

Deno.test("PathRouter answers GET on every LIST-only path with the same 405 naming LIST", async () => {
  const r = nodeRouter();
  for (const path of ["/", "/node", "/iot", "/iot/devices"]) {
    const res = await ask(r, "GET", path);
    assert.equal(res.status, 405, path);
    assert.match(res.error!, /is a list; ask LIST \(\?list in the HTTP API, ls in the shell\)/);
  }
  assert.deepEqual((await ask(r, "LIST", "/")).body, ["health", "iot", "node"]);
  assert.deepEqual((await ask(r, "LIST", "/iot")).body, ["devices"]);
});

Deno.test("PathRouter answers LIST on a GET-only path with 405 naming GET, not the forward route", async () => {
  const r = nodeRouter();
  for (const path of ["/node/peers", "/node/status", "/health"]) {
    const res = await ask(r, "LIST", path);
    assert.equal(res.status, 405, path);
    assert.equal(res.error, `LIST is not supported on ${path} (it answers GET)`);
  }
  assert.equal((await ask(r, "CALL", "/node/peers")).status, 405);
  // A name that only the forward route knows still goes to it.
  assert.match((await ask(r, "LIST", "/node/factory")).error!, /unknown node 'factory'/);
  assert.match((await ask(r, "GET", "/node/factory/iot")).error!, /unknown node/);
});

Deno.test("PathRouter keeps 404 for paths nothing serves", async () => {
  const r = nodeRouter();
  assert.deepEqual(await ask(r, "GET", "/nope"), { status: 404, error: "no such path: /nope" });
  assert.equal((await ask(r, "LIST", "/nope/deeper")).status, 404);
});
