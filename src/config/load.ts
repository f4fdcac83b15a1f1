/** Loading a node.ini: read, parse, resolve, then check the files it names (CONFIG.md). */
import { ReadFileError, readRegularFile } from "../util/read.ts";
import { ConfigError, type ConfigIssue, IssueCode, sortIssues } from "./errors.ts";
import { checkFiles } from "./files.ts";
import { parseIni } from "./ini.ts";
import { absolutePath, type Resolution, resolveConfig } from "./resolve.ts";
import type { Config } from "./types.ts";

/** Options of {@link parseConfigText}. */
export interface ParseConfigOptions {
  /** Directory a relative `path` is resolved against. Default: the process's working directory. */
  readonly cwd?: string;
}

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /**
   * Check that the files the node needs are usable (certificates readable PEM, the audit log
   * creatable). Default true; a client that only wants [mod_http] (the shell) passes false,
   * as it never touches them.
   */
  readonly checkFiles?: boolean;
  /** The current time, for certificate validity. Default: now. */
  readonly now?: number;
}

/** A node.ini is a page of text; anything this big is the wrong file, so it is not read whole. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * Parses and resolves node.ini text without touching the file system. `path` is the file as the
 * user named it (used in messages; relative paths in the file resolve against its directory).
 * Throws ConfigError (config_invalid) listing every issue.
 */
export function parseConfigText(text: string, path: string, opts: ParseConfigOptions = {}): Config {
  const { config, issues } = resolveText(text, path, opts);
  if (issues.length > 0) throw new ConfigError("config_invalid", sortIssues(issues));
  return config;
}

/**
 * Reads, parses and resolves the node.ini at `path`, and checks the files it names.
 * Throws ConfigError: config_unreadable when the file itself cannot be read,
 * config_invalid (with every issue) otherwise.
 */
export async function loadConfig(path: string, opts: LoadConfigOptions = {}): Promise<Config> {
  const bytes = await readConfigFile(path);
  const decoded = decodeText(bytes, path);
  if (typeof decoded !== "string") throw new ConfigError("config_invalid", [decoded]);
  const resolution = resolveText(decoded, path, {});
  const files = opts.checkFiles === false
    ? { issues: [], warnings: [] }
    : await checkFiles(resolution.files, path, opts.now);
  const issues = [...resolution.issues, ...files.issues];
  if (issues.length > 0) throw new ConfigError("config_invalid", sortIssues(issues));
  const { config } = resolution;
  if (files.warnings.length === 0) return config;
  const warnings = [...config.warnings, ...files.warnings].sort((a, b) => a.line - b.line);
  return { ...config, warnings };
}

function resolveText(text: string, path: string, opts: ParseConfigOptions): Resolution {
  const parsed = parseIni(text, path);
  const resolution = resolveConfig(parsed.ini, {
    file: path,
    absolutePath: absolutePath(path, opts.cwd ?? Deno.cwd()),
  });
  return { ...resolution, issues: [...parsed.issues, ...resolution.issues] };
}

async function readConfigFile(path: string): Promise<Uint8Array> {
  try {
    return await readRegularFile(path, MAX_CONFIG_BYTES);
  } catch (err) {
    if (!(err instanceof ReadFileError)) throw err;
    const abs = absolutePath(path, Deno.cwd());
    const why = err.code === "not_found"
      ? `no such file${abs === path ? "" : ` (${abs})`}`
      : err.code === "too_large"
      ? `${err.message}, which no node.ini is`
      : err.message;
    throw new ConfigError("config_unreadable", [{
      code: IssueCode.UnreadableFile,
      file: path,
      line: 0,
      message: `cannot read the config file: ${why}` +
        (err.code === "not_regular" ? "; give the path of the .ini file" : ""),
    }]);
  }
}

/** UTF-8 text, or an issue on the first line that is not UTF-8. */
function decodeText(bytes: Uint8Array, path: string): string | ConfigIssue {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    const lenient = new TextDecoder("utf-8").decode(bytes).split(/\r\n|\n|\r/);
    const index = lenient.findIndex((l) => l.includes("\uFFFD"));
    return {
      code: IssueCode.Syntax,
      file: path,
      line: index + 1,
      message: "this line is not UTF-8 text; save the file as UTF-8",
    };
  }
}
