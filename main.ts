/**
 * portal — an edge node for industrial sites.
 *
 *   portal --config node.ini                  run a node until SIGTERM/SIGINT
 *   portal check-config --config node.ini     validate a config and summarise it
 *   portal gen-certs --dir D --node N --host H[,H…]
 *   portal shell [--config F | --url U] [-c CMD]
 *   portal call [--config F | --url U] [--list | --call] PATH [JSON]
 */
import { parseArgs } from "node:util";
import { ConfigError, describeConfig, loadConfig } from "./src/config/mod.ts";
import { VERSION } from "./src/version.ts";

export const USAGE = `usage:
  portal --config FILE                       run a node (until SIGTERM or Ctrl-C)
  portal check-config --config FILE          check a node.ini and print a summary
  portal gen-certs --dir DIR --node NAME --host H[,H...] [--force] [--days N]
  portal shell [--config FILE | --url URL] [--token T] [-c COMMAND]
  portal call [--config FILE | --url URL] [--token T] [--list | --call] PATH [JSON]
  portal --version | --help`;

/** Exit statuses: 0 ok, 1 failure at run time, 2 bad command line or config. */
export const Exit = { Ok: 0, Failure: 1, Usage: 2 } as const;

function usageError(reason: string): number {
  console.error(`portal: ${reason}\n${USAGE}`);
  return Exit.Usage;
}

async function checkConfig(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { config: { type: "string" } }, strict: true }));
  } catch (e) {
    return usageError((e as Error).message);
  }
  if (!values.config) return usageError("check-config needs --config FILE");
  try {
    const config = await loadConfig(values.config);
    console.log(await describeConfig(config));
    return Exit.Ok;
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      return Exit.Usage;
    }
    throw e;
  }
}

async function run(argv: string[]): Promise<number> {
  const command = argv[0];
  switch (command) {
    case "check-config":
      return await checkConfig(argv.slice(1));
    case "gen-certs": {
      const { genCertsCommand } = await import("./src/cli/gen_certs.ts");
      return await genCertsCommand(argv.slice(1));
    }
    case "shell": {
      const { shellCommand } = await import("./src/cli/shell.ts");
      return await shellCommand(argv.slice(1));
    }
    case "call": {
      const { callCommand } = await import("./src/cli/call.ts");
      return await callCommand(argv.slice(1));
    }
  }
  if (command !== undefined && !command.startsWith("-")) {
    return usageError(`unknown command '${command}'`);
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: "string" },
        version: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (e) {
    return usageError((e as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    return Exit.Ok;
  }
  if (values.version) {
    console.log(`portal ${VERSION}`);
    return Exit.Ok;
  }
  if (!values.config) return usageError("no command given: run a node with --config FILE");
  const { runNode } = await import("./src/runtime/run.ts");
  return await runNode(values.config);
}

if (import.meta.main) {
  Deno.exit(await run(Deno.args));
}

export { run };
