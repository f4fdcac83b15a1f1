/**
 * The INI reader: text in, raw sections and entries out (CONFIG.md, first paragraph).
 * It knows nothing of Portal's sections; it keeps everything, duplicates included, with line
 * numbers, so the schema can say exactly what is wrong and where.
 */
import { clip } from "../util/format.ts";
import { type ConfigIssue, IssueCode } from "./errors.ts";

/** One `key = value` line. */
export interface RawEntry {
  readonly key: string;
  /** Unquoted and unescaped, comments removed; null when a syntax issue was reported for it. */
  readonly value: string | null;
  readonly line: number;
}

/** One `[name]` header and the entries below it, in file order. */
export interface RawSection {
  /** As written between the brackets, surrounding spaces removed. */
  readonly name: string;
  readonly line: number;
  readonly entries: readonly RawEntry[];
}

/** A whole file, in file order. */
export interface RawIni {
  readonly sections: readonly RawSection[];
}

/** The raw file and the syntax issues found while reading it. */
export interface IniResult {
  readonly ini: RawIni;
  readonly issues: readonly ConfigIssue[];
}

type ValueRead = { readonly ok: true; readonly value: string } | {
  readonly ok: false;
  readonly message: string;
};

const COMMENT_START = new Set(["#", ";"]);
const QUOTE = '"';
const SINGLE_QUOTE = "'";
const BACKSLASH = "\\";
const ESCAPABLE = new Set([QUOTE, BACKSLASH]);

/** Reads INI text; `file` is only used to locate issues. Never throws. */
export function parseIni(text: string, file: string): IniResult {
  const issues: ConfigIssue[] = [];
  const sections: { name: string; line: number; entries: RawEntry[] }[] = [];
  // "orphan": no header yet; "skip": after a header too broken to name, whose entries are dropped
  // silently because the header itself was already reported.
  let current: { name: string; line: number; entries: RawEntry[] } | "orphan" | "skip" = "orphan";
  const syntax = (line: number, message: string, extra: Partial<ConfigIssue> = {}) =>
    issues.push({ code: IssueCode.Syntax, file, line, message, ...extra });

  const lines = text.replace(/^\uFEFF/, "").split(/\r\n|\n|\r/);
  lines.forEach((rawLine, index) => {
    const line = index + 1;
    const trimmed = rawLine.trim();
    if (trimmed === "" || COMMENT_START.has(trimmed[0])) return;

    if (trimmed.startsWith("[")) {
      const header = readHeader(trimmed);
      if (header.problem) syntax(line, header.problem);
      if (header.name === "") {
        if (!header.problem) syntax(line, "empty section name '[]'");
        current = "skip";
        return;
      }
      current = { name: header.name, line, entries: [] };
      sections.push(current);
      return;
    }

    const eq = trimmed.indexOf("=");
    if (eq < 0) {
      // Echo only the leading word: the rest of a broken line may be a secret.
      const start = /^[\w.:-]*/.exec(trimmed)?.[0] ?? "";
      const what = start === "" ? "this line" : `the line starting '${clip(start)}'`;
      syntax(line, `expected '[section]' or 'key = value', but ${what} has no '='`);
      return;
    }
    const key = trimmed.slice(0, eq).trim();
    if (key === "") {
      syntax(line, "missing key before '='");
      return;
    }
    const read = readValue(trimmed.slice(eq + 1));
    const section = typeof current === "object" ? current.name : undefined;
    if (!read.ok) syntax(line, `${read.message} (key '${key}')`, { section, key });
    if (current === "orphan") {
      syntax(
        line,
        `key '${key}' comes before any [section] header; put it under the section it belongs to`,
        { key },
      );
      return;
    }
    if (current === "skip") return;
    current.entries.push({ key, value: read.ok ? read.value : null, line });
  });

  return { ini: { sections }, issues };
}

/** `[name]`, tolerating a trailing comment; reports a missing `]` but still names the section. */
function readHeader(trimmed: string): { name: string; problem?: string } {
  const close = trimmed.indexOf("]");
  if (close < 0) {
    return {
      name: trimmed.slice(1).trim(),
      problem: `missing ']' in section header '${clip(trimmed)}'`,
    };
  }
  const name = trimmed.slice(1, close).trim();
  const rest = trimmed.slice(close + 1).trim();
  if (rest !== "" && !COMMENT_START.has(rest[0])) {
    return { name, problem: `unexpected text '${clip(rest)}' after section header [${name}]` };
  }
  return { name };
}

/**
 * The text after `=`. Unquoted: a `#` or `;` at the start or after whitespace begins a comment,
 * and a leading single quote is refused.
 * Quoted: everything up to the closing quote, with `\"` and `\\` escapes; only a comment may
 * follow it.
 */
function readValue(afterEq: string): ValueRead {
  const s = afterEq.trim();
  if (s.startsWith(QUOTE)) return readQuoted(s);
  // Another reader of the same contract would keep single quotes as part of the value, so a
  // quoted-looking value is refused rather than read either way.
  if (s.startsWith(SINGLE_QUOTE)) {
    return {
      ok: false,
      message: "single quotes are not quotes in node.ini and would stay part of the value; " +
        `use double quotes ("...") or none`,
    };
  }
  for (let i = 0; i < s.length; i++) {
    if (COMMENT_START.has(s[i]) && (i === 0 || /\s/.test(s[i - 1]))) {
      return { ok: true, value: s.slice(0, i).trimEnd() };
    }
  }
  return { ok: true, value: s };
}

function readQuoted(s: string): ValueRead {
  let out = "";
  for (let i = 1; i < s.length; i++) {
    const c = s[i];
    if (c === BACKSLASH) {
      const next = s[i + 1];
      if (next === undefined) break;
      if (!ESCAPABLE.has(next)) {
        return {
          ok: false,
          message: `unknown escape '\\${next}' in a quoted value; inside quotes write '\\\\' ` +
            `for a backslash and '\\"' for a quote`,
        };
      }
      out += next;
      i++;
      continue;
    }
    if (c === QUOTE) {
      const rest = s.slice(i + 1).trim();
      if (rest !== "" && !COMMENT_START.has(rest[0])) {
        // Not echoed: it is likely the tail of a secret that held a quote.
        return {
          ok: false,
          message: "unexpected text after the closing quote; to put a quote inside a quoted " +
            "value write '\\\"'",
        };
      }
      return { ok: true, value: out };
    }
    out += c;
  }
  return { ok: false, message: "unterminated quote: the value has no closing '\"'" };
}
