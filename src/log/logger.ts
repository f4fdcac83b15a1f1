/** One line per event, as text (journald-friendly) or JSON. */
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

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Lowest level written. Default `info`. */
  level?: LogLevel;
  /** Default `text`. */
  format?: LogFormat;
  /** Where each finished line goes. Default: stderr. */
  sink?: (line: string) => void;
  /** Timestamps; default the wall clock. Tests pass a fixed one. */
  now?: () => Date;
}

const encoder = new TextEncoder();
const stderrSink = (line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n"));

/** Builds a logger writing one line per call. */
export function createLogger(options: LoggerOptions = {}, base: LogFields = {}): Logger {
  const min = RANK[options.level ?? "info"];
  const format = options.format ?? "text";
  const sink = options.sink ?? stderrSink;
  const now = options.now ?? (() => new Date());
  const emit = (level: LogLevel, message: string, fields: LogFields = {}) => {
    if (RANK[level] < min) return;
    const all = { ...base, ...fields };
    if (format === "json") {
      sink(JSON.stringify({ time: now().toISOString(), level, msg: message, ...all }));
      return;
    }
    let line = `${now().toISOString()} ${level.toUpperCase().padEnd(5)} ${message}`;
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
    with: (fields) => createLogger(options, { ...base, ...fields }),
  };
}

/** A logger that keeps lines in memory, for tests and for quiet tools. */
export function memoryLogger(level: LogLevel = "debug"): Logger & { lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({ level, sink: (l) => lines.push(l), now: () => new Date(0) });
  return Object.assign(logger, { lines });
}
