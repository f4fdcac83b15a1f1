/**
 * A stand-in for the compiled `portal` executable: a script that runs main.ts with the node's
 * permissions, so install.sh and the operations guide can be followed where `deno compile`
 * cannot fetch its runtime.
 */
import { MAIN_TS, NODE_FLAGS } from "../kit/child.ts";

/** Writes the script to `path` (mode 0755); returns `path`. */
export async function writePortalScript(path: string): Promise<string> {
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\nexec '${Deno.execPath()}' run ${NODE_FLAGS.join(" ")} '${MAIN_TS}' "$@"\n`,
    { mode: 0o755 },
  );
  return path;
}
