/** The dashboard served by the node is the one in web/: type-checked, and built into the module. */
import assert from "node:assert/strict";
import { ASSETS_MODULE, buildAssetsModule } from "../scripts/build_web.ts";
import { REPO_ROOT } from "./kit/mod.ts";

Deno.test("the committed dashboard assets are what web/ builds to, and web/ type-checks", async () => {
  const check = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--quiet", "web/"],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(check.success, new TextDecoder().decode(check.stderr));
  const committed = await Deno.readTextFile(`${REPO_ROOT}/${ASSETS_MODULE}`);
  assert.ok(
    committed === await buildAssetsModule(),
    `${ASSETS_MODULE} is stale: run deno task build-web`,
  );
});
