/** The outside world of the `portal` commands, injected so tests drive them without a subprocess. */
import type { Readable, Writable } from "node:stream";
import { loadConfig } from "../config/mod.ts";
import type { Config } from "../config/types.ts";

/** Something text is written to. */
export interface Writer {
  write(text: string): void;
}

/** What a command reads and writes. */
export interface CliIo {
  /** Standard input as bytes (pipe mode); called at most once. */
  readonly stdin: () => ReadableStream<Uint8Array>;
  readonly stdout: Writer;
  readonly stderr: Writer;
  /** True when stdin is a terminal: line editing, history and completion. */
  readonly isTerminal: boolean;
  readonly env: (name: string) => string | undefined;
  /** Loads a node.ini for a client (`--config`); its errors' messages are printable. */
  readonly loadConfig: (path: string) => Promise<Config>;
  /** The streams readline uses in terminal mode. Default process.stdin / process.stdout. */
  readonly terminal?: { readonly input: Readable; readonly output: Writable };
}

const encoder = new TextEncoder();

/** Writes whole strings to a file (stdout, stderr); a reader that went away is ignored. */
export function fileWriter(file: { writeSync(p: Uint8Array): number }): Writer {
  return {
    write(text) {
      const bytes = encoder.encode(text);
      try {
        for (let at = 0; at < bytes.length;) at += file.writeSync(bytes.subarray(at));
      } catch (e) {
        // A reader that went away (`| head`) is not an error of ours.
        if (!(e instanceof Deno.errors.BrokenPipe)) throw e;
      }
    },
  };
}

/**
 * Reads a node.ini for its [mod_http] and [mod_node] settings. Unlike starting a node, this
 * does not need the TLS key files to be readable: an operator's account usually cannot read
 * the service's private key, and the clients never use it. The file itself is read under the
 * same bounds and rules as the node's.
 */
function clientLoadConfig(path: string): Promise<Config> {
  return loadConfig(path, { checkFiles: false });
}

/** The real terminal, pipes and environment. */
export function defaultIo(): CliIo {
  return {
    stdin: () => Deno.stdin.readable,
    stdout: fileWriter(Deno.stdout),
    stderr: fileWriter(Deno.stderr),
    isTerminal: Deno.stdin.isTerminal(),
    env: (name) => Deno.env.get(name),
    loadConfig: clientLoadConfig,
  };
}

/** `defaultIo()` with the given parts replaced. */
export function cliIo(io: Partial<CliIo> = {}): CliIo {
  return { ...defaultIo(), ...io };
}
