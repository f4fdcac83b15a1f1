/**
 * Tab completion for the shell: command names, subcommands, paths (asked of
 * the node with LIST) and device ids, as each command's entry in
 * SHELL_COMMANDS says. Pure apart from the injected `list`.
 */
import { SHELL_COMMANDS } from "./shell_commands.ts";
import { inContext, resolvePath } from "./shell_paths.ts";
export { entryNames } from "./format.ts";

/** Names one level below a full path; rejects or answers `[]` when there are none. */
export type ListNames = (path: string) => Promise<string[]>;

/** What completion needs to know. */
export interface CompleterContext {
  /** The shell's current directory (a full path on the home node). */
  readonly cwd: string;
  readonly list: ListNames;
}

/** The shell's commands, in help order. */
export const COMMANDS: readonly string[] = SHELL_COMMANDS.map((c) => c.name);

const BY_NAME = new Map(SHELL_COMMANDS.map((c) => [c.name, c]));

/**
 * Completes the last word of `line` (of its last `;`-separated command); answers readline's
 * shape: `[candidates that replace the word, the word]`.
 */
export async function complete(line: string, ctx: CompleterContext): Promise<[string[], string]> {
  const words = line.slice(lastSeparator(line) + 1).trimStart().split(/\s+/);
  const word = words[words.length - 1];
  const index = words.length - 1;
  const pick = (names: readonly string[]) => names.filter((n) => n.startsWith(word));
  if (index === 0) return [pick(COMMANDS), word];
  const command = BY_NAME.get(words[0]);
  if (command === undefined) return [[], word];
  const subcommands = command.subcommands ?? [];
  if (index === 1 && subcommands.length > 0) return [pick(subcommands), word];
  if (index === 2 && command.completes === "device" && subcommands.includes(words[1])) {
    return [pick(await safeList(ctx, inContext(ctx.cwd, "/iot/devices"))), word];
  }
  if (index === 1 && command.completes === "path") return [await completePath(word, ctx), word];
  return [[], word];
}

/** Where the last command of a line starts: after its last `;` outside double quotes. */
function lastSeparator(line: string): number {
  let at = -1;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    if (quoted && line[i] === "\\") i++;
    else if (line[i] === '"') quoted = !quoted;
    else if (line[i] === ";" && !quoted) at = i;
  }
  return at;
}

/** Paths starting with `word`: its directory part is listed, its last part is the prefix. */
async function completePath(word: string, ctx: CompleterContext): Promise<string[]> {
  const slash = word.lastIndexOf("/");
  const dirPart = word.slice(0, slash + 1);
  const prefix = word.slice(slash + 1);
  const dir = dirPart === "" ? ctx.cwd : resolvePath(ctx.cwd, dirPart);
  const names = await safeList(ctx, dir);
  return names.filter((n) => n.startsWith(prefix)).map((n) => dirPart + n);
}

async function safeList(ctx: CompleterContext, path: string): Promise<string[]> {
  try {
    return await ctx.list(path);
  } catch {
    return [];
  }
}
