/** `portal check-config`: reads a node.ini exactly as the node will, and summarises it. */
import { ConfigError, describeConfig, loadConfig } from "../config/mod.ts";
import { type OptionSpecs, parseOptions, UsageError } from "./args.ts";
import { type CliIo, cliIo } from "./io.ts";

/** The options of `portal check-config`. */
export const CHECK_CONFIG_OPTIONS = {
  config: { type: "string", value: "FILE" },
  help: { type: "boolean", short: "h" },
} as const satisfies OptionSpecs;

/** What `portal check-config --help` prints. */
export const CHECK_CONFIG_USAGE = `usage: portal check-config --config FILE

Reads FILE exactly as 'portal --config FILE' would, certificates and keys included, and
prints a summary of what the node will do, then any warnings (legal, but probably wrong).
Every mistake is printed as FILE:LINE: sentence.
Exit status: 0 valid (warnings or not), 2 invalid or unreadable, or a wrong command line.`;

/** Runs `portal check-config`; resolves to the exit status. */
export async function checkConfigCommand(
  argv: string[],
  io: Partial<CliIo> = {},
): Promise<number> {
  const cli = cliIo(io);
  let values;
  try {
    ({ values } = parseOptions(argv, CHECK_CONFIG_OPTIONS, {
      command: "portal check-config",
      extraPositional: (arg) => `give the file with --config: portal check-config --config ${arg}`,
    }));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    cli.stderr.write(`portal check-config: ${e.message}\n`);
    return 2;
  }
  if (values.help) {
    cli.stdout.write(CHECK_CONFIG_USAGE + "\n");
    return 0;
  }
  if (values.config === undefined) {
    cli.stderr.write(
      "portal check-config: which file? give it with --config: " +
        "portal check-config --config /etc/portal/node.ini\n",
    );
    return 2;
  }
  try {
    const config = await loadConfig(values.config);
    cli.stdout.write(await describeConfig(config) + "\n");
    return 0;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    cli.stderr.write(e.message + "\n");
    return 2;
  }
}
