/**
 * Command-line options of every `portal` command, read the same way: each mistake becomes one
 * sentence that says what to type instead, never `node:util`'s raw messages, and an option
 * given twice is refused rather than silently taking the last value.
 */
import { parseArgs } from "node:util";
import { didYouMean, duration } from "../config/mod.ts";

/** One option: `--name VALUE` (string) or `--name` (boolean). */
export interface OptionSpec {
  readonly type: "string" | "boolean";
  /** One-letter alias, `-c`. Default none. */
  readonly short?: string;
  /** May be repeated, each value kept. Default false: a repeat is an error. */
  readonly multiple?: boolean;
  /** What the value is, in messages: `--config FILE`. Default `VALUE`. */
  readonly value?: string;
  /** How the option is listed in messages instead of `--name VALUE` (`-c COMMAND`). */
  readonly display?: string;
}

/** The options of one command, by long name. */
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** The values read, by long name: absent options are undefined. */
export type OptionValues<S extends OptionSpecs> = {
  -readonly [K in keyof S]?: S[K]["type"] extends "boolean" ? boolean
    : S[K]["multiple"] extends true ? string[]
    : string;
};

/** A wrong command line; `message` is one sentence saying how to put it right. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  readonly code = "usage";
}

/** What {@link parseOptions} needs to know about the command besides its options. */
export interface ParseOptionsOptions {
  /** `portal check-config`, for the hint at the end of an unknown-option sentence. */
  readonly command: string;
  /** Arguments that are not options: at most this many. Default 0. */
  readonly maxPositionals?: number;
  /** The sentence for an argument beyond `maxPositionals`. Default: a generic one. */
  readonly extraPositional?: (arg: string) => string;
}

/** `a`, `a and b`, `a, b and c`. */
export function andList(items: readonly string[]): string {
  return items.length <= 1
    ? items.join("")
    : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

/** `--config FILE` or `--list`. */
export function optionText(name: string, spec: OptionSpec): string {
  if (spec.display !== undefined) return spec.display;
  return spec.type === "string" ? `--${name} ${spec.value ?? "VALUE"}` : `--${name}`;
}

/**
 * Reads `argv` against `specs`. Throws {@link UsageError} for an unknown option (with the
 * nearest known one), a missing value, a value given to a flag, a repeated option, or too many
 * other arguments.
 */
export function parseOptions<S extends OptionSpecs>(
  argv: readonly string[],
  specs: S,
  options: ParseOptionsOptions,
): { values: OptionValues<S>; positionals: string[] } {
  const config: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> =
    {};
  for (const [name, spec] of Object.entries(specs)) {
    config[name] = { type: spec.type, multiple: true };
    if (spec.short !== undefined) config[name].short = spec.short;
  }
  // Not strict: every token comes back, so each mistake gets its own sentence here.
  const { tokens } = parseArgs({
    args: [...argv],
    options: config,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const values: Record<string, string | boolean | string[]> = {};
  const positionals: string[] = [];
  const seen = new Map<string, string>();
  const known = Object.keys(specs).map((n) => `--${n}`);
  const listing = andList(Object.entries(specs).map(([n, s]) => optionText(n, s)));
  for (const token of tokens) {
    if (token.kind === "positional") {
      if (positionals.length >= (options.maxPositionals ?? 0)) {
        throw new UsageError(
          options.extraPositional?.(token.value) ??
            `unexpected argument '${token.value}'; ${options.command} takes ${listing}`,
        );
      }
      positionals.push(token.value);
      continue;
    }
    if (token.kind !== "option") continue;
    const spec = Object.hasOwn(specs, token.name) ? specs[token.name] : undefined;
    if (spec === undefined) {
      const hint = token.rawName.startsWith("--") ? didYouMean(token.rawName, known) : "";
      throw new UsageError(
        `unknown option '${token.rawName}'${hint}; ${options.command} takes ${listing}`,
      );
    }
    const shown = optionText(token.name, spec);
    if (spec.type === "boolean") {
      if (token.value !== undefined) {
        throw new UsageError(`${token.rawName} takes no value; write just ${token.rawName}`);
      }
      values[token.name] = true;
    } else {
      const value = token.value;
      if (value === undefined) throw new UsageError(`${token.rawName} needs a value: ${shown}`);
      // `--config --url x`: a value that looks like an option is almost always a forgotten one.
      if (!token.inlineValue && /^-./.test(value)) {
        throw new UsageError(
          `${token.rawName} needs a value, but the next argument is the option '${value}': ` +
            `${shown} (write --${token.name}=${value} if the value really starts with '-')`,
        );
      }
      if (spec.multiple) {
        values[token.name] = [...(values[token.name] as string[] | undefined ?? []), value];
      } else {
        const before = seen.get(token.name);
        if (before !== undefined) {
          throw new UsageError(
            `--${token.name} is given twice ('${before}' and '${value}'); give it once`,
          );
        }
        seen.set(token.name, value);
        values[token.name] = value;
      }
    }
  }
  return { values: values as OptionValues<S>, positionals };
}

/** The value of a duration option (`--timeout 30s`: 500ms, 30s, 2m, or bare seconds), in ms. */
export function durationOption(name: string, raw: string): number {
  const parsed = duration(1)(raw);
  if (!parsed.ok) {
    throw new UsageError(
      `--${name} '${raw}': ${parsed.message.replace(/^expected/, "give")}, e.g. --${name} 30s`,
    );
  }
  return parsed.value;
}
