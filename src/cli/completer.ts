/**
 * Tab completion for the shell: command names, subcommands, paths (asked of
 * the node with LIST) and device ids. Pure apart from the injected `list`.
 */
import { inContext, resolvePath } from "./shell_paths.ts";

/** Names one level below a full path; rejects or answers `[]` when there are none. */
export type ListNames = (path: string) => Promise<string[]>;

/** What completion needs to know. */
export interface CompleterContext {
  /** The shell's current directory (a full path on the home node). */
  readonly cwd: string;
  readonly list: ListNames;
}

/** The shell's commands, in help order. */
export const COMMANDS = [
  "ls",
  "cd",
  "pwd",
  "get",
  "call",
  "node",
  "iot",
  "help",
  "exit",
] as const;

/** Subcommands of the module commands. */
export const SUBCOMMANDS: Readonly<Record<string, readonly string[]>> = {
  node: ["peers", "status"],
  iot: ["on", "off", "toggle", "status"],
};

const PATH_COMMANDS = new Set(["ls", "cd", "get", "call"]);

/**
 * Completes the last word of `line`; answers readline's shape:
 * `[candidates that replace the word, the word]`.
 */
export async function complete(line: string, ctx: CompleterContext): Promise<[string[], string]> {
  const words = line.trimStart().split(/\s+/);
  const word = words[words.length - 1];
  const index = words.length - 1;
  const pick = (names: readonly string[]) => names.filter((n) => n.startsWith(word));
  if (index === 0) return [pick(COMMANDS), word];
  const command = words[0];
  if (index === 1 && command in SUBCOMMANDS) return [pick(SUBCOMMANDS[command]), word];
  if (index === 2 && command === "iot" && SUBCOMMANDS.iot.includes(words[1])) {
    return [pick(await safeList(ctx, inContext(ctx.cwd, "/iot/devices"))), word];
  }
  if (index === 1 && PATH_COMMANDS.has(command)) return [await completePath(word, ctx), word];
  return [[], word];
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

/**
 * The names in a LIST answer: strings as they are, objects by `id` or `name`
 * (`/iot/devices` answers device objects). Anything else gives no names.
 */
export function entryNames(body: unknown): string[] {
  if (!Array.isArray(body)) return [];
  const names: string[] = [];
  for (const entry of body) {
    if (typeof entry === "string") names.push(entry);
    else if (typeof entry === "object" && entry !== null) {
      const { id, name } = entry as { id?: unknown; name?: unknown };
      if (typeof id === "string") names.push(id);
      else if (typeof name === "string") names.push(name);
    }
  }
  return names;
}
