/** Tab completion: commands, subcommands, paths (absolute, relative, under /node/<peer>), ids. */
import assert from "node:assert/strict";
import { complete, type CompleterContext, entryNames } from "../src/cli/completer.ts";
import { contextBase, inContext, normalizePath, resolvePath } from "../src/cli/shell_paths.ts";

/** A node tree as LIST would answer it; records every path listed. */
function tree(cwd: string): CompleterContext & { listed: string[] } {
  const dirs: Record<string, string[]> = {
    "/": ["health", "iot", "node"],
    "/iot": ["devices"],
    "/iot/devices": ["plug-001", "plug-002", "lamp-1"],
    "/node": ["factory", "fab-2", "hub"],
    "/node/factory": ["health", "iot", "node"],
    "/node/factory/iot": ["devices"],
    "/node/factory/iot/devices": ["press-1", "press-2"],
  };
  const listed: string[] = [];
  return {
    cwd,
    listed,
    list: (path) => {
      listed.push(path);
      return path in dirs ? Promise.resolve(dirs[path]) : Promise.reject(new Error("404"));
    },
  };
}

Deno.test("complete() completes command names", async () => {
  assert.deepEqual(await complete("", tree("/")), [
    ["ls", "cd", "pwd", "get", "call", "node", "iot", "audit", "watch", "clear", "help", "exit"],
    "",
  ]);
  assert.deepEqual(await complete("c", tree("/")), [["cd", "call", "clear"], "c"]);
  assert.deepEqual(await complete("  no", tree("/")), [["node"], "no"]);
  assert.deepEqual(await complete("zz", tree("/")), [[], "zz"]);
});

Deno.test("complete() completes node and iot subcommands", async () => {
  assert.deepEqual(await complete("node ", tree("/")), [["peers", "status"], ""]);
  assert.deepEqual(await complete("node s", tree("/")), [["status"], "s"]);
  assert.deepEqual(await complete("iot ", tree("/")), [["on", "off", "toggle", "status"], ""]);
  assert.deepEqual(await complete("iot o", tree("/")), [["on", "off"], "o"]);
  assert.deepEqual(await complete("node peers ", tree("/")), [[], ""]);
});

Deno.test("complete() completes absolute paths", async () => {
  const ctx = tree("/iot");
  assert.deepEqual(await complete("ls /", ctx), [["/health", "/iot", "/node"], "/"]);
  assert.deepEqual(await complete("get /iot/devices/pl", ctx), [
    ["/iot/devices/plug-001", "/iot/devices/plug-002"],
    "/iot/devices/pl",
  ]);
  assert.deepEqual(ctx.listed, ["/", "/iot/devices"]);
  assert.deepEqual(await complete("cd /nowhere/x", ctx), [[], "/nowhere/x"]);
});

Deno.test("complete() completes relative paths, .. and ~ against the current directory", async () => {
  const ctx = tree("/iot");
  assert.deepEqual(await complete("ls d", ctx), [["devices"], "d"]);
  assert.deepEqual(await complete("ls devices/l", ctx), [["devices/lamp-1"], "devices/l"]);
  assert.deepEqual(await complete("cd ../n", ctx), [["../node"], "../n"]);
  assert.deepEqual(await complete("call ~/i", ctx), [["~/iot"], "~/i"]);
  assert.deepEqual(ctx.listed, ["/iot", "/iot/devices", "/", "/"]);
});

Deno.test("complete() completes paths under /node/<peer>/ and inside a peer's context", async () => {
  const home = tree("/");
  assert.deepEqual(await complete("cd /node/f", home), [
    ["/node/factory", "/node/fab-2"],
    "/node/f",
  ]);
  assert.deepEqual(await complete("ls /node/factory/iot/devices/", home), [
    ["/node/factory/iot/devices/press-1", "/node/factory/iot/devices/press-2"],
    "/node/factory/iot/devices/",
  ]);
  // After cd /node/factory an absolute path is on factory.
  const onFactory = tree("/node/factory");
  assert.deepEqual(await complete("ls /iot/devices/p", onFactory), [
    ["/iot/devices/press-1", "/iot/devices/press-2"],
    "/iot/devices/p",
  ]);
  assert.deepEqual(onFactory.listed, ["/node/factory/iot/devices"]);
});

Deno.test("complete() completes device ids after iot on|off|toggle|status, on the right node", async () => {
  assert.deepEqual(await complete("iot on p", tree("/")), [["plug-001", "plug-002"], "p"]);
  assert.deepEqual(await complete("iot status ", tree("/node/factory/iot")), [
    ["press-1", "press-2"],
    "",
  ]);
  assert.deepEqual(await complete("iot fly ", tree("/")), [[], ""]);
});

Deno.test("entryNames() takes strings, and objects by id or name", () => {
  assert.deepEqual(entryNames(["a", { id: "b" }, { name: "c" }, { x: 1 }, 7]), ["a", "b", "c"]);
  assert.deepEqual(entryNames({ a: 1 }), []);
});

Deno.test("shell paths: normalise, context base, resolve and in-context module paths", () => {
  assert.equal(normalizePath("//a/./b/../c/"), "/a/c");
  assert.equal(normalizePath("/../.."), "/");
  assert.equal(contextBase("/"), "");
  assert.equal(contextBase("/node"), "");
  assert.equal(contextBase("/node/factory"), "/node/factory");
  assert.equal(contextBase("/node/factory/iot/devices"), "/node/factory");
  assert.equal(contextBase("/node/hub/node/factory/iot"), "/node/hub/node/factory");
  assert.equal(resolvePath("/node/factory", "/iot/devices"), "/node/factory/iot/devices");
  assert.equal(resolvePath("/node/factory/iot", ".."), "/node/factory");
  assert.equal(resolvePath("/node/factory", ".."), "/node");
  assert.equal(resolvePath("/node/factory", "~"), "/");
  assert.equal(resolvePath("/node/factory", "~/iot"), "/iot");
  assert.equal(resolvePath("/iot", "devices/plug-001"), "/iot/devices/plug-001");
  assert.equal(resolvePath("/node/factory", "/"), "/node/factory");
  assert.equal(inContext("/node/factory/iot", "/node/peers"), "/node/factory/node/peers");
  assert.equal(inContext("/iot", "/node/peers"), "/node/peers");
});

Deno.test("complete() completes the last command of a ';' line", async () => {
  assert.deepEqual(await complete("pwd; c", tree("/")), [["cd", "call", "clear"], "c"]);
  assert.deepEqual(await complete("cd /iot;ls /iot/devices/l", tree("/")), [
    ["/iot/devices/lamp-1"],
    "/iot/devices/l",
  ]);
  assert.deepEqual(await complete('call /x {"a": "b;"} ; iot o', tree("/")), [["on", "off"], "o"]);
  // A ';' inside a JSON string is not a separator: this is still call's JSON argument.
  assert.deepEqual(await complete('call /x {"a": "b; n', tree("/")), [[], "n"]);
});
