/** Reading Portal's log lines back, in either `log_format`. */

/** One parsed log line: level, message and fields (values as written, strings for text). */
export interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

const TEXT_LINE = /^\S+ (DEBUG|INFO|WARN|ERROR) +(.*)$/;
/** ` key=value` pairs to the end of the line; values are bare or JSON strings. */
const TEXT_FIELDS = /^(.*?)((?: [A-Za-z_][\w.-]*=(?:"(?:[^"\\]|\\.)*"|[^\s"]*))*)$/;
const TEXT_FIELD = / ([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|[^\s"]*)/g;

/**
 * Parses a line of a node's log: JSON (`log_format = json`) or text
 * (`TIME LEVEL message key=value ...`); null for anything else (a stack trace, a Deno warning).
 */
export function parseLogLine(line: string): LogLine | null {
  if (line.startsWith("{")) {
    let j: unknown;
    try {
      j = JSON.parse(line);
    } catch {
      return null;
    }
    if (typeof j !== "object" || j === null || Array.isArray(j)) return null;
    const { level, msg, time: _time, ...fields } = j as Record<string, unknown>;
    if (typeof msg !== "string") return null;
    return { level: String(level ?? "").toUpperCase(), msg, fields };
  }
  const m = TEXT_LINE.exec(line);
  if (!m) return null;
  const [, msg, rest] = TEXT_FIELDS.exec(m[2])!;
  const fields: Record<string, unknown> = {};
  for (const f of rest.matchAll(TEXT_FIELD)) {
    fields[f[1]] = f[2].startsWith('"') ? JSON.parse(f[2]) : f[2];
  }
  return { level: m[1], msg, fields };
}

/** A test of log lines: message `msg` and, when given, these field values (compared as text). */
export function logMatcher(
  msg: string,
  fields: Readonly<Record<string, string | number | boolean>> = {},
): (line: string) => boolean {
  return (line) => {
    const l = parseLogLine(line);
    if (l === null || l.msg !== msg) return false;
    return Object.entries(fields).every(([k, v]) => String(l.fields[k]) === String(v));
  };
}
