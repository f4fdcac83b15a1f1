/**
 * portal — an edge node for industrial sites.
 *
 *   portal --config node.ini                  run a node until SIGTERM/SIGINT
 *   portal check-config --config node.ini     validate a config and summarise it
 *   portal gen-certs --dir D --node N --host H[,H…]
 *   portal shell [--config F | --url U] [-c CMD]
 *   portal call [--config F | --url U] [--list | --call] PATH [JSON]
 *   portal reload --config F | --pid PID
 *   portal help [COMMAND], portal version
 */
import { type OptionSpecs, parseOptions, UsageError } from "./src/cli/args.ts";
import { type CliIo, cliIo } from "./src/cli/io.ts";
import { didYouMean } from "./src/config/mod.ts";
import { VERSION } from "./src/version.ts";

/** What `portal help` prints. */
export const USAGE = `usage:
  portal --config FILE                       run a node (until SIGTERM or Ctrl-C)
  portal check-config --config FILE          check a node.ini and print a summary
  portal gen-certs --dir DIR --node NAME --host H[,H...] [--force] [--days N]
  portal shell [--config FILE | --url URL] [--token T] [--timeout D] [-c COMMAND]
  portal call [--config FILE | --url URL] [--token T] [--timeout D] [--list | --call] PATH [JSON]
  portal reload --config FILE | --pid PID     make a running node apply its changed node.ini
  portal help [COMMAND]                      this text, or a command's options
  portal version                             the version (also --version)
Every command takes --help.`;

/** Exit statuses: 0 ok, 1 failure at run time, 2 bad command line or config. */
export const Exit = { Ok: 0, Failure: 1, Usage: 2 } as const;

/** A subcommand: `portal NAME ARGS...`. Every one answers `--help`. */
interface Command {
  run(argv: string[], io: CliIo): Promise<number>;
}

/** The subcommands; `portal help NAME` is `portal NAME --help`. */
const COMMANDS: Readonly<Record<string, Command>> = {
  "check-config": {
    async run(argv, io) {
      const { checkConfigCommand } = await import("./src/cli/check_config.ts");
      return await checkConfigCommand(argv, io);
    },
  },
  "gen-certs": {
    async run(argv, io) {
      const { genCertsCommand } = await import("./src/cli/gen_certs.ts");
      return await genCertsCommand(argv, io);
    },
  },
  shell: {
    async run(argv, io) {
      const { shellCommand } = await import("./src/cli/shell.ts");
      return await shellCommand(argv, io);
    },
  },
  call: {
    async run(argv, io) {
      const { callCommand } = await import("./src/cli/call.ts");
      return await callCommand(argv, io);
    },
  },
  reload: {
    async run(argv, io) {
      const { reloadCommand } = await import("./src/cli/reload.ts");
      return await reloadCommand(argv, io);
    },
  },
  help: {
    run(argv, io) {
      if (argv.length === 0 || (argv.length === 1 && /^(-h|--help|help)$/.test(argv[0]))) {
        io.stdout.write(USAGE + "\n");
        return Promise.resolve(Exit.Ok);
      }
      const [name, ...more] = argv;
      if (more.length > 0) {
        return Promise.resolve(usageError(io, `help takes one command name: portal help ${name}`));
      }
      if (name === "version") {
        io.stdout.write("usage: portal version\nPrints the version (as --version does).\n");
        return Promise.resolve(Exit.Ok);
      }
      const command = COMMANDS[name];
      if (command === undefined || name === "help") {
        return Promise.resolve(usageError(io, unknownCommand(name, "help")));
      }
      return command.run(["--help"], io);
    },
  },
  version: {
    run(argv, io) {
      if (argv.length > 0 && !/^(-h|--help)$/.test(argv[0])) {
        return Promise.resolve(usageError(io, "version takes no arguments: portal version"));
      }
      io.stdout.write(`portal ${VERSION}\n`);
      return Promise.resolve(Exit.Ok);
    },
  },
};

function usageError(io: CliIo, reason: string): number {
  io.stderr.write(`portal: ${reason}\n`);
  return Exit.Usage;
}

function unknownCommand(name: string, context?: "help"): string {
  const names = Object.keys(COMMANDS);
  const prefix = context === "help" ? "no help for" : "unknown command";
  return `${prefix} '${name}'${didYouMean(name, names)}; the commands are ${names.join(", ")}` +
    " (portal help lists them)";
}

/** The options of `portal` itself, which runs a node. */
const NODE_OPTIONS = {
  config: { type: "string", value: "FILE" },
  version: { type: "boolean", short: "V" },
  help: { type: "boolean", short: "h" },
} as const satisfies OptionSpecs;

/** Runs `portal ARGV...`; resolves to the exit status. */
async function run(argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  const cli = cliIo(io);
  const first = argv[0];
  if (first === undefined) {
    cli.stderr.write(`portal: nothing to do: give a command, or --config FILE to run a node\n`);
    cli.stderr.write(USAGE + "\n");
    return Exit.Usage;
  }
  if (!first.startsWith("-")) {
    const command = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
    if (command !== undefined) return await command.run(argv.slice(1), cli);
    if (/\.ini$|\//.test(first)) {
      return usageError(
        cli,
        `to run a node, give its file with --config: portal --config ${first}`,
      );
    }
    return usageError(cli, unknownCommand(first));
  }
  let values;
  try {
    ({ values } = parseOptions(argv, NODE_OPTIONS, {
      command: "portal",
      extraPositional: (arg) =>
        Object.hasOwn(COMMANDS, arg)
          ? `the command comes first: portal ${arg} ${argv.filter((a) => a !== arg).join(" ")}`
          : `unexpected argument '${arg}'; to run a node: portal --config FILE`,
    }));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    return usageError(cli, e.message);
  }
  if (values.help) {
    cli.stdout.write(USAGE + "\n");
    return Exit.Ok;
  }
  if (values.version) {
    cli.stdout.write(`portal ${VERSION}\n`);
    return Exit.Ok;
  }
  if (values.config === undefined) {
    return usageError(cli, "to run a node, give its file: portal --config /etc/portal/node.ini");
  }
  const { runNode } = await import("./src/runtime/run.ts");
  return await runNode(values.config);
}

if (import.meta.main) {
  Deno.exit(await run(Deno.args));
}

export { run };
