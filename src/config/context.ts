/** What every section resolver reports into: the issues and warnings of one config file. */
import { dirname, resolve } from "node:path";
import type { ConfigIssue, IssueCode } from "./errors.ts";
import type { ConfigWarning } from "./types.ts";

/** The section and key an issue or warning is about. */
export interface Where {
  readonly section?: string;
  readonly key?: string;
}

/** Where the text came from: the path as the user gave it, and its absolute form. */
export interface ConfigSource {
  readonly file: string;
  readonly absolutePath: string;
}

/** Collects issues and warnings for one file, and resolves the paths it names. */
export class ResolveContext {
  readonly issues: ConfigIssue[] = [];
  readonly warnings: ConfigWarning[] = [];
  readonly #baseDir: string;

  constructor(readonly source: ConfigSource) {
    this.#baseDir = dirname(source.absolutePath);
  }

  /** Records a mistake: the node will not start. */
  issue(code: IssueCode, line: number, message: string, where: Where = {}): void {
    this.issues.push({ code, file: this.source.file, line, message, ...where });
  }

  /** Records something legal but probably wrong: shown by check-config and logged at start. */
  warn(line: number, message: string, where: Where = {}): void {
    this.warnings.push({ file: this.source.file, line, message, ...where });
  }

  /** `path` resolved against the config file's directory. */
  absolute(path: string): string {
    return resolve(this.#baseDir, path);
  }
}
