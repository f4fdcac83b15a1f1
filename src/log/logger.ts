/** One line per event, as text (journald-friendly) or JSON. */
import { fstatSync } from "node:fs";
import type { LogFormat, LogLevel } from "../config/types.ts";

export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** What every part of Portal logs through. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  with(fields: LogFields): Logger;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * A log level that can change while the node runs (a reload): every logger
 * made from the same options, and every `with()` child, reads it per line.
 */
export class LogLevelSwitch {
  #rank: number;
  #level: LogLevel;

  constructor(level: LogLevel = "info") {
    this.#level = level;
    this.#rank = RANK[level];
  }

  get level(): LogLevel {
    return this.#level;
  }

  set level(level: LogLevel) {
    this.#level = level;
    this.#rank = RANK[level];
  }

  /** Whether a line at `level` is written. */
  writes(level: LogLevel): boolean {
    return RANK[level] >= this.#rank;
  }
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Lowest level written, fixed or changeable at run time. Default `info`. */
  level?: LogLevel | LogLevelSwitch;
  /** Default `text`. */
  format?: LogFormat;
  /** Where each finished line goes. Default: stderr. */
  sink?: (line: string) => void;
  /** Timestamps; default the wall clock. Tests pass a fixed one. */
  now?: () => Date;
  /**
   * Lines go to the systemd journal (see {@link stderrIsJournal}): each starts
   * with its syslog priority (`<3>` error … `<7>` debug), which journald
   * strips and records, and carries no timestamp of its own (the journal
   * stamps every line). Default false.
   */
  journal?: boolean;
}

/** sd-daemon(3) priorities: what `journalctl -p` filters on. */
const PRIORITY: Record<LogLevel, number> = { debug: 7, info: 6, warn: 4, error: 3 };

const encoder = new TextEncoder();
const stderrSink = (line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n"));

/** Builds a logger writing one line per call. */
export function createLogger(options: LoggerOptions = {}, base: LogFields = {}): Logger {
  const level = options.level ?? "info";
  const min = typeof level === "string" ? new LogLevelSwitch(level) : level;
  // Children share the switch, so a level change reaches every one of them.
  const shared = { ...options, level: min };
  const format = options.format ?? "text";
  const sink = options.sink ?? stderrSink;
  const now = options.now ?? (() => new Date());
  const journal = options.journal ?? false;
  const emit = (level: LogLevel, message: string, fields: LogFields = {}) => {
    if (!min.writes(level)) return;
    const all = { ...base, ...fields };
    const prefix = journal ? `<${PRIORITY[level]}>` : "";
    if (format === "json") {
      const head = journal
        ? { level, msg: message }
        : { time: now().toISOString(), level, msg: message };
      sink(prefix + JSON.stringify({ ...head, ...all }));
      return;
    }
    let line = journal
      ? `${prefix}${level.toUpperCase().padEnd(5)} ${message}`
      : `${now().toISOString()} ${level.toUpperCase().padEnd(5)} ${message}`;
    for (const [k, v] of Object.entries(all)) {
      if (v === undefined) continue;
      const s = String(v);
      line += ` ${k}=${/[\s"=]/.test(s) || s === "" ? JSON.stringify(s) : s}`;
    }
    sink(line);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    with: (fields) => createLogger(shared, { ...base, ...fields }),
  };
}

/** A logger that keeps lines in memory, for tests and for quiet tools. */
export function memoryLogger(level: LogLevel = "debug"): Logger & { lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({ level, sink: (l) => lines.push(l), now: () => new Date(0) });
  return Object.assign(logger, { lines });
}

/**
 * Whether stderr is connected to the systemd journal: systemd sets
 * `JOURNAL_STREAM=<dev>:<inode>` for a service whose output goes there, and
 * stderr still being that very stream rules out a redirect by a wrapper.
 */
export function stderrIsJournal(env?: string): boolean {
  let value = env;
  try {
    value ??= Deno.env.get("JOURNAL_STREAM");
  } catch {
    return false;
  }
  const m = /^(\d+):(\d+)$/.exec(value ?? "");
  if (m === null) return false;
  try {
    const st = fstatSync(2);
    return String(st.dev) === m[1] && String(st.ino) === m[2];
  } catch {
    return false;
  }
}
