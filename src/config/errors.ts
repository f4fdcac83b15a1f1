/** Configuration errors: every mistake in a node.ini, with file, line and a sentence (CONFIG.md). */
import type { ConfigWarning } from "./types.ts";

/** What kind of mistake an issue is; stable, for code and tests to match on. */
export const IssueCode = {
  /** A line that is neither `[section]` nor `key = value`, a bad quote, a key before any section. */
  Syntax: "syntax",
  UnknownSection: "unknown_section",
  DuplicateSection: "duplicate_section",
  /** A section that must exist is absent ([mod_node]; [mod_iot] when there are devices). */
  MissingSection: "missing_section",
  UnknownKey: "unknown_key",
  DuplicateKey: "duplicate_key",
  MissingKey: "missing_key",
  /** A value of the wrong type or out of range, or an empty value. */
  BadValue: "bad_value",
  /**
   * A peer or device name in a section header, or an [acl] origin, that breaks the name rule,
   * is reserved, or names this node.
   */
  BadName: "bad_name",
  /** `hub =` naming no [peer:...] section. */
  UnknownHub: "unknown_hub",
  /** Values that are fine alone but not together (reconnect_initial > reconnect_max, ...). */
  Conflict: "conflict",
  /** The config file, or a file it names, cannot be read. */
  UnreadableFile: "unreadable_file",
  /** A file it names is readable but is not what the key needs (e.g. not a PEM certificate). */
  BadFile: "bad_file",
} as const;
export type IssueCode = typeof IssueCode[keyof typeof IssueCode];

/** One mistake, located in the file as the user named it. */
export interface ConfigIssue {
  readonly code: IssueCode;
  /** The config file's path as the user gave it. */
  readonly file: string;
  /** 1-based line; 0 when the issue is about the file as a whole (it cannot be read). */
  readonly line: number;
  /** Section name as written, without brackets. */
  readonly section?: string;
  readonly key?: string;
  /** One readable sentence, without the `FILE:LINE: ` prefix. */
  readonly message: string;
}

/** `FILE:LINE: sentence`, or `FILE: sentence` for an issue about the whole file. */
export function formatIssue(issue: Pick<ConfigIssue, "file" | "line" | "message">): string {
  return issue.line > 0
    ? `${issue.file}:${issue.line}: ${issue.message}`
    : `${issue.file}: ${issue.message}`;
}

/** `FILE:LINE: sentence` for a warning, as the node logs it at start. */
export function formatWarning(warning: ConfigWarning): string {
  return formatIssue(warning);
}

/** `config_unreadable`: the file itself could not be read; `config_invalid`: anything else. */
export type ConfigErrorCode = "config_invalid" | "config_unreadable";

/** Thrown by loadConfig/parseConfigText with every issue found, one per line in `message`. */
export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  readonly issues: readonly ConfigIssue[];

  constructor(code: ConfigErrorCode, issues: readonly ConfigIssue[]) {
    super(issues.map(formatIssue).join("\n"));
    this.name = "ConfigError";
    this.code = code;
    this.issues = issues;
  }
}

/** Sorts by line, keeping the order found among issues on the same line. */
export function sortIssues(issues: readonly ConfigIssue[]): ConfigIssue[] {
  return issues.map((issue, i) => ({ issue, i }))
    .sort((a, b) => a.issue.line - b.issue.line || a.i - b.i)
    .map(({ issue }) => issue);
}
