/**
 * [acl]: who may do what on this node (CONFIG.md, PORTAL02.md §11). Each key is an origin node
 * name or `*`; each value a comma-separated list of `METHOD PATTERN` rules.
 */
import { clip } from "../../util/format.ts";
import type { ResolveContext } from "../context.ts";
import { IssueCode } from "../errors.ts";
import type { RawSection } from "../ini.ts";
import { didYouMean } from "../suggest.ts";
import type { AclConfig, AclEntry, AclMethod, AclRule } from "../types.ts";
import { bad, good, nodeNameProblem, type Parsed } from "../values.ts";

/** The key that stands for any other authenticated node. */
export const ACL_ANY_ORIGIN = "*";
const METHODS: readonly AclMethod[] = ["GET", "LIST", "CALL", "*"];
const RULE_SHAPE = "a rule is METHOD PATTERN, such as 'GET /health' or 'CALL /iot/devices/plug-*'";

/** Resolves [acl]; null when the file has none (every request is allowed). */
export function resolveAcl(
  section: RawSection | null,
  nodeName: string | null,
  ctx: ResolveContext,
): AclConfig | null {
  if (!section) return null;
  const label = `[${section.name}]`;
  const entries: AclEntry[] = [];
  const seen = new Map<string, number>();
  let reported = false;
  const issue = (code: IssueCode, line: number, message: string, key: string) => {
    reported = true;
    ctx.issue(code, line, message, { section: section.name, key });
  };

  for (const { key, value, line } of section.entries) {
    const first = seen.get(key);
    if (first !== undefined) {
      issue(
        IssueCode.DuplicateKey,
        line,
        `duplicate key '${key}' in ${label} (first set on line ${first}); ` +
          "put all of an origin's rules on one line, separated by commas",
        key,
      );
      continue;
    }
    seen.set(key, line);
    const problem = key === ACL_ANY_ORIGIN ? null : nodeNameProblem(key);
    if (problem !== null) {
      issue(
        IssueCode.BadName,
        line,
        `'${clip(key)}' in ${label} is neither a node name nor '*': ${problem}`,
        key,
      );
    } else if (key === nodeName) {
      issue(
        IssueCode.Conflict,
        line,
        `'${key}' in ${label} is this node itself; requests made through this node's own API ` +
          "and shell are governed by its tokens, not by [acl], so remove the line",
        key,
      );
    }
    // null: the reader already reported the line's syntax.
    if (value === null) continue;
    if (value === "") {
      issue(
        IssueCode.BadValue,
        line,
        `empty value for '${key}' in ${label}; give rules such as 'GET *, LIST /' ` +
          "(an origin without a line falls back to '*')",
        key,
      );
      continue;
    }
    const rules: AclRule[] = [];
    for (const part of value.split(",").map((p) => p.trim())) {
      const rule = parseRule(part);
      if (rule.ok) rules.push(rule.value);
      else {issue(
          IssueCode.BadValue,
          line,
          `bad rule for '${key}' in ${label}: ${rule.message}`,
          key,
        );}
    }
    entries.push({ origin: key, rules, line });
  }

  if (entries.length === 0 && !reported) {
    ctx.warn(
      section.line,
      `${label} has no entries, so every request from another node is refused (403); ` +
        "add rules, or remove the section to allow everything",
      { section: section.name },
    );
  }
  return { entries };
}

/** One `METHOD PATTERN`; METHOD is case-insensitive and kept upper-case. */
export function parseRule(text: string): Parsed<AclRule> {
  if (text === "") return bad("an empty rule (two commas in a row, or one at an end)");
  const parts = text.split(/\s+/);
  if (parts.length !== 2) return bad(`'${clip(text)}': ${RULE_SHAPE}`);
  const method = METHODS.find((m) => m === parts[0].toUpperCase());
  if (method === undefined) {
    return bad(
      `'${clip(text)}': unknown method '${clip(parts[0])}', expected GET, LIST, CALL or *` +
        didYouMean(parts[0].toUpperCase(), METHODS),
    );
  }
  const pattern = parts[1];
  if (!pattern.startsWith("/") && !pattern.startsWith("*")) {
    return bad(
      `'${clip(text)}': the pattern is an absolute path such as /iot/devices/* ` +
        "('*' matches any run of characters; '*' alone matches every path)",
    );
  }
  return good({ method, pattern, text: `${method} ${pattern}` });
}
