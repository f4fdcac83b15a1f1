/** The bare servers of the floor rows: echo_server.ts, idle_floor_server.ts, relay_floor.ts. */
import type { Child } from "../../tests/kit/child.ts";
import { jsonLine, NODE_START_MS } from "./cluster.ts";
import type { RowContext } from "./context.ts";

const HERE = new URL(".", import.meta.url).pathname;

/** A bare server that is listening. */
export interface BareServer {
  readonly child: Child;
  readonly port: number;
}

/**
 * Starts `script` (in scripts/bench/) with the run's "echo" certificate and `args`, and waits
 * for the `{"port":N}` line it prints once listening; stops it again when that never comes.
 * `flags` are extra permissions (relay_floor.ts needs --allow-ffi).
 */
export async function startBare(
  ctx: RowContext,
  name: string,
  script: string,
  args: readonly string[] = [],
  flags: readonly string[] = [],
): Promise<BareServer> {
  // deno-fmt-ignore
  const child = ctx.kids.spawn(name, [
    "run", "--allow-net", "--allow-read", ...flags, `${HERE}${script}`,
    "--cert", `${ctx.dir}/echo.pem`, "--key", `${ctx.dir}/echo.key`, ...args,
  ]);
  try {
    const line = await child.waitFor(
      (l) => typeof jsonLine(l)?.port === "number",
      `${name}'s port`,
      NODE_START_MS,
    );
    return { child, port: jsonLine(line)!.port as number };
  } catch (e) {
    await ctx.kids.stop(child);
    throw e;
  }
}
