/** Reading one fixed-key section against its field table: unknown, duplicate, empty and bad values. */
import { clip } from "../util/format.ts";
import type { ResolveContext } from "./context.ts";
import { IssueCode } from "./errors.ts";
import { keyHint, type Table, type Values } from "./fields.ts";
import type { RawSection } from "./ini.ts";

/** One section's values (defaults where absent) and the lines of the keys it set. */
export interface SectionValues<T extends Table> {
  readonly values: Values<T>;
  /** Lines of the keys present, valid or not. */
  readonly lines: Partial<Record<keyof T, number>>;
  /** Keys whose value parsed. */
  readonly valid: ReadonlySet<keyof T>;
}

/** Options of {@link readSection}. */
export interface ReadSectionOptions {
  /** Report required keys that are absent. Default true; false for a duplicate section. */
  readonly requireKeys?: boolean;
}

/** Parses one section against its table; a null section yields the defaults. */
export function readSection<T extends Table>(
  section: RawSection | null,
  table: T,
  ctx: ResolveContext,
  { requireKeys = true }: ReadSectionOptions = {},
): SectionValues<T> {
  const values: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(table)) values[key] = field.fallback;
  const lines: Partial<Record<keyof T, number>> = {};
  const valid = new Set<keyof T>();
  if (!section) return { values: values as Values<T>, lines, valid };

  const label = `[${section.name}]`;
  for (const entry of section.entries) {
    const where = { section: section.name, key: entry.key };
    const field = Object.hasOwn(table, entry.key) ? table[entry.key] : undefined;
    if (!field) {
      ctx.issue(
        IssueCode.UnknownKey,
        entry.line,
        `unknown key '${entry.key}' in ${label}${keyHint(entry.key, table)}`,
        where,
      );
      continue;
    }
    const first = lines[entry.key];
    if (first !== undefined) {
      ctx.issue(
        IssueCode.DuplicateKey,
        entry.line,
        `duplicate key '${entry.key}' in ${label} (first set on line ${first})`,
        where,
      );
      continue;
    }
    lines[entry.key as keyof T] = entry.line;
    // null: the reader already reported the line's syntax.
    if (entry.value === null) continue;
    if (entry.value === "") {
      ctx.issue(
        IssueCode.BadValue,
        entry.line,
        `empty value for '${entry.key}' in ${label}; ` +
          (field.required ? "it is required" : "remove the line to use the default") +
          ` (a value that starts with '#' or ';' must be quoted)`,
        where,
      );
      continue;
    }
    const parsed = field.parse(entry.value);
    if (parsed.ok) {
      values[entry.key] = parsed.value;
      valid.add(entry.key);
    } else {
      const shown = field.secret ? "" : ` '${clip(entry.value)}'`;
      ctx.issue(
        IssueCode.BadValue,
        entry.line,
        `bad value${shown} for '${entry.key}' in ${label}: ${parsed.message}`,
        where,
      );
    }
  }
  for (const [key, field] of Object.entries(table)) {
    if (requireKeys && field.required && lines[key] === undefined) {
      ctx.issue(IssueCode.MissingKey, section.line, `missing '${key}' in ${label}`, {
        section: section.name,
        key,
      });
    }
  }
  return { values: values as Values<T>, lines, valid };
}
